//! End-to-end tests of `probecast fit` through the built binary.

mod common;
use common::run;
use serde_json::Value;
use std::path::{Path, PathBuf};

const LAYERS_1_UP: &str = "_layer_([1-9]|1[0-2])$";

/// A fixture of the prediction stage.
fn fixture(name: &str) -> PathBuf {
    common::fixture(&format!("predict/{name}"))
}

fn fit_json(extra: &[&str]) -> Value {
    let f = fixture("small_features.csv");
    let t = fixture("small_targets.csv");
    let mut args = vec![
        "fit",
        "--data",
        f.to_str().unwrap(),
        "--targets-file",
        t.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "stderr: {err}");
    serde_json::from_str(&out).expect("JSON on stdout")
}

#[test]
fn paper_protocol_finds_the_numpy_best_subset_and_its_in_sample_rmse() {
    let j = fit_json(&["--protocol", "paper", "--features", LAYERS_1_UP]);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("small_paper_expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(j["protocol"], "paper");
    assert!(j["note"].as_str().unwrap().starts_with("IN-SAMPLE"));
    for t in j["targets"].as_array().unwrap() {
        let name = t["target"].as_str().unwrap();
        let e = &expected[name];
        assert_eq!(t["features"], e["features"], "{name}");
        let (r, er) = (t["rmse"].as_f64().unwrap(), e["rmse"].as_f64().unwrap());
        assert!((r - er).abs() <= 1e-9 * er, "{name}: rmse {r} vs {er}");
        assert_eq!(t["in_sample"], true);
        // the regex keeps the 12 layer>=1 columns (the constant column is a layer-0 one)
        assert_eq!(t["searched_columns"], 12);
        let noise = t["baselines"]["noise"].as_f64().unwrap();
        let red = t["reduction_pct"].as_f64().unwrap();
        assert!((red - (noise - r) / noise * 100.0).abs() < 1e-9);
    }
}

#[test]
fn paper_protocol_drops_constant_columns_and_says_its_errors_are_in_sample() {
    let f = fixture("small_features.csv");
    let t = fixture("small_targets.csv");
    let (code, out, err) = run(&[
        "fit",
        "--data",
        f.to_str().unwrap(),
        "--targets-file",
        t.to_str().unwrap(),
        "--protocol",
        "paper",
        "--targets",
        "rte",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("IN-SAMPLE errors"), "{out}");
    let j = fit_json(&["--protocol", "paper", "--targets", "rte"]);
    assert_eq!(j["targets"][0]["dropped_constant_columns"], 1);
    assert_eq!(j["targets"][0]["searched_columns"], 14);
}

#[test]
fn honest_fit_writes_predictor_cv_predictions_summary_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fit");
    let j = fit_json(&[
        "--permutations",
        "19",
        "--noise-draws",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(j["protocol"], "honest");
    assert_eq!(j["cv"], "loo");
    assert_eq!(j["folds"], 25);
    for name in [
        "predictor.json",
        "cv_predictions.csv",
        "summary.csv",
        "manifest.json",
    ] {
        assert!(out.join(name).is_file(), "{name}");
    }
    // cv_predictions: header + 25 rows per target; its RMSE equals the summary's
    let text = std::fs::read_to_string(out.join("cv_predictions.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "model,target,true,predicted,lower,upper,fold,repeat"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 50);
    for t in j["targets"].as_array().unwrap() {
        let name = t["target"].as_str().unwrap();
        let mine: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] == name).collect();
        let sse: f64 = mine
            .iter()
            .map(|r| (r[2].parse::<f64>().unwrap() - r[3].parse::<f64>().unwrap()).powi(2))
            .sum();
        let rmse = (sse / 25.0).sqrt();
        assert!((rmse - t["rmse"].as_f64().unwrap()).abs() < 1e-12, "{name}");
        let inside = mine
            .iter()
            .filter(|r| {
                let v: Vec<f64> = r[2..6].iter().map(|s| s.parse().unwrap()).collect();
                v[2] <= v[0] && v[0] <= v[3]
            })
            .count() as f64
            / 25.0;
        assert!((inside - t["coverage"].as_f64().unwrap()).abs() < 1e-12);
        // every baseline is reported (the family column is picked up automatically)
        for b in ["mean", "family_mean", "noise"] {
            assert!(t["baselines"][b].as_f64().unwrap() > 0.0, "{name} {b}");
        }
        let p = t["p_value"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
        assert_eq!(t["method"], "ridge(loo)");
        assert!(t["kendall_tau"].is_number());
    }
    // rte carries real signal in this fixture: ridge beats the mean clearly
    let rte = &j["targets"][0];
    assert_eq!(rte["target"], "rte");
    assert!(rte["reduction_pct"].as_f64().unwrap() > 20.0, "{rte}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3);
    assert!(summary.starts_with("target,protocol,method,rmse,"));
}

#[test]
fn the_same_seed_gives_identical_output_and_another_seed_changes_the_noise_control() {
    let args = [
        "--method",
        "ols-subset",
        "--cv",
        "kfold:5:2",
        "--permutations",
        "9",
        "--noise-draws",
        "2",
    ];
    let a = fit_json(&args);
    let b = fit_json(&args);
    assert_eq!(a, b);
    let mut other = args.to_vec();
    other.extend_from_slice(&["--seed", "7"]);
    let c = fit_json(&other);
    assert_ne!(
        a["targets"][0]["baselines"]["noise"],
        c["targets"][0]["baselines"]["noise"]
    );
}

#[test]
fn every_method_and_cv_scheme_runs_and_reports_its_method() {
    for (method, cv, label) in [
        ("ols-subset", "group", "ols-subset(k=3)"),
        ("enet", "kfold:5:1", "enet(l1_ratio=0.5)"),
        ("mean", "loo", "mean"),
        ("ridge", "group", "ridge(loo)"),
    ] {
        let j = fit_json(&[
            "--method",
            method,
            "--cv",
            cv,
            "--permutations",
            "5",
            "--noise-draws",
            "1",
        ]);
        assert_eq!(j["targets"][0]["method"], label, "{method}");
        if cv == "group" {
            assert_eq!(j["folds"], 5);
            // leave-one-family-out: the family is never in training, so family mean = mean
            let b = &j["targets"][0]["baselines"];
            assert_eq!(b["family_mean"], b["mean"]);
        }
    }
    let j = fit_json(&["--method", "mean", "--permutations", "0"]);
    let t = &j["targets"][0];
    assert_eq!(t["rmse"], t["baselines"]["mean"]);
}

// ---------- bad input: exit 2 with one clear line ----------

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn table(rows: usize, families: &[&str], extra: &dyn Fn(usize, usize) -> String) -> String {
    let mut s = String::from("model,family,rte,a_layer_1,a_layer_2,b_layer_1,b_layer_2\n");
    for i in 0..rows {
        let f = families[i % families.len()];
        let feats: Vec<String> = (0..4).map(|j| extra(i, j)).collect();
        s += &format!(
            "m{i},{f},{},{}\n",
            0.5 + 0.01 * ((i * 7) % 5) as f64,
            feats.join(",")
        );
    }
    s
}

fn varied(i: usize, j: usize) -> String {
    format!("{}", ((i * 31 + j * 17) % 23) as f64 / 10.0)
}

fn expect_error(args: &[&str], needles: &[&str]) {
    let (code, out, err) = run(args);
    assert_eq!(code, 2, "args {args:?}: stdout {out} stderr {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn a_non_numeric_cell_is_refused_with_its_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    // the first feature of m3 becomes "abc<original digits>": not a number
    let t = table(10, &["x", "y"], &varied).replacen("m3,y,0.51,", "m3,y,0.51,abc", 1);
    let p = write(d.path(), "feat.csv", &t);
    expect_error(
        &["fit", "--data", p.to_str().unwrap(), "--targets", "rte"],
        &[
            "feat.csv",
            "line 5",
            "column 'a_layer_1'",
            "is not a number",
        ],
    );
}

#[test]
fn a_missing_cell_is_refused_unless_mean_imputation_is_asked_for() {
    let d = tempfile::tempdir().unwrap();
    let t = table(10, &["x", "y"], &|i, j| {
        if i == 2 && j == 3 {
            String::new()
        } else {
            varied(i, j)
        }
    });
    let p = write(d.path(), "feat.csv", &t);
    let ps = p.to_str().unwrap();
    expect_error(
        &["fit", "--data", ps, "--targets", "rte"],
        &[
            "feat.csv",
            "line 4",
            "column 'b_layer_2'",
            "missing value",
            "--impute mean",
        ],
    );
    let (code, _, err) = run(&[
        "fit",
        "--data",
        ps,
        "--targets",
        "rte",
        "--impute",
        "mean",
        "--permutations",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_target_column_that_does_not_exist_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "feat.csv", &table(10, &["x", "y"], &varied));
    expect_error(
        &["fit", "--data", p.to_str().unwrap(), "--targets", "rte,qqp"],
        &["feat.csv", "no target column 'qqp'"],
    );
}

#[test]
fn duplicate_model_ids_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let t = table(10, &["x", "y"], &varied).replace("m4,", "m1,");
    let p = write(d.path(), "feat.csv", &t);
    expect_error(
        &["fit", "--data", p.to_str().unwrap(), "--targets", "rte"],
        &["feat.csv", "duplicate id 'm1' on lines 3 and 6"],
    );
}

#[test]
fn fewer_rows_than_k_plus_2_or_than_folds_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "feat.csv", &table(4, &["x", "y"], &varied));
    let ps = p.to_str().unwrap();
    expect_error(
        &[
            "fit",
            "--data",
            ps,
            "--targets",
            "rte",
            "--protocol",
            "paper",
            "--k",
            "3",
        ],
        &["feat.csv", "4 rows", "k = 3 needs at least k + 2 = 5 rows"],
    );
    expect_error(
        &["fit", "--data", ps, "--targets", "rte", "--cv", "kfold:6"],
        &["feat.csv", "kfold:6 needs between 2 and 4 folds"],
    );
}

#[test]
fn k_larger_than_the_usable_features_is_refused() {
    let d = tempfile::tempdir().unwrap();
    // b_layer_2 constant -> 3 usable columns
    let t = table(12, &["x", "y"], &|i, j| {
        if j == 3 {
            "1".into()
        } else {
            varied(i, j)
        }
    });
    let p = write(d.path(), "feat.csv", &t);
    expect_error(
        &[
            "fit",
            "--data",
            p.to_str().unwrap(),
            "--targets",
            "rte",
            "--method",
            "ols-subset",
            "--k",
            "4",
        ],
        &[
            "feat.csv",
            "k = 4 is larger than the 3 usable (non-constant) feature columns",
        ],
    );
}

#[test]
fn all_constant_features_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "feat.csv",
        &table(10, &["x", "y"], &|_, j| format!("{j}")),
    );
    expect_error(
        &["fit", "--data", p.to_str().unwrap(), "--targets", "rte"],
        &["feat.csv", "all 4 feature columns are constant"],
    );
}

#[test]
fn grouped_cv_with_a_single_family_or_no_family_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "feat.csv", &table(10, &["only"], &varied));
    expect_error(
        &[
            "fit",
            "--data",
            p.to_str().unwrap(),
            "--targets",
            "rte",
            "--cv",
            "group",
        ],
        &[
            "feat.csv",
            "--cv group needs at least 2 families, found only 'only'",
        ],
    );
    let t = table(10, &["x"], &varied).replace(",family,", ",fam,");
    let p = write(d.path(), "nofam.csv", &t);
    expect_error(
        &[
            "fit",
            "--data",
            p.to_str().unwrap(),
            "--targets",
            "rte",
            "--cv",
            "group",
            "--features",
            "layer",
        ],
        &["--cv group needs families"],
    );
}

