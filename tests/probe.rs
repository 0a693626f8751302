//! Integration tests of the probing stage: the logistic-regression probe against scikit-learn,
//! the MLP, MDL, the protocol, and `probecast probe` end to end.

use probecast::probe::logreg::{self, LogRegOptions};
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
            let opts = LogRegOptions {
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
    let path = logreg::fit_path(x, &y, 7, &cs, &LogRegOptions::default()).unwrap();
    for (i, (_, info)) in path.iter().enumerate() {
        let want = meta["cases"][1]["fits"][i]["objective"].as_f64().unwrap();
        assert!((info.objective - want).abs() / want < 1e-4, "C={}", cs[i]);
    }
}
