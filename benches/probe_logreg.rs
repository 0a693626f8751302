//! Logistic-regression probe: one fit at C = 1 and the warm-started path over the protocol's
//! penalty grid, on the features written by `bench/python/probe_sklearn.py make-features`
//! (directory in `PROBE_BENCH_DATA`), or on synthetic Gaussian-class features of the same shapes
//! when that is unset.
//!
//! `PROBE_BENCH_JSON=1` skips criterion and prints one JSON line per case (median of
//! `PROBE_BENCH_REPEATS` runs); `PROBE_BENCH_FILTER` keeps the cases whose name contains it;
//! `PROBE_BENCH_GTOL` overrides the gradient tolerance (default: the protocol's 1e-4),
//! `PROBE_BENCH_MEMORY` the L-BFGS memory (default 40). `bench/python/probe_sklearn.py bench` uses that to put
//! scikit-learn and probecast side by side in one run.

use criterion::Criterion;
use probecast::learn::logreg::{self, LogRegSettings};
use probecast::learn::MatRef;
use probecast::probe::npy;
use probecast::probe::protocol::ProbeSettings;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::path::Path;
use std::time::Instant;

struct Case {
    name: String,
    k: usize,
    dim: usize,
    x: [Vec<f32>; 3],
    y: [Vec<u32>; 3],
}

impl Case {
    fn m(&self, p: usize) -> MatRef<'_> {
        MatRef::new(&self.x[p], self.y[p].len(), self.dim)
    }
}

fn load(dir: &Path) -> Vec<Case> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("PROBE_BENCH_DATA")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "json")
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let meta: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
            )
            .unwrap();
            let parts = ["train", "val", "test"];
            let mut dim = 0;
            let x = parts.map(|p| {
                let (x, _, d) = npy::read_f32(&dir.join(format!("{name}_{p}_x.npy"))).unwrap();
                dim = d;
                x
            });
            let y = parts.map(|p| {
                meta[format!("{p}_y")]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u32)
                    .collect::<Vec<u32>>()
            });
            let k = meta["labels"].as_array().unwrap().len();
            Case { name, k, dim, x, y }
        })
        .collect()
}

fn synthetic(name: &str, k: usize, n: usize, dim: usize) -> Case {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let means: Vec<f32> = (0..k * dim)
        .map(|_| {
            let z: f32 = StandardNormal.sample(&mut rng);
            0.08 * z
        })
        .collect();
    let mut make = |n: usize| {
        let mut x = Vec::with_capacity(n * dim);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let c = rng.gen_range(0..k);
            y.push(c as u32);
            for j in 0..dim {
                let z: f32 = StandardNormal.sample(&mut rng);
                x.push(means[c * dim + j] + z);
            }
        }
        (x, y)
    };
    let (a, b, c) = (make(n), make(n / 4), make(n / 2));
    Case {
        name: name.into(),
        k,
        dim,
        x: [a.0, b.0, c.0],
        y: [a.1, b.1, c.1],
    }
}

fn grid_fit(c: &Case, s: &ProbeSettings) -> (f64, f64, f64) {
    let path = logreg::fit_path(c.m(0), &c.y[0], c.k, &s.c_grid, &s.logreg).unwrap();
    let mut best: Option<(f64, &logreg::LogReg, f64)> = None;
    for (m, info) in &path {
        let va = m.accuracy(c.m(1), &c.y[1]);
        if best.is_none_or(|b| va > b.0) {
            best = Some((va, m, info.c));
        }
    }
    let (va, m, cc) = best.unwrap();
    (cc, va, m.accuracy(c.m(2), &c.y[2]))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let cases = match std::env::var_os("PROBE_BENCH_DATA") {
        Some(d) => load(Path::new(&d)),
        None => vec![
            synthetic("synthetic_2class_384", 2, 2400, 384),
            synthetic("synthetic_7class_768", 7, 8400, 768),
        ],
    };
    let filter = std::env::var("PROBE_BENCH_FILTER").unwrap_or_default();
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    let mut s = ProbeSettings::default();
    if let Some(g) = std::env::var("PROBE_BENCH_GTOL")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.logreg.lbfgs.gtol = g;
    }
    if let Some(m) = std::env::var("PROBE_BENCH_MEMORY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.logreg.lbfgs.memory = m;
    }
    let threads: usize = std::env::var("PROBE_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let one = LogRegSettings {
        c: 1.0,
        threads,
        ..s.logreg
    };
    let s = ProbeSettings {
        logreg: LogRegSettings {
            threads,
            ..s.logreg
        },
        ..s
    };
    if std::env::var_os("PROBE_BENCH_JSON").is_some() {
        let repeats: usize = std::env::var("PROBE_BENCH_REPEATS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        for c in &cases {
            let mut t1 = Vec::new();
            let mut t2 = Vec::new();
            let mut fit = None;
            let mut grid = None;
            for _ in 0..repeats {
                let t = Instant::now();
                fit = Some(logreg::fit(c.m(0), &c.y[0], c.k, &one, None).unwrap());
                t1.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                grid = Some(grid_fit(c, &s));
                t2.push(t.elapsed().as_secs_f64());
            }
            let (m, info) = fit.unwrap();
            let (gc, gva, gte) = grid.unwrap();
            println!(
                "{}",
                serde_json::json!({
                    "case": c.name, "threads": threads, "gtol": s.logreg.lbfgs.gtol,
                    "fit_c1_s": median(t1), "fit_c1_obj": info.objective,
                    "fit_c1_iters": info.report.iterations,
                    "fit_c1_test_acc": m.accuracy(c.m(2), &c.y[2]),
                    "grid_s": median(t2), "grid_c": gc, "grid_val_acc": gva, "grid_test_acc": gte,
                })
            );
        }
        return;
    }
    let mut crit = Criterion::default().sample_size(10).configure_from_args();
    for c in &cases {
        crit.bench_function(&format!("logreg_fit_c1/{}", c.name), |b| {
            b.iter(|| logreg::fit(c.m(0), &c.y[0], c.k, &one, None).unwrap())
        });
        crit.bench_function(&format!("logreg_grid_path/{}", c.name), |b| {
            b.iter(|| grid_fit(c, &s))
        });
    }
    crit.final_summary();
}
