//! ELECTRA discriminators (`model_type: electra`), as transformers' `ElectraModel`.
//!
//! The BERT body (absolute positions, token types, post-norm layers) over embeddings of width
//! `embedding_size`; when that differs from `hidden_size`, `embeddings_project` maps them up and
//! the projected vectors are hidden state 0 (what transformers returns). Weights are read bare
//! or under `electra.` (`ElectraForPreTraining` / `ElectraForSequenceClassification`); the
//! discriminator head is ignored.
//!
//! Runs on the padded candle path ([`super::blocks`]) so that the projection and the BERT layer
//! ([`BertLayer`], also used by MPNet and ALBERT) stay simple; the layer's attention is the
//! BERT path's fused op (`crate::nn::attention`), which skips the padded keys.

use super::blocks::{self, Act, CResult, Dense, Dropout, Norm, TensorSource};
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::mpnet::ffn;
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor};

/// Where ELECTRA checkpoints keep the body: bare, or under the `*For*` wrappers' prefix.
pub const PREFIXES: &[&str] = &["", "electra.", "model."];

/// ELECTRA hyperparameters.
#[derive(Debug, Clone)]
pub struct ElectraConfig {
    /// The shared fields.
    pub common: CommonConfig,
    /// Width of the embeddings (before the projection).
    pub embedding_size: usize,
}

impl ElectraConfig {
    /// Read from config.json's fields.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        let common = f.common(0, 1e-12)?;
        let pet = f.str("position_embedding_type", "absolute");
        if pet != "absolute" {
            return Err(f.bad(format!(
                "position_embedding_type {pet:?} is not supported (only absolute)"
            )));
        }
        Ok(ElectraConfig {
            embedding_size: f.usize("embedding_size", Some(common.hidden_size))?,
            common,
        })
    }
}

/// BERT's (and ELECTRA's) names of the layer's weights under `encoder.layer.<i>.`: query,
/// key, value, attention output, attention LayerNorm, feed-forward in, feed-forward out, final
/// LayerNorm (the order of [`BertLayer::load_named`]).
pub const BERT_LAYER: [&str; 8] = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
];

/// BERT's post-norm layer with its weight names under `p` (`encoder.layer.<i>`).
pub struct BertLayer {
    q: Dense,
    k: Dense,
    v: Dense,
    post: PostNorm,
}

/// What follows the attention scores in BERT's post-norm layer: the output projection with its
/// residual LayerNorm, then the feed-forward block with its own (DeBERTa v1, whose query, key
/// and value come from one fused projection, shares it).
pub struct PostNorm {
    o: Dense,
    ln_attn: Norm,
    ff_in: Dense,
    ff_out: Dense,
    ln_ff: Norm,
}

impl PostNorm {
    /// Load the block under `<p>.`: `names` are the attention output, attention LayerNorm,
    /// feed-forward in, feed-forward out and final LayerNorm.
    pub fn load_named<S: TensorSource + ?Sized>(
        w: &S,
        p: &str,
        names: &[&str; 5],
        c: &CommonConfig,
    ) -> Result<Self, EncoderError> {
        let (h, f, eps) = (c.hidden_size, c.intermediate_size, c.layer_norm_eps);
        let n = |i: usize| format!("{p}.{}", names[i]);
        Ok(PostNorm {
            o: Dense::load(w, &n(0), h, h, true)?,
            ln_attn: Norm::load(w, &n(1), h, eps, true)?,
            ff_in: Dense::load(w, &n(2), f, h, true)?,
            ff_out: Dense::load(w, &n(3), h, f, true)?,
            ln_ff: Norm::load(w, &n(4), h, eps, true)?,
        })
    }

    /// The attention sub-layer's end with hidden dropout on `o(ctx)`: `LayerNorm(o(ctx) + x)`.
    pub fn attn_out_t(&self, ctx: &Tensor, x: &Tensor, dp: &mut Dropout) -> CResult<Tensor> {
        self.ln_attn
            .forward(&(dp.hidden(&self.o.forward(ctx)?)? + x)?)
    }

    /// The feed-forward sub-layer with hidden dropout on its output:
    /// `LayerNorm(ff_out(act(ff_in(y))) + y)`.
    pub fn ffn_out_t(&self, y: &Tensor, act: Act, dp: &mut Dropout) -> CResult<Tensor> {
        let ff = dp.hidden(&ffn(&self.ff_in, &self.ff_out, act, y)?)?;
        self.ln_ff.forward(&(ff + y)?)
    }
}

