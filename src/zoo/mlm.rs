//! Masked-language-model training of BERT-family encoders, from an existing checkpoint or from
//! scratch, and saving the result as a Hugging Face `BertForMaskedLM` directory; also of ALBERT,
//! DeBERTa v1, DeBERTa-v2/v3, MPNet and ModernBERT checkpoints with their own heads
//! (`AlbertForMaskedLM`, `DebertaForMaskedLM`, `DebertaV2ForMaskedLM`, `MPNetForMaskedLM`,
//! `ModernBertForMaskedLM`, see [`super::mlm_family`]), through the same loop. A head layer
//! without a bias (ModernBERT's, by default) gets a constant zero one that is not a parameter:
//! neither trained nor saved.
//!
//! The head is Hugging Face's `BertOnlyMLMHead`: dense -> activation (`hidden_act`) ->
//! LayerNorm -> decoder tied to the word embeddings, plus an output bias. A checkpoint that has
//! the head (`cls.predictions.transform.*`, `cls.predictions.bias`) trains it; one that has none
//! gets a new head (dense N(0, initializer_range), LayerNorm 1/0, bias 0), always tied to the word
//! embeddings. A fresh model is initialised as `BertForMaskedLM` (weights and embeddings
//! N(0, initializer_range), the padding row of the word embeddings 0, biases 0, LayerNorm 1/0).
//! Of the BERT-shaped architectures only BERT is supported (RoBERTa's `lm_head` and
//! DistilBERT's `vocab_projector` are refused). The loss is the mean cross-entropy over the masked positions
//! (see [`super::masking`]); the head runs on those positions only.

use super::checkpoint::{Checkpoint, ModelKind};
use super::masking::{MaskedBatch, MaskingSettings};
use super::mlm_family::FamilyHeadSpec;
use super::ZooError;
use crate::encoder::blocks::Act;
use crate::encoder::config::{Activation, Arch, EncoderConfig};
use crate::encoder::extract::check_max_length_limit;
use crate::encoder::family::Family;
use crate::encoder::model::{weight_prefixes, Batch};
use crate::encoder::tokenizer::TextTokenizer;
use crate::encoder::trainable::EncoderBody;
use crate::encoder::trainable_family::{body_prefixes, FamilyBody};
use crate::encoder::weights::Weights;
use crate::encoder::write::write_hf_files;
use crate::nn::ops;
use crate::nn::optim::{linear_schedule, AdamW, AdamWSettings};
use crate::nn::params::{initializer_range, Lin, Norm, Param, ParamBuilder};
use candle_core::{DType, Device, Tensor, Var};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Settings of a masked-LM training run (also a study file's `[variants.mlm]` table: every field
/// optional, with the defaults below).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlmSettings {
    /// Optimizer steps.
    pub steps: usize,
    /// Steps (1-based, at most `steps`) after which `on_checkpoint` is called.
    pub save_at: Vec<usize>,
    /// Lines per step (the last batch of a pass over the corpus may be smaller).
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Fraction of the steps used for linear warmup (then linear decay to 0 at `steps`).
    pub warmup_ratio: f64,
    /// AdamW weight decay (not on biases and LayerNorm weights).
    pub weight_decay: f64,
    /// Gradient clipping norm.
    pub max_grad_norm: f64,
    /// Probability that a token is selected for prediction (BERT: 0.15).
    pub mask_prob: f64,
    /// Truncation length in tokens, special tokens included.
    pub max_length: usize,
    /// Seed of the initialisation, the batch order, the masking and dropout.
    pub seed: u64,
    /// Apply the config's hidden and attention dropout during training (as Hugging Face does).
    pub dropout: bool,
}

impl Default for MlmSettings {
    fn default() -> Self {
        MlmSettings {
            steps: 1000,
            save_at: Vec::new(),
            batch_size: 32,
            lr: 5e-5,
            warmup_ratio: 0.06,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            mask_prob: 0.15,
            max_length: 128,
            seed: 1,
            dropout: true,
        }
    }
}

