//! Fine-tuning the newer families (MPNet, ELECTRA, ALBERT, DeBERTa-v2/v3, DeBERTa v1, XLNet,
//! ModernBERT with cls and mean pooling) against PyTorch: one
//! step's loss and the gradient norm of every parameter tensor equal transformers' on the same
//! tiny checkpoint and batch to 1e-4 relative (fixtures by bench/python/make_train_fixtures.py
//! from the committed tests/fixtures/arch checkpoints); the eval-mode training forward pass
//! equals the inference hidden states; a tiny checkpoint overfits 32 examples; a saved model
//! holds exactly the state-dict keys of transformers' `*ForSequenceClassification`.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{assert_user_error, fixture, probecast};
use probecast::data::glue::{task_spec, GlueExample, GlueSplit, TaskKind};
use probecast::encoder::family::AnyEncoder;
use probecast::encoder::model::Batch;
use probecast::encoder::weights::{weights_file, Weights};
use probecast::finetune::model::AnyClassifier;
use probecast::finetune::train::{finetune, loss_of, TrainSettings};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const FAMILIES: [&str; 8] = [
    "mpnet",
    "electra",
    "albert",
    "deberta-v2",
    "deberta",
    "xlnet",
    "modernbert",
    "modernbert-mean",
];

/// The reference tensors of one family.
fn reference(fam: &str) -> BTreeMap<String, Tensor> {
    let p = fixture(&format!("train/{fam}.safetensors"));
    candle_core::safetensors::load(&p, &Device::Cpu)
        .unwrap()
        .into_iter()
        .collect()
}

/// The tiny checkpoint of `fam`; `modernbert-mean` is the ModernBERT one with
/// `classifier_pooling: mean` (a copy under the test scratch space).
fn checkpoint(fam: &str) -> PathBuf {
    if fam != "modernbert-mean" {
        return fixture(&format!("arch/{fam}"));
    }
    let src = fixture("arch/modernbert");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "modernbert-mean-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    cfg["classifier_pooling"] = serde_json::json!("mean");
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    dir
}

/// The fixture's batch.
fn batch(r: &BTreeMap<String, Tensor>) -> (Batch, Vec<f32>) {
    let u32s = |k: &str| -> Vec<u32> {
        r[k].to_dtype(DType::U32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let (_, seq) = r["input_ids"].dims2().unwrap();
    let lengths = u32s("lengths").into_iter().map(|l| l as usize).collect();
    let labels = u32s("labels").into_iter().map(|l| l as f32).collect();
    (
        Batch {
            ids: u32s("input_ids"),
            type_ids: u32s("token_type_ids"),
            lengths,
            seq,
        },
        labels,
    )
}

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()[0]
}

/// Loss and every gradient norm of one batch, with the head PyTorch used, to 1e-4 relative.
fn check_loss_and_gradients(fam: &str) {
    let r = reference(fam);
    let (b, labels) = batch(&r);
    let model = AnyClassifier::load(&checkpoint(fam), 3, 0).unwrap();
    let named = model.hf_named_params();
    for (k, t) in r.iter().filter(|(k, _)| k.starts_with("head/")) {
        let name = &k["head/".len()..];
        let (_, p) = named
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{fam}: no parameter {name}"));
        p.var.set(t).unwrap();
    }
    let logits = model
        .forward(&b.ids, &b.type_ids, &b.lengths, b.seq, None)
        .unwrap();
    let loss = loss_of(&logits, &labels, TaskKind::Classification).unwrap();
    let (ours, theirs) = (scalar(&loss), scalar(&r["loss"]));
    assert!(
        (ours - theirs).abs() <= 1e-4 * theirs.abs(),
        "{fam}: loss {ours} vs PyTorch {theirs}"
    );
    let grads = loss.backward().unwrap();
    let want: BTreeSet<String> = r
        .keys()
        .filter_map(|k| k.strip_prefix("grad_norm/").map(str::to_string))
        .collect();
    let have: BTreeSet<String> = named.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(have, want, "{fam}: parameter sets differ");
    // Key biases shift every score of a query row by the same amount, which the softmax
    // ignores: their exact gradient is 0 and both sides hold rounding noise (~1e-11). A norm
    // below 1e-7 of the largest is such a zero; it must be one on both sides.
    let largest = want
        .iter()
        .map(|n| scalar(&r[&format!("grad_norm/{n}")]))
        .fold(0f64, f64::max);
    let zero = 1e-7 * largest;
    let mut worst = 0f64;
    let mut zeros = 0;
    for (name, p) in &named {
        let g = match grads.get(p.var.as_tensor()) {
            Some(g) => scalar(&g.sqr().unwrap().sum_all().unwrap()).sqrt(),
            None => 0.0,
        };
        let t = scalar(&r[&format!("grad_norm/{name}")]);
        if t <= zero {
            assert!(
                g <= zero,
                "{fam}: {name}: gradient norm {g}, PyTorch {t} (zero)"
            );
            zeros += 1;
            continue;
        }
        let rel = (g - t).abs() / t;
        assert!(
            rel <= 1e-4,
            "{fam}: {name}: gradient norm {g} vs PyTorch {t}"
        );
        worst = worst.max(rel);
    }
    assert!(zeros < named.len() / 4, "{fam}: {zeros} zero gradients");
    eprintln!(
        "{fam}: loss {ours} vs {theirs}; {} gradient norms ({zeros} zero), worst relative difference {worst:.2e}",
        named.len()
    );
}

#[test]
fn mpnet_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("mpnet");
}

