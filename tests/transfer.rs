//! Transferability estimators against numpy / scikit-learn (fixtures from
//! bench/python/transfer_reference.py), `probecast rank` end to end on tiny checkpoints and the
//! real all-MiniLM-L6-v2, the estimator columns of `probecast probe`, and bad input.

mod common;
use common::read_csv;

use common::{assert_user_error, fixture, minilm_dir, probecast, shared_data, skip};
use probecast::learn::MatRef;
use probecast::transfer::{self, hscore, knn, logme, EstimatorOptions, Target};
use std::path::{Path, PathBuf};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn estimators_match_numpy_and_scikit_learn_to_1e_6_relative_and_knn_exactly() {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("transfer/reference.json")).unwrap())
            .unwrap();
    let o = EstimatorOptions::default();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let (n, d) = (
            c["n"].as_u64().unwrap() as usize,
            c["d"].as_u64().unwrap() as usize,
        );
        let x: Vec<f32> = c["x"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let x = MatRef::new(&x, n, d);
        let ys = c["y"].as_array().unwrap();
        let target = if c["regression"].as_bool().unwrap() {
            Target::Regression(ys.iter().map(|v| v.as_f64().unwrap()).collect())
        } else {
            Target::Classes {
                labels: ys.iter().map(|v| v.as_u64().unwrap() as u32).collect(),
                classes: c["classes"].as_u64().unwrap() as usize,
            }
        };
        for (key, variant) in [
            ("logme_reference", logme::Variant::Reference),
            ("logme_corrected", logme::Variant::Corrected),
        ] {
            let got = logme::logme(x, &target, variant, &o);
            let want = c[key].as_f64().unwrap();
            assert!(rel(got, want) < 1e-6, "{name} {key}: {got} vs numpy {want}");
            eprintln!("{name} {key}: {got:.10} vs numpy {want:.10}");
        }
        if let Target::Classes { labels, classes } = &target {
            let got = hscore::hscore(x, labels, *classes, &o);
            let want = c["hscore"].as_f64().unwrap();
            assert!(
                rel(got, want) < 1e-6,
                "{name} hscore: {got} vs sklearn {want}"
            );
            let k = knn::loo_knn(x, labels, *classes, knn::K, 2);
            // one thread takes the other path (each pair once, offered both ways): the same
            assert_eq!(
                k,
                knn::loo_knn(x, labels, *classes, knn::K, 1),
                "{name} knn 1 thread"
            );
            // exact: the same number of examples right (the means differ in the last bit only)
            let right = |acc: f64| (acc * n as f64).round() as usize;
            assert_eq!(
                right(k.micro),
                right(c["knn_micro"].as_f64().unwrap()),
                "{name} knn micro"
            );
            assert!((k.micro - c["knn_micro"].as_f64().unwrap()).abs() < 1e-12);
            assert!(
                (k.macro_ - c["knn_macro"].as_f64().unwrap()).abs() < 1e-12,
                "{name} knn macro"
            );
            eprintln!(
                "{name}: hscore {got:.10} vs {want:.10}, knn {}/{}",
                k.micro, k.macro_
            );
        }
    }
}

#[test]
fn the_reference_logme_overstates_the_evidence_when_n_is_below_d() {
    // The fixture's n < d cases: the reference drops (d - n)/2 ln(alpha) from the evidence.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("transfer/reference.json")).unwrap())
            .unwrap();
    for c in v["cases"].as_array().unwrap() {
        let (n, d) = (c["n"].as_u64().unwrap(), c["d"].as_u64().unwrap());
        let (r, k) = (
            c["logme_reference"].as_f64().unwrap(),
            c["logme_corrected"].as_f64().unwrap(),
        );
        if n > d {
            assert_eq!(r, k);
        } else {
            assert!(r > k + 0.1, "{r} vs {k}");
        }
    }
}