impl BertLayer {
    /// Load `<p>.attention.self.{query,key,value}`, `<p>.attention.output.{dense,LayerNorm}`,
    /// `<p>.intermediate.dense`, `<p>.output.{dense,LayerNorm}`.
    pub fn load<S: TensorSource + ?Sized>(
        w: &S,
        p: &str,
        c: &CommonConfig,
    ) -> Result<Self, EncoderError> {
        Self::load_named(w, p, &BERT_LAYER, c)
    }

    /// Load the same block under other names: `names` are, under `<p>.`, the query, key, value,
    /// attention output, attention LayerNorm, feed-forward in, feed-forward out and final
    /// LayerNorm.
    pub fn load_named<S: TensorSource + ?Sized>(
        w: &S,
        p: &str,
        names: &[&str; 8],
        c: &CommonConfig,
    ) -> Result<Self, EncoderError> {
        let h = c.hidden_size;
        let n = |i: usize| format!("{p}.{}", names[i]);
        Ok(BertLayer {
            q: Dense::load(w, &n(0), h, h, true)?,
            k: Dense::load(w, &n(1), h, h, true)?,
            v: Dense::load(w, &n(2), h, h, true)?,
            post: PostNorm::load_named(
                w,
                p,
                &[names[3], names[4], names[5], names[6], names[7]],
                c,
            )?,
        })
    }

    /// The query projection.
    pub fn q(&self) -> &Dense {
        &self.q
    }

    /// The key projection.
    pub fn k(&self) -> &Dense {
        &self.k
    }

    /// The value projection.
    pub fn v(&self) -> &Dense {
        &self.v
    }

    /// The attention sub-layer's end: `LayerNorm(o(ctx) + x)`.
    pub fn attn_out(&self, ctx: &Tensor, x: &Tensor) -> CResult<Tensor> {
        self.attn_out_t(ctx, x, &mut Dropout::off())
    }

    /// [`attn_out`](Self::attn_out) with hidden dropout on `o(ctx)` (training).
    pub fn attn_out_t(&self, ctx: &Tensor, x: &Tensor, dp: &mut Dropout) -> CResult<Tensor> {
        self.post.attn_out_t(ctx, x, dp)
    }

    /// The feed-forward sub-layer: `LayerNorm(ff_out(act(ff_in(y))) + y)`.
    pub fn ffn_out(&self, y: &Tensor, act: Act) -> CResult<Tensor> {
        self.ffn_out_t(y, act, &mut Dropout::off())
    }

    /// [`ffn_out`](Self::ffn_out) with hidden dropout on the feed-forward output (training).
    pub fn ffn_out_t(&self, y: &Tensor, act: Act, dp: &mut Dropout) -> CResult<Tensor> {
        self.post.ffn_out_t(y, act, dp)
    }

    /// One layer over the right-padded batch `x` [b, s, h] whose rows have `lengths` real
    /// tokens (padded keys are skipped exactly), with an optional additive score bias
    /// `pos_bias` [heads, s, s] shared by the batch (MPNet's relative-position bias), and
    /// dropout where BERT has it: attention probabilities, the attention output and the
    /// feed-forward output (none with `Dropout::off()`). Query, key and value come from
    /// one GEMM with the three weights stacked, and the attention is `crate::nn::attention`'s
    /// fused op with its own backward (the BERT path's kernel), so that the padded families
    /// train as fast as BERT does.
    pub fn forward_t(
        &self,
        x: &Tensor,
        lengths: &[usize],
        pos_bias: Option<&Tensor>,
        heads: usize,
        act: Act,
        dp: &mut Dropout,
    ) -> CResult<Tensor> {
        let (b, s, h) = x.dims3()?;
        let scale = 1.0 / ((h / heads) as f64).sqrt();
        let qkv = Dense::stacked(&[&self.q, &self.k, &self.v], &x.reshape((b * s, h))?)?;
        let mask = dp.attention_mask((b, heads, s, s), x.dtype())?;
        let ctx = crate::nn::attention::biased_self_attention(
            &qkv,
            lengths,
            (s, s),
            heads,
            scale,
            mask.as_ref(),
            pos_bias,
        )?
        .reshape((b, s, h))?;
        let y = self.attn_out_t(&ctx, x, dp)?;
        self.ffn_out_t(&y, act, dp)
    }
}

