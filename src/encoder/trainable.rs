//! The trainable encoder body of the BERT-shaped families (BERT, RoBERTa, XLM-R, DistilBERT):
//! embeddings and transformer layers built from `crate::nn`'s differentiable ops, loaded with the
//! same weight names as the inference forward pass in [`super::model`] (which uses fused ops
//! without a backward). Shared by fine-tuning (`finetune::model::SeqClassifier`) and masked-LM
//! training (`zoo::mlm`).

use super::config::{Activation, Arch, EncoderConfig};
use super::model::{layer_names, position_ids};
use super::EncoderError;
use crate::nn::params::{dropout, maybe_dropout_mask, Lin, Norm, ParamBuilder};
use crate::nn::{attention, linear, ops};
use candle_core::{Device, Tensor, Var};
use rand_chacha::ChaCha8Rng;

type CResult<T> = candle_core::Result<T>;

struct TLayer {
    q: Lin,
    k: Lin,
    v: Lin,
    o: Lin,
    ln1: Norm,
    f1: Lin,
    f2: Lin,
    ln2: Norm,
}

/// Dropout probabilities from config.json.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Dropouts {
    /// Hidden-state dropout (`hidden_dropout_prob` / `dropout`).
    pub hidden: f32,
    /// Attention-probability dropout.
    pub attention: f32,
    /// Dropout before the classifier (`classifier_dropout`, else hidden; DistilBERT
    /// `seq_classif_dropout`).
    pub classifier: f32,
}

/// The trainable encoder body (embeddings and transformer layers, no head): its forward pass
/// returns the last hidden state of every token. Shared by [`SeqClassifier`] and the masked-LM
/// trainer (`zoo::mlm`).
pub struct EncoderBody {
    /// Encoder configuration.
    pub config: EncoderConfig,
    /// Dropout settings (only `hidden` and `attention` are used by the body).
    pub dropouts: Dropouts,
    word: Var,
    pos: Var,
    tt: Option<Var>,
    ln_emb: Norm,
    layers: Vec<TLayer>,
}

/// The dropout settings of a parsed config.json.
pub fn read_dropouts(v: &serde_json::Value, arch: Arch) -> Dropouts {
    let f = |k: &str, d: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(d) as f32;
    match arch {
        Arch::DistilBert => Dropouts {
            hidden: f("dropout", 0.1),
            attention: f("attention_dropout", 0.1),
            classifier: f("seq_classif_dropout", 0.2),
        },
        _ => {
            let hidden = f("hidden_dropout_prob", 0.1);
            Dropouts {
                hidden,
                attention: f("attention_probs_dropout_prob", 0.1),
                classifier: f("classifier_dropout", hidden as f64),
            }
        }
    }
}

impl EncoderBody {
    /// Create the body's parameters with `b` (read from a checkpoint, or fresh), in the order
    /// embeddings, LayerNorm, then layer by layer; the dropouts come from `config.raw`.
    pub fn build(b: &mut ParamBuilder, config: EncoderConfig) -> Result<Self, EncoderError> {
        let h = config.hidden_size;
        let f = config.intermediate_size;
        let eps = config.layer_norm_eps;
        let word = b.embedding(
            "embeddings.word_embeddings.weight",
            &[config.vocab_size, h],
            Some(config.pad_token_id as usize),
        )?;
        let pos = b.embedding(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
            None,
        )?;
        let tt = if config.type_vocab_size > 0 {
            Some(b.embedding(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
                None,
            )?)
        } else {
            None
        };
        let ln_emb = b.norm("embeddings.LayerNorm", h, eps)?;
        let mut layers = Vec::new();
        for i in 0..config.num_layers {
            let n = layer_names(config.arch, i);
            layers.push(TLayer {
                q: b.lin(&n.q, h, h)?,
                k: b.lin(&n.k, h, h)?,
                v: b.lin(&n.v, h, h)?,
                o: b.lin(&n.o, h, h)?,
                ln1: b.norm(&n.ln_attn, h, eps)?,
                f1: b.lin(&n.ff_in, f, h)?,
                f2: b.lin(&n.ff_out, h, f)?,
                ln2: b.norm(&n.ln_ff, h, eps)?,
            });
        }
        Ok(EncoderBody {
            dropouts: read_dropouts(&config.raw, config.arch),
            config,
            word,
            pos,
            tt,
            ln_emb,
            layers,
        })
    }

    /// The word embedding table [vocab, hidden] (tied to a masked-LM decoder).
    pub fn word_embeddings(&self) -> &Var {
        &self.word
    }

