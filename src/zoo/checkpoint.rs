//! A source checkpoint as the variant operations see it: every tensor of the weights file under
//! its own name and in its own dtype (so a variant keeps the pooler, an MLM head, buffers, ...),
//! plus config.json and what the variant operations need to know of the architecture (BERT-
//! shaped, or one of the newer families: where the layers' linear weights are, how truncation
//! renames the layers, which decoders are tied). XLNet keeps its attention projections as 3-D
//! [hidden, heads, d] tensors without a `.weight` suffix; they are linear weights all the same
//! (noise, pruning and quantisation treat them so, see [`Checkpoint::head_major`]).

use super::ZooError;
use crate::encoder::config::{Arch, EncoderConfig};
use crate::encoder::extract::model_hash;
use crate::encoder::family::{detect, read_config, AnyEncoder, Family, Kind};
use crate::encoder::model::{layer_names, weight_prefixes};
use crate::encoder::trainable_family::body_prefixes;
use crate::encoder::weights::{weights_file, Weights};
use crate::encoder::{albert, deberta, deberta_v2, electra, mpnet};
use candle_core::{DType, Device, Tensor};
use std::path::{Path, PathBuf};

/// One tensor of the source, in its original dtype.
#[derive(Clone)]
pub struct SourceTensor {
    /// Name as in the weights file.
    pub name: String,
    /// The tensor (original dtype and shape).
    pub tensor: Tensor,
}

/// The architecture of a source checkpoint.
#[derive(Clone)]
pub enum ModelKind {
    /// BERT, RoBERTa, XLM-R, DistilBERT, with their configuration.
    Classic(EncoderConfig),
    /// One of the newer families (MPNet, ELECTRA, ALBERT, DeBERTa-v2/v3, DeBERTa v1, XLNet,
    /// ModernBERT).
    Family(Family),
}

/// A loaded source checkpoint.
#[derive(Clone)]
pub struct Checkpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// Its weights file.
    pub weights_path: PathBuf,
    /// config.json as parsed JSON.
    pub config_json: serde_json::Value,
    /// The architecture.
    pub kind: ModelKind,
    /// Number of layer applications (`num_hidden_layers`; DistilBERT `n_layers`, XLNet
    /// `n_layer`).
    pub num_layers: usize,
    /// Prefix of the encoder's weights (`""`, `"bert."`, ...).
    pub prefix: String,
    /// Every tensor, sorted by name.
    pub tensors: Vec<SourceTensor>,
    /// Content hash of the checkpoint (config, weights, tokenizer files).
    pub hash: String,
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
}

impl Checkpoint {
    /// Read a checkpoint directory. The encoder is built once from the same files, so a
    /// checkpoint that lacks a tensor the encoder needs, or has one of the wrong shape, is
    /// refused here with the tensor's name.
    pub fn load(dir: &Path) -> Result<Self, ZooError> {
        let (cfg_path, config_json) = read_config(dir)?;
        let kind = match detect(&cfg_path, &config_json)? {
            Kind::Classic => ModelKind::Classic(EncoderConfig::from_dir(dir)?),
            Kind::Family(f) => ModelKind::Family(f),
        };
        let weights_path = weights_file(dir)?;
        AnyEncoder::load(dir, Weights::load(&weights_path)?)?;
        let num_layers = match &kind {
            ModelKind::Classic(c) => c.num_layers,
            ModelKind::Family(f) => config_json
                .get(layers_key(*f))
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as usize,
        };
        let raw: Vec<(String, Tensor)> = if weights_path.extension().is_some_and(|e| e == "bin") {
            candle_core::pickle::read_all(&weights_path)
                .map_err(|e| ZooError::input(&weights_path, format!("cannot read: {e}")))?
        } else {
            let bytes = std::fs::read(&weights_path)
                .map_err(|e| ZooError::input(&weights_path, format!("cannot read: {e}")))?;
            candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
                .map_err(|e| ZooError::input(&weights_path, format!("cannot load tensors: {e}")))?
                .into_iter()
                .collect()
        };
        let mut tensors: Vec<SourceTensor> = raw
            .into_iter()
            .map(|(name, tensor)| SourceTensor { name, tensor })
            .collect();
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        let (prefixes, probe): (&[&str], &str) = match &kind {
            ModelKind::Classic(c) => (weight_prefixes(c.arch), "embeddings.word_embeddings.weight"),
            ModelKind::Family(f) => body_prefixes(*f),
        };
        let prefix = prefixes
            .iter()
            .find(|p| tensors.iter().any(|t| t.name == format!("{p}{probe}")))
            .map(|p| p.to_string())
            .unwrap_or_default();
        Ok(Checkpoint {
            hash: model_hash(dir)?,
            dir: dir.to_path_buf(),
            weights_path,
            config_json,
            kind,
            num_layers,
            prefix,
            tensors,
        })
    }

