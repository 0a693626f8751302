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
    SeqClassifier::load(cfg, w, labels, dtype, 3).unwrap()
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
        check_gradient_against_finite_differences(
            &format!("{arch} {name}"),
            &p.var,
            &grads,
            &|len| vec![0, len / 3, len - 1],
            &|| loss(&m).to_scalar::<f64>().unwrap(),
        );
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
    let (f, _) = probecast::encoder::embed_sentences(
        &m,
        &s,
        &[probecast::encoder::Pooling::Cls],
        1,
        &indicatif::ProgressBar::hidden(),
    )
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
    let r = finetune(
        &dir,
        &data,
        &data,
        &s,
        7,
        None,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let last = r.epochs.last().unwrap();
    assert_eq!(
        last.metrics[0],
        ("accuracy".to_string(), 1.0),
        "{:?}",
        r.epochs
    );
    assert!(last.train_loss < r.epochs[0].train_loss);
    let r2 = finetune(
        &dir,
        &data,
        &data,
        &s,
        7,
        None,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
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

fn write_toy_task(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let t = dir.join(name);
    std::fs::create_dir_all(&t).unwrap();
    let mut s = String::from("index\tsentence1\tsentence2\tlabel\n");
    for i in 0..24 {
        let lab = if i % 2 == 0 {
            "entailment"
        } else {
            "not_entailment"
        };
        s.push_str(&format!(
            "{i}\tthe cat sat on the mat {i} .\tthe dog {} .\t{lab}\n",
            i % 5
        ));
    }
    std::fs::write(t.join("train.tsv"), &s).unwrap();
    std::fs::write(t.join("dev.tsv"), &s).unwrap();
    t
}

#[test]
fn finetune_cli_writes_tidy_and_wide_tables_and_a_loadable_model() {
    let tmp = tempfile::tempdir().unwrap();
    let task = write_toy_task(tmp.path(), "RTE");
    let out = tmp.path().join("out");
    let r = probecast(&[
        "finetune",
        "--model",
        fixture("encoder/tiny-distilbert").to_str().unwrap(),
        "--task",
        task.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--seeds",
        "1,2",
        "--batch-size",
        "8",
        "--save-model",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let tidy = std::fs::read_to_string(out.join("finetune.csv")).unwrap();
    assert_eq!(
        tidy.lines().next().unwrap(),
        "model,task,seed,epoch,metric,value"
    );
    // 2 seeds x 2 epochs x (train_loss + accuracy)
    assert_eq!(tidy.lines().count(), 1 + 2 * 2 * 2);
    let wide = std::fs::read_to_string(out.join("targets.csv")).unwrap();
    let lines: Vec<&str> = wide.lines().collect();
    assert_eq!(lines[0], "model,rte");
    // targets.csv = mean over seeds of each seed's best-epoch accuracy, from finetune.csv
    let mut best = std::collections::BTreeMap::<String, f64>::new();
    for l in tidy.lines().skip(1).filter(|l| l.contains(",accuracy,")) {
        let f: Vec<&str> = l.split(',').collect();
        let v: f64 = f[5].parse().unwrap();
        let e = best.entry(f[2].to_string()).or_insert(f64::NEG_INFINITY);
        *e = e.max(v);
    }
    let mean = best.values().sum::<f64>() / 2.0;
    let got: f64 = lines[1].split(',').nth(1).unwrap().parse().unwrap();
    assert!((got - mean).abs() < 1e-12);
    let saved = out.join("models/tiny-distilbert-rte-seed1");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["architectures"][0],
        "DistilBertForSequenceClassification"
    );
    // The saved encoder weights load back through probecast's own loader.
    probecast::encoder::LoadedModel::load(&saved, 64).unwrap();
}

#[test]
fn finetune_bad_input_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("encoder/tiny-bert");
    let m = model.to_str().unwrap();
    let out = tmp.path().join("o");
    let o = out.to_str().unwrap();
    let unknown = write_toy_task(tmp.path(), "MyTask");
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            m,
            "--task",
            unknown.to_str().unwrap(),
            "--out",
            o,
        ]),
        &["MyTask", "unknown GLUE task"],
    );
    let rte = write_toy_task(tmp.path(), "RTE");
    std::fs::remove_file(rte.join("train.tsv")).unwrap();
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            m,
            "--task",
            rte.to_str().unwrap(),
            "--out",
            o,
        ]),
        &["train.tsv", "cannot read"],
    );
    let bad = write_toy_task(tmp.path(), "x");
    std::fs::write(
        bad.join("train.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n",
    )
    .unwrap();
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            m,
            "--task",
            bad.to_str().unwrap(),
            "--task-type",
            "rte",
            "--out",
            o,
        ]),
        &["train.tsv", "line 2: label \"maybe\""],
    );
    let ok = write_toy_task(tmp.path(), "RTE2");
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            m,
            "--task",
            ok.to_str().unwrap(),
            "--task-type",
            "rte",
            "--out",
            o,
            "--max-length",
            "999",
        ]),
        &["exceeds the model's position limit"],
    );
    // a pair template (MPNet's `<s> a </s></s> b </s>`) longer than --max-length: refused with
    // the count, not an internal error after tokenizers leaves the pair whole
    let mpnet = fixture("arch/mpnet");
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            mpnet.to_str().unwrap(),
            "--task",
            ok.to_str().unwrap(),
            "--task-type",
            "rte",
            "--out",
            o,
            "--max-length",
            "3",
        ]),
        &[
            "max length 3 leaves no room for sentence pairs",
            "adds 4 special tokens",
        ],
    );
    assert!(!out.join("targets.csv").exists());
}