    /// Last hidden state [batch, seq, hidden] of a right-padded batch. `ids`, `type_ids` are
    /// row-major [batch, seq]; `lengths` the real tokens per row. With `rng`, hidden and
    /// attention dropout are applied (training); without, the pass is deterministic.
    pub fn forward(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        rng: Option<&mut ChaCha8Rng>,
    ) -> CResult<Tensor> {
        let h = self.config.hidden_size;
        self.run(ids, type_ids, lengths, seq, rng, seq)?
            .reshape((lengths.len(), seq, h))
    }

    /// Last hidden state of the first token only, [batch, hidden]: what the classification heads
    /// read. Equal to the first token of [`forward`](Self::forward), but the last layer's
    /// attention output, projection, feed-forward block and LayerNorms run for that token alone
    /// (keys and values still come from every token): about an eighth less work per step for a
    /// 6-layer encoder, forward and backward. With `rng`, the dropout masks of the last layer are
    /// drawn for the first token only, so the random stream differs from `forward`'s.
    pub fn forward_first_token(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        rng: Option<&mut ChaCha8Rng>,
    ) -> CResult<Tensor> {
        self.run(ids, type_ids, lengths, seq, rng, 1)
    }

    /// The forward pass; the last layer keeps the first `last_rows` tokens of every sequence.
    /// Returns [batch * rows, hidden] (rows = `seq` up to the last layer).
    fn run(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        mut rng: Option<&mut ChaCha8Rng>,
        last_rows: usize,
    ) -> CResult<Tensor> {
        let dev = Device::Cpu;
        let b = lengths.len();
        let h = self.config.hidden_size;
        let nh = self.config.num_heads;
        let d = h / nh;
        let idt = Tensor::from_slice(ids, b * seq, &dev)?;
        let pos = position_ids(&self.config, lengths, seq);
        let pos = Tensor::from_vec(pos, b * seq, &dev)?;
        let mut x =
            (self.word.as_tensor().embedding(&idt)? + self.pos.as_tensor().embedding(&pos)?)?;
        if let Some(tt) = &self.tt {
            let t = Tensor::from_slice(type_ids, b * seq, &dev)?;
            x = (x + tt.as_tensor().embedding(&t)?)?;
        }
        x = self.ln_emb.fwd(&x)?;
        x = dropout(&x, self.dropouts.hidden, rng.as_deref_mut())?;
        let scale = 1.0 / (d as f64).sqrt();
        for (i, l) in self.layers.iter().enumerate() {
            let rows = if i + 1 == self.layers.len() {
                last_rows
            } else {
                seq
            };
            // Q, K and V in one GEMM: the three weights stacked ([3h, h]; candle's `cat`
            // backward splits the gradient again).
            let qkv = linear::stacked(
                &x,
                &[l.q.w.as_tensor(), l.k.w.as_tensor(), l.v.w.as_tensor()],
                &[l.q.b.as_tensor(), l.k.b.as_tensor(), l.v.b.as_tensor()],
            )?;
            let mask = maybe_dropout_mask(
                (b, nh, rows, seq),
                x.dtype(),
                self.dropouts.attention,
                rng.as_deref_mut(),
            )?;
            let ctx =
                attention::self_attention(&qkv, lengths, (seq, rows), nh, scale, mask.as_ref())?;
            if rows < seq {
                // the residual stream of the kept tokens only
                x = x
                    .reshape((b, seq, h))?
                    .narrow(1, 0, rows)?
                    .reshape((b * rows, h))?;
            }
            let a = dropout(&l.o.fwd(&ctx)?, self.dropouts.hidden, rng.as_deref_mut())?;
            x = l.ln1.fwd(&(a + &x)?)?;
            let ff = l.f1.fwd(&x)?;
            let ff = match self.config.activation {
                Activation::Gelu => ops::gelu(&ff, ops::Gelu::Erf)?,
                Activation::GeluTanh => ops::gelu(&ff, ops::Gelu::Tanh)?,
                Activation::Relu => ff.relu()?,
            };
            let ff = dropout(&l.f2.fwd(&ff)?, self.dropouts.hidden, rng.as_deref_mut())?;
            x = l.ln2.fwd(&(ff + &x)?)?;
        }
        if x.dim(0)? != b * last_rows {
            // no layers: keep the embeddings' first rows
            x = x
                .reshape((b, seq, h))?
                .narrow(1, 0, last_rows)?
                .reshape((b * last_rows, h))?;
        }
        Ok(x)
    }
}
