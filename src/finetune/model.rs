//! The trainable encoder with a sequence classification / regression head, built from
//! differentiable candle ops (the inference forward in `encoder::model` uses fused ops that have
//! no backward). Heads match Hugging Face's `AutoModelForSequenceClassification`:
//! - BERT: pooler (dense + tanh on the first token, loaded from the checkpoint when present),
//!   dropout, linear classifier;
//! - RoBERTa / XLM-R: dropout, dense + tanh on the first token, dropout, `out_proj`;
//! - DistilBERT: `pre_classifier` + ReLU on the first token, dropout, linear classifier.
//!
//! New weights are drawn from N(0, initializer_range) with zero biases, as Hugging Face does.

use crate::encoder::config::{Activation, Arch, EncoderConfig};
use crate::encoder::model::{layer_names, position_ids, weight_prefixes};
use crate::encoder::weights::Weights;
use crate::encoder::EncoderError;
use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

type CResult<T> = candle_core::Result<T>;

/// A trainable parameter with its Hugging Face name.
pub struct Param {
    /// Name as in the checkpoint (head names as in `*ForSequenceClassification`).
    pub name: String,
    /// The variable.
    pub var: Var,
    /// Whether AdamW applies weight decay to it (not to biases and LayerNorm weights).
    pub decay: bool,
}

/// A trainable dense layer y = x Wᵀ + b (W stored [out, in] as in PyTorch).
pub struct Lin {
    /// Weight [out, in].
    pub w: Var,
    /// Bias [out].
    pub b: Var,
}

impl Lin {
    /// x [.., in] -> [.., out], one fused op (`super::linear`): the bias is written into the
    /// output and the GEMM accumulates onto it; backward is one GEMM per gradient.
    pub fn fwd(&self, x: &Tensor) -> CResult<Tensor> {
        super::linear::linear(x, self.w.as_tensor(), self.b.as_tensor())
    }
}

/// A trainable LayerNorm over the last dimension.
pub struct Norm {
    /// Scale.
    pub w: Var,
    /// Shift.
    pub b: Var,
    /// Epsilon.
    pub eps: f32,
}

impl Norm {
    /// Normalise the last dimension of `x`.
    pub fn fwd(&self, x: &Tensor) -> CResult<Tensor> {
        super::ops::layer_norm(x, self.w.as_tensor(), self.b.as_tensor(), self.eps as f64)
    }
}

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

enum Head {
    Bert { pooler: Lin, out: Lin },
    Roberta { dense: Lin, out: Lin },
    Distil { pre: Lin, out: Lin },
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

/// The trainable model.
pub struct SeqClassifier {
    /// Encoder configuration.
    pub config: EncoderConfig,
    /// Number of outputs (classes, or 1 for regression).
    pub num_labels: usize,
    /// Dropout settings.
    pub dropouts: Dropouts,
    body: EncoderBody,
    head: Head,
    params: Vec<Param>,
}

/// config.json as raw JSON, for the training-only settings that [`EncoderConfig`] does not
/// carry (dropouts, initializer range); `Null` if unreadable (defaults then apply, and loading
/// the encoder reports the file's problem).
pub fn raw_config(dir: &std::path::Path) -> serde_json::Value {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
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

fn cerr(e: candle_core::Error) -> EncoderError {
    EncoderError::Internal(e.to_string())
}

/// Creates the trainable parameters of a model, in order, either from a checkpoint's weights or
/// freshly initialised like Hugging Face's `_init_weights`: weights and embeddings
/// N(0, initializer_range), biases 0, LayerNorm scale 1 and shift 0.
pub struct ParamBuilder<'a> {
    w: Option<&'a Weights>,
    dtype: DType,
    params: Vec<Param>,
    rng: ChaCha8Rng,
    std: f64,
}

impl<'a> ParamBuilder<'a> {
    /// Parameters read from `w` (whose prefix is already selected); tensors created with the
    /// `new_*` methods are drawn from a ChaCha8 stream seeded with `seed`, N(0, `std`).
    pub fn from_weights(w: &'a Weights, dtype: DType, seed: u64, std: f64) -> Self {
        use rand::SeedableRng;
        ParamBuilder {
            w: Some(w),
            dtype,
            params: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            std,
        }
    }