    /// Index of the tensor named `name` (full name).
    pub fn index(&self, name: &str) -> Option<usize> {
        self.tensors
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
    }

    /// The values of tensor `i` as f32, row-major.
    pub fn values(&self, i: usize) -> Result<Vec<f32>, ZooError> {
        Ok(self.tensors[i]
            .tensor
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1()?)
    }

    /// Replace the values of tensor `i` (same element count), converting back to its dtype.
    pub fn set_values(&mut self, i: usize, v: Vec<f32>) -> Result<(), ZooError> {
        let t = &self.tensors[i].tensor;
        let new = Tensor::from_vec(v, t.shape(), &Device::Cpu)?.to_dtype(t.dtype())?;
        self.tensors[i].tensor = new;
        Ok(())
    }

    /// Full names of every floating-point 2-D tensor whose name ends in `.weight` (the "weight
    /// matrices": embeddings, the transformer layers' linear layers, pooler, head dense layers),
    /// plus XLNet's per-head projections (`rel_attn.{q,k,v,o,r}`, 3-D [hidden, heads, d]
    /// linear weights without the suffix), tied decoders excluded (they are rewritten as copies
    /// of the word embeddings).
    pub fn weight_matrices(&self) -> Vec<String> {
        let tied = self.tied_decoders();
        self.tensors
            .iter()
            .filter(|t| {
                let plain = t.name.ends_with(".weight") && t.tensor.rank() == 2;
                (plain || self.head_major(&t.name).is_some())
                    && is_float(t.tensor.dtype())
                    && !tied.contains(&t.name)
            })
            .map(|t| t.name.clone())
            .collect()
    }

    /// For XLNet's per-head projections `rel_attn.{q,k,v,r,o}` ([hidden, heads, d], no
    /// `.weight` suffix): `Some(true)` when the stored layout is [in, out] (q, k, v, r map
    /// hidden -> heads·d, `einsum("ibh,hnd->ibnd")`), `Some(false)` when it is [out, in] (o
    /// maps heads·d -> hidden); `None` for every other tensor.
    pub fn head_major(&self, name: &str) -> Option<bool> {
        if !matches!(self.kind, ModelKind::Family(Family::Xlnet)) {
            return None;
        }
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix("layer.")?;
        let (_, tail) = rest.split_once('.')?;
        match tail {
            "rel_attn.q" | "rel_attn.k" | "rel_attn.v" | "rel_attn.r" => Some(true),
            "rel_attn.o" => Some(false),
            _ => None,
        }
    }

    /// The (rows, columns) of tensor `i` seen as a linear weight [out, in], and whether its
    /// values are stored transposed ([in, out]: XLNet's q, k, v, r): per-output-channel
    /// operations (quantisation rows) read it through this.
    pub fn linear_layout(&self, i: usize) -> (usize, usize, bool) {
        let t = &self.tensors[i];
        let dims = t.tensor.dims();
        let first = dims.first().copied().unwrap_or(1);
        let rest = t.tensor.elem_count() / first.max(1);
        match self.head_major(&t.name) {
            Some(true) => (rest, first, true),
            _ => (first, rest, false),
        }
    }

