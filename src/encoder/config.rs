//! config.json -> architecture and hyperparameters of the encoder.

use super::EncoderError;
use serde_json::Value;
use std::path::Path;

/// The encoder families probecast can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// BERT and its relatives with the same layout (MiniLM, ...).
    Bert,
    /// RoBERTa: BERT layout, positions offset past the padding index.
    Roberta,
    /// XLM-RoBERTa: RoBERTa layout with a SentencePiece vocabulary.
    XlmRoberta,
    /// DistilBERT: its own weight names, no token types.
    DistilBert,
}

impl Arch {
    /// The Hugging Face `model_type` string.
    pub fn model_type(self) -> &'static str {
        match self {
            Arch::Bert => "bert",
            Arch::Roberta => "roberta",
            Arch::XlmRoberta => "xlm-roberta",
            Arch::DistilBert => "distilbert",
        }
    }
}

/// Activation of the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Activation {
    /// Exact GELU, x Φ(x) (`gelu`).
    Gelu,
    /// Tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    GeluTanh,
    /// ReLU.
    Relu,
}

/// Everything the forward pass needs from config.json.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EncoderConfig {
    /// Architecture family.
    pub arch: Arch,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_layers: usize,
    /// Number of attention heads.
    pub num_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Rows of the position embedding table.
    pub max_position_embeddings: usize,
    /// Rows of the token type table (0 when the model has none).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Feed-forward activation.
    pub activation: Activation,
    /// Padding token id.
    pub pad_token_id: u32,
    /// DistilBERT with fixed sinusoidal position embeddings.
    pub sinusoidal_positions: bool,
    /// The whole config.json as parsed, for the settings only training reads (dropouts,
    /// `initializer_range`) and for writing derived checkpoints: the file is parsed once.
    #[serde(skip)]
    pub raw: Value,
}

impl EncoderConfig {
    /// The longest input (in tokens, special tokens included) the position table allows.
    pub fn max_input_tokens(&self) -> usize {
        match self.arch {
            // RoBERTa positions start at pad_token_id + 1.
            Arch::Roberta | Arch::XlmRoberta => self
                .max_position_embeddings
                .saturating_sub(self.pad_token_id as usize + 1),
            _ => self.max_position_embeddings,
        }
    }

    /// Read and validate `<dir>/config.json`.
    pub fn from_dir(dir: &Path) -> Result<Self, EncoderError> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| EncoderError::Input {
            path: path.display().to_string(),
            msg: format!("cannot read config.json: {e}"),
        })?;
        Self::parse(&path, &text)
    }

    /// Parse config.json text (`path` is for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self, EncoderError> {
        let bad = |msg: String| EncoderError::Input {
            path: path.display().to_string(),
            msg,
        };
        let v: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("");
        let archs: Vec<String> = v
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        let arch = match model_type {
            "bert" => Arch::Bert,
            "roberta" => Arch::Roberta,
            "xlm-roberta" => Arch::XlmRoberta,
            "distilbert" => Arch::DistilBert,
            "" => {
                let a = archs.first().cloned().unwrap_or_default();
                if a.starts_with("xlmroberta") {
                    Arch::XlmRoberta
                } else if a.starts_with("roberta") {
                    Arch::Roberta
                } else if a.starts_with("distilbert") {
                    Arch::DistilBert
                } else if a.starts_with("bert") {
                    Arch::Bert
                } else {
                    return Err(bad(
                        "no model_type and no known architectures entry (supported: bert, roberta, xlm-roberta, distilbert)".into(),
                    ));
                }
            }
            other => {
                return Err(bad(format!(
                "unknown model_type {other:?} (supported: bert, roberta, xlm-roberta, distilbert)"
            )))
            }
        };
        let get = |keys: &[&str]| -> Option<&Value> { keys.iter().find_map(|k| v.get(*k)) };
        let usize_of = |keys: &[&str], default: Option<usize>| -> Result<usize, EncoderError> {
            match get(keys) {
                Some(x) => x
                    .as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| bad(format!("{} must be a non-negative integer", keys[0]))),
                None => default.ok_or_else(|| bad(format!("missing {}", keys[0]))),
            }
        };
        let distil = arch == Arch::DistilBert;
        let hidden_size = usize_of(if distil { &["dim"] } else { &["hidden_size"] }, None)?;
        let num_layers = usize_of(
            if distil {
                &["n_layers"]
            } else {
                &["num_hidden_layers"]
            },
            None,
        )?;
        let num_heads = usize_of(
            if distil {
                &["n_heads"]
            } else {
                &["num_attention_heads"]
            },
            None,
        )?;
        let intermediate_size = usize_of(
            if distil {
                &["hidden_dim"]
            } else {
                &["intermediate_size"]
            },
            None,
        )?;
        let vocab_size = usize_of(&["vocab_size"], None)?;
        let max_position_embeddings = usize_of(&["max_position_embeddings"], Some(512))?;
        let type_vocab_size = if distil {
            0
        } else {
            usize_of(&["type_vocab_size"], Some(2))?
        };
        let default_pad = match arch {
            Arch::Roberta | Arch::XlmRoberta => 1,
            _ => 0,
        };
        let pad_token_id = usize_of(&["pad_token_id"], Some(default_pad))? as u32;
        let layer_norm_eps = match get(&["layer_norm_eps"]) {
            None | Some(Value::Null) => 1e-12,
            Some(x) => x
                .as_f64()
                .ok_or_else(|| bad(format!("layer_norm_eps must be a number, got {x}")))?,
        };
        let act = get(&["hidden_act", "activation"])
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        let activation = match act {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => return Err(bad(format!("unsupported activation {other:?}"))),
        };
        if hidden_size == 0 || num_heads == 0 || hidden_size % num_heads != 0 {
            return Err(bad(format!(
                "hidden size {hidden_size} is not a positive multiple of the head count {num_heads}"
            )));
        }
        if num_layers == 0 || vocab_size == 0 || intermediate_size == 0 {
            return Err(bad(
                "layer count, vocabulary and intermediate size must be positive".into(),
            ));
        }
        check_limits(
            path,
            &[
                ("layer count", num_layers, MAX_LAYERS),
                ("hidden size", hidden_size, MAX_WIDTH),
                ("intermediate size", intermediate_size, MAX_WIDTH * 8),
                ("vocab_size", vocab_size, MAX_VOCAB),
                (
                    "max_position_embeddings",
                    max_position_embeddings,
                    MAX_POSITIONS,
                ),
                ("type_vocab_size", type_vocab_size, MAX_TYPES),
                ("pad_token_id", pad_token_id as usize, MAX_VOCAB),
            ],
            layer_norm_eps,
        )?;
        let pet = get(&["position_embedding_type"])
            .and_then(Value::as_str)
            .unwrap_or("absolute");
        if pet != "absolute" {
            return Err(bad(format!(
                "position_embedding_type {pet:?} is not supported (only absolute)"
            )));
        }
        Ok(EncoderConfig {
            arch,
            vocab_size,
            hidden_size,
            num_layers,
            num_heads,
            intermediate_size,
            max_position_embeddings,
            type_vocab_size,
            layer_norm_eps,
            activation,
            pad_token_id,
            sinusoidal_positions: distil
                && get(&["sinusoidal_pos_embds"])
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            raw: v.clone(),
        })
    }
}

