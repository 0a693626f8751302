//! A source checkpoint as the variant operations see it: every tensor of the weights file under
//! its own name and in its own dtype (so a variant keeps the pooler, an MLM head, buffers, ...),
//! plus config.json and the encoder configuration.

use super::ZooError;
use crate::encoder::config::{Arch, EncoderConfig};
use crate::encoder::extract::model_hash;
use crate::encoder::model::{layer_names, weight_prefixes, Encoder};
use crate::encoder::weights::{weights_file, Weights};
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

/// A loaded source checkpoint.
#[derive(Clone)]
pub struct Checkpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// Its weights file.
    pub weights_path: PathBuf,
    /// config.json as parsed JSON.
    pub config_json: serde_json::Value,
    /// The encoder configuration.
    pub config: EncoderConfig,
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
        let config = EncoderConfig::from_dir(dir)?;
        let config_json = config.raw.clone();
        let weights_path = weights_file(dir)?;
        Encoder::load(config.clone(), Weights::load(&weights_path)?)?;
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
        let probe = "embeddings.word_embeddings.weight";
        let prefix = weight_prefixes(config.arch)
            .iter()
            .find(|p| tensors.iter().any(|t| t.name == format!("{p}{probe}")))
            .map(|p| p.to_string())
            .unwrap_or_default();
        Ok(Checkpoint {
            hash: model_hash(dir)?,
            dir: dir.to_path_buf(),
            weights_path,
            config_json,
            config,
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
    /// tied decoders excluded (they are rewritten as copies of the word embeddings).
    pub fn weight_matrices(&self) -> Vec<String> {
        let tied = self.tied_decoders();
        self.tensors
            .iter()
            .filter(|t| {
                t.name.ends_with(".weight")
                    && t.tensor.rank() == 2
                    && is_float(t.tensor.dtype())
                    && !tied.contains(&t.name)
            })
            .map(|t| t.name.clone())
            .collect()
    }

    /// Full names of the linear layers' weights of the transformer blocks (query, key, value,
    /// attention output, feed-forward in and out of every layer), in layer order.
    pub fn block_linear_weights(&self) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..self.config.num_layers {
            let n = layer_names(self.config.arch, i);
            for l in [&n.q, &n.k, &n.v, &n.o, &n.ff_in, &n.ff_out] {
                out.push(format!("{}{l}.weight", self.prefix));
            }
        }
        out
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
        let cands: &[&str] = match self.config.arch {
            Arch::Bert => &["cls.predictions.decoder.weight"],
            Arch::Roberta | Arch::XlmRoberta => &["lm_head.decoder.weight"],
            Arch::DistilBert => &["vocab_projector.weight"],
        };
        cands
            .iter()
            .filter(|c| self.index(c).is_some())
            .map(|c| c.to_string())
            .collect()
    }

    /// Full name of the word embedding table.
    pub fn word_embeddings_name(&self) -> String {
        format!("{}embeddings.word_embeddings.weight", self.prefix)
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