#[test]
fn finetune_refuses_bad_settings_unseen_dev_labels_and_a_diverging_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fixture("encoder/tiny-bert");
    let m = m.to_str().unwrap();
    let task = write_toy_task(tmp.path(), "RTE");
    let t = task.to_str().unwrap();
    let out = tmp.path().join("o");
    let o = out.to_str().unwrap();
    for (flag, v) in [
        ("--lr", "0"),
        ("--lr", "-1"),
        ("--epochs", "0"),
        ("--batch-size", "0"),
    ] {
        let arg = format!("{flag}={v}");
        assert_user_error(
            &probecast(&["finetune", "--model", m, "--task", t, "--out", o, &arg]),
            &[flag],
        );
    }
    // Training data with only one class, dev with both.
    let one = write_toy_task(tmp.path(), "RTE1");
    let s: String = std::fs::read_to_string(one.join("train.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.ends_with("\tnot_entailment"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(one.join("train.tsv"), s).unwrap();
    assert_user_error(
        &probecast(&[
            "finetune",
            "--model",
            m,
            "--task",
            one.to_str().unwrap(),
            "--task-type",
            "rte",
            "--out",
            o,
        ]),
        &[
            "dev.tsv",
            "dev label \"not_entailment\" never occurs in the training data",
        ],
    );
    // A learning rate that makes the loss overflow: stopped with the step, nothing written.
    let r = probecast(&[
        "finetune",
        "--model",
        m,
        "--task",
        t,
        "--out",
        o,
        "--lr",
        "1e30",
        "--warmup-ratio",
        "0",
        "--epochs",
        "3",
    ]);
    assert_user_error(&r, &["train.tsv", "training loss became", "at step"]);
    assert!(!out.join("targets.csv").exists() && !out.join("finetune.csv").exists());
}

/// The "done when" in CI: all-MiniLM-L6-v2 fine-tuned on small stratified subsets of the
/// real RTE, MRPC, CoLA and SST-2 (train and dev), through the binary.
#[test]
fn minilm_finetunes_real_rte_mrpc_cola_sst2_subsets() {
    let (Some(model), Some(data)) = (minilm_dir(), shared_data()) else {
        skip("all-MiniLM-L6-v2 (scripts/fetch-models.sh) or ../shared/data missing");
        return;
    };
    let glue = data.join("glue_F0restL1n_BERT");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let tasks: Vec<String> = ["RTE", "MRPC", "CoLA", "SST-2"]
        .iter()
        .map(|t| glue.join(t).to_str().unwrap().to_string())
        .collect();
    let r = probecast(&[
        "finetune",
        "--model",
        model.to_str().unwrap(),
        "--task",
        &tasks.join(","),
        "--out",
        out.to_str().unwrap(),
        "--max-train-examples",
        "64",
        "--max-dev-examples",
        "64",
        "--epochs",
        "2",
        "--lr",
        "1e-4",
        "--max-length",
        "48",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let tidy = std::fs::read_to_string(out.join("finetune.csv")).unwrap();
    println!("{tidy}");
    let rows: Vec<Vec<String>> = tidy
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let get = |task: &str, epoch: &str, metric: &str| -> f64 {
        rows.iter()
            .find(|f| f[1] == task && f[3] == epoch && f[4] == metric)
            .unwrap_or_else(|| panic!("no {task} epoch {epoch} {metric} in finetune.csv"))[5]
            .parse()
            .unwrap()
    };
    // The GLUE primary metrics, per epoch, with their components.
    for e in ["1", "2"] {
        let (f1, acc) = (get("mrpc", e, "f1"), get("mrpc", e, "accuracy"));
        assert!((get("mrpc", e, "f1_accuracy") - (f1 + acc) / 2.0).abs() < 1e-12);
        let mcc = get("cola", e, "mcc");
        assert!((-1.0..=1.0).contains(&mcc));
        for t in ["rte", "sst2"] {
            let a = get(t, e, "accuracy");
            // 64 dev examples: accuracy is a multiple of 1/64 (the subsample size is honoured)
            assert!(((a * 64.0).round() - a * 64.0).abs() < 1e-9, "{t} {a}");
        }
    }
    // Training makes progress: the loss falls on every task (8 steps only: dev scores of such a
    // short run stay near chance, so they are not asserted).
    for t in ["rte", "mrpc", "cola", "sst2"] {
        assert!(get(t, "2", "train_loss") < get(t, "1", "train_loss"), "{t}");
    }
    let sst2 = get("sst2", "1", "accuracy").max(get("sst2", "2", "accuracy"));
    let wide = std::fs::read_to_string(out.join("targets.csv")).unwrap();
    let lines: Vec<&str> = wide.lines().collect();
    assert_eq!(lines[0], "model,rte,mrpc,cola,sst2");
    let vals: Vec<f64> = lines[1]
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!((vals[3] - sst2).abs() < 1e-12);
    println!("dev scores (rte, mrpc, cola, sst2): {vals:?}");
}
