//! The transformer encoder forward pass that returns every layer's hidden states.
//!
//! BERT, RoBERTa, XLM-RoBERTa and DistilBERT share one post-LayerNorm layer structure
//! (self-attention, add & norm, feed-forward, add & norm); they differ in weight names, position
//! ids and token types, which [`Encoder::load`] maps onto the structs below. The query, key and
//! value projections are fused into one matrix at load time (one GEMM instead of three).

use super::attention::fused_attention;
use super::config::{Activation, Arch, EncoderConfig};
use super::gelu::{self, MapFn};
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor};

type CResult<T> = candle_core::Result<T>;

/// A dense layer y = x Wᵀ + b, W stored [out, in] as in PyTorch.
struct Linear {
    w: Tensor,
    b: Tensor,
}

impl Linear {
    fn load(w: &Weights, name: &str, out: usize, inp: usize) -> Result<Self, EncoderError> {
        Ok(Linear {
            w: w.get(&format!("{name}.weight"), &[out, inp])?,
            b: w.get(&format!("{name}.bias"), &[out])?,
        })
    }

    /// x: [rows, in] -> [rows, out]
    fn forward(&self, x: &Tensor) -> CResult<Tensor> {
        x.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }
}

struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(w: &Weights, name: &str, h: usize, eps: f64) -> Result<Self, EncoderError> {
        Ok(LayerNorm {
            w: w.get_any(&[format!("{name}.weight"), format!("{name}.gamma")], &[h])?,
            b: w.get_any(&[format!("{name}.bias"), format!("{name}.beta")], &[h])?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> CResult<Tensor> {
        candle_nn::ops::layer_norm(&x.contiguous()?, &self.w, &self.b, self.eps)
    }
}

struct Layer {
    qkv: Linear,
    out: Linear,
    ln_attn: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    ln_ff: LayerNorm,
}

/// Weight names of one layer, per architecture.
pub(crate) struct LayerNames {
    pub(crate) q: String,
    pub(crate) k: String,
    pub(crate) v: String,
    pub(crate) o: String,
    pub(crate) ln_attn: String,
    pub(crate) ff_in: String,
    pub(crate) ff_out: String,
    pub(crate) ln_ff: String,
}

pub(crate) fn layer_names(arch: Arch, i: usize) -> LayerNames {
    match arch {
        Arch::DistilBert => {
            let p = format!("transformer.layer.{i}");
            LayerNames {
                q: format!("{p}.attention.q_lin"),
                k: format!("{p}.attention.k_lin"),
                v: format!("{p}.attention.v_lin"),
                o: format!("{p}.attention.out_lin"),
                ln_attn: format!("{p}.sa_layer_norm"),
                ff_in: format!("{p}.ffn.lin1"),
                ff_out: format!("{p}.ffn.lin2"),
                ln_ff: format!("{p}.output_layer_norm"),
            }
        }
        _ => {
            let p = format!("encoder.layer.{i}");
            LayerNames {
                q: format!("{p}.attention.self.query"),
                k: format!("{p}.attention.self.key"),
                v: format!("{p}.attention.self.value"),
                o: format!("{p}.attention.output.dense"),
                ln_attn: format!("{p}.attention.output.LayerNorm"),
                ff_in: format!("{p}.intermediate.dense"),
                ff_out: format!("{p}.output.dense"),
                ln_ff: format!("{p}.output.LayerNorm"),
            }
        }
    }
}

/// Prefixes under which a checkpoint may store the encoder's weights (bare `AutoModel`, or a
/// task model such as `BertForMaskedLM` with `bert.`).
pub(crate) fn weight_prefixes(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::Bert => &["", "bert.", "model."],
        Arch::Roberta => &["", "roberta.", "model."],
        Arch::XlmRoberta => &["", "roberta.", "xlm_roberta.", "model."],
        Arch::DistilBert => &["", "distilbert.", "model."],
    }
}

/// A loaded encoder, ready to run.
pub struct Encoder {
    /// Its configuration.
    pub config: EncoderConfig,
    word: Tensor,
    pos: Tensor,
    token_type: Option<Tensor>,
    ln_emb: LayerNorm,
    layers: Vec<Layer>,
}

/// One padded batch of token ids (right padding), as the forward pass takes it.
pub struct Batch {
    /// Token ids, row-major [batch, seq].
    pub ids: Vec<u32>,
    /// Token type ids, row-major [batch, seq] (zeros for single sentences).
    pub type_ids: Vec<u32>,
    /// Number of real tokens per row.
    pub lengths: Vec<usize>,
    /// Padded length.
    pub seq: usize,
}

fn cerr(e: candle_core::Error) -> EncoderError {
    EncoderError::Internal(e.to_string())
}

impl Encoder {
    /// Build the encoder from its config and weights, checking every weight's shape.
    pub fn load(config: EncoderConfig, mut w: Weights) -> Result<Self, EncoderError> {
        let h = config.hidden_size;
        w.select_prefix(
            "embeddings.word_embeddings.weight",
            weight_prefixes(config.arch),
        )?;
        let word = w.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let pos = w.get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let token_type = if config.type_vocab_size > 0 {
            Some(w.get(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )?)
        } else {
            None
        };
        let eps = config.layer_norm_eps;
        let ln_emb = LayerNorm::load(&w, "embeddings.LayerNorm", h, eps)?;
        let f = config.intermediate_size;
        let mut layers = Vec::with_capacity(config.num_layers);
        for i in 0..config.num_layers {
            let n = layer_names(config.arch, i);
            let q = Linear::load(&w, &n.q, h, h)?;
            let k = Linear::load(&w, &n.k, h, h)?;
            let v = Linear::load(&w, &n.v, h, h)?;
            let qkv = Linear {
                w: Tensor::cat(&[&q.w, &k.w, &v.w], 0).map_err(cerr)?,
                b: Tensor::cat(&[&q.b, &k.b, &v.b], 0).map_err(cerr)?,
            };
            layers.push(Layer {
                qkv,
                out: Linear::load(&w, &n.o, h, h)?,
                ln_attn: LayerNorm::load(&w, &n.ln_attn, h, eps)?,
                ff_in: Linear::load(&w, &n.ff_in, f, h)?,
                ff_out: Linear::load(&w, &n.ff_out, h, f)?,
                ln_ff: LayerNorm::load(&w, &n.ln_ff, h, eps)?,
            });
        }
        Ok(Encoder {
            config,
            word,
            pos,
            token_type,
            ln_emb,
            layers,
        })
    }

    /// Number of hidden states a forward pass returns (embeddings + every layer).
    pub fn num_hidden_states(&self) -> usize {
        self.layers.len() + 1
    }

    /// Run the encoder on one batch; returns `num_layers + 1` hidden states, each [batch, seq,
    /// hidden]. Values at padded positions are not meaningful.
    pub fn forward(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_inner(batch).map_err(cerr)
    }

    fn forward_inner(&self, batch: &Batch) -> CResult<Vec<Tensor>> {
        let dev = Device::Cpu;
        let b = batch.lengths.len();
        let s = batch.seq;
        let h = self.config.hidden_size;
        let heads = self.config.num_heads;
        let ids = Tensor::from_slice(&batch.ids, b * s, &dev)?;
        let mut x = self.word.embedding(&ids)?;
        let pos_ids = Tensor::from_vec(position_ids(&self.config, &batch.lengths, s), b * s, &dev)?;
        x = (x + self.pos.embedding(&pos_ids)?)?;
        if let Some(tt) = &self.token_type {
            let t = Tensor::from_slice(&batch.type_ids, b * s, &dev)?;
            x = (x + tt.embedding(&t)?)?;
        }
        x = self.ln_emb.forward(&x)?;
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        states.push(x.reshape((b, s, h))?);
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let ctx = fused_attention(&qkv, &batch.lengths, s, heads, h)?;
            let attn = layer.out.forward(&ctx)?;
            x = layer.ln_attn.forward(&(attn + &x)?)?;
            let ff = layer.ff_in.forward(&x)?;
            let ff = match self.config.activation {
                Activation::Gelu => gelu::apply(&ff, MapFn::GeluErf)?,
                Activation::GeluTanh => gelu::apply(&ff, MapFn::GeluTanh)?,
                Activation::Relu => ff.relu()?,
            };
            let ff = layer.ff_out.forward(&ff)?;
            x = layer.ln_ff.forward(&(ff + &x)?)?;
            states.push(x.reshape((b, s, h))?);
        }
        Ok(states)
    }
}