#[test]
fn electra_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("electra");
}

#[test]
fn albert_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("albert");
}

#[test]
fn deberta_v2_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("deberta-v2");
}

#[test]
fn deberta_v1_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("deberta");
}

/// XLNet's summary is the last real token of a right-padded batch (transformers' last position
/// of its left-padded one).
#[test]
fn xlnet_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("xlnet");
}

#[test]
fn modernbert_cls_pooling_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("modernbert");
}

#[test]
fn modernbert_mean_pooling_loss_and_every_gradient_norm_equal_pytorch_to_1e4_relative() {
    check_loss_and_gradients("modernbert-mean");
}

/// The trainable body in evaluation mode returns the inference path's hidden states (the same
/// modules loaded as parameters), bit for bit, on the fixture batch.
#[test]
fn trainable_forward_in_eval_mode_equals_the_inference_hidden_states() {
    for fam in FAMILIES {
        let dir = checkpoint(fam);
        let (b, _) = batch(&reference(fam));
        let enc =
            AnyEncoder::load(&dir, Weights::load(&weights_file(&dir).unwrap()).unwrap()).unwrap();
        let want = enc.forward(&b).unwrap();
        let model = AnyClassifier::load(&dir, 2, 0).unwrap();
        let AnyClassifier::Family(m) = &model else {
            panic!("{fam} is not on the family path")
        };
        let got = m.body.hidden_states(&b).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            let d = scalar(&(g - w).unwrap().abs().unwrap().max_all().unwrap());
            assert_eq!(d, 0.0, "{fam}");
        }
        let last = m.body.forward(&b, None).unwrap();
        let d = scalar(
            &(last - want.last().unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap(),
        );
        assert_eq!(d, 0.0, "{fam}");
    }
}

fn toy_split(n: usize) -> GlueSplit {
    let words = [
        "cat", "dog", "weather", "rain", "numbers", "words", "garden", "mat",
    ];
    let examples = (0..n)
        .map(|i| GlueExample {
            a: format!("the {} sat on the mat {}", words[i % 8], words[(i / 8) % 8]),
            b: None,
            target: (i % 2) as f32,
        })
        .collect();
    GlueSplit {
        spec: task_spec("sst2").unwrap(),
        path: "toy".into(),
        examples,
    }
}

