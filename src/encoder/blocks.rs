//! Building blocks of the simple (padded, candle-tensor) forward pass that the architecture
//! families beyond BERT share: dense layers, LayerNorm, activations, multi-head attention with
//! an optional additive bias, and the conversion of padded hidden states to the packed layout
//! the extraction code pools from.
//!
//! Why a second path beside [`super::model`]: the packed fast path fuses BERT's attention into
//! one kernel that has no room for the relative-position terms of MPNet, DeBERTa and XLNet, the
//! rotary positions and sliding windows of ModernBERT, or ALBERT's shared layers. These families
//! run as plain candle tensor ops on a right-padded batch (padding keys masked with a large
//! negative score, as transformers does), mirroring transformers' module tree one struct per
//! module, so every weight name and every step can be read against the Python source. Rows
//! beyond a sentence's length are computed and thrown away.
//!
//! The same code is the trainable body of these families (`super::trainable_family`): weights
//! come in through [`TensorSource`], which is either the checkpoint ([`Weights`]: plain tensors)
//! or a parameter builder that turns each tensor into a trainable `Var` (candle records every
//! op on a `Var`'s tensor, so the inference forward pass is differentiable as written). The
//! dense layer and LayerNorm are `crate::nn`'s fused ops with a backward pass, and [`Dropout`]
//! is the identity at inference. So training and inference share one implementation of the
//! maths; nothing derived from a weight is cached at load time (it would go stale after an
//! optimiser step).

use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor, D};
use rand_chacha::ChaCha8Rng;

/// Where a family's loader reads its weights from: the checkpoint for inference, or a
/// parameter builder for training (each tensor becomes a trainable variable).
pub trait TensorSource {
    /// The tensor `name` (under the selected prefix), checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError>;
    /// The first of `names` that exists, checked to have `shape`.
    fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Tensor, EncoderError>;
    /// Whether `name` exists.
    fn contains(&self, name: &str) -> bool;
}

impl TensorSource for Weights {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError> {
        Weights::get(self, name, shape)
    }
    fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Tensor, EncoderError> {
        Weights::get_any(self, names, shape)
    }
    fn contains(&self, name: &str) -> bool {
        Weights::contains(self, name)
    }
}

/// Dropout of the padded forward pass: the identity at inference ([`Dropout::off`]); in
/// training, seeded inverted dropout (`crate::nn::params::dropout`) with the config's
/// probabilities, at the places transformers puts its `nn.Dropout` modules.
pub struct Dropout<'a> {
    rng: Option<&'a mut ChaCha8Rng>,
    /// Hidden-state dropout probability.
    pub hidden: f32,
    /// Attention-probability dropout probability.
    pub attention: f32,
}

impl Dropout<'static> {
    /// No dropout (inference, evaluation).
    pub fn off() -> Self {
        Dropout {
            rng: None,
            hidden: 0.0,
            attention: 0.0,
        }
    }
}

impl<'a> Dropout<'a> {
    /// Dropout drawn from `rng` (None: off).
    pub fn new(rng: Option<&'a mut ChaCha8Rng>, hidden: f32, attention: f32) -> Self {
        Dropout {
            rng,
            hidden,
            attention,
        }
    }

    /// Dropout with probability `p`.
    pub fn apply(&mut self, x: &Tensor, p: f32) -> CResult<Tensor> {
        crate::nn::params::dropout(x, p, self.rng.as_deref_mut())
    }

    /// Hidden-state dropout.
    pub fn hidden(&mut self, x: &Tensor) -> CResult<Tensor> {
        let p = self.hidden;
        self.apply(x, p)
    }

    /// Attention-probability dropout.
    pub fn attention(&mut self, x: &Tensor) -> CResult<Tensor> {
        let p = self.attention;
        self.apply(x, p)
    }

    /// The attention-dropout multipliers of `shape` (0 or 1/(1-p)) for a fused attention op
    /// (`crate::nn::attention`), or `None` when dropout is off.
    pub fn attention_mask(
        &mut self,
        shape: (usize, usize, usize, usize),
        dtype: candle_core::DType,
    ) -> CResult<Option<Tensor>> {
        crate::nn::params::maybe_dropout_mask(shape, dtype, self.attention, self.rng.as_deref_mut())
    }
}

/// Result type of the tensor code.
pub type CResult<T> = candle_core::Result<T>;

/// A tensor error as an internal encoder error.
pub fn cerr(e: candle_core::Error) -> EncoderError {
    EncoderError::Internal(e.to_string())
}