/// Position ids of a right-padded batch, row-major [rows, seq]: 0.. for BERT/DistilBERT;
/// pad+1.. for real tokens and pad for padding in RoBERTa/XLM-R (what Hugging Face's
/// `create_position_ids_from_input_ids` gives for right-padded input).
pub(crate) fn position_ids(config: &EncoderConfig, lengths: &[usize], seq: usize) -> Vec<u32> {
    let mut out = vec![0u32; lengths.len() * seq];
    let pad = config.pad_token_id;
    for (r, &len) in lengths.iter().enumerate() {
        for t in 0..seq {
            out[r * seq + t] = match config.arch {
                Arch::Roberta | Arch::XlmRoberta if t < len => pad + 1 + t as u32,
                Arch::Roberta | Arch::XlmRoberta => pad,
                _ => t as u32,
            };
        }
    }
    out
}

/// Pool one hidden state [b, s, h]: the first token, and the mean over each row's real tokens.
/// Returns ([b, h] cls, [b, h] mean) as tensors.
pub fn pool(state: &Tensor, lengths: &[usize]) -> Result<(Tensor, Tensor), EncoderError> {
    (|| -> CResult<(Tensor, Tensor)> {
        let (b, s, _h) = state.dims3()?;
        let cls = state.narrow(1, 0, 1)?.squeeze(1)?;
        let mut m = vec![0f32; b * s];
        for (r, &len) in lengths.iter().enumerate() {
            for v in &mut m[r * s..r * s + len] {
                *v = 1.0 / len as f32;
            }
        }
        let m = Tensor::from_vec(m, (b, 1, s), &Device::Cpu)?;
        let mean = m.matmul(&state.contiguous()?)?.squeeze(1)?;
        Ok((cls, mean))
    })()
    .map_err(cerr)
}