/// A toy GLUE task directory: `name/train.tsv` with `n` RTE-style pairs, labels alternating
/// (or all `entailment` with `one_class`).
fn toy_rte(dir: &Path, name: &str, n: usize, one_class: bool) -> PathBuf {
    let t = dir.join(name);
    std::fs::create_dir_all(&t).unwrap();
    let mut s = String::from("index\tsentence1\tsentence2\tlabel\n");
    let words = ["cat", "dog", "bird", "fish", "horse", "cow"];
    for i in 0..n {
        let yes = one_class || i % 2 == 0;
        let lab = if yes { "entailment" } else { "not_entailment" };
        let b = if yes {
            format!("a {} is here .", words[i % 6])
        } else {
            format!("nothing like a {} was seen {} .", words[(i + 3) % 6], i % 4)
        };
        s.push_str(&format!(
            "{i}\tthe {} sat on the mat {} .\t{b}\t{lab}\n",
            words[i % 6],
            i % 7
        ));
    }
    std::fs::write(t.join("train.tsv"), &s).unwrap();
    t
}

fn toy_stsb(dir: &Path, n: usize) -> PathBuf {
    let t = dir.join("STS-B");
    std::fs::create_dir_all(&t).unwrap();
    let mut s = String::from(
        "genre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "main\tf\t2012\t{i}\tx\tx\ta man plays {i} .\ta man sings {} .\t{}\n",
            i % 3,
            (i % 6) as f64 * 0.8
        ));
    }
    std::fs::write(t.join("train.tsv"), &s).unwrap();
    t
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn rank_orders_tiny_checkpoints_by_score_and_writes_csv_json_and_manifest() {
    let d = tempfile::tempdir().unwrap();
    let task = toy_rte(d.path(), "RTE", 40, false);
    let out = d.path().join("out");
    let cache = d.path().join("cache");
    let (bert, roberta, distil) = (
        fixture("encoder/tiny-bert"),
        fixture("encoder/tiny-roberta"),
        fixture("encoder/tiny-distilbert"),
    );
    let o = probecast(&[
        "rank",
        "--model",
        s(&bert),
        "--model",
        &format!("{},{}", s(&roberta), s(&distil)),
        "--task",
        s(&task),
        "--estimator",
        "logme",
        "--layers",
        "best",
        "--pooling",
        "cls",
        "--cache-dir",
        s(&cache),
        "--out",
        s(&out),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("rte (40 of 40 examples, pairs), logme"),
        "{stdout}"
    );
    let (h, rows) = read_csv(&out.join("ranking.csv"));
    assert_eq!(
        h,
        [
            "rank",
            "model",
            "estimator",
            "layers",
            "pooling",
            "score",
            "knn_macro",
            "best_layer",
            "seconds"
        ]
    );
    assert_eq!(rows.len(), 3);
    let scores: Vec<f64> = rows.iter().map(|r| r[5].parse().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(
        rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ranking.json")).unwrap()).unwrap();
    let ranking = json["ranking"].as_array().unwrap();
    // The best layer's score is the maximum of the per-layer scores, and it is what was ranked.
    for (r, row) in ranking.iter().zip(&rows) {
        let per: Vec<f64> = r["per_layer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(per.len(), 3, "tiny checkpoints: embeddings + 2 layers");
        let best = r["best_layer"].as_u64().unwrap() as usize;
        assert_eq!(per[best], r["score"].as_f64().unwrap());
        assert!(per.iter().all(|&v| v <= per[best]));
        assert_eq!(row[7], best.to_string());
        assert_eq!(row[1], r["model"].as_str().unwrap());
    }
    // The score is LogME of the pair features the encoder gives (tokenizer's pair template).
    let top = &ranking[0];
    let lm =
        probecast::encoder::LoadedModel::load(Path::new(top["model_dir"].as_str().unwrap()), 128)
            .unwrap();
    let t = probecast::transfer::target::TargetTask::load(&task, None, None, 0).unwrap();
    let pairs: Vec<(String, String)> = t
        .examples
        .iter()
        .map(|e| (e.a.clone(), e.b.clone().unwrap()))
        .collect();
    let (f, _) = probecast::encoder::extract::embed_pairs(
        &lm,
        &pairs,
        &[probecast::encoder::Pooling::Cls],
        32,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let f = &f[&probecast::encoder::Pooling::Cls];
    let k = top["best_layer"].as_u64().unwrap() as usize;
    let want = logme::logme(
        MatRef::new(&f.layers[k], f.n, f.dim),
        &t.target(),
        logme::Variant::Corrected,
        &EstimatorOptions::default(),
    );
    assert!(rel(top["score"].as_f64().unwrap(), want) < 1e-9);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "probecast_version",
        "command",
        "command_line",
        "created_unix",
        "inputs",
        "settings",
        "outputs",
        "timing",
        "rank",
    ] {
        assert!(keys.contains(&k), "manifest lacks {k}: {keys:?}");
    }
    assert_eq!(m["command"], "rank");
    assert_eq!(m["inputs"].as_array().unwrap().len(), 4);
    assert_eq!(m["settings"]["estimator"], "logme");
}

#[test]
fn rank_knn_reports_macro_accuracy_and_the_layer_mean_has_no_best_layer() {
    let d = tempfile::tempdir().unwrap();
    let task = toy_rte(d.path(), "RTE", 30, false);
    let out = d.path().join("out");
    let bert = fixture("encoder/tiny-bert");
    for (est, layers) in [("knn", "mean"), ("hscore", "last"), ("probe", "best")] {
        let o = probecast(&[
            "rank",
            "--model",
            s(&bert),
            "--task",
            s(&task),
            "--estimator",
            est,
            "--layers",
            layers,
            "--cache-dir",
            s(&d.path().join("cache")),
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (_, rows) = read_csv(&out.join("ranking.csv"));
        let score: f64 = rows[0][5].parse().unwrap();
        match est {
            "knn" => {
                assert!((0.0..=1.0).contains(&score));
                let mac: f64 = rows[0][6].parse().unwrap();
                assert!((0.0..=1.0).contains(&mac));
                assert_eq!(rows[0][7], "");
            }
            "hscore" => {
                assert!(score > 0.0);
                assert_eq!(rows[0][7], "2");
            }
            _ => {
                // 6 of 30 held out: accuracy is a multiple of 1/6
                assert!(
                    ((score * 6.0) - (score * 6.0).round()).abs() < 1e-9,
                    "{score}"
                );
            }
        }
    }
}

#[test]
fn rank_regression_task_scores_with_logme_and_refuses_hscore() {
    let d = tempfile::tempdir().unwrap();
    let task = toy_stsb(d.path(), 24);
    let out = d.path().join("out");
    let bert = fixture("encoder/tiny-bert");
    let cache = d.path().join("cache");
    let base = |est: &'static str| {
        vec![
            "rank".to_string(),
            "--model".into(),
            s(&bert).into(),
            "--task".into(),
            s(&task).into(),
            "--estimator".into(),
            est.into(),
            "--cache-dir".into(),
            s(&cache).into(),
            "--out".into(),
            s(&out).into(),
        ]
    };
    let args = base("logme");
    let o = probecast(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let args = base("hscore");
    assert_user_error(
        &probecast(&args.iter().map(String::as_str).collect::<Vec<_>>()),
        &[
            "--estimator hscore",
            "STS-B",
            "not defined for a regression task",
        ],
    );
}

/// A copy of tiny-bert whose embedding LayerNorm weight is NaN.
fn nan_checkpoint(dir: &Path) -> PathBuf {
    let m = dir.join("nan-bert");
    common::copy_dir(&fixture("encoder/tiny-bert"), &m);
    let p = m.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (n, t) in st.tensors() {
        let mut data = t.data().to_vec();
        if n.ends_with("embeddings.LayerNorm.weight") {
            assert_eq!(t.dtype(), safetensors::Dtype::F32);
            for c in data.chunks_mut(4) {
                c.copy_from_slice(&f32::NAN.to_le_bytes());
            }
        }
        owned.push((n, t.dtype(), t.shape().to_vec(), data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = owned
        .iter()
        .map(|(n, dt, sh, d)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*dt, sh.clone(), d).unwrap(),
            )
        })
        .collect();
    std::fs::write(&p, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
    m
}

#[test]
fn rank_bad_input_exits_2_with_one_line_naming_the_flag_or_file() {
    let d = tempfile::tempdir().unwrap();
    let bert = fixture("encoder/tiny-bert");
    let out = d.path().join("out");
    let cache = d.path().join("cache");
    let run = |task: &Path, model: &Path, extra: &[&str]| {
        let mut a = vec![
            "rank",
            "--model",
            s(model),
            "--task",
            s(task),
            "--cache-dir",
            s(&cache),
            "--out",
            s(&out),
        ];
        a.extend_from_slice(extra);
        probecast(&a)
    };
    let one = toy_rte(&d.path().join("one"), "RTE", 12, true);
    assert_user_error(
        &run(&one, &bert, &[]),
        &["train.tsv", "1 class(es)", "at least 2"],
    );
    let few = toy_rte(&d.path().join("few"), "RTE", 3, false);
    assert_user_error(
        &run(&few, &bert, &[]),
        &["train.tsv", "3 examples for 2 classes", "(4)"],
    );
    let ok = toy_rte(d.path(), "RTE", 20, false);
    assert_user_error(
        &run(&ok, &bert, &["--estimator", "leep"]),
        &["--estimator", "unknown estimator \"leep\""],
    );
    assert_user_error(
        &run(&ok, &bert, &["--layers", "all"]),
        &["--layers", "unknown aggregation"],
    );
    assert_user_error(
        &run(&ok, &bert, &["--max-examples", "2"]),
        &["--max-examples 2"],
    );
    let nan = nan_checkpoint(d.path());
    assert_user_error(
        &run(&ok, &nan, &[]),
        &[
            "nan-bert",
            "non-finite value(s)",
            "the checkpoint is corrupt",
        ],
    );
    assert!(!out.join("ranking.csv").exists());
}

#[test]
fn probe_adds_estimator_columns_that_match_rank_per_layer_scores() {
    let d = tempfile::tempdir().unwrap();
    let tasks = d.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let mut words = String::new();
    for i in 0..16 {
        words.push_str(&format!(
            "tr\tA\tthe cat sat {i} .\ntr\tB\tshe reads books {i} .\n"
        ));
        words.push_str(&format!(
            "te\tA\tthe dog ran {i} .\nte\tB\tbirds sing {i} .\n"
        ));
    }
    std::fs::write(tasks.join("words.txt"), words).unwrap();
    let task = toy_rte(d.path(), "RTE", 30, false);
    let bert = fixture("encoder/tiny-bert");
    let cache = d.path().join("cache");
    let out = d.path().join("out");
    let o = probecast(&[
        "probe",
        "--model",
        s(&bert),
        "--tasks",
        s(&tasks),
        "--train-per-class",
        "8",
        "--seeds",
        "1",
        "--metrics",
        "acc,logme,hscore,knn,probe",
        "--target-task",
        s(&task),
        "--cache-dir",
        s(&cache),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (h, rows) = read_csv(&out.join("features.csv"));
    for c in [
        "words_layer_0",
        "rte__logme_layer_0",
        "rte__logme_layer_2",
        "rte__hscore_layer_1",
        "rte__knn_layer_2",
        "rte__knnmacro_layer_2",
        "rte__probe_layer_2",
        "rte__logme_layer_2__mean",
    ] {
        assert!(h.contains(&c.to_string()), "{c} not in {h:?}");
    }
    let col = |name: &str| -> f64 {
        rows[0][h.iter().position(|x| x == name).unwrap()]
            .parse()
            .unwrap()
    };
    let rank_out = d.path().join("rank");
    let o = probecast(&[
        "rank",
        "--model",
        s(&bert),
        "--task",
        s(&task),
        "--layers",
        "best",
        "--pooling",
        "mean",
        "--cache-dir",
        s(&cache),
        "--out",
        s(&rank_out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rank_out.join("ranking.json")).unwrap())
            .unwrap();
    let per = json["ranking"][0]["per_layer"].as_array().unwrap();
    for (k, v) in per.iter().enumerate() {
        let want = v.as_f64().unwrap();
        let got = col(&format!("rte__logme_layer_{k}__mean"));
        assert!(rel(got, want) < 1e-12, "layer {k}: {got} vs {want}");
    }
    // Without --target-task the estimator metrics are refused.
    assert_user_error(
        &probecast(&[
            "probe",
            "--model",
            s(&bert),
            "--tasks",
            s(&tasks),
            "--train-per-class",
            "8",
            "--metrics",
            "acc,logme",
            "--out",
            s(&d.path().join("o2")),
        ]),
        &["--metrics logme", "--target-task"],
    );
}

#[test]
fn minilm_and_tiny_bert_rank_on_real_rte_pairs_and_minilm_wins_on_sts_b() {
    let (Some(minilm), Some(data)) = (minilm_dir(), shared_data()) else {
        skip("all-MiniLM-L6-v2 (scripts/fetch-models.sh) or ../shared/data");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let bert = fixture("encoder/tiny-bert");
    for (task, est) in [("RTE", "knn"), ("STS-B", "logme")] {
        let out = d.path().join(task);
        let o = probecast(&[
            "rank",
            "--model",
            s(&minilm),
            "--model",
            s(&bert),
            "--task",
            s(&data.join("glue_F0restL1n_BERT").join(task)),
            "--estimator",
            est,
            "--max-examples",
            "200",
            "--cache-dir",
            s(&d.path().join("cache")),
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        eprintln!("{}", String::from_utf8_lossy(&o.stdout));
        let (_, rows) = read_csv(&out.join("ranking.csv"));
        assert_eq!(rows.len(), 2);
        for r in &rows {
            assert!(r[5].parse::<f64>().unwrap().is_finite(), "{r:?}");
        }
        // RTE is near chance for MiniLM (README: a random tiny BERT can score above it); on
        // STS-B its sentence-similarity training shows.
        if task == "STS-B" {
            assert_eq!(rows[0][1], "all-MiniLM-L6-v2", "{task}: {rows:?}");
        }
    }
}

#[test]
fn target_check_rejects_one_class_and_too_few_examples() {
    let one = Target::Classes {
        labels: vec![1, 1, 1, 1],
        classes: 2,
    };
    assert_eq!(
        one.check(),
        Err(transfer::TransferError::OneClass { classes: 1 })
    );
    let few = Target::Classes {
        labels: vec![0, 1, 2, 0, 1],
        classes: 3,
    };
    assert!(matches!(
        few.check(),
        Err(transfer::TransferError::TooFew { need: 6, .. })
    ));
}

fn num_or_nan(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn compare_rows_match_scipy_kendalltau_ties_and_missing_values() {
    let p = fixture("transfer/compare_reference.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let target: Vec<f64> = v["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(num_or_nan)
        .collect();
    let methods: Vec<(String, Vec<f64>)> = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["method"].as_str().unwrap().to_string(),
                m["scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(num_or_nan)
                    .collect(),
            )
        })
        .collect();
    let rows = transfer::compare::kendall_rows("t", &methods, &target);
    for (r, want) in rows.iter().zip(v["methods"].as_array().unwrap()) {
        assert_eq!(r.n as u64, want["n"].as_u64().unwrap(), "{}", r.method);
        let tau = num_or_nan(&want["tau"]);
        if tau.is_nan() {
            assert!(r.tau.is_nan(), "{}: {}", r.method, r.tau);
        } else {
            assert!(
                (r.tau - tau).abs() < 1e-12,
                "{}: {} vs scipy {tau}",
                r.method,
                r.tau
            );
        }
        assert_eq!(r.method_ties as u64, want["method_ties"].as_u64().unwrap());
        assert_eq!(r.target_ties as u64, want["target_ties"].as_u64().unwrap());
        assert!((r.null_sd - want["null_sd"].as_f64().unwrap()).abs() < 1e-12);
    }
}

/// Floating-point parameters of a safetensors file, from its JSON header.
fn safetensors_float_params(p: &Path) -> f64 {
    let b = std::fs::read(p).unwrap();
    let len = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let h: serde_json::Value = serde_json::from_slice(&b[8..8 + len]).unwrap();
    h.as_object()
        .unwrap()
        .iter()
        .filter(|(k, t)| {
            *k != "__metadata__" && t["dtype"].as_str().unwrap().starts_with(['F', 'B'])
        })
        .map(|(_, t)| {
            t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .product::<u64>() as f64
        })
        .sum()
}

#[test]
fn transfer_compare_scores_tiny_checkpoints_and_computes_tau_for_each_method() {
    let d = tempfile::tempdir().unwrap();
    let task = toy_rte(d.path(), "RTE", 40, false);
    let cache = d.path().join("cache");
    let models = [
        ("bert", fixture("encoder/tiny-bert")),
        ("roberta", fixture("encoder/tiny-roberta")),
        ("distil", fixture("encoder/tiny-distilbert")),
    ];
    let mut ck = String::from("model,family,dir\n");
    for (m, p) in &models {
        ck.push_str(&format!("{m},f,{}\n", s(p)));
    }
    let ckpts = d.path().join("checkpoints.csv");
    std::fs::write(&ckpts, ck).unwrap();
    let targets = d.path().join("targets.csv");
    std::fs::write(
        &targets,
        "model,RTE,other\nbert,0.6,1\nroberta,0.7,1\ndistil,0.5,1\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("loo")).unwrap();
    let preds = d.path().join("loo/cv_predictions.csv");
    // distil's two repeats average to 0.45 (lowest); the in-sample row is ignored
    std::fs::write(
        &preds,
        "model,target,true,predicted,lower,upper,fold,repeat\n\
         bert,RTE,0.6,0.62,,,0,0\nroberta,RTE,0.7,0.61,,,1,0\n\
         distil,RTE,0.5,0.4,,,2,0\ndistil,RTE,0.5,0.5,,,2,1\n\
         bert,RTE,0.6,9,,,in-sample,0\nbert,other,1,5,,,0,0\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = probecast(&[
        "transfer-compare",
        "--checkpoints",
        s(&ckpts),
        "--targets",
        s(&targets),
        "--task",
        s(&task),
        "--predictions",
        s(&preds),
        "--estimators",
        "logme,knn",
        "--pooling",
        "cls",
        "--cache-dir",
        s(&cache),
        "--out",
        s(&out),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("RTE: Kendall tau-b"), "{stdout}");
    let (h, rows) = read_csv(&out.join("scores.csv"));
    assert_eq!(
        h,
        [
            "task",
            "model",
            "target",
            "logme/mean",
            "logme/best",
            "knn/mean",
            "knn/best",
            "predictor:loo",
            "params"
        ]
    );
    assert_eq!(rows.len(), 3);
    let col = |name: &str| -> Vec<f64> {
        let c = h.iter().position(|x| x == name).unwrap();
        rows.iter().map(|r| r[c].parse().unwrap()).collect()
    };
    // the estimator columns are `probecast rank`'s scores
    for layers in ["mean", "best"] {
        let rout = d.path().join(format!("rank-{layers}"));
        let o = probecast(&[
            "rank",
            "--model",
            s(&models[0].1),
            "--model",
            s(&models[1].1),
            "--model",
            s(&models[2].1),
            "--task",
            s(&task),
            "--estimator",
            "logme",
            "--layers",
            layers,
            "--pooling",
            "cls",
            "--cache-dir",
            s(&cache),
            "--out",
            s(&rout),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (rh, rr) = read_csv(&rout.join("ranking.csv"));
        let (mc, sc) = (
            rh.iter().position(|x| x == "model").unwrap(),
            rh.iter().position(|x| x == "score").unwrap(),
        );
        let got = col(&format!("logme/{layers}"));
        for (i, name) in ["tiny-bert", "tiny-roberta", "tiny-distilbert"]
            .iter()
            .enumerate()
        {
            let r = rr.iter().find(|r| &r[mc] == name).unwrap();
            let want: f64 = r[sc].parse().unwrap();
            assert!(
                (got[i] - want).abs() <= 1e-12 * want.abs(),
                "{name} {layers}"
            );
        }
    }
    assert_eq!(col("predictor:loo"), [0.62, 0.61, 0.45]);
    let params: Vec<f64> = models
        .iter()
        .map(|(_, p)| safetensors_float_params(&p.join("model.safetensors")))
        .collect();
    assert_eq!(col("params"), params);
    let (ch, crow) = read_csv(&out.join("comparison.csv"));
    assert_eq!(
        ch,
        [
            "task",
            "method",
            "n",
            "kendall_tau",
            "method_ties",
            "target_ties",
            "null_sd"
        ]
    );
    assert_eq!(crow.len(), 6);
    let target = [0.6, 0.7, 0.5];
    for r in &crow {
        let want = probecast::stats::kendall_tau(&col(&r[1]), &target);
        // an empty cell: tau undefined (a method that ties every checkpoint)
        let got: f64 = r[3].parse().unwrap_or(f64::NAN);
        assert!(
            (got - want).abs() < 1e-12 || (got.is_nan() && want.is_nan()),
            "{}: {got} vs {want}",
            r[1]
        );
        assert_eq!(r[2], "3");
    }
    // predictor: 0.62 > 0.61 > 0.45 against 0.6 < 0.7 > 0.5: one discordant pair of three
    let p = crow.iter().find(|r| r[1] == "predictor:loo").unwrap();
    assert!((p[3].parse::<f64>().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!(out.join("manifest.json").is_file() && out.join("comparison.json").is_file());

    // bad input: a targets file without the task's column, one line, exit 2
    let bad = d.path().join("bad.csv");
    std::fs::write(&bad, "model,CoLA\nbert,0.1\n").unwrap();
    let o = probecast(&[
        "transfer-compare",
        "--checkpoints",
        s(&ckpts),
        "--targets",
        s(&bad),
        "--task",
        s(&task),
        "--cache-dir",
        s(&cache),
        "--out",
        s(&d.path().join("o2")),
    ]);
    assert_user_error(&o, &["bad.csv", "no column \"RTE\""]);
    let o = probecast(&[
        "transfer-compare",
        "--checkpoints",
        s(&ckpts),
        "--targets",
        s(&targets),
        "--task",
        s(&task),
        "--estimators",
        "logme,nope",
        "--out",
        s(&d.path().join("o3")),
    ]);
    assert_user_error(&o, &["--estimators", "nope"]);
    let o = probecast(&[
        "transfer-compare",
        "--checkpoints",
        s(&ckpts),
        "--targets",
        s(&targets),
        "--task",
        s(&task),
        "--batch-size",
        "0",
        "--out",
        s(&d.path().join("o4")),
    ]);
    assert_user_error(&o, &["--batch-size"]);
}
