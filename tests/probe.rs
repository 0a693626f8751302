//! Integration tests of the probing stage: the logistic-regression probe against scikit-learn,
//! the MLP, MDL, the protocol, and `probecast probe` end to end.

use probecast::learn::logreg::{self, LogRegSettings};
use probecast::probe::{npy, MatRef};
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/probe")
}

fn load_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn labels(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn logistic_regression_matches_scikit_learn_loss_and_accuracy_on_minilm_features() {
    let dir = fixture_dir();
    let meta = load_json(&dir.join("sklearn_logreg.json"));
    let mut checked = 0;
    for case in meta["cases"].as_array().unwrap() {
        let task = case["task"].as_str().unwrap();
        let k = case["labels"].as_array().unwrap().len();
        let (xtr, ntr, d) = npy::read_f32(&dir.join(format!("{task}_train_x.npy"))).unwrap();
        let (xte, nte, d2) = npy::read_f32(&dir.join(format!("{task}_test_x.npy"))).unwrap();
        assert_eq!(d, d2);
        let ytr = labels(&case["train_y"]);
        let yte = labels(&case["test_y"]);
        let (xtr, xte) = (MatRef::new(&xtr, ntr, d), MatRef::new(&xte, nte, d));
        for f in case["fits"].as_array().unwrap() {
            let c = f["C"].as_f64().unwrap();
            let opts = LogRegSettings {
                c,
                ..Default::default()
            };
            let (model, info) = logreg::fit(xtr, &ytr, k, &opts, None).unwrap();
            let want = f["objective"].as_f64().unwrap();
            let rel = (info.objective - want).abs() / want;
            assert!(
                rel < 1e-4,
                "{task} C={c}: objective {} vs scikit-learn {want} (rel {rel:e})",
                info.objective
            );
            let acc = model.accuracy(xte, &yte);
            let want_acc = f["test_acc"].as_f64().unwrap();
            assert!(
                (acc - want_acc).abs() <= 0.005 + 1e-12,
                "{task} C={c}: test accuracy {acc} vs scikit-learn {want_acc}"
            );
            eprintln!(
                "{task} C={c}: objective {:.8} (sklearn {want:.8}), test acc {acc:.4} (sklearn {want_acc:.4}), {} iterations",
                info.objective, info.report.iterations
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

#[test]
fn warm_started_path_reaches_the_same_optima_as_cold_fits() {
    let dir = fixture_dir();
    let (x, n, d) = npy::read_f32(&dir.join("tree_depth_train_x.npy")).unwrap();
    let meta = load_json(&dir.join("sklearn_logreg.json"));
    let y = labels(&meta["cases"][1]["train_y"]);
    let x = MatRef::new(&x, n, d);
    let cs = [0.1, 1.0, 10.0];
    let path = logreg::fit_path(x, &y, 7, &cs, &LogRegSettings::default()).unwrap();
    for (i, (_, info)) in path.iter().enumerate() {
        let want = meta["cases"][1]["fits"][i]["objective"].as_f64().unwrap();
        assert!((info.objective - want).abs() / want < 1e-4, "C={}", cs[i]);
    }
}

use probecast::data::senteval;
use probecast::probe::mdl;
use probecast::probe::mlp::{self, MlpSettings};
use probecast::probe::protocol::{self, ProbeKind, ProbeSettings, ProtocolError};

fn features_fixture(task: &str) -> (Vec<f32>, Vec<u32>, Vec<f32>, Vec<u32>, usize, usize) {
    let dir = fixture_dir();
    let meta = load_json(&dir.join("sklearn_logreg.json"));
    let case = meta["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["task"] == task)
        .unwrap()
        .clone();
    let (xtr, _, d) = npy::read_f32(&dir.join(format!("{task}_train_x.npy"))).unwrap();
    let (xte, _, _) = npy::read_f32(&dir.join(format!("{task}_test_x.npy"))).unwrap();
    let k = case["labels"].as_array().unwrap().len();
    (
        xtr,
        labels(&case["train_y"]),
        xte,
        labels(&case["test_y"]),
        d,
        k,
    )
}

#[test]
fn mlp_gradient_matches_central_finite_differences() {
    let (dim, hidden, k, n) = (5, 4, 3, 9);
    let x: Vec<f64> = (0..n * dim)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) / 4.0)
        .collect();
    let y: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
    let np = mlp::n_params(dim, hidden, k);
    let p: Vec<f64> = (0..np)
        .map(|i| ((i * 53 % 17) as f64 - 8.0) / 10.0)
        .collect();
    let mut g = vec![0.0; np];
    mlp::loss_and_grad(&p, dim, hidden, k, &x, &y, 0.01, &mut g);
    let mut scratch = vec![0.0; np];
    let mut worst = 0f64;
    for j in 0..np {
        let h = 1e-6;
        let (mut a, mut b) = (p.clone(), p.clone());
        a[j] += h;
        b[j] -= h;
        let fd = (mlp::loss_and_grad(&a, dim, hidden, k, &x, &y, 0.01, &mut scratch)
            - mlp::loss_and_grad(&b, dim, hidden, k, &x, &y, 0.01, &mut scratch))
            / (2.0 * h);
        worst = worst.max((fd - g[j]).abs());
    }
    assert!(worst < 1e-7, "largest gradient error {worst:e}");
}

#[test]
fn mlp_learns_past_present_from_minilm_features_deterministically() {
    let (xtr, ytr, xte, yte, d, k) = features_fixture("past_present");
    // first 240 rows train, last 60 validate
    let (xa, xv) = xtr.split_at(240 * d);
    let xa = MatRef::new(xa, 240, d);
    let xv = MatRef::new(xv, 60, d);
    let opts = MlpSettings {
        hidden: 20,
        seed: 7,
        ..Default::default()
    };
    let (net, info) = mlp::train(xa, &ytr[..240], xv, &ytr[240..], k, &opts).unwrap();
    let acc = net.accuracy(MatRef::new(&xte, yte.len(), d), &yte);
    assert!(acc > 0.7, "test accuracy {acc}");
    assert!(info.best_epoch <= info.epochs && info.epochs < opts.max_epochs);
    let (net2, _) = mlp::train(xa, &ytr[..240], xv, &ytr[240..], k, &opts).unwrap();
    assert_eq!(net.params, net2.params);
}

#[test]
fn mdl_of_a_uniform_predictor_equals_the_uniform_codelength_exactly() {
    for k in [2usize, 4] {
        let y: Vec<u32> = (0..1000).map(|i| (i * 7 % k) as u32).collect();
        let ends = mdl::block_ends(y.len(), &mdl::VOITA_TITOV_PERCENTS);
        let r = mdl::online_codelength(&y, k, &ends, |_, block| {
            vec![1.0 / k as f64; block.len() * k]
        });
        assert_eq!(r.codelength_bits, 1000.0 * (k as f64).log2());
        assert_eq!(r.codelength_bits, r.uniform_bits);
        assert_eq!(r.compression, 1.0);
    }
    // 7 classes: log2(7) is irrational, so only equal up to rounding of the sum
    let y: Vec<u32> = (0..700).map(|i| (i % 7) as u32).collect();
    let ends = mdl::block_ends(700, &mdl::VOITA_TITOV_PERCENTS);
    let r = mdl::online_codelength(&y, 7, &ends, |_, b| vec![1.0 / 7.0; b.len() * 7]);
    assert!((r.codelength_bits - 700.0 * 7f64.log2()).abs() < 1e-9);
}

#[test]
fn mdl_with_a_logistic_probe_compresses_real_labels_and_not_shuffled_ones() {
    let (xtr, ytr, _, _, d, k) = features_fixture("past_present");
    let code = |y: &[u32]| {
        let ends = mdl::block_ends(y.len(), &mdl::VOITA_TITOV_PERCENTS);
        mdl::online_codelength(y, k, &ends, |prefix, block| {
            let xp = MatRef::new(&xtr[..prefix * d], prefix, d);
            let o = LogRegSettings {
                c: 0.01,
                ..Default::default()
            };
            let (m, _) = logreg::fit(xp, &y[..prefix], k, &o, None).unwrap();
            m.predict_proba(MatRef::new(
                &xtr[block.start * d..block.end * d],
                block.len(),
                d,
            ))
        })
    };
    let real = code(&ytr);
    assert_eq!(real.uniform_bits, 300.0);
    let shuffled: Vec<u32> = (0..ytr.len())
        .map(|i| ytr[(i * 7919) % ytr.len()])
        .collect();
    let control = code(&shuffled);
    eprintln!("real {real:?}\nshuffled {control:?}");
    assert!(real.compression > 1.05, "{real:?}");
    assert!(control.compression < 1.0, "{control:?}");
}

fn parse(name: &str, text: &str) -> senteval::Dataset {
    senteval::parse(Path::new(name), text).unwrap()
}

#[test]
fn protocol_rejects_bad_tasks_with_one_line_naming_the_file() {
    let one = parse("t/one.txt", "tr\tA\ta .\ntr\tA\tb .\nte\tA\tc .\n");
    assert_eq!(
        protocol::prepare_task(&one).unwrap_err().to_string(),
        "t/one.txt: only one class (\"A\") among the tr/va lines; a probing task needs at least 2"
    );
    let no_te = parse("t/no_te.txt", "tr\tA\ta .\ntr\tB\tb .\n");
    assert!(matches!(
        protocol::prepare_task(&no_te),
        Err(ProtocolError::NoTest { .. })
    ));
    let unseen = parse("t/unseen.txt", "tr\tA\ta .\ntr\tB\tb .\nte\tC\tc .\n");
    assert_eq!(
        protocol::prepare_task(&unseen).unwrap_err().to_string(),
        "t/unseen.txt: label \"C\" appears in te lines but not in tr/va lines"
    );
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&format!("tr\tA\ta{i} .\n"));
    }
    for i in 0..12 {
        text.push_str(&format!("tr\tB\tb{i} .\n"));
    }
    text.push_str("te\tA\tx .\nte\tB\ty .\n");
    let small = protocol::prepare_task(&parse("t/small.txt", &text)).unwrap();
    let e = protocol::draw(&small, 20, 0, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t/small.txt: class \"B\" has 12 tr/va examples, fewer than the 25 needed for --train-per-class 20 (plus a quarter for validation); use --train-per-class 9 or less, or --allow-fewer"
    );
    assert!(protocol::draw(&small, 9, 0, false).is_ok());
    let d = protocol::draw(&small, 20, 0, true).unwrap();
    assert_eq!((d.train.len(), d.val.len()), (20 + 9, 5 + 3));
    let dup = [parse("a/x.txt", &text), parse("b/x.txt", &text)];
    assert_eq!(
        protocol::check_unique_names(&dup).unwrap_err().to_string(),
        "b/x.txt: duplicate task name \"x\" (also a/x.txt); task names are file stems and must be unique in a suite"
    );
}

#[test]
fn draws_are_balanced_disjoint_and_reproducible_per_seed() {
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!("tr\t{}\ts{i} .\n", ["10", "9", "11"][i % 3]));
    }
    text.push_str("te\t9\tt .\nte\t10\tu .\n");
    let t = protocol::prepare_task(&parse("t/x.txt", &text)).unwrap();
    assert_eq!(t.labels, vec!["9", "10", "11"]);
    let a = protocol::draw(&t, 20, 3, false).unwrap();
    assert_eq!(a, protocol::draw(&t, 20, 3, false).unwrap());
    assert_ne!(a, protocol::draw(&t, 20, 4, false).unwrap());
    for c in 0..3u32 {
        assert_eq!(a.train.iter().filter(|&&i| t.y[i] == c).count(), 20);
        assert_eq!(a.val.iter().filter(|&&i| t.y[i] == c).count(), 5);
    }
    let mut all: Vec<usize> = a
        .train
        .iter()
        .chain(&a.val)
        .chain(&t.test)
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60 + 15 + 2);
}

