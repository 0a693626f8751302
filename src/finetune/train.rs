//! The fine-tuning loop: stratified subsampling, seeded shuffling and dropout, AdamW with linear
//! warmup/decay and gradient clipping, evaluation on dev after every epoch.

use super::metrics::task_metrics;
use super::model::AnyClassifier;
pub use super::FinetuneError;
pub use crate::data::glue::stratified_subsample;
use crate::data::glue::{GlueExample, GlueSplit, TaskKind};
use crate::encoder::extract::check_max_length_limit;
use crate::encoder::tokenizer::TextTokenizer;
use crate::encoder::EncoderError;
use crate::nn::optim::{linear_schedule, AdamW, AdamWSettings};
use crate::util::{at_least_one, positive, SettingsError};
use candle_core::{DType, Tensor, D};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Training settings (also a study file's `[finetune.train]` table: every field optional, with
/// the defaults below).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    /// Passes over the training set.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Truncation length (tokens, special tokens included).
    pub max_length: usize,
    /// Fraction of the steps used for linear warmup.
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Gradient clipping norm.
    pub max_grad_norm: f64,
    /// Stratified subsample of the training set (None: all).
    pub max_train_examples: Option<usize>,
    /// Stratified subsample of the dev set (None: all), drawn with a fixed seed so every
    /// training seed is scored on the same examples. For cheap smoke runs: the scores are then
    /// not the standard GLUE dev scores.
    pub max_dev_examples: Option<usize>,
}

impl TrainSettings {
    /// Validate before any work: counts of at least one, a positive finite learning rate, a
    /// finite non-negative weight decay, a warmup fraction in [0, 1), a positive clipping norm,
    /// room for the special tokens.
    pub fn check(&self) -> Result<(), SettingsError> {
        at_least_one("epochs", self.epochs)?;
        at_least_one("batch_size", self.batch_size)?;
        positive("lr", self.lr)?;
        positive("max_grad_norm", self.max_grad_norm)?;
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(SettingsError::new(
                "weight_decay",
                format!("must be finite and non-negative, got {}", self.weight_decay),
            ));
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return Err(SettingsError::new(
                "warmup_ratio",
                format!("must be in [0, 1), got {}", self.warmup_ratio),
            ));
        }
        crate::util::room_for_special_tokens(self.max_length)?;
        if let Some(n) = self.max_train_examples {
            at_least_one("max_train_examples", n)?;
        }
        if let Some(n) = self.max_dev_examples {
            at_least_one("max_dev_examples", n)?;
        }
        Ok(())
    }
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: 3,
            lr: 2e-5,
            batch_size: 16,
            max_length: 128,
            warmup_ratio: 0.06,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            max_train_examples: None,
            max_dev_examples: None,
        }
    }
}

/// Metrics after one epoch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochResult {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Dev metrics, primary first.
    pub metrics: Vec<(String, f64)>,
}

/// One (model, task, seed) run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    /// Per-epoch results.
    pub epochs: Vec<EpochResult>,
    /// Epoch (1-based) with the best primary dev metric.
    pub best_epoch: usize,
    /// Name of the primary metric.
    pub primary: String,
    /// Its best value.
    pub best: f64,
    /// Training examples used.
    pub train_examples: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Seconds of training + evaluation.
    pub seconds: f64,
}

struct Encoded {
    ids: Vec<u32>,
    types: Vec<u32>,
    target: f32,
}

fn encode(
    tok: &TextTokenizer,
    ex: &[GlueExample],
    zero_types: bool,
) -> Result<Vec<Encoded>, EncoderError> {
    let pairs = ex.iter().all(|e| e.b.is_some());
    let out: Vec<(Vec<u32>, Vec<u32>)> = if pairs {
        let p: Vec<(String, String)> = ex
            .iter()
            .map(|e| (e.a.clone(), e.b.clone().unwrap()))
            .collect();
        tok.encode_pairs(&p)?
    } else {
        let s: Vec<String> = ex.iter().map(|e| e.a.clone()).collect();
        tok.encode_all(&s)?
            .into_iter()
            .map(|i| {
                let n = i.len();
                (i, vec![0; n])
            })
            .collect()
    };
    Ok(out
        .into_iter()
        .zip(ex)
        .map(|((ids, types), e)| Encoded {
            types: if zero_types {
                vec![0; types.len()]
            } else {
                types
            },
            ids,
            target: e.target,
        })
        .collect())
}

