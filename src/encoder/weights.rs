//! Reading checkpoint weights: `model.safetensors`, or `pytorch_model.bin` through candle's
//! pickle reader, which only reconstructs tensors (it interprets a fixed set of pickle opcodes
//! and never imports or calls Python code).

use super::EncoderError;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// All tensors of a checkpoint, by name, as f32 on the CPU.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    /// Tensors stored with an integer dtype (buffers such as `position_ids` are legitimate;
    /// fetching one as a float weight is refused).
    integer: HashMap<String, DType>,
    path: PathBuf,
    prefix: String,
}

/// The weights file inside a checkpoint directory: safetensors preferred, else the PyTorch file.
pub fn weights_file(dir: &Path) -> Result<PathBuf, EncoderError> {
    for name in ["model.safetensors", "pytorch_model.bin"] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    if dir.join("model.safetensors.index.json").is_file() {
        return Err(EncoderError::input(
            dir,
            "sharded checkpoints (model.safetensors.index.json) are not supported; merge the shards into model.safetensors",
        ));
    }
    Err(EncoderError::input(
        dir,
        "no model.safetensors or pytorch_model.bin in the checkpoint directory",
    ))
}

impl Weights {
    /// Load every tensor of `path` and convert it to f32.
    pub fn load(path: &Path) -> Result<Self, EncoderError> {
        let dev = Device::Cpu;
        let is_pth = path.extension().map(|e| e == "bin").unwrap_or(false);
        let raw: Vec<(String, Tensor)> = if is_pth {
            candle_core::pickle::read_all(path)
                .map_err(|e| EncoderError::input(path, format!(
                    "cannot read as a PyTorch state dict ({e}); convert it with `python -c \"import torch, safetensors.torch as s; s.save_file(torch.load('pytorch_model.bin', weights_only=True), 'model.safetensors')\"`"
                )))?
        } else {
            let bytes = std::fs::read(path)
                .map_err(|e| EncoderError::input(path, format!("cannot read: {e}")))?;
            // Validate the header and every tensor's byte range before touching data.
            safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
                EncoderError::input(path, format!("corrupt or truncated safetensors file: {e}"))
            })?;
            candle_core::safetensors::load_buffer(&bytes, &dev)
                .map_err(|e| EncoderError::input(path, format!("cannot load tensors: {e}")))?
                .into_iter()
                .collect()
        };
        if raw.is_empty() {
            return Err(EncoderError::input(
                path,
                "the weights file holds no tensors",
            ));
        }
        let mut tensors = HashMap::with_capacity(raw.len());
        let mut integer = HashMap::new();
        for (name, t) in raw {
            let from = t.dtype();
            if from.is_int() {
                integer.insert(name.clone(), from);
            }
            let t = if from == DType::F32 {
                t
            } else {
                t.to_dtype(DType::F32)
                    .map_err(|e| EncoderError::input(path, format!("tensor {name}: {e}")))?
            };
            if from.is_float() {
                check_finite(path, &name, &t)?;
            }
            tensors.insert(name, t);
        }
        Ok(Weights {
            tensors,
            integer,
            path: path.to_path_buf(),
            prefix: String::new(),
        })
    }

    /// Number of floating-point parameters: the elements of every tensor not stored with an
    /// integer dtype.
    pub fn n_parameters(&self) -> usize {
        self.tensors
            .iter()
            .filter(|(name, _)| !self.integer.contains_key(*name))
            .map(|(_, t)| t.elem_count())
            .sum()
    }

    /// Choose the name prefix (`""`, `"bert."`, `"roberta."`, ...) under which `probe` exists.
    pub fn select_prefix(&mut self, probe: &str, candidates: &[&str]) -> Result<(), EncoderError> {
        for c in candidates {
            if self.tensors.contains_key(&format!("{c}{probe}")) {
                self.prefix = c.to_string();
                return Ok(());
            }
        }
        Err(EncoderError::input(
            &self.path,
            format!("missing weight {probe} (looked under prefixes {candidates:?})"),
        ))
    }

    /// Whether a tensor exists (under the selected prefix).
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(&format!("{}{name}", self.prefix))
    }

    /// Fetch a tensor (under the selected prefix) and check its shape.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError> {
        let full = format!("{}{name}", self.prefix);
        let t = self
            .tensors
            .get(&full)
            .ok_or_else(|| EncoderError::input(&self.path, format!("missing weight {full}")))?;
        if let Some(dt) = self.integer.get(&full) {
            return Err(EncoderError::input(
                &self.path,
                format!("weight {full} is stored as {dt:?} integers; a float weight belongs there"),
            ));
        }
        if t.dims() != shape {
            return Err(EncoderError::input(
                &self.path,
                format!(
                    "weight {full} has shape {:?}, expected {:?} from config.json",
                    t.dims(),
                    shape
                ),
            ));
        }
        Ok(t.clone())
    }

    /// Add (or replace) a tensor under the selected prefix: a family whose checkpoint stores a
    /// projection in another layout (fused, per head) puts it here re-laid-out, under the name
    /// the shared blocks of [`super::blocks`] load.
    pub fn insert(&mut self, name: &str, t: Tensor) {
        self.tensors.insert(format!("{}{name}", self.prefix), t);
    }

    /// Fetch the first of several alternative names that exists (e.g. LayerNorm `weight` or the
    /// older `gamma`).
    pub fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Tensor, EncoderError> {
        for n in names {
            if self.contains(n) {
                return self.get(n, shape);
            }
        }
        self.get(&names[0], shape)
    }
}

/// Refuse a float tensor holding NaN or infinity, naming it: such a checkpoint would embed to
/// NaN features and probe at chance without a word.
fn check_finite(path: &Path, name: &str, t: &Tensor) -> Result<(), EncoderError> {
    let v: Vec<f32> = t
        .flatten_all()
        .and_then(|f| f.to_vec1())
        .map_err(|e| EncoderError::input(path, format!("tensor {name}: {e}")))?;
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        let bad = v.iter().filter(|x| !x.is_finite()).count();
        return Err(EncoderError::input(
            path,
            format!(
                "tensor {name} holds {bad} non-finite value(s) (first: {x} at flat index {i}); the checkpoint is corrupt"
            ),
        ));
    }
    Ok(())
}

/// The checkpoint as the training layer's parameter source; its errors keep the file name.
impl crate::nn::ParamSource for Weights {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, crate::nn::NnError> {
        Weights::get(self, name, shape).map_err(|e| crate::nn::NnError::Source(Box::new(e)))
    }

    fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Tensor, crate::nn::NnError> {
        Weights::get_any(self, names, shape).map_err(|e| crate::nn::NnError::Source(Box::new(e)))
    }

    fn contains(&self, name: &str) -> bool {
        Weights::contains(self, name)
    }
}
