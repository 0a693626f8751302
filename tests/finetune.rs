//! The fine-tuning stage: gradients against finite differences, overfitting a tiny checkpoint,
//! determinism, GLUE files, and `probecast finetune` end to end.

mod common;
use candle_core::{DType, Tensor};
use common::*;
use probecast::data::glue::{read_split, task_spec, GlueExample, GlueSplit};
use probecast::encoder::config::EncoderConfig;
use probecast::encoder::weights::{weights_file, Weights};
use probecast::finetune::model::SeqClassifier;
use probecast::finetune::train::{finetune, TrainSettings};

fn tiny(arch: &str, dtype: DType, labels: usize) -> SeqClassifier {
    let dir = fixture(&format!("encoder/tiny-{arch}"));
    let cfg = EncoderConfig::from_dir(&dir).unwrap();
    let w = Weights::load(&weights_file(&dir).unwrap()).unwrap();
    SeqClassifier::load(&dir, cfg, w, labels, dtype, 3).unwrap()
}

fn loss(m: &SeqClassifier) -> Tensor {
    // Two rows, the second padded: ids are arbitrary in-vocabulary tokens.
    let ids = [2u32, 40, 41, 42, 3, 2, 50, 3, 0, 0];
    let types = [0u32; 10];
    let logits = m.forward(&ids, &types, &[5, 3], 5, None).unwrap();
    let t = Tensor::from_vec(vec![1u32, 0], 2, logits.device()).unwrap();
    candle_nn::loss::cross_entropy(&logits, &t).unwrap()
}

fn check_gradients(arch: &str, names: &[&str]) {
    let m = tiny(arch, DType::F64, 2);
    let grads = loss(&m).backward().unwrap();
    for name in names {
        let p = m
            .params()
            .iter()
            .find(|p| p.name == *name)
            .unwrap_or_else(|| panic!("{name}"));
        let g: Vec<f64> = grads
            .get(p.var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let w0 = p.var.as_tensor().copy().unwrap();
        let flat: Vec<f64> = w0.flatten_all().unwrap().to_vec1().unwrap();
        for &i in &[0usize, flat.len() / 3, flat.len() - 1] {
            let eps = 1e-6;
            let mut at = |d: f64| {
                let mut v = flat.clone();
                v[i] += d;
                p.var
                    .set(&Tensor::from_vec(v, w0.shape(), w0.device()).unwrap())
                    .unwrap();
                loss(&m).to_scalar::<f64>().unwrap()
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps);
            p.var.set(&w0).unwrap();
            assert!(
                (fd - g[i]).abs() <= 1e-6 + 1e-4 * fd.abs(),
                "{arch} {name}[{i}]: autograd {} vs finite difference {fd}",
                g[i]
            );
        }
    }
}

#[test]
fn bert_head_and_encoder_layer_gradients_match_finite_differences() {
    check_gradients(
        "bert",
        &[
            "classifier.weight",
            "pooler.dense.weight",
            "encoder.layer.1.attention.self.query.weight",
            "encoder.layer.0.output.LayerNorm.weight",
            "embeddings.word_embeddings.weight",
        ],
    );
}

#[test]
fn roberta_and_distilbert_head_gradients_match_finite_differences() {
    check_gradients(
        "roberta",
        &[
            "classifier.out_proj.weight",
            "classifier.dense.weight",
            "encoder.layer.0.intermediate.dense.weight",
        ],
    );
    check_gradients(
        "distilbert",
        &[
            "classifier.weight",
            "pre_classifier.weight",
            "transformer.layer.1.ffn.lin1.weight",
        ],
    );
}

#[test]
fn trainable_forward_equals_the_inference_encoder_on_the_first_token() {
    // With dropout off, the BERT head's input (the first token of the last layer) must be the
    // same as the inference path's cls feature; checked through the pooler: tanh(W·cls + b).
    let dir = fixture("encoder/tiny-bert");
    let m = probecast::encoder::LoadedModel::load(&dir, 128).unwrap();
    let s = vec!["The cat sat on the mat .".to_string()];
    let (f, _) =
        probecast::encoder::embed_sentences(&m, &s, &[probecast::encoder::Pooling::Cls], 1, false)
            .unwrap();
    let cls = f[&probecast::encoder::Pooling::Cls]
        .layers
        .last()
        .unwrap()
        .clone();
    let t = tiny("bert", DType::F64, 2);
    let ids = m.tokenizer.encode_all(&s).unwrap().remove(0);
    let n = ids.len();
    let logits: Vec<f64> = t
        .forward(&ids, &vec![0; n], &[n], n, None)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let get = |name: &str| {
        t.params()
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    let (pw, pb, cw, cb) = (
        get("pooler.dense.weight"),
        get("pooler.dense.bias"),
        get("classifier.weight"),
        get("classifier.bias"),
    );
    let h = cls.len();
    let pooled: Vec<f64> = (0..h)
        .map(|i| ((0..h).map(|j| pw[i * h + j] * cls[j] as f64).sum::<f64>() + pb[i]).tanh())
        .collect();
    for k in 0..2 {
        let expect = (0..h).map(|j| cw[k * h + j] * pooled[j]).sum::<f64>() + cb[k];
        assert!(
            (logits[k] - expect).abs() < 1e-4,
            "{} vs {expect}",
            logits[k]
        );
    }
}

fn toy_split(n: usize) -> GlueSplit {
    let words = ["cat", "dog", "bird", "car", "tree", "sea", "book", "river"];
    let examples = (0..n)
        .map(|i| {
            let w = words[i % words.len()];
            let a = format!("the {w} sat on the mat {} .", words[(i / 8) % 8]);
            GlueExample {
                a,
                b: None,
                target: (i % 2) as f32,
            }
        })
        .collect();
    GlueSplit {
        spec: task_spec("sst2").unwrap(),
        path: "toy".into(),
        examples,
    }
}

#[test]
fn tiny_checkpoint_overfits_32_examples_to_full_accuracy_deterministically() {
    let data = toy_split(32);
    let s = TrainSettings {
        epochs: 25,
        lr: 3e-3,
        batch_size: 8,
        warmup_ratio: 0.0,
        ..Default::default()
    };
    let dir = fixture("encoder/tiny-bert");
    let r = finetune(&dir, &data, &data, &s, 7, None, &mut |_, _, _| {}).unwrap();
    let last = r.epochs.last().unwrap();
    assert_eq!(
        last.metrics[0],
        ("accuracy".to_string(), 1.0),
        "{:?}",
        r.epochs
    );
    assert!(last.train_loss < r.epochs[0].train_loss);
    let r2 = finetune(&dir, &data, &data, &s, 7, None, &mut |_, _, _| {}).unwrap();
    assert_eq!(
        r.epochs.last().unwrap().train_loss,
        r2.epochs.last().unwrap().train_loss
    );
}

#[test]
fn real_glue_files_parse_with_their_sizes() {
    let Some(d) = shared_data() else {
        skip("../shared/data");
        return;
    };
    let g = d.join("glue_F0restL1n_BERT");
    for (task, file, n) in [
        ("CoLA", "dev.tsv", 1043),
        ("RTE", "train.tsv", 2490),
        ("MRPC", "dev.tsv", 408),
        ("STS-B", "dev.tsv", 1500),
        ("SST-2", "dev.tsv", 872),
    ] {
        let s = read_split(task_spec(task).unwrap(), &g.join(task).join(file)).unwrap();
        assert_eq!(s.examples.len(), n, "{task}");
    }
}