/// BERT-style embeddings of width `e`: word + position (0..) + token type, LayerNorm.
pub struct AbsEmbeddings {
    word: Tensor,
    pos: Tensor,
    token_type: Option<Tensor>,
    ln: Norm,
    vocab: usize,
    max_pos: usize,
}

impl AbsEmbeddings {
    /// Load `embeddings.{word,position,token_type}_embeddings` and `embeddings.LayerNorm`.
    pub fn load<S: TensorSource + ?Sized>(
        w: &S,
        c: &CommonConfig,
        e: usize,
    ) -> Result<Self, EncoderError> {
        Ok(AbsEmbeddings {
            word: w.get("embeddings.word_embeddings.weight", &[c.vocab_size, e])?,
            pos: w.get(
                "embeddings.position_embeddings.weight",
                &[c.max_position_embeddings, e],
            )?,
            token_type: if c.type_vocab_size > 0 {
                Some(w.get(
                    "embeddings.token_type_embeddings.weight",
                    &[c.type_vocab_size, e],
                )?)
            } else {
                None
            },
            ln: Norm::load(w, "embeddings.LayerNorm", e, c.layer_norm_eps, true)?,
            vocab: c.vocab_size,
            max_pos: c.max_position_embeddings,
        })
    }

    /// Embeddings of a right-padded batch ([b, s, e]).
    pub fn forward(&self, batch: &Batch, dir: &str) -> Result<Tensor, EncoderError> {
        self.forward_t(batch, dir, &mut Dropout::off())
    }

    /// [`forward`](Self::forward) with hidden dropout after the LayerNorm (training).
    pub fn forward_t(
        &self,
        batch: &Batch,
        dir: &str,
        dp: &mut Dropout,
    ) -> Result<Tensor, EncoderError> {
        let (b, s) = check_batch(batch, self.max_pos)?;
        let ids = blocks::ids_tensor(&batch.ids, b, s, self.vocab, dir)?;
        ok((|| -> CResult<Tensor> {
            let pos = Tensor::arange(0u32, s as u32, &Device::Cpu)?;
            let mut x = blocks::embed(&self.word, &ids)?
                .broadcast_add(&self.pos.index_select(&pos, 0)?.unsqueeze(0)?)?;
            if let Some(tt) = &self.token_type {
                let n = tt.dims2()?.0 as u32;
                let ty: Vec<u32> = batch.type_ids.iter().map(|&t| t.min(n - 1)).collect();
                let ty = Tensor::from_vec(ty, (b, s), &Device::Cpu)?;
                x = (x + blocks::embed(tt, &ty)?)?;
            }
            dp.hidden(&self.ln.forward(&x)?)
        })())
    }
}

/// A loaded ELECTRA discriminator body.
pub struct Electra {
    cfg: ElectraConfig,
    emb: AbsEmbeddings,
    project: Option<Dense>,
    layers: Vec<BertLayer>,
    dir: String,
}

impl Electra {
    /// Build from weights, checking shapes.
    pub fn load(cfg: ElectraConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("embeddings.word_embeddings.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable).
    pub fn build<S: TensorSource + ?Sized>(
        cfg: ElectraConfig,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let e = cfg.embedding_size;
        let project = if e != c.hidden_size {
            Some(Dense::load(
                w,
                "embeddings_project",
                c.hidden_size,
                e,
                true,
            )?)
        } else {
            None
        };
        let layers = (0..c.num_layers)
            .map(|i| BertLayer::load(w, &format!("encoder.layer.{i}"), c))
            .collect::<Result<_, _>>()?;
        Ok(Electra {
            emb: AbsEmbeddings::load(w, c, e)?,
            project,
            layers,
            cfg,
            dir,
        })
    }
}

impl PaddedEncoder for Electra {
    fn common(&self) -> &CommonConfig {
        &self.cfg.common
    }

    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_t(batch, &mut Dropout::off())
    }

    fn forward_t(&self, batch: &Batch, dp: &mut Dropout) -> Result<Vec<Tensor>, EncoderError> {
        let x = self.emb.forward_t(batch, &self.dir, dp)?;
        let c = &self.cfg.common;
        ok((|| -> CResult<Vec<Tensor>> {
            let mut x = match &self.project {
                Some(p) => p.forward(&x)?,
                None => x,
            };
            let mut out = vec![x.clone()];
            for l in &self.layers {
                x = l.forward_t(&x, &batch.lengths, None, c.num_heads, c.act, dp)?;
                out.push(x.clone());
            }
            Ok(out)
        })())
    }
}