/// Each tiny checkpoint fits 32 examples to full training accuracy, and the saved model holds
/// exactly the keys of transformers' `*ForSequenceClassification` (the fixture's state dict).
#[test]
fn tiny_family_checkpoints_overfit_32_examples_and_save_exactly_the_transformers_keys() {
    let data = toy_split(32);
    let s = TrainSettings {
        epochs: 30,
        lr: 3e-3,
        batch_size: 8,
        warmup_ratio: 0.0,
        max_length: 32,
        ..Default::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    for fam in FAMILIES {
        let out = tmp.path().join(fam);
        let r = finetune(
            &checkpoint(fam),
            &data,
            &data,
            &s,
            7,
            Some(&out),
            &indicatif::ProgressBar::hidden(),
        )
        .unwrap();
        let last = r.epochs.last().unwrap();
        eprintln!(
            "{fam}: train loss {:.4} -> {:.4}, accuracy {}",
            r.epochs[0].train_loss, last.train_loss, last.metrics[0].1
        );
        assert_eq!(last.metrics[0], ("accuracy".to_string(), 1.0), "{fam}");
        assert!(last.train_loss < r.epochs[0].train_loss);
        let saved: BTreeSet<String> =
            candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu)
                .unwrap()
                .into_keys()
                .collect();
        let keys: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("train/{fam}.keys.json"))).unwrap(),
        )
        .unwrap();
        let want: BTreeSet<String> = keys.into_iter().collect();
        assert_eq!(saved, want, "{fam}: saved keys differ from transformers'");
    }
    // the saved directories load in transformers as *ForSequenceClassification with no missing
    // and no unexpected key (bench/python/check_hf_load.py --strict), when python has it
    if python_with_transformers() {
        let dirs: Vec<PathBuf> = FAMILIES.iter().map(|f| tmp.path().join(f)).collect();
        let o = std::process::Command::new("python3")
            .arg(common::root().join("bench/python/check_hf_load.py"))
            .arg("--strict")
            .args(&dirs)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&o.stdout));
    } else {
        eprintln!("SKIPPED (transformers load check): python3 with transformers and torch is not installed; the saved keys are checked against the committed fixtures instead");
    }
}

fn python_with_transformers() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import transformers, torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// finetune of an architecture without a trainable body: exit 2, one line naming the list.
#[test]
fn finetune_of_an_architecture_without_a_trainable_body_names_the_supported_list() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("gpt2");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("config.json"),
        r#"{"model_type": "gpt2", "n_embd": 32, "n_layer": 2}"#,
    )
    .unwrap();
    let task = tmp.path().join("RTE");
    std::fs::create_dir_all(&task).unwrap();
    let tsv = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tnot_entailment\n";
    std::fs::write(task.join("train.tsv"), tsv).unwrap();
    std::fs::write(task.join("dev.tsv"), tsv).unwrap();
    let out = tmp.path().join("o");
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            m.to_str().unwrap(),
            "--task",
            task.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        &[
            "config.json",
            "gpt2",
            "no trainable body",
            "mpnet, electra, albert, deberta-v2, deberta, xlnet, modernbert",
        ],
    );
}

/// Heads transformers defines differently than probecast trains are refused before training:
/// a ModernBERT `classifier_pooling` other than cls/mean, an XLNet `summary_type` other than
/// last/first. Exit 2, one line naming config.json and the field.
#[test]
fn finetune_refuses_unsupported_modernbert_pooling_and_xlnet_summary_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let task = tmp.path().join("SST-2");
    std::fs::create_dir_all(&task).unwrap();
    let tsv = "sentence\tlabel\nthe cat sat\t1\na dog barked\t0\n";
    std::fs::write(task.join("train.tsv"), tsv).unwrap();
    std::fs::write(task.join("dev.tsv"), tsv).unwrap();
    for (fam, key, value) in [
        ("modernbert", "classifier_pooling", "max"),
        ("xlnet", "summary_type", "attn"),
    ] {
        let m = tmp.path().join(fam);
        common::copy_dir(&fixture(&format!("arch/{fam}")), &m);
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(m.join("config.json")).unwrap()).unwrap();
        cfg[key] = serde_json::json!(value);
        std::fs::write(m.join("config.json"), cfg.to_string()).unwrap();
        let out = tmp.path().join(format!("o-{fam}"));
        assert_user_error(
            &probecast(&[
                "finetune",
                "--model",
                m.to_str().unwrap(),
                "--task",
                task.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]),
            &["config.json", key, value],
        );
    }
}