    /// Every parameter freshly initialised (seeded).
    pub fn fresh(dtype: DType, seed: u64, std: f64) -> ParamBuilder<'static> {
        use rand::SeedableRng;
        ParamBuilder {
            w: None,
            dtype,
            params: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            std,
        }
    }

    /// Number of parameters created so far.
    pub fn params_len(&self) -> usize {
        self.params.len()
    }

    /// The parameters created so far, in creation order.
    pub fn into_params(self) -> Vec<Param> {
        self.params
    }

    fn var(&mut self, name: &str, t: Tensor, decay: bool) -> Result<Var, EncoderError> {
        let v = Var::from_tensor(&t.to_dtype(self.dtype).map_err(cerr)?).map_err(cerr)?;
        self.params.push(Param {
            name: name.to_string(),
            var: v.clone(),
            decay,
        });
        Ok(v)
    }

    fn normal(&mut self, shape: &[usize]) -> Result<Tensor, EncoderError> {
        let n: usize = shape.iter().product();
        let data: Vec<f64> = (0..n)
            .map(|_| {
                let z: f64 = self.rng.sample(rand_distr::StandardNormal);
                z * self.std
            })
            .collect();
        Tensor::from_vec(data, shape, &Device::Cpu).map_err(cerr)
    }

    /// A weight matrix or embedding table: read, or N(0, std) when fresh.
    pub fn load(&mut self, name: &str, shape: &[usize], decay: bool) -> Result<Var, EncoderError> {
        let t = match self.w {
            Some(w) => w.get(name, shape)?,
            None => self.normal(shape)?,
        };
        self.var(name, t, decay)
    }

    /// An embedding table whose row `pad` is zero when fresh (`nn.Embedding(padding_idx)`).
    pub fn embedding(
        &mut self,
        name: &str,
        shape: &[usize],
        pad: Option<usize>,
    ) -> Result<Var, EncoderError> {
        let t = match (self.w, pad) {
            (Some(w), _) => w.get(name, shape)?,
            (None, None) => self.normal(shape)?,
            (None, Some(p)) => {
                let t = self.normal(shape)?;
                let mut v: Vec<f64> = t.flatten_all().and_then(|t| t.to_vec1()).map_err(cerr)?;
                if p < shape[0] {
                    v[p * shape[1]..(p + 1) * shape[1]].fill(0.0);
                }
                Tensor::from_vec(v, shape, &Device::Cpu).map_err(cerr)?
            }
        };
        self.var(name, t, true)
    }