/// A dense layer `y = x Wᵀ (+ b)`, W [out, in] as in PyTorch; one fused op with a backward
/// pass (`crate::nn::linear`). Without a bias, a constant zero vector stands in.
pub struct Dense {
    w: Tensor,
    b: Tensor,
}

impl Dense {
    /// Load `<name>.weight` [out, in] and `<name>.bias` [out] (required when `bias`).
    pub fn load<S: TensorSource + ?Sized>(
        w: &S,
        name: &str,
        out: usize,
        inp: usize,
        bias: bool,
    ) -> Result<Self, EncoderError> {
        let wt = w.get(&format!("{name}.weight"), &[out, inp])?;
        let b = if bias {
            w.get(&format!("{name}.bias"), &[out])?
        } else {
            Tensor::zeros(out, wt.dtype(), &Device::Cpu).map_err(cerr)?
        };
        Ok(Dense { w: wt, b })
    }

    /// `x [rows, in]` through several layers of the same input width at once, their outputs
    /// side by side `[rows, Σ out]`: one GEMM with the weights stacked (the gradient flows back
    /// to each layer's own weights through the concatenation).
    pub fn stacked(parts: &[&Dense], x: &Tensor) -> CResult<Tensor> {
        let ws: Vec<&Tensor> = parts.iter().map(|d| &d.w).collect();
        let bs: Vec<&Tensor> = parts.iter().map(|d| &d.b).collect();
        crate::nn::linear::stacked(x, &ws, &bs)
    }

    /// `x [.., in] -> [.., out]`.
    pub fn forward(&self, x: &Tensor) -> CResult<Tensor> {
        crate::nn::linear::linear(x, &self.w, &self.b)
    }
}

/// LayerNorm over the last dimension (biased variance, as PyTorch); the bias is optional
/// (ModernBERT has none).
pub struct Norm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl Norm {
    /// Load `<name>.weight` (or `.gamma`) and, when `bias`, `<name>.bias` (or `.beta`).
    pub fn load<S: TensorSource + ?Sized>(
        w: &S,
        name: &str,
        h: usize,
        eps: f64,
        bias: bool,
    ) -> Result<Self, EncoderError> {
        let g = w.get_any(&[format!("{name}.weight"), format!("{name}.gamma")], &[h])?;
        let b = if bias {
            w.get_any(&[format!("{name}.bias"), format!("{name}.beta")], &[h])?
        } else {
            Tensor::zeros(h, g.dtype(), &Device::Cpu).map_err(cerr)?
        };
        Ok(Norm {
            w: g,
            b,
            eps: eps as f32,
        })
    }

    /// Normalise the last dimension of `x` (the fused op of `crate::nn::ops`, with a backward
    /// pass).
    pub fn forward(&self, x: &Tensor) -> CResult<Tensor> {
        crate::nn::ops::layer_norm(x, &self.w, &self.b, self.eps as f64)
    }
}

/// Activation functions of the feed-forward blocks, by their transformers names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Act {
    /// Exact GELU (`gelu`).
    Gelu,
    /// Tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    GeluTanh,
    /// ReLU.
    Relu,
    /// SiLU / swish.
    Silu,
    /// tanh (DeBERTa's convolution).
    Tanh,
}

impl Act {
    /// Parse a `hidden_act` value.
    pub fn parse(s: &str) -> Option<Act> {
        Some(match s {
            "gelu" => Act::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Act::GeluTanh,
            "relu" => Act::Relu,
            "silu" | "swish" => Act::Silu,
            "tanh" => Act::Tanh,
            _ => return None,
        })
    }

    /// Apply element-wise.
    pub fn apply(self, x: &Tensor) -> CResult<Tensor> {
        use crate::nn::ops::{gelu, Gelu};
        match self {
            // the BERT path's fused GELU (parallel, with its own backward)
            Act::Gelu => gelu(x, Gelu::Erf),
            Act::GeluTanh => gelu(x, Gelu::Tanh),
            Act::Relu => x.relu(),
            Act::Silu => x.silu(),
            Act::Tanh => x.tanh(),
        }
    }
}

/// The additive attention mask of a right-padded batch, [b, 1, 1, s]: 0 for real keys, a large
/// negative for padding (`f32::MIN`, as transformers' extended attention mask).
pub fn key_mask(lengths: &[usize], seq: usize) -> CResult<Tensor> {
    let mut m = vec![0f32; lengths.len() * seq];
    for (r, &l) in lengths.iter().enumerate() {
        for v in &mut m[r * seq + l..(r + 1) * seq] {
            *v = f32::MIN;
        }
    }
    Tensor::from_vec(m, (lengths.len(), 1, 1, seq), &Device::Cpu)
}