#[test]
fn mismatched_ids_between_features_and_targets_files_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "feat.csv", "model,a\nm1,1\nm2,2\nm3,3\nm4,5\n");
    let t = write(
        d.path(),
        "targ.csv",
        "model,rte\nm1,0.1\nm2,0.2\nm3,0.3\nm9,0.4\n",
    );
    expect_error(
        &[
            "fit",
            "--data",
            f.to_str().unwrap(),
            "--targets-file",
            t.to_str().unwrap(),
        ],
        &[
            "ids differ between",
            "feat.csv",
            "targ.csv",
            "only in features: [\"m4\"]",
            "only in targets: [\"m9\"]",
        ],
    );
}

#[test]
fn a_text_column_must_be_excluded_with_features_regex() {
    let d = tempfile::tempdir().unwrap();
    let t = table(10, &["x", "y"], &varied)
        .replace("b_layer_2\n", "b_layer_2,notes\n")
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{l},hello")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let p = write(d.path(), "feat.csv", &t);
    let ps = p.to_str().unwrap();
    expect_error(
        &["fit", "--data", ps, "--targets", "rte"],
        &[
            "column 'notes': 'hello' is not a number",
            "--features REGEX",
        ],
    );
    let (code, _, err) = run(&[
        "fit",
        "--data",
        ps,
        "--targets",
        "rte",
        "--features",
        "_layer_",
        "--permutations",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn family_regex_groups_checkpoint_variants_with_their_base_model() {
    // ids are `<family>` and `<family>_corr_<i>`: 5 families of 5
    let j = fit_json(&[
        "--family-regex",
        r"^(.*?)(_corr_\d+)?$",
        "--cv",
        "group",
        "--method",
        "ols-subset",
        "--k",
        "5",
        "--permutations",
        "3",
        "--noise-draws",
        "1",
    ]);
    assert_eq!(j["folds"], 5);
    // k = 5 > 4 uses greedy forward selection: still 5 features
    assert_eq!(j["targets"][0]["features"].as_array().unwrap().len(), 5);
    assert_eq!(j["targets"][0]["method"], "ols-subset(k=5)");
}

#[test]
fn an_id_that_the_family_regex_does_not_match_is_refused() {
    let f = fixture("small_features.csv");
    let t = fixture("small_targets.csv");
    expect_error(
        &[
            "fit",
            "--data",
            f.to_str().unwrap(),
            "--targets-file",
            t.to_str().unwrap(),
            "--family-regex",
            "^(x)_",
        ],
        &[
            "small_features.csv",
            "line 2",
            "id 'roberta' does not match --family-regex",
        ],
    );
}

#[test]
fn a_non_numeric_target_and_a_bad_regex_are_refused_on_one_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "feat.csv",
        "model,rte,a\nm1,x,1\nm2,0.3,2\nm3,0.4,3\n",
    );
    let ps = p.to_str().unwrap();
    expect_error(
        &["fit", "--data", ps, "--targets", "rte"],
        &["feat.csv: line 2, column 'rte': 'x' is not a number (target values must be numbers)"],
    );
    expect_error(
        &["fit", "--data", ps, "--targets", "rte", "--features", "["],
        &["bad --features regex '[': unclosed character class"],
    );
}

#[test]
fn group_column_holds_out_one_operation_while_the_family_mean_baseline_keeps_the_family() {
    // families A (y 1, 2, 3) and B (y 10, 11, 12); operations x, y, z across both families.
    // Leave one operation out: each fold holds out one row of each family, and the family-mean
    // baseline predicts it by the other two rows of its family: residuals -1.5, 0, +1.5 per
    // family, so RMSE = sqrt((4 * 2.25) / 6) = sqrt(1.5). The mean baseline predicts by the
    // mean of the 4 training rows: fold x (rows 1, 10 out): mean(2, 3, 11, 12) = 7; fold y:
    // mean(1, 3, 10, 12) = 6.5; fold z: mean(1, 2, 10, 11) = 6.
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("t.csv");
    std::fs::write(
        &data,
        "model,family,op,f1,f2,rte\n\
         a1,A,x,0.3,0.9,1\na2,A,y,0.5,0.1,2\na3,A,z,0.2,0.4,3\n\
         b1,B,x,0.8,0.6,10\nb2,B,y,0.1,0.3,11\nb3,B,z,0.7,0.2,12\n",
    )
    .unwrap();
    let args = [
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--targets",
        "rte",
        "--cv",
        "group",
        "--group-column",
        "op",
        "--permutations",
        "0",
        "--noise-draws",
        "0",
        "--json",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["folds"], 3);
    let b = &j["targets"][0]["baselines"];
    let fam = b["family_mean"].as_f64().unwrap();
    assert!((fam - 1.5f64.sqrt()).abs() < 1e-12, "{b}");
    let res: [f64; 6] = [
        1.0 - 7.0,
        10.0 - 7.0,
        2.0 - 6.5,
        11.0 - 6.5,
        3.0 - 6.0,
        12.0 - 6.0,
    ];
    let mean = (res.iter().map(|r| r * r).sum::<f64>() / 6.0).sqrt();
    assert!((b["mean"].as_f64().unwrap() - mean).abs() < 1e-12, "{b}");
    // without --group-column the family groups the folds: the family is never in training
    let (code, out, err) = run(&[&args[..7], &args[9..], &["--features", "^f"]].concat());
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["folds"], 2);
    let b = &j["targets"][0]["baselines"];
    assert_eq!(b["family_mean"], b["mean"]);
    // a group column that is not there
    let mut bad = args.to_vec();
    bad[8] = "operation";
    let (code, _, err) = run(&bad);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("operation") && err.contains("t.csv"), "{err}");
}
