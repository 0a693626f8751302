//! Checks against reference outputs of numpy / scikit-learn saved as fixtures by
//! `bench/python/make_predict_fixtures.py` and `bench/python/subset_numpy.py --fixture`.

use super::enet;
use super::linalg::{mean, Mat, Scaler};
use super::ols;
use super::ridge;
use super::subset::{self, Gram};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let p = format!(
        "{}/tests/fixtures/predict/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn mat(v: &Value) -> Mat {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    Mat::from_rows(&rows)
}

fn vecf(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `|a - b| <= tol * max(|b|)` element-wise (relative to the vector's scale).
fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs reference {y} (rel {:.2e})",
            (x - y).abs() / scale
        );
    }
}

fn centred(x: &Mat, y: &[f64], scale: bool) -> (Mat, Vec<f64>, Scaler, f64) {
    let s = Scaler::fit(x, scale);
    let ym = mean(y);
    (s.transform(x), y.iter().map(|v| v - ym).collect(), s, ym)
}

#[test]
fn ols_matches_sklearn_linear_regression_to_1e_minus_9() {
    let f = fixture("linear_models.json");
    let case = &f["cases"][0];
    let (x, y) = (mat(&case["x"]), vecf(&case["y"]));
    let fit = ols::fit(&x, &y).unwrap();
    assert_close(&fit.coef, &vecf(&case["ols"]["coef"]), 1e-9, "ols coef");
    let b0 = case["ols"]["intercept"].as_f64().unwrap();
    assert!((fit.intercept - b0).abs() <= 1e-9 * b0.abs().max(1.0));
}

#[test]
fn ols_loo_shortcut_matches_sklearn_explicit_refits() {
    let f = fixture("linear_models.json");
    let case = &f["cases"][0];
    let loo = ols::loo_residuals(&mat(&case["x"]), &vecf(&case["y"])).unwrap();
    assert_close(
        &loo,
        &vecf(&case["ols_loo_residuals"]),
        1e-9,
        "loo residuals",
    );
}

#[test]
fn ridge_matches_sklearn_ridge_raw_and_standardised_in_primal_and_dual_form() {
    let f = fixture("linear_models.json");
    for (c, case) in f["cases"].as_array().unwrap().iter().enumerate() {
        let (x, y) = (mat(&case["x"]), vecf(&case["y"]));
        for r in case["ridge"].as_array().unwrap() {
            let alpha = r["alpha"].as_f64().unwrap();
            // raw columns (centred only), as sklearn Ridge(fit_intercept=True)
            let (z, yc, s, ym) = centred(&x, &y, false);
            let fit = ridge::fit_centred(&z, &yc, alpha).unwrap();
            assert_close(
                &fit.coef,
                &vecf(&r["coef"]),
                1e-9,
                &format!("case {c} ridge coef"),
            );
            let b0 = ym
                - fit
                    .coef
                    .iter()
                    .zip(&s.means)
                    .map(|(a, m)| a * m)
                    .sum::<f64>();
            let rb0 = r["intercept"].as_f64().unwrap();
            assert!(
                (b0 - rb0).abs() <= 1e-9 * rb0.abs().max(1.0),
                "case {c} intercept"
            );
            // standardised columns, as Ridge on StandardScaler output
            let (z, yc, _, ym) = centred(&x, &y, true);
            let fit = ridge::fit_centred(&z, &yc, alpha).unwrap();
            assert_close(
                &fit.coef,
                &vecf(&r["std_coef"]),
                1e-9,
                &format!("case {c} std coef"),
            );
            let rb0 = r["std_intercept"].as_f64().unwrap();
            assert!((ym - rb0).abs() <= 1e-9 * rb0.abs().max(1.0));
        }
    }
}

#[test]
fn elastic_net_matches_sklearn_elastic_net_at_tight_tolerance() {
    let f = fixture("linear_models.json");
    for (c, case) in f["cases"].as_array().unwrap().iter().enumerate() {
        let (z, yc, _, _) = centred(&mat(&case["x"]), &vecf(&case["y"]), true);
        for e in case["enet"].as_array().unwrap() {
            let mut b = vec![0.0; z.cols];
            enet::coordinate_descent(
                &z,
                &yc,
                e["alpha"].as_f64().unwrap(),
                e["l1_ratio"].as_f64().unwrap(),
                &mut b,
                1e-15,
                1_000_000,
            );
            let reference = vecf(&e["coef"]);
            assert_close(&b, &reference, 1e-8, &format!("case {c} enet coef"));
            // same sparsity pattern
            for (x, y) in b.iter().zip(&reference) {
                assert_eq!(*x == 0.0, *y == 0.0, "case {c}: zero pattern");
            }
        }
    }
}

#[test]
fn exhaustive_search_returns_the_numpy_reference_subsets_on_random_data() {
    let f = fixture("subset_random.json");
    let mut checked = 0;
    for prob in f["problems"].as_array().unwrap() {
        let (x, y) = (mat(&prob["x"]), vecf(&prob["y"]));
        let (z, yc, _, _) = centred(&x, &y, true);
        let gram = Gram::new(&z, &yc);
        for b in prob["best"].as_array().unwrap() {
            let k = b["k"].as_u64().unwrap() as usize;
            let r = subset::exhaustive(&gram, k).unwrap();
            let expect: Vec<usize> = b["subset"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(r.features, expect, "k={k}");
            let rss = b["rss"].as_f64().unwrap();
            assert!(
                (r.rss - rss).abs() <= 1e-9 * rss,
                "k={k}: {} vs {rss}",
                r.rss
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}
