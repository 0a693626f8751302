//! Transferability estimators (LogME, H-score, leave-one-out 3-NN) over every hidden state:
//! 13 layers × 5,000 examples × 768 wide, 3 classes, on the features that
//! `bench/python/transfer_reference.py bench` writes (directory in `TRANSFER_BENCH_NPY`:
//! `layer_<k>.npy`, `labels.npy`), or on synthetic Gaussian-class features of the same shape
//! when that is unset. Layers are scored in parallel as `probecast rank --layers best` does.
//!
//! `TRANSFER_BENCH_JSON=1` skips criterion and prints one JSON line per estimator (the median
//! of `TRANSFER_BENCH_REPEATS`, default 3, runs over all layers); the Python script uses that
//! to put numpy / scikit-learn and probecast side by side in one run; `TRANSFER_BENCH_FILTER`
//! keeps the estimators whose name contains it.

use criterion::Criterion;
use probecast::encoder::PooledFeatures;
use probecast::probe::npy;
use probecast::transfer::layers::score_each;
use probecast::transfer::{Estimator, EstimatorOptions, Target};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::path::Path;
use std::time::Instant;

fn read_labels(p: &Path) -> Vec<u32> {
    // numpy int64 .npy, little endian: header then 8 bytes per label
    let b = std::fs::read(p).expect("labels.npy");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    b[10 + hlen..]
        .chunks(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect()
}

fn load() -> (PooledFeatures, Vec<u32>) {
    if let Ok(dir) = std::env::var("TRANSFER_BENCH_NPY") {
        let dir = Path::new(&dir);
        let y = read_labels(&dir.join("labels.npy"));
        let mut layers = Vec::new();
        let mut dim = 0;
        for k in 0.. {
            let p = dir.join(format!("layer_{k}.npy"));
            if !p.is_file() {
                break;
            }
            let (x, n, d) = npy::read_f32(&p).unwrap();
            assert_eq!(n, y.len());
            dim = d;
            layers.push(x);
        }
        return (
            PooledFeatures {
                n: y.len(),
                dim,
                layers,
            },
            y,
        );
    }
    let (n, d, l) = (5000, 768, 13);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let y: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
    let means: Vec<f32> = (0..3 * d)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            0.2 * z as f32
        })
        .collect();
    let layers = (0..l)
        .map(|_| {
            (0..n * d)
                .map(|i| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    z as f32 + means[y[i / d] as usize * d + i % d]
                })
                .collect()
        })
        .collect();
    (PooledFeatures { n, dim: d, layers }, y)
}

fn run(est: Estimator, f: &PooledFeatures, t: &Target) -> f64 {
    let all: Vec<usize> = (0..f.layers.len()).collect();
    let s = score_each(est, f, &all, t, &EstimatorOptions::default()).unwrap();
    s.iter().map(|s| s.value).sum()
}

fn main() {
    let (f, y) = load();
    let t = Target::Classes {
        labels: y,
        classes: 3,
    };
    let ests = [Estimator::LogMe, Estimator::HScore, Estimator::Knn];
    if std::env::var("TRANSFER_BENCH_JSON").is_ok() {
        let reps: usize = std::env::var("TRANSFER_BENCH_REPEATS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        let filter = std::env::var("TRANSFER_BENCH_FILTER").unwrap_or_default();
        for e in ests
            .into_iter()
            .filter(|e| e.name().contains(filter.as_str()))
        {
            let mut times: Vec<f64> = (0..reps)
                .map(|_| {
                    let t0 = Instant::now();
                    std::hint::black_box(run(e, &f, &t));
                    t0.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "{{\"name\": \"{}\", \"layers\": {}, \"n\": {}, \"d\": {}, \"seconds\": {}, \"threads\": {}}}",
                e.name(),
                f.layers.len(),
                f.n,
                f.dim,
                times[reps / 2],
                rayon::current_num_threads()
            );
        }
        return;
    }
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    for e in ests {
        c.bench_function(&format!("transfer_{}_all_layers", e.name()), |b| {
            b.iter(|| run(e, &f, &t))
        });
    }
    c.final_summary();
}
