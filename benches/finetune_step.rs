//! Training step time of `probecast finetune`'s model: all-MiniLM-L6-v2 with a BERT
//! classification head, batch 16 x 64 tokens, forward + backward + gradient clipping + AdamW.
//! Compare with `bench/python/finetune_step_torch.py` (same shapes, PyTorch, 2 threads):
//!
//!   cargo bench --bench finetune_step && python3 bench/python/finetune_step_torch.py
//!
//! Prints one JSON line: mean seconds per step over 10 steps after 2 warm-up steps.
use candle_core::{DType, Tensor};
use probecast::encoder::config::EncoderConfig;
use probecast::encoder::weights::{weights_file, Weights};
use probecast::finetune::model::SeqClassifier;
use probecast::nn::optim::{AdamW, AdamWSettings};
use probecast::nn::params::Param;
use rand::{Rng, SeedableRng};

fn main() {
    probecast::util::runtime_defaults();
    let dir = std::env::var("PROBECAST_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/probecast/models")
        })
        .join("all-MiniLM-L6-v2");
    if !dir.join("config.json").is_file() {
        eprintln!(
            "SKIPPED: no model at {} (scripts/fetch-models.sh)",
            dir.display()
        );
        return;
    }
    let cfg = EncoderConfig::from_dir(&dir).unwrap();
    let w = Weights::load(&weights_file(&dir).unwrap()).unwrap();
    let m = SeqClassifier::load(cfg, w, 2, DType::F32, 1).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let (b, s) = (16usize, 64usize);
    let ids: Vec<u32> = (0..b * s)
        .map(|i| {
            if i % s == 0 {
                101
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
    let params: &[Param] = m.params();
    let mut opt = AdamW::new(params, AdamWSettings::default()).unwrap();
    let (mut times, mut fwd, mut bwd, mut upd) = (Vec::new(), 0.0, 0.0, 0.0);
    for step in 0..12 {
        let t0 = std::time::Instant::now();
        let logits = m.forward(&ids, &types, &lens, s, Some(&mut rng)).unwrap();
        let loss = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
        let t1 = std::time::Instant::now();
        let g = loss.backward().unwrap();
        let t2 = std::time::Instant::now();
        opt.step_clipped(params, &g, 2e-5, Some(1.0)).unwrap();
        if step >= 2 {
            times.push(t0.elapsed().as_secs_f64());
            fwd += (t1 - t0).as_secs_f64();
            bwd += (t2 - t1).as_secs_f64();
            upd += t2.elapsed().as_secs_f64();
        }
    }
    let n = times.len() as f64;
    let mean = times.iter().sum::<f64>() / n;
    println!(
        "{{\"engine\": \"probecast\", \"batch\": {b}, \"seq\": {s}, \"seconds_per_step\": {mean:.4}, \"forward\": {:.4}, \"backward\": {:.4}, \"clip_and_adamw\": {:.4}}}",
        fwd / n,
        bwd / n,
        upd / n
    );
}