/// Where the model comes from.
#[derive(Debug, Clone)]
pub enum MlmInit {
    /// An existing BERT-family checkpoint directory (its MLM head if present, else a new one).
    FromDir(PathBuf),
    /// A new model: a BERT `config.json` value and a directory holding its tokenizer
    /// (tokenizer.json or vocab.txt, with a `[MASK]` token).
    Fresh {
        /// BERT config.json content (`hidden_size`, `num_hidden_layers`, `vocab_size`, ...).
        config: serde_json::Value,
        /// Directory of the tokenizer files (copied into saved checkpoints).
        tokenizer: PathBuf,
    },
}

/// What a training run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MlmReport {
    /// Training loss of every step.
    pub losses: Vec<f64>,
    /// Corpus lines used (non-empty, with at least one maskable token).
    pub lines: usize,
    /// Seconds of training (loading excluded).
    pub seconds: f64,
}

struct Head {
    dense: Lin,
    ln: Norm,
    bias: Var,
    act: HeadAct,
}

/// The head's activation: BERT's fused ones, or the newer families' (`blocks::Act`).
#[derive(Clone, Copy)]
enum HeadAct {
    Bert(Activation),
    Family(Act),
}

/// The encoder under the head: BERT's trainable body, or a newer family's.
enum Body {
    Bert(EncoderBody),
    Family(FamilyBody),
}

/// What the training loop needs to know of the model's shape.
#[derive(Debug, Clone, Copy)]
struct Dims {
    hidden: usize,
    vocab: usize,
    pad: u32,
    max_input_tokens: usize,
}

/// An encoder with its masked-LM head: BERT, ALBERT, DeBERTa (v1, v2/v3), MPNet or ModernBERT.
pub struct MlmModel {
    dims: Dims,
    body: Body,
    /// The word embeddings (the tied decoder).
    word: Var,
    head: Head,
    /// ALBERT / DeBERTa: the head's names and the saved layout.
    family: Option<FamilyHeadSpec>,
    params: Vec<Param>,
    n_body: usize,
    config_json: serde_json::Value,
    tokenizer_dir: PathBuf,
    prefix: String,
    source: Option<Checkpoint>,
}

fn activation(x: &Tensor, a: HeadAct) -> candle_core::Result<Tensor> {
    match a {
        HeadAct::Bert(Activation::Gelu) => ops::gelu(x, ops::Gelu::Erf),
        HeadAct::Bert(Activation::GeluTanh) => ops::gelu(x, ops::Gelu::Tanh),
        HeadAct::Bert(Activation::Relu) => x.relu(),
        HeadAct::Family(a) => a.apply(x),
    }
}

impl Dims {
    fn of(c: &EncoderConfig) -> Self {
        Dims {
            hidden: c.hidden_size,
            vocab: c.vocab_size,
            pad: c.pad_token_id,
            max_input_tokens: c.max_input_tokens(),
        }
    }
}

const HEAD_PROBE: &str = "cls.predictions.transform.dense.weight";

impl MlmModel {
    /// Build the model (parameters in `dtype`; new weights seeded with `seed`).
    pub fn load(init: &MlmInit, dtype: DType, seed: u64) -> Result<Self, ZooError> {
        match init {
            MlmInit::FromDir(dir) => Self::from_dir(dir, dtype, seed),
            MlmInit::Fresh { config, tokenizer } => Self::fresh(config, tokenizer, dtype, seed),
        }
    }

