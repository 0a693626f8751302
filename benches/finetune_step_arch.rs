//! Training step time of `probecast finetune` on the newer families (issue #14): a base-size
//! random checkpoint per directory (bench/python/make_base_random.py: albert-base- and
//! deberta-v3-base-shaped) with its `*ForSequenceClassification` head, batch 8 x 64 random
//! tokens, train mode (dropout), forward + backward + gradient clipping + AdamW. Compare with
//! bench/python/finetune_step_arch_torch.py (same shapes, PyTorch); bench/arch_finetune_bench.sh
//! runs both side by side.
//!
//!   PROBECAST_ARCH_BENCH=dir1:dir2 cargo bench --bench finetune_step_arch
//!
//! Prints one JSON line per directory: mean seconds per step over `STEPS` (default 3) steps after
//! one warm-up step.
use candle_core::Tensor;
use probecast::finetune::model::AnyClassifier;
use probecast::nn::optim::{AdamW, AdamWSettings};
use rand::{Rng, SeedableRng};

fn main() {
    probecast::util::runtime_defaults();
    let Ok(dirs) = std::env::var("PROBECAST_ARCH_BENCH") else {
        eprintln!("SKIPPED: set PROBECAST_ARCH_BENCH to checkpoint directories (bench/arch_finetune_bench.sh)");
        return;
    };
    let steps: usize = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for dir in dirs.split(':').filter(|d| !d.is_empty()) {
        let m = AnyClassifier::load(std::path::Path::new(dir), 2, 1).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (b, s) = (8usize, 64usize);
        let ids: Vec<u32> = (0..b * s)
            .map(|i| {
                if i % s == 0 {
                    0
                } else {
                    rng.gen_range(1000..30000)
                }
            })
            .collect();
        let types = vec![0u32; b * s];
        let lens = vec![s; b];
        let targets = Tensor::from_vec(
            (0..b as u32).map(|i| i % 2).collect::<Vec<_>>(),
            b,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let mut opt = AdamW::new(m.params(), AdamWSettings::default()).unwrap();
        let mut times = Vec::new();
        for step in 0..=steps {
            let t0 = std::time::Instant::now();
            let logits = m.forward(&ids, &types, &lens, s, Some(&mut rng)).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
            let g = loss.backward().unwrap();
            opt.step_clipped(m.params(), &g, 2e-5, Some(1.0)).unwrap();
            if step >= 1 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{{\"engine\": \"probecast\", \"model\": \"{dir}\", \"architecture\": \"{}\", \"batch\": {b}, \"seq\": {s}, \"steps\": {steps}, \"seconds_per_step\": {mean:.3}}}",
            m.architecture()
        );
    }
}
