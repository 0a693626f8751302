//! `probecast variants` and the masked-LM trainer: each operation's exact effect, agreement with
//! transformers on committed variants (fixtures from bench/python/variants_reference.py),
//! masked-LM gradients, learning, determinism and saving, and every bad input through the binary.

mod common;
use candle_core::{DType, Tensor};
use common::*;
use probecast::encoder::config::EncoderConfig;
use probecast::encoder::model::{Batch, Encoder};
use probecast::encoder::weights::{weights_file, Weights};
use probecast::zoo::checkpoint::Checkpoint;
use probecast::zoo::masking::MaskedBatch;
use probecast::zoo::mlm::{train_mlm, MlmInit, MlmModel, MlmSettings};
use probecast::zoo::{noise, prune, quantize};
use std::path::{Path, PathBuf};

const IDS: [u32; 12] = [2, 10, 20, 30, 40, 3, 2, 50, 60, 3, 0, 0];
const LENGTHS: [usize; 2] = [6, 4];

fn tiny() -> PathBuf {
    fixture("encoder/tiny-bert")
}

fn corpus() -> Vec<String> {
    std::fs::read_to_string(fixture("variants/corpus.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// probecast's hidden states of IDS, one flat [2, 6, hidden] vector per state.
fn states(dir: &Path) -> Vec<Vec<f32>> {
    let cfg = EncoderConfig::from_dir(dir).unwrap();
    let enc = Encoder::load(cfg, Weights::load(&weights_file(dir).unwrap()).unwrap()).unwrap();
    let b = Batch {
        ids: IDS.to_vec(),
        type_ids: vec![0; 12],
        lengths: LENGTHS.to_vec(),
        seq: 6,
    };
    enc.forward(&b)
        .unwrap()
        .iter()
        .map(|t| t.flatten_all().unwrap().to_vec1().unwrap())
        .collect()
}

/// Largest difference over the real (unpadded) tokens of two flat [2, 6, d] arrays.
fn max_diff_real(a: &[f32], b: &[f32], d: usize) -> f32 {
    let mut m = 0f32;
    for (r, &len) in LENGTHS.iter().enumerate() {
        for t in 0..len {
            let o = (r * 6 + t) * d;
            for i in o..o + d {
                m = m.max((a[i] - b[i]).abs());
            }
        }
    }
    m
}

fn values(ck: &Checkpoint, name: &str) -> Vec<f32> {
    ck.values(ck.index(name).unwrap_or_else(|| panic!("{name}")))
        .unwrap()
}

#[test]
fn noise_scale_per_matrix_is_sigma_times_its_std_and_nothing_else_changes() {
    let ck = Checkpoint::load(&tiny()).unwrap();
    let mut v = ck.clone();
    let names = noise::add_noise(&mut v, 0.1, 7).unwrap();
    // Embeddings (3), 6 linear layers x 2 blocks, pooler.
    assert_eq!(names.len(), 16, "{names:?}");
    for t in &ck.tensors {
        let (a, b) = (values(&ck, &t.name), values(&v, &t.name));
        if !names.contains(&t.name) {
            assert_eq!(a, b, "{} changed", t.name);
            continue;
        }
        let n = a.len() as f64;
        let d: Vec<f32> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
        let ratio = noise::std_of(&d) / noise::std_of(&a);
        // The sample std of n normals has relative standard error 1/sqrt(2n).
        assert!(
            (ratio / 0.1 - 1.0).abs() < 5.0 / (2.0 * n).sqrt(),
            "{}: std ratio {ratio}",
            t.name
        );
        let mean = d.iter().map(|&x| x as f64).sum::<f64>() / n;
        assert!(mean.abs() < 5.0 * 0.1 * noise::std_of(&a) / n.sqrt());
    }
    let mut again = ck.clone();
    noise::add_noise(&mut again, 0.1, 7).unwrap();
    assert_eq!(
        values(&again, "pooler.dense.weight"),
        values(&v, "pooler.dense.weight")
    );
}

#[test]
fn pruning_reaches_the_sparsity_exactly_with_a_global_threshold() {
    let ck = Checkpoint::load(&tiny()).unwrap();
    let block = ck.block_linear_weights();
    assert_eq!(block.len(), 12);
    for s in [0.1, 0.3, 0.5] {
        let mut v = ck.clone();
        let st = prune::prune(&mut v, s).unwrap();
        let (mut zeros, mut total) = (0usize, 0usize);
        let (mut max_pruned, mut min_kept) = (0f32, f32::INFINITY);
        for name in &block {
            for (a, b) in values(&ck, name).iter().zip(values(&v, name)) {
                total += 1;
                if b == 0.0 {
                    zeros += 1;
                    max_pruned = max_pruned.max(a.abs());
                } else {
                    assert_eq!(*a, b, "kept weights are unchanged");
                    min_kept = min_kept.min(a.abs());
                }
            }
        }
        assert_eq!(total, 2 * (4 * 32 * 32 + 2 * 32 * 37));
        assert_eq!(zeros, (s * total as f64).round() as usize, "sparsity {s}");
        assert_eq!((st.zeroed, st.total), (zeros, total));
        assert!(max_pruned <= min_kept, "{max_pruned} > {min_kept}");
        for t in ck.tensors.iter().filter(|t| !block.contains(&t.name)) {
            assert_eq!(values(&ck, &t.name), values(&v, &t.name), "{}", t.name);
        }
    }
}

#[test]
fn quantised_rows_lie_on_a_symmetric_grid_that_keeps_each_rows_maximum() {
    let ck = Checkpoint::load(&tiny()).unwrap();
    for bits in [8u32, 4] {
        let qmax = ((1u32 << (bits - 1)) - 1) as f64;
        let mut v = ck.clone();
        quantize::quantize(&mut v, bits).unwrap();
        for name in ck.block_linear_weights() {
            let cols = ck.tensors[ck.index(&name).unwrap()].tensor.dims()[1];
            let (a, b) = (values(&ck, &name), values(&v, &name));
            for (ra, rb) in a.chunks(cols).zip(b.chunks(cols)) {
                let m = ra.iter().fold(0f32, |x, y| x.max(y.abs()));
                assert_eq!(rb.iter().fold(0f32, |x, y| x.max(y.abs())), m);
                let scale = m as f64 / qmax;
                let mut mags: Vec<i64> = Vec::new();
                for (&x, &y) in ra.iter().zip(rb) {
                    let q = y as f64 / scale;
                    assert!((q - q.round()).abs() < 1e-4, "{name}: {y} is off the grid");
                    assert!(q.abs() <= qmax + 1e-9);
                    assert!((x as f64 - y as f64).abs() <= scale / 2.0 * (1.0 + 1e-5));
                    mags.push(q.round().abs() as i64);
                }
                mags.sort_unstable();
                mags.dedup();
                mags.retain(|&q| q != 0);
                assert!(
                    mags.len() as f64 <= qmax,
                    "{name}: {} magnitudes",
                    mags.len()
                );
            }
        }
        assert_eq!(
            values(&ck, "pooler.dense.weight"),
            values(&v, "pooler.dense.weight")
        );
    }
    assert!(quantize::parse_bits("int16").is_err());
}

#[test]
fn truncation_keeps_the_first_k_layers_and_their_hidden_states() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let o = probecast(&[
        "variants",
        "--model",
        tiny().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--truncate",
        "1,2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full = states(&tiny());
    for k in [1usize, 2] {
        let dir = out.join(format!("tiny-bert-trunc{k}"));
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(cfg["num_hidden_layers"], k);
        let v = Checkpoint::load(&dir).unwrap();
        assert!(v
            .tensors
            .iter()
            .all(|t| !t.name.starts_with("encoder.layer.1.") || k == 2));
        assert!(v.index("pooler.dense.weight").is_some());
        let st = states(&dir);
        assert_eq!(st.len(), k + 1);
        for (a, b) in st.iter().zip(&full) {
            assert!(max_diff_real(a, b, 32) < 1e-6);
        }
    }
    let csv = std::fs::read_to_string(out.join("variants.csv")).unwrap();
    let hash = Checkpoint::load(&tiny()).unwrap().hash;
    assert_eq!(
        csv,
        format!(
            "variant,family,operation,parameters,base_hash\n\
             tiny-bert-trunc1,tiny-bert,truncate,layers=1,{hash}\n\
             tiny-bert-trunc2,tiny-bert,truncate,layers=2,{hash}\n"
        )
    );
}

fn reference(dir: &Path) -> Option<std::collections::HashMap<String, Tensor>> {
    let p = dir.join("reference.safetensors");
    if !p.is_file() {
        skip(&format!(
            "{} (bench/python/variants_reference.py)",
            p.display()
        ));
        return None;
    }
    Some(candle_core::safetensors::load(&p, &candle_core::Device::Cpu).unwrap())
}

#[test]
fn committed_variants_match_transformers_and_are_regenerated_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let o = probecast(&[
        "variants",
        "--model",
        tiny().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--noise",
        "0.1",
        "--truncate",
        "1",
        "--quantize",
        "int4",
        "--seed",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for v in ["tiny-bert-noise0.1", "tiny-bert-trunc1", "tiny-bert-int4"] {
        let dir = fixture(&format!("variants/{v}"));
        let Some(r) = reference(&dir) else { return };
        for f in ["model.safetensors", "config.json"] {
            assert!(
                std::fs::read(dir.join(f)).unwrap() == std::fs::read(out.join(v).join(f)).unwrap(),
                "{v}/{f} differs from the committed fixture"
            );
        }
        let st = states(&dir);
        assert_eq!(st.len(), r.len());
        for (k, s) in st.iter().enumerate() {
            let want: Vec<f32> = r[&format!("hidden_{k}")]
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let e = max_diff_real(s, &want, 32);
            assert!(e < 1e-4, "{v} hidden state {k}: max difference {e}");
        }
    }
}

#[test]
fn saved_mlm_checkpoints_give_transformers_hidden_states_and_mlm_logits() {
    for v in ["tiny-bert-corrupt3", "fresh-mlm"] {
        let dir = fixture(&format!("variants/{v}"));
        let Some(r) = reference(&dir) else { return };
        let st = states(&dir);
        for (k, s) in st.iter().enumerate() {
            let want: Vec<f32> = r[&format!("hidden_{k}")]
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(max_diff_real(s, &want, 32) < 1e-4, "{v} hidden {k}");
        }
        let m = MlmModel::load(&MlmInit::FromDir(dir.clone()), DType::F32, 0).unwrap();
        let got: Vec<f32> = m
            .logits(&IDS, &LENGTHS, 6)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let want: Vec<f32> = r["mlm_logits"].flatten_all().unwrap().to_vec1().unwrap();
        let e = max_diff_real(&got, &want, 120);
        assert!(e < 1e-4, "{v}: MLM logits differ by {e}");
    }
}

fn fixed_batch() -> MaskedBatch {
    MaskedBatch {
        ids: vec![2, 4, 20, 30, 4, 3, 2, 50, 77, 3, 0, 0],
        lengths: vec![6, 4],
        seq: 6,
        positions: vec![1, 4, 8],
        labels: vec![10, 40, 60],
    }
}

#[test]
fn mlm_gradients_match_finite_differences_including_the_tied_embeddings() {
    let m = MlmModel::load(&MlmInit::FromDir(tiny()), DType::F64, 3).unwrap();
    let b = fixed_batch();
    let loss = |m: &MlmModel| m.loss(&b, None).unwrap().to_scalar::<f64>().unwrap();
    let grads = m.loss(&b, None).unwrap().backward().unwrap();
    for name in [
        "cls.predictions.transform.dense.weight",
        "cls.predictions.transform.LayerNorm.weight",
        "cls.predictions.bias",
        "embeddings.word_embeddings.weight",
        "encoder.layer.1.attention.self.query.weight",
        "encoder.layer.0.intermediate.dense.bias",
    ] {
        let p = m.params().iter().find(|p| p.name == name).expect(name);
        // Word embeddings: row 10 is a label (decoder gradient) and row 20 an input.
        let pick = |len: usize| {
            if name.starts_with("embeddings") {
                vec![10 * 32 + 3, 20 * 32 + 5, 60 * 32]
            } else {
                vec![0, len / 3, len - 1]
            }
        };
        let g =
            check_gradient_against_finite_differences(name, &p.var, &grads, &pick, &|| loss(&m));
        for (k, gi) in g.iter().enumerate() {
            assert!(*gi != 0.0 || name.contains("LayerNorm"), "{name}[{k}]");
        }
    }
}

fn fresh_init() -> MlmInit {
    MlmInit::Fresh {
        config: serde_json::json!({
            "model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 37, "vocab_size": 120,
            "max_position_embeddings": 64, "type_vocab_size": 2, "pad_token_id": 0,
            "hidden_act": "gelu", "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1
        }),
        tokenizer: tiny(),
    }
}

#[test]
fn mlm_from_scratch_learns_the_tiny_corpus() {
    let s = MlmSettings {
        steps: 150,
        batch_size: 8,
        lr: 2e-3,
        max_length: 64,
        warmup_ratio: 0.1,
        ..Default::default()
    };
    let r = train_mlm(fresh_init(), &corpus(), &s, |_, _| Ok(())).unwrap();
    let first: f64 = r.losses[..20].iter().sum::<f64>() / 20.0;
    let last: f64 = r.losses[130..].iter().sum::<f64>() / 20.0;
    // A fresh model predicts uniformly over 120 tokens: loss ln(120) = 4.79.
    assert!((first - 120f64.ln()).abs() < 0.3, "first {first}");
    assert!(last < first - 0.6, "loss {first} -> {last}");
}

#[test]
fn mlm_training_is_deterministic_per_seed_and_saves_a_reloadable_checkpoint() {
    let run = |seed: u64| {
        let s = MlmSettings {
            steps: 4,
            save_at: vec![2, 4],
            batch_size: 4,
            max_length: 64,
            seed,
            ..Default::default()
        };
        let mut saved = Vec::new();
        let r = train_mlm(MlmInit::FromDir(tiny()), &corpus(), &s, |step, m| {
            let t = m.named_tensors()?;
            let logits: Vec<f32> = m.logits(&IDS, &LENGTHS, 6)?.flatten_all()?.to_vec1()?;
            saved.push((step, t.len(), logits));
            if step == 4 {
                let d = tempfile::tempdir().unwrap();
                m.save(d.path())?;
                let back = MlmModel::load(&MlmInit::FromDir(d.path().into()), DType::F32, 9)?;
                let l2: Vec<f32> = back.logits(&IDS, &LENGTHS, 6)?.flatten_all()?.to_vec1()?;
                assert_eq!(l2, saved.last().unwrap().2, "reloaded logits");
                let ck = Checkpoint::load(d.path()).unwrap();
                let src = Checkpoint::load(&tiny()).unwrap();
                for t in &src.tensors {
                    assert!(ck.index(&t.name).is_some(), "{} lost", t.name);
                }
                assert_eq!(
                    values(&ck, "pooler.dense.weight"),
                    values(&src, "pooler.dense.weight")
                );
                assert!(ck.index("cls.predictions.transform.dense.weight").is_some());
            }
            Ok(())
        })
        .unwrap();
        (r.losses, saved)
    };
    let (a, sa) = run(5);
    let (b, sb) = run(5);
    let (c, _) = run(6);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert_eq!(sa.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2, 4]);
    assert_ne!(a, c);
}

/// Writes the from-scratch fixture for bench/python/variants_reference.py.
#[test]
#[ignore]
fn write_fresh_mlm_fixture() {
    let out = PathBuf::from(std::env::var("PROBECAST_FRESH_MLM_OUT").expect("set the output"));
    let s = MlmSettings {
        steps: 3,
        save_at: vec![3],
        batch_size: 4,
        lr: 1e-3,
        max_length: 64,
        ..Default::default()
    };
    train_mlm(fresh_init(), &corpus(), &s, |_, m| m.save(&out)).unwrap();
}

fn run_variants(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "variants",
        "--model",
        fixture("encoder/tiny-bert")
            .to_str()
            .unwrap()
            .to_string()
            .leak(),
        "--out",
        out.to_str().unwrap().to_string().leak(),
    ];
    args.extend_from_slice(extra);
    probecast(&args)
}

#[test]
fn an_out_dir_holding_another_run_is_refused_unless_forced() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    assert!(run_variants(&out, &["--prune", "0.5"]).status.success());
    // The same run again is fine.
    assert!(run_variants(&out, &["--prune", "0.5"]).status.success());
    let o = run_variants(&out, &["--prune", "0.3"]);
    assert_user_error(&o, &["out", "different variants run", "--force"]);
    assert!(out.join("tiny-bert-prune0.5").is_dir());
    let o = run_variants(&out, &["--prune", "0.3", "--force"]);
    assert!(o.status.success());
    assert!(!out.join("tiny-bert-prune0.5").exists());
    assert!(out.join("tiny-bert-prune0.3/model.safetensors").is_file());
    let other = d.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = run_variants(&other, &["--prune", "0.3"]);
    assert_user_error(&o, &["other", "not empty", "--force"]);
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let corpus = fixture("variants/corpus.txt");
    let c = corpus.to_str().unwrap();
    let empty = d.path().join("empty.txt");
    std::fs::write(&empty, "\n  \n").unwrap();
    let e = empty.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--prune", "1.0"],
            vec!["--prune", "sparsity 1 is outside [0, 1)"],
        ),
        (vec!["--prune=-0.1"], vec!["--prune", "outside"]),
        (vec!["--truncate", "0"], vec!["--truncate", "0 layers"]),
        (
            vec!["--truncate", "3"],
            vec!["--truncate", "3 layers", "2 layers"],
        ),
        (
            vec!["--quantize", "int16"],
            vec!["--quantize", "unknown quantisation \"int16\""],
        ),
        (vec!["--quantize", "fp8"], vec!["unknown quantisation"]),
        (vec!["--noise=-1"], vec!["--noise", "positive"]),
        (
            vec!["--corrupt-steps", "5"],
            vec!["--corrupt-steps", "--corpus"],
        ),
        (
            vec!["--corrupt-steps", "0", "--corpus", c],
            vec!["at least 1"],
        ),
        (
            vec!["--corrupt-steps", "5", "--corpus", e],
            vec!["empty.txt", "empty"],
        ),
        (
            vec!["--noise", "0.1", "--corpus", c],
            vec!["corpus.txt", "--corrupt-steps"],
        ),
        (vec![], vec!["no operation"]),
    ];
    for (args, needles) in cases {
        let o = run_variants(&out, &args);
        assert_user_error(&o, &needles);
        assert!(!out.exists(), "{args:?} wrote output");
    }
    let distil = fixture("encoder/tiny-distilbert");
    let o = probecast(&[
        "variants",
        "--model",
        distil.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--corrupt-steps",
        "2",
        "--corpus",
        c,
    ]);
    assert_user_error(&o, &["tiny-distilbert", "BERT-family", "distilbert"]);
    // A checkpoint that lacks a tensor the encoder needs.
    let broken = d.path().join("broken");
    copy_dir(&tiny(), &broken);
    let mut t =
        candle_core::safetensors::load(broken.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    t.remove("encoder.layer.1.output.dense.weight");
    candle_core::safetensors::save(&t, broken.join("model.safetensors")).unwrap();
    let o = probecast(&[
        "variants",
        "--model",
        broken.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--prune",
        "0.5",
    ]);
    assert_user_error(
        &o,
        &[
            "model.safetensors",
            "missing weight encoder.layer.1.output.dense.weight",
        ],
    );
    let o = probecast(&[
        "variants",
        "--model",
        "/nonexistent/dir",
        "--out",
        out.to_str().unwrap(),
        "--prune",
        "0.1",
    ]);
    assert_user_error(&o, &["/nonexistent/dir"]);
    assert!(!out.exists());
}

/// Step time of the masked-LM trainer at the demo's sizes (default hidden 128, 4 layers, vocab
/// 1000, batch 32 x 32 tokens; `MLM_STEP_SIZES=hidden,layers,seq`): `cargo test --release --test
/// variants -- --ignored mlm_step_time --nocapture`; compare with bench/python/mlm_step_torch.py.
#[test]
#[ignore]
fn mlm_step_time() {
    use probecast::nn::optim::{clip_grad_norm, AdamW, AdamWSettings};
    use probecast::zoo::masking::MaskingSettings;
    use rand::{Rng, SeedableRng};
    // MLM_STEP_SIZES="hidden,layers,seq" (default 128,4,32).
    let sizes: Vec<usize> = std::env::var("MLM_STEP_SIZES")
        .unwrap_or_else(|_| "128,4,32".into())
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    let (hs, nl, seq) = (sizes[0], sizes[1], sizes[2]);
    for dropout in [true, false] {
        let p = if dropout { 0.1 } else { 0.0 };
        let init = MlmInit::Fresh {
            config: serde_json::json!({
                "model_type": "bert", "hidden_size": hs, "num_hidden_layers": nl,
                "num_attention_heads": 4, "intermediate_size": 4 * hs, "vocab_size": 1000,
                "max_position_embeddings": 64, "hidden_dropout_prob": p,
                "attention_probs_dropout_prob": p
            }),
            tokenizer: tiny(),
        };
        let m = MlmModel::load(&init, DType::F32, 1).unwrap();
        let spec = MaskingSettings {
            mask_prob: 0.15,
            mask_id: 4,
            random_vocab: 1000,
            special: vec![2, 3],
            pad_id: 0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let rows: Vec<Vec<u32>> = (0..32)
            .map(|_| {
                let mut r = vec![2u32];
                r.extend((0..seq - 2).map(|_| rng.gen_range(5..1000)));
                r.push(3);
                r
            })
            .collect();
        let refs: Vec<&[u32]> = rows.iter().map(|r| r.as_slice()).collect();
        let mut b = MaskedBatch::default();
        let mut opt = AdamW::new(m.params(), AdamWSettings::default()).unwrap();
        let mut times = Vec::new();
        for step in 0..23 {
            let t0 = std::time::Instant::now();
            spec.mask_into(&refs, &mut rng, &mut b);
            let loss = m.loss(&b, Some(&mut rng)).unwrap();
            let mut g = loss.backward().unwrap();
            clip_grad_norm(m.params(), &mut g, 1.0).unwrap();
            opt.step(m.params(), &g, 1e-4).unwrap();
            if step >= 3 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{{\"sizes\": \"{hs},{nl},{seq}\", \"dropout\": {p}, \"ms_per_step\": {:.2}, \"threads\": {}}}",
            mean * 1e3,
            rayon::current_num_threads()
        );
    }
}

#[test]
fn corruption_saves_a_checkpoint_at_each_listed_step_of_one_run() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let c = fixture("variants/corpus.txt");
    let o = run_variants(
        &out,
        &[
            "--corrupt-steps",
            "2,1",
            "--corpus",
            c.to_str().unwrap(),
            "--batch-size",
            "4",
            "--max-length",
            "64",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("variants.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with("tiny-bert-corrupt1,tiny-bert,corrupt,steps=1;seed=1;"));
    assert!(rows[1].starts_with("tiny-bert-corrupt2,tiny-bert,corrupt,steps=2;seed=1;"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["variants"]["mlm"]["losses"].as_array().unwrap().len(), 2);
    let logits = |v: &str| -> Vec<f32> {
        let dir = out.join(v);
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(cfg["architectures"][0], "BertForMaskedLM");
        MlmModel::load(&MlmInit::FromDir(dir), DType::F32, 0)
            .unwrap()
            .logits(&IDS, &LENGTHS, 6)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let (a, b) = (logits("tiny-bert-corrupt1"), logits("tiny-bert-corrupt2"));
    assert_ne!(a, b, "step 2 must differ from step 1");
    // The encoder moved away from the source.
    let src = states(&tiny());
    let st = states(&out.join("tiny-bert-corrupt2"));
    assert!(max_diff_real(&src[2], &st[2], 32) > 1e-4);
}
