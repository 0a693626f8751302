//! Writing a fine-tuned model as a Hugging Face `*ForSequenceClassification` directory, through
//! the one checkpoint writer (`crate::encoder::write`: atomic, every tokenizer file copied).

use super::model::AnyClassifier;
use super::FinetuneError;
use crate::data::glue::{TaskKind, TaskSpec};
use crate::encoder::write::write_hf_dir;
use candle_core::DType;
use std::path::Path;

/// Save `model` under `out` (config.json with the classification head's labels,
/// model.safetensors with every parameter under its Hugging Face name as f32, the tokenizer
/// files of `src` copied). The directory appears complete or not at all.
pub fn save_model(
    src: &Path,
    out: &Path,
    model: &AnyClassifier,
    spec: &TaskSpec,
) -> Result<(), FinetuneError> {
    let mut tensors = Vec::new();
    for (name, p) in model.hf_named_params() {
        tensors.push((name, p.var.as_tensor().to_dtype(DType::F32)?));
    }
    let mut cfg = model.config_json().clone();
    cfg["architectures"] = serde_json::json!([model.architecture()]);
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
    write_hf_dir(out, &cfg, &tensors, src)?;
    Ok(())
}
