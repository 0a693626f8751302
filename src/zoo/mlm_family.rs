//! The masked-LM heads of ALBERT, DeBERTa v1 and DeBERTa-v2/v3 (the families the seed paper
//! corrupted), MPNet (the study's second base) and ModernBERT, as transformers defines them,
//! for [`super::mlm`]'s training loop:
//! - ModernBERT (`ModernBertForMaskedLM`): `head.dense` (hidden → hidden, bias only with
//!   `classifier_bias`), `classifier_activation`, `head.norm` (bias only with `norm_bias`),
//!   `decoder` tied to the word embeddings with its bias `decoder.bias`;
//! - MPNet (`MPNetLMHead`): `lm_head.dense` (hidden → hidden), gelu, `lm_head.layer_norm`,
//!   decoder tied to the word embeddings, `lm_head.bias`;
//! - ALBERT (`AlbertMLMHead`): `predictions.dense` (hidden → embedding_size), `hidden_act`,
//!   `predictions.LayerNorm`, decoder tied to the word embeddings, `predictions.bias`;
//! - DeBERTa-v2/v3 and DeBERTa v1 (`DebertaForMaskedLM`, the same heads under the same names)
//!   with `legacy` (transformers' default): `cls.predictions.transform.dense`
//!   (hidden → embedding_size), `hidden_act`, `cls.predictions.transform.LayerNorm`, tied
//!   decoder, `cls.predictions.bias`;
//! - DeBERTa-v2/v3 without (`legacy: false`, the head microsoft/deberta-v3-* ship):
//!   `lm_predictions.lm_head.{dense (hidden → hidden), LayerNorm, bias}`, then the word
//!   embeddings' transpose (so embedding_size must equal hidden_size).
//!
//! A checkpoint's own head is used when it has one: for DeBERTa without a `legacy` key in
//! config.json, a checkpoint holding `lm_predictions.lm_head.*` is read with that head (and the
//! saved config says `legacy: false`, so transformers reads it back the same way).
//!
//! The body is the family's trainable body (`crate::encoder::trainable_family`), the same
//! modules as inference. A saved model is a `*ForMaskedLM` directory: body tensors under the
//! wrapper's prefix (`albert.`, `deberta.`, `mpnet.`), the head at the top level.

use super::checkpoint::Checkpoint;
use super::ZooError;
use crate::encoder::blocks::Act;
use crate::encoder::family::Family;
use crate::encoder::trainable_family::{hf_prefix, TRAINABLE};

/// Which masked-LM head a family checkpoint trains, and under which names.
#[derive(Debug, Clone)]
pub struct FamilyHeadSpec {
    /// The dense transform (`<dense>.weight` [width, hidden], `<dense>.bias`).
    pub dense: &'static str,
    /// The LayerNorm after the activation (`<ln>.weight`, `<ln>.bias`, width wide).
    pub ln: &'static str,
    /// The output bias [vocab].
    pub bias: &'static str,
    /// Tied copies (word embeddings, output bias) a source may store; rewritten when present.
    pub decoder: Option<(&'static str, &'static str)>,
    /// Width of the transform's output (= the word embeddings' width).
    pub width: usize,
    /// The activation (`hidden_act`).
    pub act: Act,
    /// transformers' class.
    pub architecture: &'static str,
    /// DeBERTa's `legacy` as written to the saved config.json.
    pub legacy: Option<bool>,
    /// Prefix of the body's tensors in a saved model.
    pub body_prefix: &'static str,
    /// Whether the dense transform has a bias (ModernBERT: `classifier_bias`).
    pub dense_bias: bool,
    /// Whether the LayerNorm has a bias (ModernBERT: `norm_bias`).
    pub ln_bias: bool,
}