/// A task built from the fixture features: the 300 training rows as `tr`, the 200 test rows as
/// `te`, with features for every row in file order.
fn fixture_task() -> (protocol::TaskData, Vec<f32>, usize) {
    let (xtr, ytr, xte, yte, d, _) = features_fixture("past_present");
    let names = ["PAST", "PRES"];
    let mut text = String::new();
    for (i, &y) in ytr.iter().enumerate() {
        text.push_str(&format!("tr\t{}\ts{i} .\n", names[y as usize]));
    }
    for (i, &y) in yte.iter().enumerate() {
        text.push_str(&format!("te\t{}\tt{i} .\n", names[y as usize]));
    }
    let t = protocol::prepare_task(&parse("fx/past_present.txt", &text)).unwrap();
    let mut x = xtr;
    x.extend_from_slice(&xte);
    (t, x, d)
}

#[test]
fn protocol_reports_seeds_mean_and_std_for_every_probe_and_metric() {
    let (t, x, d) = fixture_task();
    let n = t.y.len();
    let settings = ProbeSettings {
        train_per_class: 100,
        seeds: 2,
        probes: vec![ProbeKind::LogReg, ProbeKind::Mlp],
        mlp_hidden: vec![10],
        ..Default::default()
    };
    let layers = [MatRef::new(&x, n, d)];
    let recs = protocol::probe_task(&t, &layers, "cls", &settings, &|| {}).unwrap();
    let get = |probe: &str, seed: &str, metric: &str| {
        recs.iter()
            .find(|r| r.probe == probe && r.seed == seed && r.metric == metric)
            .unwrap_or_else(|| panic!("{probe} {seed} {metric}"))
            .value
    };
    for probe in ["logreg", "mlp", "best"] {
        let (a, b) = (get(probe, "0", "test_acc"), get(probe, "1", "test_acc"));
        assert!((get(probe, "mean", "test_acc") - (a + b) / 2.0).abs() < 1e-12);
        assert!((get(probe, "std", "test_acc") - (a - b).abs() / 2f64.sqrt()).abs() < 1e-12);
        assert!(a > 0.65, "{probe} test accuracy {a}");
        let sel = get(probe, "0", "selectivity");
        assert!((sel - (a - get(probe, "0", "control_train_acc"))).abs() < 1e-12);
        assert!(get(probe, "0", "mdl_compression") > 1.0);
    }
    let best_val = get("best", "0", "val_acc");
    assert_eq!(
        best_val,
        get("logreg", "0", "val_acc").max(get("mlp", "0", "val_acc"))
    );
    // deterministic
    let again = protocol::probe_task(&t, &layers, "cls", &settings, &|| {}).unwrap();
    assert_eq!(recs, again);
}