    fn from_dir(dir: &Path, dtype: DType, seed: u64) -> Result<Self, ZooError> {
        let ck = Checkpoint::load(dir)?;
        let cfg_path = dir.join("config.json");
        if ck.config_json.get("tie_word_embeddings") == Some(&serde_json::Value::Bool(false)) {
            return Err(ZooError::input(
                &cfg_path,
                "tie_word_embeddings is false: an untied MLM decoder is not supported",
            ));
        }
        if let ModelKind::Family(f) = ck.kind {
            return Self::from_family(ck, f, dtype, seed);
        }
        let Some(config) = ck.classic().filter(|c| c.arch == Arch::Bert).cloned() else {
            return Err(ZooError::input(
                &cfg_path,
                format!(
                    "masked-LM training supports bert, albert and deberta-v2 checkpoints, not model_type {:?}",
                    ck.model_type()
                ),
            ));
        };
        let mut w = Weights::load(&ck.weights_path)?;
        w.select_prefix(
            "embeddings.word_embeddings.weight",
            weight_prefixes(config.arch),
        )?;
        let std = initializer_range(&ck.config_json);
        let mut b = ParamBuilder::from_weights(&w, dtype, seed, std);
        let body = EncoderBody::build(&mut b, config.clone())?;
        let mut params = b.into_params();
        let n_body = params.len();
        let has_head = w.select_prefix(HEAD_PROBE, &[""]).is_ok();
        let mut hb = if has_head {
            ParamBuilder::from_weights(&w, dtype, seed, std)
        } else {
            ParamBuilder::fresh(dtype, seed ^ 0x314d_4c4d, std)
        };
        let head = build_head(&mut hb, &config)?;
        params.extend(hb.into_params());
        let mut config_json = ck.config_json.clone();
        config_json["architectures"] = serde_json::json!(["BertForMaskedLM"]);
        Ok(MlmModel {
            dims: Dims::of(&config),
            word: body.word_embeddings().clone(),
            body: Body::Bert(body),
            head,
            family: None,
            params,
            n_body,
            config_json,
            tokenizer_dir: dir.to_path_buf(),
            prefix: ck.prefix.clone(),
            source: Some(ck),
        })
    }

    /// ALBERT, DeBERTa (v1, v2/v3) or MPNet with the head of [`FamilyHeadSpec`] (read when the checkpoint
    /// has it, else new: dense N(0, initializer_range), LayerNorm 1/0, bias 0).
    fn from_family(
        ck: Checkpoint,
        family: Family,
        dtype: DType,
        seed: u64,
    ) -> Result<Self, ZooError> {
        let dir = ck.dir.clone();
        let mut w = Weights::load(&ck.weights_path)?;
        FamilyBody::select_prefix(&mut w, family)?;
        let std = initializer_range(&ck.config_json);
        let mut b = ParamBuilder::from_weights(&w, dtype, seed, std);
        let body = FamilyBody::build(&dir, family, &mut b)?;
        let mut params = b.into_params();
        let n_body = params.len();
        let word_name = body_prefixes(family).1;
        let word = params
            .iter()
            .find(|p| p.name == word_name)
            .map(|p| p.var.clone())
            .ok_or_else(|| ZooError::input(&ck.weights_path, "no word embeddings"))?;
        let c = body.common.clone();
        let spec = FamilyHeadSpec::of(&ck, family, c.hidden_size, word.dim(1)?)?;
        let has_head = w
            .select_prefix(&format!("{}.weight", spec.dense), &[""])
            .is_ok();
        let mut hb = if has_head {
            ParamBuilder::from_weights(&w, dtype, seed, std)
        } else {
            ParamBuilder::fresh(dtype, seed ^ 0x314d_4c4d, std)
        };
        let head = Head {
            dense: if spec.dense_bias {
                hb.lin(spec.dense, spec.width, c.hidden_size)?
            } else {
                Lin {
                    w: hb.load(
                        &format!("{}.weight", spec.dense),
                        &[spec.width, c.hidden_size],
                        true,
                    )?,
                    b: Var::zeros(spec.width, dtype, &Device::Cpu)?,
                }
            },
            ln: if spec.ln_bias {
                hb.norm(spec.ln, spec.width, c.layer_norm_eps)?
            } else {
                let name = format!("{}.weight", spec.ln);
                Norm {
                    w: if hb.contains(&name) {
                        hb.load(&name, &[spec.width], false)?
                    } else {
                        hb.new_const(&name, spec.width, 1.0)?
                    },
                    b: Var::zeros(spec.width, dtype, &Device::Cpu)?,
                    eps: c.layer_norm_eps as f32,
                }
            },
            bias: hb.vector_or_zeros(spec.bias, c.vocab_size)?,
            act: HeadAct::Family(spec.act),
        };
        params.extend(hb.into_params());
        let mut config_json = ck.config_json.clone();
        config_json["architectures"] = serde_json::json!([spec.architecture]);
        if let Some(l) = spec.legacy {
            config_json["legacy"] = serde_json::json!(l);
        }
        Ok(MlmModel {
            dims: Dims {
                hidden: c.hidden_size,
                vocab: c.vocab_size,
                pad: c.pad_token_id,
                max_input_tokens: body.max_input_tokens,
            },
            body: Body::Family(body),
            word,
            head,
            family: Some(spec),
            params,
            n_body,
            config_json,
            tokenizer_dir: dir,
            prefix: ck.prefix.clone(),
            source: Some(ck),
        })
    }

