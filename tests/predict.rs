//! End-to-end tests of `probecast predict` through the built binary.

mod common;
use common::read_csv;
use common::run;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A fixture of the prediction stage.
fn fixture(name: &str) -> PathBuf {
    common::fixture(&format!("predict/{name}"))
}

/// Fit on the small fixture into `dir`, returning the predictor path.
fn fit(dir: &Path, extra: &[&str]) -> PathBuf {
    let f = fixture("small_features.csv");
    let t = fixture("small_targets.csv");
    let mut args = vec![
        "fit",
        "--data",
        f.to_str().unwrap(),
        "--targets-file",
        t.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--permutations",
        "5",
        "--noise-draws",
        "1",
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    dir.join("predictor.json")
}

#[test]
fn a_paper_predictor_reproduces_the_numpy_least_squares_fit_on_its_training_rows() {
    let d = tempfile::tempdir().unwrap();
    let pred = fit(
        d.path(),
        &[
            "--protocol",
            "paper",
            "--features",
            "_layer_([1-9]|1[0-2])$",
        ],
    );
    let out = d.path().join("pred.csv");
    let f = fixture("small_features.csv");
    let (code, _, err) = run(&[
        "predict",
        "--predictor",
        pred.to_str().unwrap(),
        "--data",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("small_paper_expected.json")).unwrap(),
    )
    .unwrap();
    let (fh, frows) = read_csv(&f);
    let (h, rows) = read_csv(&out);
    assert_eq!(
        h,
        ["model", "target", "predicted", "lower", "upper", "rank"]
    );
    assert_eq!(rows.len(), 50);
    for r in &rows {
        let e = &expected[r[1].as_str()];
        let feat = frows.iter().find(|fr| fr[0] == r[0]).unwrap();
        let mut want = e["raw_intercept"].as_f64().unwrap();
        for (name, c) in e["features"]
            .as_array()
            .unwrap()
            .iter()
            .zip(e["raw_coefficients"].as_array().unwrap())
        {
            let col = fh.iter().position(|x| x == name.as_str().unwrap()).unwrap();
            want += c.as_f64().unwrap() * feat[col].parse::<f64>().unwrap();
        }
        let got: f64 = r[2].parse().unwrap();
        assert!(
            (got - want).abs() < 1e-9,
            "{} {}: {got} vs {want}",
            r[0],
            r[1]
        );
        // the paper protocol has no cross-validation, hence no interval
        assert_eq!(r[3], "");
    }
}

#[test]
fn an_honest_predictor_gives_intervals_of_the_saved_width_and_ranks_each_target() {
    let d = tempfile::tempdir().unwrap();
    let pred = fit(d.path(), &[]);
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&pred).unwrap()).unwrap();
    assert_eq!(p["format"], "probecast-predictor/1");
    assert_eq!(p["protocol"], "honest");
    assert_eq!(p["training_rows"], 25);
    assert_eq!(p["training_data_sha256"].as_str().unwrap().len(), 64);
    let f = fixture("small_features.csv");
    let (code, stdout, err) = run(&[
        "predict",
        "--predictor",
        pred.to_str().unwrap(),
        "--data",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "model,target,predicted,lower,upper,rank"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for t in p["targets"].as_array().unwrap() {
        let name = t["target"].as_str().unwrap();
        let w = t["interval_half_width"].as_f64().unwrap();
        let mine: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] == name).collect();
        assert_eq!(mine.len(), 25);
        let mut ranks: Vec<usize> = mine.iter().map(|r| r[5].parse().unwrap()).collect();
        ranks.sort_unstable();
        assert_eq!(ranks, (1..=25).collect::<Vec<_>>());
        for r in &mine {
            let v: Vec<f64> = r[2..5].iter().map(|s| s.parse().unwrap()).collect();
            assert!((v[0] - v[1] - w).abs() < 1e-12 && (v[2] - v[0] - w).abs() < 1e-12);
        }
        // rank 1 has the highest prediction
        let top = mine.iter().find(|r| r[5] == "1").unwrap();
        let best = mine
            .iter()
            .map(|r| r[2].parse::<f64>().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(top[2].parse::<f64>().unwrap(), best);
    }
}

#[test]
fn a_features_file_lacking_a_needed_column_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let pred = fit(d.path(), &["--method", "ols-subset"]);
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&pred).unwrap()).unwrap();
    let needed = p["targets"][0]["features"][0].as_str().unwrap().to_string();
    // drop that column from the features table
    let (h, rows) = read_csv(&fixture("small_features.csv"));
    let keep: Vec<usize> = (0..h.len()).filter(|&c| h[c] != needed).collect();
    let mut text = keep
        .iter()
        .map(|&c| h[c].clone())
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for r in rows {
        text += &(keep
            .iter()
            .map(|&c| r[c].clone())
            .collect::<Vec<_>>()
            .join(",")
            + "\n");
    }
    let f = d.path().join("new.csv");
    std::fs::write(&f, text).unwrap();
    let (code, out, err) = run(&[
        "predict",
        "--predictor",
        pred.to_str().unwrap(),
        "--data",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.starts_with("error: ") && err.contains("new.csv"),
        "{err}"
    );
    assert!(
        err.contains(&format!("no feature column '{needed}'")),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
}

#[test]
fn a_missing_cell_is_refused_unless_imputed_with_the_training_mean() {
    let d = tempfile::tempdir().unwrap();
    let pred = fit(
        d.path(),
        &["--method", "ols-subset", "--k", "1", "--targets", "rte"],
    );
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&pred).unwrap()).unwrap();
    let t = &p["targets"][0];
    let needed = t["features"][0].as_str().unwrap();
    let f = d.path().join("new.csv");
    std::fs::write(&f, format!("model,{needed}\nnew1,\nnew2,0.8\n")).unwrap();
    let (code, _, err) = run(&[
        "predict",
        "--predictor",
        pred.to_str().unwrap(),
        "--data",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 2") && err.contains("missing value"),
        "{err}"
    );
    let (code, out, err) = run(&[
        "predict",
        "--predictor",
        pred.to_str().unwrap(),
        "--data",
        f.to_str().unwrap(),
        "--impute",
        "mean",
    ]);
    assert_eq!(code, 0, "{err}");
    // imputed row predicts the intercept (training mean of the target for a centred fit)
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("new1,{}", t["target"].as_str().unwrap())))
        .unwrap();
    let v: f64 = line.split(',').nth(2).unwrap().parse().unwrap();
    assert!((v - t["intercept"].as_f64().unwrap()).abs() < 1e-12);
}

#[test]
fn a_file_that_is_not_a_predictor_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("p.json");
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    let f = fixture("small_features.csv");
    let (code, _, err) = run(&[
        "predict",
        "--predictor",
        bad.to_str().unwrap(),
        "--data",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("p.json: not a probecast predictor file"),
        "{err}"
    );
}
