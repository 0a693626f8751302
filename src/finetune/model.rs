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
use candle_core::{DType, Device, Tensor, Var, D};
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

struct Lin {
    w: Var,
    b: Var,
}

impl Lin {
    /// Leading dimensions are flattened first so that the product, and above all its backward
    /// pass, is one 2-D GEMM: a broadcast batched matmul would compute the weight gradient as
    /// one small GEMM per sequence followed by a sum over the batch.
    fn fwd(&self, x: &Tensor) -> CResult<Tensor> {
        let dims = x.dims().to_vec();
        let inner = *dims.last().unwrap_or(&1);
        let y = x
            .reshape((x.elem_count() / inner.max(1), inner))?
            .matmul(&self.w.as_tensor().t()?)?
            .broadcast_add(self.b.as_tensor())?;
        let mut out = dims;
        if let Some(last) = out.last_mut() {
            *last = y.dim(1)?;
        }
        y.reshape(out)
    }
}

struct Norm {
    w: Var,
    b: Var,
    eps: f32,
}

impl Norm {
    fn fwd(&self, x: &Tensor) -> CResult<Tensor> {
        candle_nn::ops::layer_norm_slow(x, self.w.as_tensor(), self.b.as_tensor(), self.eps)
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

/// The trainable model.
pub struct SeqClassifier {
    /// Encoder configuration.
    pub config: EncoderConfig,
    /// Number of outputs (classes, or 1 for regression).
    pub num_labels: usize,
    /// Dropout settings.
    pub dropouts: Dropouts,
    word: Var,
    pos: Var,
    tt: Option<Var>,
    ln_emb: Norm,
    layers: Vec<TLayer>,
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

struct Builder<'a> {
    w: &'a Weights,
    dtype: DType,
    params: Vec<Param>,
    rng: ChaCha8Rng,
    std: f64,
}

impl Builder<'_> {
    fn var(&mut self, name: &str, t: Tensor, decay: bool) -> Result<Var, EncoderError> {
        let v = Var::from_tensor(&t.to_dtype(self.dtype).map_err(cerr)?).map_err(cerr)?;
        self.params.push(Param {
            name: name.to_string(),
            var: v.clone(),
            decay,
        });
        Ok(v)
    }
    fn load(&mut self, name: &str, shape: &[usize], decay: bool) -> Result<Var, EncoderError> {
        let t = self.w.get(name, shape)?;
        self.var(name, t, decay)
    }
    fn lin(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, EncoderError> {
        Ok(Lin {
            w: self.load(&format!("{name}.weight"), &[out, inp], true)?,
            b: self.load(&format!("{name}.bias"), &[out], false)?,
        })
    }
    fn norm(&mut self, name: &str, h: usize, eps: f64) -> Result<Norm, EncoderError> {
        let wn = [format!("{name}.weight"), format!("{name}.gamma")];
        let bn = [format!("{name}.bias"), format!("{name}.beta")];
        let w = self.w.get_any(&wn, &[h])?;
        let b = self.w.get_any(&bn, &[h])?;
        Ok(Norm {
            w: self.var(&wn[0], w, false)?,
            b: self.var(&bn[0], b, false)?,
            eps: eps as f32,
        })
    }
    /// A new linear layer: N(0, std) weights, zero bias.
    fn new_lin(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, EncoderError> {
        let data: Vec<f64> = (0..out * inp)
            .map(|_| {
                let z: f64 = self.rng.sample(rand_distr::StandardNormal);
                z * self.std
            })
            .collect();
        let w = Tensor::from_vec(data, (out, inp), &Device::Cpu).map_err(cerr)?;
        let b = Tensor::zeros(out, DType::F64, &Device::Cpu).map_err(cerr)?;
        Ok(Lin {
            w: self.var(&format!("{name}.weight"), w, true)?,
            b: self.var(&format!("{name}.bias"), b, false)?,
        })
    }
    /// A checkpoint linear layer if present (under the encoder prefix), else a new one.
    fn lin_or_new(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, EncoderError> {
        if self.w.contains(&format!("{name}.weight")) {
            self.lin(name, out, inp)
        } else {
            self.new_lin(name, out, inp)
        }
    }
}

fn initializer_range(v: &serde_json::Value) -> f64 {
    v.get("initializer_range")
        .and_then(|x| x.as_f64())
        .unwrap_or(0.02)
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
        use rand::SeedableRng;
        w.select_prefix(
            "embeddings.word_embeddings.weight",
            weight_prefixes(config.arch),
        )?;
        let raw = raw_config(dir);
        let h = config.hidden_size;
        let f = config.intermediate_size;
        let eps = config.layer_norm_eps;
        let mut b = Builder {
            w: &w,
            dtype,
            params: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            std: initializer_range(&raw),
        };
        let word = b.load(
            "embeddings.word_embeddings.weight",
            &[config.vocab_size, h],
            true,
        )?;
        let pos = b.load(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
            true,
        )?;
        let tt = if config.type_vocab_size > 0 {
            Some(b.load(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
                true,
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
        let params = b.params;
        Ok(SeqClassifier {
            dropouts: read_dropouts(&raw, config.arch),
            config,
            num_labels,
            word,
            pos,
            tt,
            ln_emb,
            layers,
            head,
            params,
        })
    }

    /// All trainable parameters.
    pub fn params(&self) -> &[Param] {
        &self.params
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
        let dev = Device::Cpu;
        let b = lengths.len();
        let h = self.config.hidden_size;
        let nh = self.config.num_heads;
        let d = h / nh;
        let dtype = self.word.dtype();
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
        let mut mask = vec![0f64; b * seq];
        for (r, &len) in lengths.iter().enumerate() {
            for m in &mut mask[r * seq + len..(r + 1) * seq] {
                *m = -1e9;
            }
        }
        let mask = Tensor::from_vec(mask, (b, 1, 1, seq), &dev)?.to_dtype(dtype)?;
        let scale = 1.0 / (d as f64).sqrt();
        for l in &self.layers {
            let heads = |t: Tensor| -> CResult<Tensor> {
                t.reshape((b, seq, nh, d))?.transpose(1, 2)?.contiguous()
            };
            let q = (heads(l.q.fwd(&x)?)? * scale)?;
            let k = heads(l.k.fwd(&x)?)?;
            let v = heads(l.v.fwd(&x)?)?;
            let scores = q.matmul(&k.t()?)?.broadcast_add(&mask)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let probs = dropout(&probs, self.dropouts.attention, rng.as_deref_mut())?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * seq, h))?;
            let a = dropout(&l.o.fwd(&ctx)?, self.dropouts.hidden, rng.as_deref_mut())?;
            x = l.ln1.fwd(&(a + &x)?)?;
            let ff = l.f1.fwd(&x)?;
            let ff = match self.config.activation {
                Activation::Gelu => ff.gelu_erf()?,
                Activation::GeluTanh => ff.gelu()?,
                Activation::Relu => ff.relu()?,
            };
            let ff = dropout(&l.f2.fwd(&ff)?, self.dropouts.hidden, rng.as_deref_mut())?;
            x = l.ln2.fwd(&(ff + &x)?)?;
        }
        let first = x.reshape((b, seq, h))?.narrow(1, 0, 1)?.squeeze(1)?;
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
    let keep = 1.0 / (1.0 - p as f64);
    let m: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.gen::<f32>() < p {
                0.0
            } else {
                keep as f32
            }
        })
        .collect();
    let m = Tensor::from_vec(m, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x.mul(&m)
}