    fn fresh(
        config: &serde_json::Value,
        tokenizer: &Path,
        dtype: DType,
        seed: u64,
    ) -> Result<Self, ZooError> {
        let mut config_json = config.clone();
        if config_json.get("model_type").is_none() {
            config_json["model_type"] = serde_json::json!("bert");
        }
        let cfg = EncoderConfig::parse(Path::new("config.json"), &config_json.to_string())?;
        if cfg.arch != Arch::Bert {
            return Err(ZooError::option(
                "config.json",
                "masked-LM training from scratch supports model_type bert only",
            ));
        }
        if !tokenizer.is_dir() {
            return Err(ZooError::input(tokenizer, "tokenizer directory not found"));
        }
        config_json["architectures"] = serde_json::json!(["BertForMaskedLM"]);
        config_json["tie_word_embeddings"] = serde_json::json!(true);
        let mut b = ParamBuilder::fresh(dtype, seed, initializer_range(&config_json));
        let body = EncoderBody::build(&mut b, cfg.clone())?;
        let n_body = b.params_len();
        let head = build_head(&mut b, &cfg)?;
        Ok(MlmModel {
            dims: Dims::of(&cfg),
            word: body.word_embeddings().clone(),
            body: Body::Bert(body),
            head,
            family: None,
            params: b.into_params(),
            n_body,
            config_json,
            tokenizer_dir: tokenizer.to_path_buf(),
            prefix: "bert.".into(),
            source: None,
        })
    }

    /// All trainable parameters (body, then head).
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The BERT encoder body (None for ALBERT and DeBERTa).
    pub fn body(&self) -> Option<&EncoderBody> {
        match &self.body {
            Body::Bert(b) => Some(b),
            Body::Family(_) => None,
        }
    }

    /// Rows of the word embedding table (the output vocabulary).
    pub fn vocab_size(&self) -> usize {
        self.dims.vocab
    }

