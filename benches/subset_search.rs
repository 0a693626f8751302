//! Best-k subset search and honest leave-one-out on the seed paper's shape (25 rows x 84
//! features). Compare with `python3 bench/python/subset_numpy.py --bench` (same shape); see
//! BENCHMARKS.md for the side-by-side numbers and the command.

use criterion::{criterion_group, criterion_main, Criterion};
use probecast::predict::cv::{folds, CvScheme};
use probecast::predict::honest::{cross_predict, noise_matrix};
use probecast::predict::linalg::{Mat, Scaler};
use probecast::predict::model::Method;
use probecast::predict::subset::{exhaustive, Gram};
use std::hint::black_box;

fn paper_like() -> (Mat, Vec<f64>) {
    let mut x = noise_matrix(25, 84, 0.08, 1);
    for v in x.data.iter_mut() {
        *v += 0.7;
    }
    let e = noise_matrix(25, 1, 0.02, 2);
    let y = (0..25)
        .map(|i| 0.3 * x.at(i, 3) - 0.2 * x.at(i, 10) + e.data[i])
        .collect();
    (x, y)
}

/// Standardise, build the Gram matrix and search: what one target costs.
fn search(x: &Mat, y: &[f64], k: usize) -> Vec<usize> {
    let z = Scaler::fit(x, true).transform(x);
    let m = y.iter().sum::<f64>() / y.len() as f64;
    let yc: Vec<f64> = y.iter().map(|v| v - m).collect();
    exhaustive(&Gram::new(&z, &yc), k).unwrap().features
}

fn benches(c: &mut Criterion) {
    let (x, y) = paper_like();
    let mut g = c.benchmark_group("subset_search_25x84");
    g.sample_size(20);
    g.bench_function("all_3_subsets", |b| {
        b.iter(|| search(black_box(&x), black_box(&y), 3))
    });
    g.bench_function("all_4_subsets", |b| {
        b.iter(|| search(black_box(&x), black_box(&y), 4))
    });
    let f = folds(&CvScheme::Loo, 25, None, 0).unwrap();
    g.bench_function("honest_loo_3_subsets", |b| {
        b.iter(|| cross_predict(&Method::OlsSubset { k: 3 }, black_box(&x), &y, &f, 0).unwrap())
    });
    g.bench_function("honest_loo_ridge", |b| {
        b.iter(|| cross_predict(&Method::Ridge, black_box(&x), &y, &f, 0).unwrap())
    });
    g.finish();
}

criterion_group!(subset, benches);
criterion_main!(subset);