    /// A linear layer: read, or new when fresh.
    pub fn lin(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, EncoderError> {
        if self.w.is_none() {
            return self.new_lin(name, out, inp);
        }
        Ok(Lin {
            w: self.load(&format!("{name}.weight"), &[out, inp], true)?,
            b: self.load(&format!("{name}.bias"), &[out], false)?,
        })
    }

    /// A LayerNorm (`weight`/`bias`, or the older `gamma`/`beta`): read, or 1/0 when fresh.
    pub fn norm(&mut self, name: &str, h: usize, eps: f64) -> Result<Norm, EncoderError> {
        let wn = [format!("{name}.weight"), format!("{name}.gamma")];
        let bn = [format!("{name}.bias"), format!("{name}.beta")];
        let (w, b) = match self.w {
            Some(src) => (src.get_any(&wn, &[h])?, src.get_any(&bn, &[h])?),
            None => (
                Tensor::ones(h, DType::F64, &Device::Cpu).map_err(cerr)?,
                Tensor::zeros(h, DType::F64, &Device::Cpu).map_err(cerr)?,
            ),
        };
        Ok(Norm {
            w: self.var(&wn[0], w, false)?,
            b: self.var(&bn[0], b, false)?,
            eps: eps as f32,
        })
    }

    /// A LayerNorm read when the checkpoint has it, else new (1/0).
    pub fn norm_or_new(&mut self, name: &str, h: usize, eps: f64) -> Result<Norm, EncoderError> {
        if self.contains(&format!("{name}.weight")) || self.contains(&format!("{name}.gamma")) {
            self.norm(name, h, eps)
        } else {
            let w = Tensor::ones(h, DType::F64, &Device::Cpu).map_err(cerr)?;
            let b = Tensor::zeros(h, DType::F64, &Device::Cpu).map_err(cerr)?;
            Ok(Norm {
                w: self.var(&format!("{name}.weight"), w, false)?,
                b: self.var(&format!("{name}.bias"), b, false)?,
                eps: eps as f32,
            })
        }
    }

    /// A bias-like vector read when present, else zeros (never decayed).
    pub fn vector_or_zeros(&mut self, name: &str, n: usize) -> Result<Var, EncoderError> {
        let t = match self.w {
            Some(w) if w.contains(name) => w.get(name, &[n])?,
            _ => Tensor::zeros(n, DType::F64, &Device::Cpu).map_err(cerr)?,
        };
        self.var(name, t, false)
    }

    /// Whether the source weights hold `name` (false when fresh).
    pub fn contains(&self, name: &str) -> bool {
        self.w.map(|w| w.contains(name)).unwrap_or(false)
    }

    /// A new linear layer: N(0, std) weights, zero bias.
    pub fn new_lin(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, EncoderError> {
        let w = self.normal(&[out, inp])?;
        let b = Tensor::zeros(out, DType::F64, &Device::Cpu).map_err(cerr)?;
        Ok(Lin {
            w: self.var(&format!("{name}.weight"), w, true)?,
            b: self.var(&format!("{name}.bias"), b, false)?,
        })
    }

    /// A checkpoint linear layer if present (under the encoder prefix), else a new one.
    pub fn lin_or_new(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, EncoderError> {
        if self.contains(&format!("{name}.weight")) {
            self.lin(name, out, inp)
        } else {
            self.new_lin(name, out, inp)
        }
    }
}

/// `initializer_range` of a parsed config.json (default 0.02).
pub fn initializer_range(v: &serde_json::Value) -> f64 {
    v.get("initializer_range")
        .and_then(|x| x.as_f64())
        .unwrap_or(0.02)
}

impl EncoderBody {
    /// Create the body's parameters with `b` (read from a checkpoint, or fresh), in the order
    /// embeddings, LayerNorm, then layer by layer. `raw` is config.json (for the dropouts).
    pub fn build(
        b: &mut ParamBuilder,
        config: EncoderConfig,
        raw: &serde_json::Value,
    ) -> Result<Self, EncoderError> {
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
            dropouts: read_dropouts(raw, config.arch),
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
            let w = Tensor::cat(
                &[l.q.w.as_tensor(), l.k.w.as_tensor(), l.v.w.as_tensor()],
                0,
            )?;
            let bias = Tensor::cat(
                &[l.q.b.as_tensor(), l.k.b.as_tensor(), l.v.b.as_tensor()],
                0,
            )?;
            let qkv = super::linear::linear(&x, &w, &bias)?;
            let mask = match rng.as_deref_mut() {
                Some(r) if self.dropouts.attention > 0.0 => Some(dropout_mask(
                    (b, nh, rows, seq),
                    x.dtype(),
                    self.dropouts.attention,
                    r,
                )?),
                _ => None,
            };
            let ctx = super::attention::self_attention(
                &qkv,
                lengths,
                (seq, rows),
                nh,
                scale,
                mask.as_ref(),
            )?;
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
                Activation::Gelu => super::ops::gelu(&ff, super::ops::Gelu::Erf)?,
                Activation::GeluTanh => super::ops::gelu(&ff, super::ops::Gelu::Tanh)?,
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

impl SeqClassifier {
    /// Build from a checkpoint directory's config and weights; the head is new (seeded).
    pub fn load(
        dir: &std::path::Path,
        config: EncoderConfig,
        mut w: Weights,
        num_labels: usize,
        dtype: DType,
        seed: u64,
    ) -> Result<Self, EncoderError> {
        w.select_prefix(
            "embeddings.word_embeddings.weight",
            weight_prefixes(config.arch),
        )?;
        let raw = raw_config(dir);
        let h = config.hidden_size;
        let mut b = ParamBuilder::from_weights(&w, dtype, seed, initializer_range(&raw));
        let body = EncoderBody::build(&mut b, config.clone(), &raw)?;
        let head = match config.arch {
            Arch::Bert => Head::Bert {
                pooler: b.lin_or_new("pooler.dense", h, h)?,
                out: b.new_lin("classifier", num_labels, h)?,
            },
            Arch::Roberta | Arch::XlmRoberta => Head::Roberta {
                dense: b.new_lin("classifier.dense", h, h)?,
                out: b.new_lin("classifier.out_proj", num_labels, h)?,
            },
            Arch::DistilBert => Head::Distil {
                pre: b.new_lin("pre_classifier", h, h)?,
                out: b.new_lin("classifier", num_labels, h)?,
            },
        };
        let params = b.into_params();
        Ok(SeqClassifier {
            dropouts: body.dropouts,
            config,
            num_labels,
            body,
            head,
            params,
        })
    }

    /// All trainable parameters.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The encoder body (embeddings and transformer layers).
    pub fn body(&self) -> &EncoderBody {
        &self.body
    }

    /// Logits [batch, num_labels] of a right-padded batch. `ids`, `type_ids` are row-major
    /// [batch, seq]; `lengths` the real tokens per row. With `rng`, dropout is applied
    /// (training); without, the pass is deterministic (evaluation).
    pub fn forward(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> CResult<Tensor> {
        let first =
            self.body
                .forward_first_token(ids, type_ids, lengths, seq, rng.as_deref_mut())?;
        let p = self.dropouts.classifier;
        match &self.head {
            Head::Bert { pooler, out } => {
                let pooled = pooler.fwd(&first)?.tanh()?;
                out.fwd(&dropout(&pooled, p, rng.as_deref_mut())?)
            }
            Head::Roberta { dense, out } => {
                let z = dropout(&first, p, rng.as_deref_mut())?;
                let z = dense.fwd(&z)?.tanh()?;
                out.fwd(&dropout(&z, p, rng.as_deref_mut())?)
            }
            Head::Distil { pre, out } => {
                let z = pre.fwd(&first)?.relu()?;
                out.fwd(&dropout(&z, p, rng)?)
            }
        }
    }
}

/// Inverted dropout with a seeded mask (candle's own dropout draws from an unseeded RNG, which
/// would make runs irreproducible). Identity when `rng` is None or `p` is 0.
pub fn dropout(x: &Tensor, p: f32, rng: Option<&mut ChaCha8Rng>) -> CResult<Tensor> {
    let Some(rng) = rng else { return Ok(x.clone()) };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    x.mul(&dropout_mask(x.shape(), x.dtype(), p, rng)?)
}

/// Inverted-dropout multipliers of `shape`: 0 with probability `p`, else 1/(1-p); one uniform
/// draw per element from `rng`, in row-major order. Chunks are drawn in parallel, each from a
/// copy of `rng` moved to the chunk's position in the ChaCha stream, and `rng` is left after
/// the last draw: the same mask and the same state as drawing element by element.
pub fn dropout_mask(
    shape: impl Into<candle_core::Shape>,
    dtype: DType,
    p: f32,
    rng: &mut ChaCha8Rng,
) -> CResult<Tensor> {
    use rayon::prelude::*;
    /// Elements per parallel chunk.
    const CHUNK: usize = 1 << 15;
    let shape = shape.into();
    let n = shape.elem_count();
    let keep = (1.0 / (1.0 - p as f64)) as f32;
    // a uniform f32 takes one 32-bit word of the stream
    let start = rng.get_word_pos();
    let base = rng.clone();
    let mut m = vec![0f32; n];
    m.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| {
        let mut r = base.clone();
        r.set_word_pos(start + (i * CHUNK) as u128);
        for v in c {
            *v = if r.gen::<f32>() < p { 0.0 } else { keep };
        }
    });
    rng.set_word_pos(start + n as u128);
    Tensor::from_vec(m, shape, &Device::Cpu)?.to_dtype(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The parallel mask equals drawing element by element with `gen::<f32>()`, and leaves the
    /// generator where the sequential draws leave it.
    #[test]
    fn parallel_dropout_mask_equals_sequential_draws() {
        let n = 3 * (1 << 15) + 123;
        let mut a = ChaCha8Rng::seed_from_u64(9);
        let _ = a.gen::<u64>();
        let mut b = a.clone();
        let m: Vec<f32> = dropout_mask(n, DType::F32, 0.1, &mut a)
            .unwrap()
            .to_vec1()
            .unwrap();
        let want: Vec<f32> = (0..n)
            .map(|_| {
                if b.gen::<f32>() < 0.1 {
                    0.0
                } else {
                    (1.0 / 0.9f64) as f32
                }
            })
            .collect();
        assert_eq!(m, want);
        assert_eq!(a.gen::<u64>(), b.gen::<u64>());
    }
}