impl FamilyHeadSpec {
    /// The head of the family checkpoint `ck` (`hidden` and `embedding` the hidden size and the
    /// word embeddings' width); an input error for a family without masked-LM training.
    pub fn of(
        ck: &Checkpoint,
        family: Family,
        hidden: usize,
        embedding: usize,
    ) -> Result<Self, ZooError> {
        let path = ck.dir.join("config.json");
        let cfg = &ck.config_json;
        let act_name = cfg
            .get("hidden_act")
            .and_then(|v| v.as_str())
            .unwrap_or("gelu");
        let act = Act::parse(act_name).ok_or_else(|| {
            ZooError::input(&path, format!("unsupported hidden_act {act_name:?}"))
        })?;
        let body_prefix = hf_prefix(family);
        match family {
            Family::Albert => Ok(FamilyHeadSpec {
                dense: "predictions.dense",
                ln: "predictions.LayerNorm",
                bias: "predictions.bias",
                decoder: Some(("predictions.decoder.weight", "predictions.decoder.bias")),
                width: embedding,
                act,
                architecture: "AlbertForMaskedLM",
                legacy: None,
                body_prefix,
                dense_bias: true,
                ln_bias: true,
            }),
            // MPNetLMHead: dense (hidden → hidden), gelu (always: it does not read hidden_act),
            // layer_norm, decoder tied to the word embeddings, bias.
            Family::Mpnet => Ok(FamilyHeadSpec {
                dense: "lm_head.dense",
                ln: "lm_head.layer_norm",
                bias: "lm_head.bias",
                decoder: Some(("lm_head.decoder.weight", "lm_head.decoder.bias")),
                width: hidden,
                act: Act::parse("gelu").expect("gelu is an activation"),
                architecture: "MPNetForMaskedLM",
                legacy: None,
                body_prefix,
                dense_bias: true,
                ln_bias: true,
            }),
            // ModernBertForMaskedLM: `head` (ModernBertPredictionHead: dense with a bias when
            // `classifier_bias`, `classifier_activation`, norm with a bias when `norm_bias`),
            // then `decoder` tied to the word embeddings with its bias `decoder.bias`.
            Family::ModernBert => {
                let flag = |k: &str| cfg.get(k).and_then(|v| v.as_bool());
                if flag("decoder_bias") == Some(false) {
                    return Err(ZooError::input(
                        &path,
                        "decoder_bias false is not supported for masked-LM training (the output bias is trained)",
                    ));
                }
                let name = cfg
                    .get("classifier_activation")
                    .and_then(|v| v.as_str())
                    .unwrap_or("gelu");
                let act = Act::parse(name).ok_or_else(|| {
                    ZooError::input(&path, format!("unsupported classifier_activation {name:?}"))
                })?;
                Ok(FamilyHeadSpec {
                    dense: "head.dense",
                    ln: "head.norm",
                    bias: "decoder.bias",
                    decoder: Some(("decoder.weight", "decoder.bias")),
                    width: hidden,
                    act,
                    architecture: "ModernBertForMaskedLM",
                    legacy: None,
                    body_prefix,
                    dense_bias: flag("classifier_bias").unwrap_or(false),
                    ln_bias: flag("norm_bias").unwrap_or(false),
                })
            }
            Family::DebertaV2 | Family::Deberta => {
                let architecture = if family == Family::Deberta {
                    "DebertaForMaskedLM"
                } else {
                    "DebertaV2ForMaskedLM"
                };
                let legacy = match cfg.get("legacy").and_then(|v| v.as_bool()) {
                    Some(l) => l,
                    None => ck.index("lm_predictions.lm_head.dense.weight").is_none(),
                };
                if legacy {
                    Ok(FamilyHeadSpec {
                        dense: "cls.predictions.transform.dense",
                        ln: "cls.predictions.transform.LayerNorm",
                        bias: "cls.predictions.bias",
                        decoder: Some((
                            "cls.predictions.decoder.weight",
                            "cls.predictions.decoder.bias",
                        )),
                        width: embedding,
                        act,
                        architecture,
                        legacy: Some(true),
                        body_prefix,
                        dense_bias: true,
                        ln_bias: true,
                    })
                } else if embedding != hidden {
                    Err(ZooError::input(
                        &path,
                        format!("legacy is false but embedding_size {embedding} differs from hidden_size {hidden} (transformers' lm_predictions head needs them equal)"),
                    ))
                } else {
                    Ok(FamilyHeadSpec {
                        dense: "lm_predictions.lm_head.dense",
                        ln: "lm_predictions.lm_head.LayerNorm",
                        bias: "lm_predictions.lm_head.bias",
                        decoder: None,
                        width: hidden,
                        act,
                        architecture,
                        legacy: Some(false),
                        body_prefix,
                        dense_bias: true,
                        ln_bias: true,
                    })
                }
            }
            other => Err(ZooError::input(
                &path,
                format!(
                    "masked-LM training supports bert, albert, deberta, deberta-v2, mpnet and modernbert checkpoints, not model_type {:?} (finetune supports: {TRAINABLE})",
                    other.model_type()
                ),
            )),
        }
    }

    /// The name a source tensor gets in the saved `*ForMaskedLM` directory: a bare body
    /// tensor goes under the wrapper's prefix (`source_prefix` is the source's body prefix).
    pub fn saved_name(&self, source_prefix: &str, name: &str) -> String {
        let head_root = self.dense.split('.').next().unwrap_or("");
        if source_prefix.is_empty() {
            if name.starts_with(&format!("{head_root}.")) {
                name.to_string()
            } else {
                format!("{}{name}", self.body_prefix)
            }
        } else {
            match name.strip_prefix(source_prefix) {
                Some(rest) => format!("{}{rest}", self.body_prefix),
                None => name.to_string(),
            }
        }
    }
}