/// The largest layer count accepted (the deepest public encoders have 48).
pub const MAX_LAYERS: usize = 1024;
/// The largest hidden size accepted (the widest public encoders have 4096).
pub const MAX_WIDTH: usize = 65_536;
/// The largest vocabulary accepted (the largest public vocabularies hold about 250 000 tokens).
pub const MAX_VOCAB: usize = 1 << 24;
/// The largest position table accepted.
pub const MAX_POSITIONS: usize = 1 << 20;
/// The largest token type table accepted.
pub const MAX_TYPES: usize = 1 << 16;

/// Refuse sizes past sane limits before anything is allocated from them (an absurd layer count
/// would otherwise abort the process on a failed allocation), and a LayerNorm epsilon that is not
/// a positive finite number (a negative one makes every hidden state NaN). The sizes are checked
/// against the weights' shapes when the tensors are fetched.
fn check_limits(
    path: &Path,
    sizes: &[(&str, usize, usize)],
    layer_norm_eps: f64,
) -> Result<(), EncoderError> {
    for &(what, v, max) in sizes {
        if v > max {
            return Err(EncoderError::input(
                path,
                format!("{what} {v} is past the sane limit of {max}; is config.json corrupt?"),
            ));
        }
    }
    if !(layer_norm_eps.is_finite() && layer_norm_eps > 0.0 && layer_norm_eps < 1.0) {
        return Err(EncoderError::input(
            path,
            format!("layer_norm_eps {layer_norm_eps:e} must be a positive number below 1"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_architectures_and_reads_sizes() {
        let c = EncoderConfig::parse(
            Path::new("c.json"),
            r#"{"model_type":"bert","hidden_size":384,"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"vocab_size":30522}"#,
        )
        .unwrap();
        assert_eq!(
            (c.arch, c.num_layers, c.max_input_tokens()),
            (Arch::Bert, 6, 512)
        );
        let c = EncoderConfig::parse(
            Path::new("c.json"),
            r#"{"architectures":["RobertaModel"],"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":37,"vocab_size":99,"max_position_embeddings":514,"pad_token_id":1,"layer_norm_eps":1e-5}"#,
        )
        .unwrap();
        assert_eq!((c.arch, c.max_input_tokens()), (Arch::Roberta, 512));
        let c = EncoderConfig::parse(
            Path::new("c.json"),
            r#"{"model_type":"distilbert","dim":32,"n_layers":2,"n_heads":4,"hidden_dim":37,"vocab_size":99,"activation":"gelu"}"#,
        )
        .unwrap();
        assert_eq!((c.arch, c.type_vocab_size), (Arch::DistilBert, 0));
    }

    #[test]
    fn unknown_model_type_is_named_in_the_error() {
        let e = EncoderConfig::parse(Path::new("m/config.json"), r#"{"model_type":"gpt2"}"#)
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("m/config.json: unknown model_type \"gpt2\""));
    }
}