/// `[b, s, heads·d] -> [b, heads, s, d]`.
pub fn split_heads(x: &Tensor, heads: usize) -> CResult<Tensor> {
    let (b, s, h) = x.dims3()?;
    x.reshape((b, s, heads, h / heads))?
        .transpose(1, 2)?
        .contiguous()
}

/// `[b, heads, s, d] -> [b, s, heads·d]`.
pub fn merge_heads(x: &Tensor) -> CResult<Tensor> {
    let (b, nh, s, d) = x.dims4()?;
    x.transpose(1, 2)?.contiguous()?.reshape((b, s, nh * d))
}

/// Softmax attention of `scores` [b, heads, s, s] (already scaled, biased and masked) over
/// values `v` [b, heads, s, d]; returns the merged context [b, s, heads·d].
pub fn attend(scores: &Tensor, v: &Tensor) -> CResult<Tensor> {
    attend_t(scores, v, &mut Dropout::off())
}

/// [`attend`] with attention-probability dropout (training). When the scores are part of a
/// gradient graph the softmax is candle's composed one (which has a backward pass), else its
/// fused last-dimension kernel; both compute the same function.
pub fn attend_t(scores: &Tensor, v: &Tensor, dp: &mut Dropout) -> CResult<Tensor> {
    let p = dp.attention;
    attend_p(scores, v, dp, p)
}

/// [`attend_t`] with attention-probability dropout `p` (a family whose probabilities are not
/// the config's `attention_probs_dropout_prob`: ModernBERT).
pub fn attend_p(scores: &Tensor, v: &Tensor, dp: &mut Dropout, p: f32) -> CResult<Tensor> {
    let prob = if scores.track_op() {
        candle_nn::ops::softmax(&scores.contiguous()?, D::Minus1)?
    } else {
        candle_nn::ops::softmax_last_dim(&scores.contiguous()?)?
    };
    let prob = dp.apply(&prob, p)?;
    merge_heads(&prob.matmul(v)?)
}

/// Scaled dot-product scores `q kᵀ · scale` of split heads.
pub fn scores(q: &Tensor, k: &Tensor, scale: f64) -> CResult<Tensor> {
    q.matmul(&k.t()?.contiguous()?)? * scale
}

/// Token ids of a batch as a [b, s] u32 tensor, checking every id against the vocabulary:
/// an id past the embedding table means the tokenizer does not belong to the weights.
pub fn ids_tensor(
    ids: &[u32],
    b: usize,
    s: usize,
    vocab: usize,
    dir_hint: &str,
) -> Result<Tensor, EncoderError> {
    if let Some(&bad) = ids.iter().find(|&&i| i as usize >= vocab) {
        return Err(EncoderError::Input {
            path: dir_hint.to_string(),
            msg: format!(
                "the tokenizer produced token id {bad}, past the embedding table of {vocab} rows (vocab_size): the tokenizer files do not match the weights"
            ),
        });
    }
    Tensor::from_vec(ids.to_vec(), (b, s), &Device::Cpu).map_err(cerr)
}

/// Look up rows of an embedding table [rows, h] for ids [b, s] -> [b, s, h].
pub fn embed(table: &Tensor, ids: &Tensor) -> CResult<Tensor> {
    let (b, s) = ids.dims2()?;
    let h = table.dim(D::Minus1)?;
    table
        .index_select(&ids.flatten_all()?, 0)?
        .reshape((b, s, h))
}

/// The packed form of padded states: every `[b, s, h]` tensor reduced to its rows' first
/// `lengths[r]` tokens, stacked, as [`super::model::PackedStates`].
pub fn pack(
    states: &[Tensor],
    lengths: &[usize],
) -> Result<super::model::PackedStates, EncoderError> {
    let mut offsets = vec![0usize];
    for &l in lengths {
        offsets.push(offsets.last().unwrap() + l);
    }
    let mut out = Vec::with_capacity(states.len());
    let mut hidden = 0;
    for st in states {
        let (b, s, h) = st.dims3().map_err(cerr)?;
        hidden = h;
        let v = st
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(cerr)?;
        let mut m = Vec::with_capacity(offsets[b] * h);
        for (r, &l) in lengths.iter().enumerate() {
            m.extend_from_slice(&v[r * s * h..(r * s + l) * h]);
        }
        out.push(m);
    }
    Ok(super::model::PackedStates {
        states: out,
        offsets,
        hidden,
    })
}