    /// The name of each of [`Self::params`] in the saved `*ForMaskedLM` state dict.
    pub fn hf_param_names(&self) -> Vec<String> {
        self.params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i >= self.n_body {
                    p.name.clone()
                } else {
                    match &self.family {
                        Some(f) => format!("{}{}", f.body_prefix, p.name),
                        None => format!("{}{}", self.prefix, p.name),
                    }
                }
            })
            .collect()
    }

    /// Last hidden state [batch, seq, hidden]; dropout when `rng` is given.
    fn encode(
        &self,
        ids: &[u32],
        lengths: &[usize],
        seq: usize,
        rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Tensor, ZooError> {
        let types = vec![0u32; ids.len()];
        Ok(match &self.body {
            Body::Bert(b) => b.forward(ids, &types, lengths, seq, rng)?,
            Body::Family(f) => {
                let batch = Batch {
                    ids: ids.to_vec(),
                    type_ids: types,
                    lengths: lengths.to_vec(),
                    seq,
                };
                f.forward(&batch, rng)?
            }
        })
    }

    /// The directory whose tokenizer the model uses.
    pub fn tokenizer_dir(&self) -> &Path {
        &self.tokenizer_dir
    }

    /// The head on hidden states [n, hidden] -> logits [n, vocab].
    fn head_fwd(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let z = activation(&self.head.dense.fwd(x)?, self.head.act)?;
        let z = self.head.ln.fwd(&z)?;
        z.matmul(&self.word.as_tensor().t()?)?
            .broadcast_add(self.head.bias.as_tensor())
    }

    /// MLM logits [batch, seq, vocab] of a right-padded batch (`ids` row-major [batch, seq]),
    /// evaluation mode (no dropout).
    pub fn logits(&self, ids: &[u32], lengths: &[usize], seq: usize) -> Result<Tensor, ZooError> {
        let b = lengths.len();
        let x = self.encode(ids, lengths, seq, None)?;
        let h = self.dims.hidden;
        Ok(self
            .head_fwd(&x.reshape((b * seq, h))?)?
            .reshape((b, seq, ()))?)
    }

    /// Mean cross-entropy at the batch's selected positions; dropout when `rng` is given.
    pub fn loss(
        &self,
        batch: &MaskedBatch,
        rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Tensor, ZooError> {
        let b = batch.lengths.len();
        let x = self.encode(&batch.ids, &batch.lengths, batch.seq, rng)?;
        let x = x.reshape((b * batch.seq, self.dims.hidden))?;
        let dev = Device::Cpu;
        let idx = Tensor::from_slice(&batch.positions, batch.positions.len(), &dev)?;
        let logits = self.head_fwd(&x.index_select(&idx, 0)?)?;
        let labels = Tensor::from_slice(&batch.labels, batch.labels.len(), &dev)?;
        Ok(candle_nn::loss::cross_entropy(&logits, &labels)?)
    }

    /// The masking of this model's tokenizer (mask token, special tokens, vocabulary size).
    pub fn masking_spec(&self, mask_prob: f64) -> Result<MaskingSettings, ZooError> {
        let dir = &self.tokenizer_dir;
        let tj = dir.join("tokenizer.json");
        let tok = if tj.is_file() {
            tokenizers::Tokenizer::from_file(&tj)
                .map_err(|e| ZooError::input(&tj, format!("cannot load tokenizer: {e}")))?
        } else {
            TextTokenizer::wordpiece_from_vocab(&dir.join("vocab.txt"), true)?
        };
        let mask_id = ["[MASK]", "<mask>"]
            .iter()
            .find_map(|t| tok.token_to_id(t))
            .ok_or_else(|| ZooError::input(dir, "the tokenizer has no [MASK] token"))?;
        let mut special = TextTokenizer::from_dir(dir, 8)?
            .encode_all(&[String::new()])?
            .remove(0);
        special.sort_unstable();
        special.dedup();
        let vocab = self.dims.vocab;
        if mask_id as usize >= vocab {
            return Err(ZooError::input(
                dir,
                format!("the mask token id {mask_id} is outside the model's vocabulary of {vocab}"),
            ));
        }
        Ok(MaskingSettings {
            mask_prob,
            mask_id,
            random_vocab: tok.get_vocab_size(true).min(vocab) as u32,
            special,
            pad_id: self.dims.pad,
        })
    }

    /// Every tensor to write, with its Hugging Face name, in the source's dtype: the source's
    /// tensors (pooler, buffers, ...) with the trained ones replaced, the head, and copies of the
    /// tied decoder (`cls.predictions.decoder.*`) when the source stores it. ALBERT and DeBERTa
    /// bodies are written under the wrapper's prefix (`albert.`, `deberta.`), the source's bare
    /// body tensors renamed to match.
    pub fn named_tensors(&self) -> Result<Vec<(String, Tensor)>, ZooError> {
        let mut out: std::collections::BTreeMap<String, Tensor> = Default::default();
        let src = self.source.as_ref();
        if let Some(ck) = src {
            for t in &ck.tensors {
                let name = match &self.family {
                    Some(f) => f.saved_name(&ck.prefix, &t.name),
                    None => t.name.clone(),
                };
                out.insert(name, t.tensor.clone());
            }
        }
        // New tensors (a new head) take the source's float dtype, that of the word embeddings.
        let default_dtype = src
            .and_then(|ck| ck.index(&ck.word_embeddings_name()).map(|i| &ck.tensors[i]))
            .map(|t| t.tensor.dtype())
            .unwrap_or(DType::F32);
        for (p, mut name) in self.params.iter().zip(self.hf_param_names()) {
            if !out.contains_key(&name) {
                let old = name
                    .strip_suffix(".weight")
                    .map(|s| format!("{s}.gamma"))
                    .or_else(|| name.strip_suffix(".bias").map(|s| format!("{s}.beta")));
                if let Some(o) = old.filter(|o| out.contains_key(o)) {
                    name = o;
                }
            }
            let dtype = out.get(&name).map(|t| t.dtype()).unwrap_or(default_dtype);
            out.insert(name, p.var.as_tensor().to_dtype(dtype)?);
        }
        let word = self.word.as_tensor();
        let (dw, db) = match &self.family {
            Some(f) => f.decoder.unwrap_or(("", "")),
            None => (
                "cls.predictions.decoder.weight",
                "cls.predictions.decoder.bias",
            ),
        };
        for (name, t) in [(dw, word), (db, self.head.bias.as_tensor())] {
            if let Some(old) = out.get(name) {
                let d = old.dtype();
                out.insert(name.to_string(), t.to_dtype(d)?);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Write the model as a Hugging Face directory: config.json (`BertForMaskedLM`,
    /// `AlbertForMaskedLM`, `DebertaForMaskedLM`, `DebertaV2ForMaskedLM`, `MPNetForMaskedLM`,
    /// `ModernBertForMaskedLM`),
    /// model.safetensors, and the tokenizer files.
    pub fn save(&self, dir: &Path) -> Result<(), ZooError> {
        Ok(write_hf_files(
            dir,
            &self.config_json,
            &self.named_tensors()?,
            &self.tokenizer_dir,
        )?)
    }
}

fn build_head(b: &mut ParamBuilder, cfg: &EncoderConfig) -> Result<Head, ZooError> {
    let h = cfg.hidden_size;
    Ok(Head {
        dense: b.lin("cls.predictions.transform.dense", h, h)?,
        ln: b.norm("cls.predictions.transform.LayerNorm", h, cfg.layer_norm_eps)?,
        bias: b.vector_or_zeros("cls.predictions.bias", cfg.vocab_size)?,
        act: HeadAct::Bert(cfg.activation),
    })
}

impl MlmSettings {
    /// Validate before any work (the errors name the setting).
    pub fn check(&self) -> Result<(), ZooError> {
        check_settings(self)
    }
}

fn check_settings(s: &MlmSettings) -> Result<(), ZooError> {
    let bad = |o: &str, m: String| Err(ZooError::option(o, m));
    if s.steps == 0 {
        return bad("steps", "must be at least 1".into());
    }
    if s.batch_size == 0 {
        return bad("batch size", "must be at least 1".into());
    }
    if !(s.lr > 0.0 && s.lr.is_finite()) {
        return bad("learning rate", format!("must be positive, got {}", s.lr));
    }
    if !(0.0..1.0).contains(&s.warmup_ratio) {
        return bad(
            "warmup ratio",
            format!("must be in [0, 1), got {}", s.warmup_ratio),
        );
    }
    if !(s.mask_prob > 0.0 && s.mask_prob < 1.0) {
        return bad(
            "mask probability",
            format!("must be in (0, 1), got {}", s.mask_prob),
        );
    }
    if let Some(&x) = s.save_at.iter().find(|&&x| x == 0 || x > s.steps) {
        return bad(
            "save steps",
            format!("step {x} is outside 1..={} (the run's steps)", s.steps),
        );
    }
    Ok(())
}

/// Train with masked language modelling on `corpus` (one text per line; empty lines skipped),
/// calling `on_checkpoint(step, &model)` after each step listed in `settings.save_at`.
pub fn train_mlm(
    init: MlmInit,
    corpus: &[String],
    settings: &MlmSettings,
    on_checkpoint: impl FnMut(usize, &MlmModel) -> Result<(), ZooError>,
) -> Result<MlmReport, ZooError> {
    train_mlm_with_progress(
        init,
        corpus,
        settings,
        &indicatif::ProgressBar::hidden(),
        on_checkpoint,
    )
}

/// [`train_mlm`] reporting to `pb` (length = steps, position, message = the running loss).
pub fn train_mlm_with_progress(
    init: MlmInit,
    corpus: &[String],
    s: &MlmSettings,
    pb: &indicatif::ProgressBar,
    mut on_checkpoint: impl FnMut(usize, &MlmModel) -> Result<(), ZooError>,
) -> Result<MlmReport, ZooError> {
    s.check()?;
    let model = MlmModel::load(&init, DType::F32, s.seed)?;
    let tdir = model.tokenizer_dir.clone();
    check_max_length_limit(&tdir, model.dims.max_input_tokens, s.max_length)?;
    let spec = model.masking_spec(s.mask_prob)?;
    let tok = TextTokenizer::from_dir(&tdir, s.max_length)?;
    let lines: Vec<String> = corpus
        .iter()
        .filter(|l| !l.trim().is_empty())
        .cloned()
        .collect();
    let rows: Vec<Vec<u32>> = tok
        .encode_all(&lines)?
        .into_iter()
        .filter(|r| r.iter().any(|id| spec.special.binary_search(id).is_err()))
        .collect();
    crate::encoder::extract::check_token_ids(
        tok.source(),
        model.dims.vocab,
        rows.iter().map(Vec::as_slice),
    )?;
    if rows.is_empty() {
        return Err(ZooError::option(
            "corpus",
            "no line with a maskable token (the corpus is empty or blank)",
        ));
    }
    let vocab = model.dims.vocab as u32;
    if let Some(id) = rows.iter().flatten().find(|&&id| id >= vocab) {
        return Err(ZooError::input(
            &tdir,
            format!("the tokenizer produced id {id}, outside the model's vocabulary of {vocab}"),
        ));
    }
    let mut save_at = s.save_at.clone();
    save_at.sort_unstable();
    save_at.dedup();
    let warmup = (s.warmup_ratio * s.steps as f64).ceil() as usize;
    let mut opt = AdamW::new(
        model.params(),
        AdamWSettings {
            lr: s.lr,
            weight_decay: s.weight_decay,
            ..Default::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x6d6c_6d5f_7472_6169);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut cursor = order.len();
    let mut batch = MaskedBatch::default();
    let mut picked: Vec<&[u32]> = Vec::with_capacity(s.batch_size);
    let mut losses = Vec::with_capacity(s.steps);
    let t0 = std::time::Instant::now();
    for step in 0..s.steps {
        if cursor >= order.len() {
            order.shuffle(&mut rng);
            cursor = 0;
        }
        let end = (cursor + s.batch_size).min(order.len());
        picked.clear();
        picked.extend(order[cursor..end].iter().map(|&i| rows[i].as_slice()));
        cursor = end;
        spec.mask_into(&picked, &mut rng, &mut batch);
        let loss = model.loss(&batch, s.dropout.then_some(&mut rng))?;
        let lv = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !lv.is_finite() {
            return Err(ZooError::option(
                "learning rate",
                format!("training loss became {lv} at step {}; lower it", step + 1),
            ));
        }
        let grads = loss.backward()?;
        opt.step_clipped(
            model.params(),
            &grads,
            linear_schedule(s.lr, step, warmup, s.steps),
            Some(s.max_grad_norm),
        )?;
        losses.push(lv);
        pb.set_length(s.steps as u64);
        pb.set_position(step as u64 + 1);
        pb.set_message(format!("loss {lv:.3}"));
        if save_at.binary_search(&(step + 1)).is_ok() {
            on_checkpoint(step + 1, &model)?;
        }
    }
    Ok(MlmReport {
        losses,
        lines: rows.len(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