fn pad_batch(items: &[&Encoded], pad: u32) -> (Vec<u32>, Vec<u32>, Vec<usize>, usize) {
    let seq = items.iter().map(|e| e.ids.len()).max().unwrap_or(1);
    let mut ids = vec![pad; items.len() * seq];
    let mut types = vec![0; items.len() * seq];
    let mut lens = Vec::new();
    for (r, e) in items.iter().enumerate() {
        ids[r * seq..r * seq + e.ids.len()].copy_from_slice(&e.ids);
        types[r * seq..r * seq + e.types.len()].copy_from_slice(&e.types);
        lens.push(e.ids.len());
    }
    (ids, types, lens, seq)
}

/// Loss of a batch: cross-entropy for classification, mean squared error for regression (the
/// losses of transformers' `*ForSequenceClassification` with `num_labels` > 1 and = 1).
pub fn loss_of(logits: &Tensor, targets: &[f32], kind: TaskKind) -> candle_core::Result<Tensor> {
    match kind {
        TaskKind::Classification => {
            let t: Vec<u32> = targets.iter().map(|&x| x as u32).collect();
            let t = Tensor::from_vec(t, targets.len(), logits.device())?;
            candle_nn::loss::cross_entropy(logits, &t)
        }
        TaskKind::Regression => {
            let t = Tensor::from_slice(targets, targets.len(), logits.device())?
                .to_dtype(logits.dtype())?;
            candle_nn::loss::mse(&logits.squeeze(1)?, &t)
        }
    }
}

