//! Writing a fine-tuned model as a Hugging Face `*ForSequenceClassification` directory.

use super::model::SeqClassifier;
use super::train::FinetuneError;
use crate::data::glue::{TaskKind, TaskSpec};
use crate::encoder::config::Arch;
use crate::encoder::EncoderError;
use crate::util;
use candle_core::DType;
use safetensors::tensor::{Dtype, TensorView};
use std::path::Path;

/// Save `model` under `out` (config.json with the classification head's labels,
/// model.safetensors with every parameter under its Hugging Face name, tokenizer files copied).
pub fn save_model(
    src: &Path,
    out: &Path,
    model: &SeqClassifier,
    spec: &TaskSpec,
) -> Result<(), FinetuneError> {
    let io = |p: &Path, e: std::io::Error| EncoderError::input(p, format!("cannot write: {e}"));
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let prefix = match model.config.arch {
        Arch::Bert => "bert.",
        Arch::Roberta => "roberta.",
        Arch::XlmRoberta => "roberta.",
        Arch::DistilBert => "distilbert.",
    };
    let head = ["classifier", "pre_classifier"];
    let mut bufs = Vec::new();
    for p in model.params() {
        let t = p.var.as_tensor().to_dtype(DType::F32)?;
        let v: Vec<f32> = t.flatten_all()?.to_vec1()?;
        let name = if head.iter().any(|h| p.name.starts_with(h)) {
            p.name.clone()
        } else {
            format!("{prefix}{}", p.name)
        };
        bufs.push((
            name,
            t.dims().to_vec(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
        ));
    }
    let views: Vec<(String, TensorView)> = bufs
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("shape"),
            )
        })
        .collect();
    let bytes = safetensors::tensor::serialize(views, None)
        .map_err(|e| FinetuneError::Settings(e.to_string()))?;
    util::write_atomic(&out.join("model.safetensors"), &bytes).map_err(|e| io(out, e))?;
    let cfg_path = src.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).map_err(|e| io(&cfg_path, e))?)
            .map_err(|e| EncoderError::input(&cfg_path, e.to_string()))?;
    let arch_name = match model.config.arch {
        Arch::Bert => "BertForSequenceClassification",
        Arch::Roberta => "RobertaForSequenceClassification",
        Arch::XlmRoberta => "XLMRobertaForSequenceClassification",
        Arch::DistilBert => "DistilBertForSequenceClassification",
    };
    cfg["architectures"] = serde_json::json!([arch_name]);
    let labels: Vec<String> = if spec.kind == TaskKind::Regression {
        vec!["LABEL_0".into()]
    } else {
        spec.labels.iter().map(|s| s.to_string()).collect()
    };
    cfg["id2label"] = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (i.to_string(), serde_json::json!(l)))
        .collect();
    cfg["label2id"] = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), serde_json::json!(i)))
        .collect();
    if spec.kind == TaskKind::Regression {
        cfg["problem_type"] = serde_json::json!("regression");
    }
    util::write_atomic_str(
        &out.join("config.json"),
        &serde_json::to_string_pretty(&cfg).expect("json"),
    )
    .map_err(|e| io(out, e))?;
    for f in [
        "tokenizer.json",
        "vocab.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        let p = src.join(f);
        if p.is_file() {
            std::fs::copy(&p, out.join(f)).map_err(|e| io(&p, e))?;
        }
    }
    Ok(())
}