    /// The model_type.
    pub fn model_type(&self) -> &'static str {
        match &self.kind {
            ModelKind::Classic(c) => c.arch.model_type(),
            ModelKind::Family(f) => f.model_type(),
        }
    }

    /// The BERT-shaped configuration, when the checkpoint is one.
    pub fn classic(&self) -> Option<&EncoderConfig> {
        match &self.kind {
            ModelKind::Classic(c) => Some(c),
            ModelKind::Family(_) => None,
        }
    }

    /// Full names of the linear layers' weights of the transformer blocks (query, key, value,
    /// attention output, feed-forward in and out of every layer), in layer order. ALBERT's
    /// shared layers are listed once each (group by group), as they are stored.
    pub fn block_linear_weights(&self) -> Vec<String> {
        let mut out = Vec::new();
        let block = |stem: &str, names: &[&str; 8]| -> Vec<String> {
            [0, 1, 2, 3, 5, 6]
                .iter()
                .map(|&j| format!("{}{stem}.{}.weight", self.prefix, names[j]))
                .collect()
        };
        match &self.kind {
            ModelKind::Classic(c) => {
                for i in 0..c.num_layers {
                    let n = layer_names(c.arch, i);
                    for l in [&n.q, &n.k, &n.v, &n.o, &n.ff_in, &n.ff_out] {
                        out.push(format!("{}{l}.weight", self.prefix));
                    }
                }
            }
            ModelKind::Family(Family::Albert) => {
                for (g, j) in self.albert_layers() {
                    out.extend(block(
                        &format!("encoder.albert_layer_groups.{g}.albert_layers.{j}"),
                        &albert::ALBERT_LAYER,
                    ));
                }
            }
            ModelKind::Family(Family::Deberta) => {
                for i in 0..self.num_layers {
                    let p = format!("{}encoder.layer.{i}", self.prefix);
                    out.push(format!("{p}.attention.self.in_proj.weight"));
                    for n in [0, 2, 3] {
                        out.push(format!("{p}.{}.weight", deberta::DEBERTA_V1_POST[n]));
                    }
                }
            }
            ModelKind::Family(Family::Xlnet) => {
                for i in 0..self.num_layers {
                    let p = format!("{}layer.{i}", self.prefix);
                    for n in ["q", "k", "v", "o"] {
                        out.push(format!("{p}.rel_attn.{n}"));
                    }
                    out.push(format!("{p}.ff.layer_1.weight"));
                    out.push(format!("{p}.ff.layer_2.weight"));
                }
            }
            ModelKind::Family(Family::ModernBert) => {
                for i in 0..self.num_layers {
                    let p = format!("{}layers.{i}", self.prefix);
                    for n in ["attn.Wqkv", "attn.Wo", "mlp.Wi", "mlp.Wo"] {
                        out.push(format!("{p}.{n}.weight"));
                    }
                }
            }
            ModelKind::Family(f) => {
                let names = match f {
                    Family::Mpnet => &mpnet::MPNET_LAYER,
                    Family::DebertaV2 => &deberta_v2::DEBERTA_LAYER,
                    _ => &electra::BERT_LAYER,
                };
                for i in 0..self.num_layers {
                    out.extend(block(&format!("encoder.layer.{i}"), names));
                }
            }
        }
        out
    }

    /// ALBERT's (group, inner layer) pairs, in order (empty for other architectures).
    pub fn albert_layers(&self) -> Vec<(usize, usize)> {
        if !matches!(self.kind, ModelKind::Family(Family::Albert)) {
            return Vec::new();
        }
        let n = |k: &str| {
            self.config_json
                .get(k)
                .and_then(|v| v.as_u64())
                .unwrap_or(1) as usize
        };
        let (groups, inner) = (n("num_hidden_groups"), n("inner_group_num"));
        (0..groups)
            .flat_map(|g| (0..inner).map(move |j| (g, j)))
            .collect()
    }

    /// Names of output-embedding matrices that Hugging Face ties to the word embeddings
    /// (present in the file and not untied by `tie_word_embeddings: false`).
    pub fn tied_decoders(&self) -> Vec<String> {
        let tie = self
            .config_json
            .get("tie_word_embeddings")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if !tie {
            return Vec::new();
        }
        let cands: &[&str] = match &self.kind {
            ModelKind::Classic(c) => match c.arch {
                Arch::Bert => &["cls.predictions.decoder.weight"],
                Arch::Roberta | Arch::XlmRoberta => &["lm_head.decoder.weight"],
                Arch::DistilBert => &["vocab_projector.weight"],
            },
            ModelKind::Family(Family::Mpnet) => &["lm_head.decoder.weight"],
            ModelKind::Family(Family::Electra) => &["generator_lm_head.weight"],
            ModelKind::Family(Family::Albert) => &["predictions.decoder.weight"],
            ModelKind::Family(Family::DebertaV2 | Family::Deberta) => &[
                "cls.predictions.decoder.weight",
                "lm_predictions.lm_head.decoder.weight",
            ],
            ModelKind::Family(Family::Xlnet) => &["lm_loss.weight"],
            ModelKind::Family(Family::ModernBert) => &["decoder.weight"],
        };
        cands
            .iter()
            .filter(|c| self.index(c).is_some())
            .map(|c| c.to_string())
            .collect()
    }

    /// Full name of the word embedding table.
    pub fn word_embeddings_name(&self) -> String {
        let name = match &self.kind {
            ModelKind::Classic(_) => "embeddings.word_embeddings.weight",
            ModelKind::Family(f) => body_prefixes(*f).1,
        };
        format!("{}{name}", self.prefix)
    }

    /// Rewrite the tied decoders as copies of the (possibly modified) word embeddings.
    pub fn retie(&mut self) -> Result<(), ZooError> {
        let Some(wi) = self.index(&self.word_embeddings_name()) else {
            return Ok(());
        };
        let word = self.tensors[wi].tensor.clone();
        for name in self.tied_decoders() {
            let i = self.index(&name).expect("tied decoder present");
            if self.tensors[i].tensor.dims() == word.dims() {
                self.tensors[i].tensor = word.to_dtype(self.tensors[i].tensor.dtype())?;
            }
        }
        Ok(())
    }
}

/// The config.json key holding a family's number of layers (XLNet's `n_layer`, else
/// `num_hidden_layers`).
pub fn layers_key(f: Family) -> &'static str {
    match f {
        Family::Xlnet => "n_layer",
        _ => "num_hidden_layers",
    }
}