// ---------------------------------------------------------------------------------------------
// `probecast probe` end to end

mod common;
use common::read_csv;
use common::{assert_user_error, fixture, minilm_dir, probecast, shared_data, skip};

/// A two-class SentEval task whose label is which word list the sentence is drawn from.
fn word_task(tr_per_class: usize, te_per_class: usize) -> String {
    let a = ["the", "cat", "sat", "on", "mat", "dog", "barked"];
    let b = ["she", "reads", "books", "every", "evening", "birds", "sing"];
    let mut s = String::new();
    for (split, n) in [("tr", tr_per_class), ("te", te_per_class)] {
        for i in 0..n {
            for (label, words) in [("A", &a), ("B", &b)] {
                let w: Vec<&str> = (0..4 + i % 3).map(|j| words[(i * 3 + j * 5) % 7]).collect();
                s.push_str(&format!("{split}\t{label}\t{} .\n", w.join(" ")));
            }
        }
    }
    s
}

#[test]
fn probe_writes_tidy_and_wide_tables_and_a_manifest_for_two_models() {
    let d = tempfile::tempdir().unwrap();
    let tasks = d.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    std::fs::write(tasks.join("words.txt"), word_task(30, 20)).unwrap();
    std::fs::write(tasks.join("README.md"), "not a task").unwrap();
    let out = d.path().join("out");
    let bert = fixture("encoder/tiny-bert");
    let roberta = fixture("encoder/tiny-roberta");
    let o = probecast(&[
        "probe",
        "--model",
        bert.to_str().unwrap(),
        "--model",
        roberta.to_str().unwrap(),
        "--tasks",
        tasks.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--train-per-class",
        "20",
        "--seeds",
        "2",
        "--probe",
        "logreg,mlp",
        "--mlp-hidden",
        "10",
        "--cache-dir",
        d.path().join("cache").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (h, rows) = read_csv(&out.join("probes.csv"));
    assert_eq!(
        h,
        ["model", "task", "layer", "pooling", "probe", "seed", "metric", "value"]
    );
    // 2 models x 3 hidden states x 2 poolings x 3 probes (logreg, mlp, best) x 4 seed tags
    let n_test_acc = rows.iter().filter(|r| r[6] == "test_acc").count();
    assert_eq!(n_test_acc, 2 * 3 * 2 * 3 * 4);
    for r in rows.iter().filter(|r| r[6].ends_with("_acc")) {
        let v: f64 = r[7].parse().unwrap();
        assert!((0.0..=1.0).contains(&v), "{r:?}");
    }
    let (h, rows) = read_csv(&out.join("features.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "tiny-bert");
    assert_eq!(rows[1][0], "tiny-roberta");
    for col in [
        "words_layer_0",
        "words_layer_2",
        "words_layer_1__sel",
        "words_layer_1__mdl",
        "words_layer_0__mean",
        "words_layer_2__mean__sel",
        "words_layer_2__mean__mdl",
    ] {
        assert!(h.contains(&col.to_string()), "{col} not in {h:?}");
    }
    assert_eq!(h.len(), 1 + 3 * 2 * 3);
    // mean pooling of the embedding layer separates two disjoint word lists
    let c = h.iter().position(|x| x == "words_layer_0__mean").unwrap();
    for r in &rows {
        assert!(r[c].parse::<f64>().unwrap() > 0.9, "{r:?}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["command"], "probe");
    assert_eq!(m["settings"]["train_per_class"], 20);
    assert_eq!(m["settings"]["val_per_class"], 5);
    assert_eq!(m["probe"]["models"].as_array().unwrap().len(), 2);
    assert_eq!(m["inputs"].as_array().unwrap().len(), 2 + 1);
    assert_eq!(
        m["probe"]["tasks"][0]["classes"],
        serde_json::json!(["A", "B"])
    );
}

#[test]
fn probe_rejects_bad_probing_data_with_one_line_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let bert = fixture("encoder/tiny-bert");
    let run = |name: &str, content: &str, extra: &[&str]| {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        let mut args = vec![
            "probe",
            "--model",
            bert.to_str().unwrap(),
            "--tasks",
            p.to_str().unwrap(),
            "--out",
            d.path().to_str().unwrap(),
            "--train-per-class",
            "20",
        ];
        args.extend_from_slice(extra);
        probecast(&args)
    };
    let single = "tr\tA\ta b .\ntr\tA\tc d .\nte\tA\te f .\n";
    assert_user_error(
        &run("single.txt", single, &[]),
        &["single.txt", "only one class"],
    );
    let no_te: String = word_task(30, 0);
    assert_user_error(
        &run("no_te.txt", &no_te, &[]),
        &["no_te.txt", "no test lines"],
    );
    let unseen = format!("{}te\tC\tthe cat .\n", word_task(30, 2));
    assert_user_error(
        &run("unseen.txt", &unseen, &[]),
        &[
            "unseen.txt",
            "label \"C\" appears in te lines but not in tr/va",
        ],
    );
    assert_user_error(
        &run("empty.txt", "", &[]),
        &["empty.txt", "empty data file"],
    );
    let small = word_task(12, 2);
    assert_user_error(
        &run("small.txt", &small, &[]),
        &[
            "small.txt",
            "class \"A\" has 12 tr/va examples",
            "use --train-per-class 9 or less",
        ],
    );
    // the same file with --allow-fewer is accepted (checked in the library tests); a suite with
    // two files of the same name is not
    let a = d.path().join("suite_a/words.txt");
    let b = d.path().join("suite_b/words.txt");
    for p in [&a, &b] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, word_task(30, 2)).unwrap();
    }
    let o = probecast(&[
        "probe",
        "--model",
        bert.to_str().unwrap(),
        "--tasks",
        a.parent().unwrap().to_str().unwrap(),
        b.parent().unwrap().to_str().unwrap(),
        "--out",
        d.path().to_str().unwrap(),
    ]);
    assert_user_error(&o, &["suite_b/words.txt", "duplicate task name \"words\""]);
    let o = run("ok.txt", &word_task(30, 2), &["--probe", "svm"]);
    assert_user_error(&o, &["--probe", "svm"]);
}

#[test]
fn probe_goes_on_after_a_model_fails_to_load_and_exits_non_zero_at_the_end() {
    let d = tempfile::tempdir().unwrap();
    let task = d.path().join("words.txt");
    std::fs::write(&task, word_task(30, 10)).unwrap();
    let broken = d.path().join("broken-model");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("config.json"), "{ not json").unwrap();
    let bert = fixture("encoder/tiny-bert");
    let out = d.path().join("out");
    let o = probecast(&[
        "probe",
        "--model",
        broken.to_str().unwrap(),
        "--model",
        bert.to_str().unwrap(),
        "--tasks",
        task.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--train-per-class",
        "20",
        "--seeds",
        "1",
        "--metrics",
        "acc",
        "--pooling",
        "mean",
        "--cache-dir",
        d.path().join("cache").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: 1 of 2 models failed: ") && err.contains("broken-model"),
        "{err}"
    );
    let (h, rows) = read_csv(&out.join("features.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "tiny-bert");
    assert_eq!(
        &h[1..],
        [
            "words_layer_0__mean",
            "words_layer_1__mean",
            "words_layer_2__mean"
        ]
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(m["probe"]["failed_models"][0]["model"]
        .as_str()
        .unwrap()
        .ends_with("broken-model"));
}

#[test]
fn minilm_probes_real_senteval_far_above_chance_and_controls_at_chance() {
    let (Some(model), Some(data)) = (minilm_dir(), shared_data()) else {
        skip("all-MiniLM-L6-v2 (scripts/fetch-models.sh) and ../shared/data/senteval_probing");
        return;
    };
    let suite = data.join("senteval_probing");
    if !suite.is_dir() {
        skip("../shared/data/senteval_probing");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let files: Vec<String> = ["past_present", "subj_number", "bigram_shift"]
        .iter()
        .map(|t| suite.join(format!("{t}.txt")).display().to_string())
        .collect();
    let mut args = vec!["probe", "--model", model.to_str().unwrap(), "--tasks"];
    args.extend(files.iter().map(String::as_str));
    let cache = std::env::var("PROBECAST_TEST_CACHE")
        .unwrap_or_else(|_| d.path().join("cache").display().to_string());
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--pooling",
        "cls",
        "--seeds",
        "1",
        "--metrics",
        "acc,selectivity",
        "--cache-dir",
        &cache,
    ]);
    let o = probecast(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, rows) = read_csv(&out.join("probes.csv"));
    let val = |task: &str, layer: usize, metric: &str| -> f64 {
        rows.iter()
            .find(|r| r[1] == task && r[2] == layer.to_string() && r[5] == "mean" && r[6] == metric)
            .unwrap_or_else(|| panic!("{task} {layer} {metric}"))[7]
            .parse()
            .unwrap()
    };
    for task in ["past_present", "subj_number"] {
        let best = (0..=6)
            .map(|l| val(task, l, "test_acc"))
            .fold(0.0, f64::max);
        assert!(best > 0.75, "{task}: best layer accuracy {best}");
    }
    let l0 = val("bigram_shift", 0, "test_acc");
    assert!((l0 - 0.5).abs() < 0.03, "bigram_shift layer 0: {l0}");
    for task in ["past_present", "subj_number", "bigram_shift"] {
        let mean: f64 = (0..=6)
            .map(|l| val(task, l, "control_test_acc"))
            .sum::<f64>()
            / 7.0;
        assert!(
            (mean - 0.5).abs() < 0.03,
            "{task}: control held-out accuracy {mean}"
        );
        let ctrain = val(task, 3, "control_train_acc");
        assert!(ctrain > 0.5, "{task}: control training accuracy {ctrain}");
    }
}

#[test]
fn pipelined_embedding_and_probing_equal_the_phases_run_one_after_the_other() {
    // `probecast probe` embeds task k+1 while it probes task k on the same threads; every
    // record must be exactly what embedding and then probing each task in turn gives.
    use probecast::encoder::Pooling;
    use probecast::features::{embed_dataset, EmbedSettings};
    use probecast::probe::pipeline;
    let d = tempfile::tempdir().unwrap();
    let bert = fixture("encoder/tiny-bert");
    let datasets = vec![
        parse("w/first.txt", &word_task(30, 20)),
        parse("w/second.txt", &word_task(26, 12)),
        parse("w/third.txt", &word_task(36, 10)),
    ];
    let tasks: Vec<protocol::TaskData> = datasets
        .iter()
        .map(|ds| protocol::prepare_task(ds).unwrap())
        .collect();
    let s = ProbeSettings {
        train_per_class: 20,
        seeds: 3,
        ..Default::default()
    };
    let embed = |dir: &str| EmbedSettings {
        poolings: vec![Pooling::Cls, Pooling::Mean],
        batch_size: 4,
        cache_dir: d.path().join(dir),
        ..Default::default()
    };
    let run = pipeline::embed_and_probe(
        bert.to_str().unwrap(),
        &datasets,
        &tasks,
        &embed("a"),
        Some(&[2, 0]),
        &s,
        &hidden_bars(),
    )
    .unwrap();
    let mut want = Vec::new();
    for (ds, t) in datasets.iter().zip(&tasks) {
        let out = embed_dataset(
            bert.to_str().unwrap(),
            ds,
            &embed("b"),
            &indicatif::ProgressBar::hidden(),
        )
        .unwrap();
        for (pool, f) in &out.features {
            let mats: Vec<MatRef> = [2usize, 0]
                .iter()
                .map(|&l| MatRef::new(&f.layers[l], f.n, f.dim))
                .collect();
            for mut r in protocol::probe_task(t, &mats, pool.name(), &s, &|| {}).unwrap() {
                r.layer = [2, 0][r.layer];
                want.push(r);
            }
        }
    }
    assert_eq!(run.name, "tiny-bert");
    assert!(!want.is_empty());
    assert_eq!(run.records.len(), want.len());
    for (a, b) in run.records.iter().zip(&want) {
        assert_eq!(a, b);
    }
    // the pipeline wrote the same cache entries
    let files = |dir: &str| {
        let mut v: Vec<_> = std::fs::read_dir(d.path().join(dir).join("features"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files("a"), files("b"));
    assert_eq!(files("a").len(), 3 * 2);
    // a hidden state the model does not have stops the run with a message naming it
    let e = pipeline::embed_and_probe(
        bert.to_str().unwrap(),
        &datasets,
        &tasks,
        &embed("a"),
        Some(&[7]),
        &s,
        &hidden_bars(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not 7"), "{e}");
}

fn hidden_bars() -> indicatif::MultiProgress {
    indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
}