/// Predictions on `data` (class index, or the regression value), evaluation mode.
fn predict(
    model: &AnyClassifier,
    data: &[Encoded],
    kind: TaskKind,
    bs: usize,
) -> Result<Vec<f64>, FinetuneError> {
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by_key(|&i| data[i].ids.len());
    let mut out = vec![0f64; data.len()];
    for chunk in order.chunks(bs.max(1)) {
        let items: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
        let (ids, types, lens, seq) = pad_batch(&items, model.pad_token_id());
        let logits = model
            .forward(&ids, &types, &lens, seq, None)?
            .to_dtype(DType::F64)?;
        let vals: Vec<f64> = match kind {
            TaskKind::Classification => logits
                .argmax(D::Minus1)?
                .to_vec1::<u32>()?
                .into_iter()
                .map(f64::from)
                .collect(),
            TaskKind::Regression => logits.squeeze(1)?.to_vec1::<f64>()?,
        };
        for (&i, v) in chunk.iter().zip(vals) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Fine-tune the checkpoint in `dir` on `train`, evaluating on `dev` after each epoch.
/// Progress goes to `pb` (length = steps, position, message = the running loss).
pub fn finetune(
    dir: &Path,
    train: &GlueSplit,
    dev: &GlueSplit,
    s: &TrainSettings,
    seed: u64,
    save_to: Option<&Path>,
    pb: &indicatif::ProgressBar,
) -> Result<RunResult, FinetuneError> {
    s.check()?;
    let t0 = std::time::Instant::now();
    let kind = train.spec.kind;
    let num_labels = if kind == TaskKind::Regression {
        1
    } else {
        train.spec.labels.len()
    };
    let model = AnyClassifier::load(dir, num_labels, seed)?;
    check_max_length_limit(dir, model.max_input_tokens(), s.max_length)?;
    let tok = TextTokenizer::from_dir(dir, s.max_length)?;
    let zero_types = model.zero_types();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f17e);
    let keep = match s.max_train_examples {
        Some(n) => stratified_subsample(&train.examples, kind, n, &mut rng),
        None => (0..train.examples.len()).collect(),
    };
    let train_ex: Vec<GlueExample> = keep.iter().map(|&i| train.examples[i].clone()).collect();
    let dev_keep = match s.max_dev_examples {
        Some(n) => stratified_subsample(
            &dev.examples,
            kind,
            n,
            &mut ChaCha8Rng::seed_from_u64(0xde5),
        ),
        None => (0..dev.examples.len()).collect(),
    };
    let dev_ex: Vec<GlueExample> = dev_keep.iter().map(|&i| dev.examples[i].clone()).collect();
    if kind == TaskKind::Classification {
        let seen: std::collections::BTreeSet<usize> =
            train_ex.iter().map(|e| e.target as usize).collect();
        if let Some(e) = dev_ex.iter().find(|e| !seen.contains(&(e.target as usize))) {
            return Err(FinetuneError::Settings(format!(
                "{}: dev label {:?} never occurs in the training data {}",
                dev.path.display(),
                train.spec.labels[e.target as usize],
                train.path.display()
            )));
        }
    }
    let tr = encode(&tok, &train_ex, zero_types)?;
    let dv = encode(&tok, &dev_ex, zero_types)?;
    crate::encoder::extract::check_token_ids(
        tok.source(),
        model.vocab_size(),
        tr.iter().chain(&dv).map(|e| e.ids.as_slice()),
    )?;
    let gold: Vec<f64> = dv.iter().map(|e| e.target as f64).collect();
    let steps_per_epoch = tr.len().div_ceil(s.batch_size);
    let total = steps_per_epoch * s.epochs;
    let warmup = (s.warmup_ratio * total as f64).ceil() as usize;
    let mut opt = AdamW::new(
        model.params(),
        AdamWSettings {
            lr: s.lr,
            weight_decay: s.weight_decay,
            ..Default::default()
        },
    )?;
    let mut epochs = Vec::new();
    let mut step = 0;
    for epoch in 1..=s.epochs {
        let mut order: Vec<usize> = (0..tr.len()).collect();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(s.batch_size) {
            let items: Vec<&Encoded> = chunk.iter().map(|&i| &tr[i]).collect();
            let (ids, types, lens, seq) = pad_batch(&items, model.pad_token_id());
            let targets: Vec<f32> = items.iter().map(|e| e.target).collect();
            let logits = model.forward(&ids, &types, &lens, seq, Some(&mut rng))?;
            let loss = loss_of(&logits, &targets, kind)?;
            let lv = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !lv.is_finite() {
                return Err(FinetuneError::Settings(format!(
                    "{}: training loss became {lv} at step {} (epoch {epoch}); lower --lr",
                    train.path.display(),
                    step + 1
                )));
            }
            let grads = loss.backward()?;
            let lr = linear_schedule(s.lr, step, warmup, total);
            opt.step_clipped(model.params(), &grads, lr, Some(s.max_grad_norm))?;
            step += 1;
            loss_sum += lv;
            pb.set_length(total as u64);
            pb.set_position(step as u64);
            pb.set_message(format!("loss {lv:.3}"));
        }
        let pred = predict(&model, &dv, kind, 64)?;
        epochs.push(EpochResult {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            metrics: task_metrics(train.spec, &pred, &gold),
        });
    }
    if let Some(out) = save_to {
        super::save::save_model(dir, out, &model, train.spec)?;
    }
    // The best defined value; when every epoch's metric is undefined (NaN: a constant STS-B dev
    // set), the best is undefined too, never -inf.
    let (best_epoch, best) =
        epochs
            .iter()
            .map(|e| (e.epoch, e.metrics[0].1))
            .fold((1, f64::NAN), |a, b| {
                if b.1 > a.1 || (a.1.is_nan() && !b.1.is_nan()) {
                    b
                } else {
                    a
                }
            });
    Ok(RunResult {
        primary: epochs[0].metrics[0].0.clone(),
        epochs,
        best_epoch,
        best,
        train_examples: tr.len(),
        steps: step,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
