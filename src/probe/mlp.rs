//! One-hidden-layer MLP probe (ReLU, softmax output), trained with Adam on mini-batches and
//! early stopping on the validation loss (the parameters of the best epoch are kept).
//!
//! Forward and backward passes are generic over `f32` (training) and `f64` (gradient checks).

use crate::learn::linalg::{matmul, matmul_nt, matmul_tn, MatRef, Real};
use crate::learn::logreg::{accuracy, argmax};
use num_traits::Float;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Errors of the MLP probe.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MlpError {
    /// Inconsistent shapes, labels out of range or empty data.
    #[error("invalid problem: {0}")]
    Invalid(String),
}

/// Training settings.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpSettings {
    /// Hidden units.
    pub hidden: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 penalty added to the mean loss: `weight_decay / 2 · ||W||²` (weights, not biases).
    pub weight_decay: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Maximum epochs.
    pub max_epochs: usize,
    /// Stop after this many epochs without a lower validation loss.
    pub patience: usize,
    /// Seed of the initialisation and of the batch order.
    pub seed: u64,
}

impl Default for MlpSettings {
    fn default() -> Self {
        MlpSettings {
            hidden: 100,
            lr: 1e-3,
            weight_decay: 1e-4,
            batch_size: 64,
            max_epochs: 200,
            patience: 5,
            seed: 0,
        }
    }
}

/// A one-hidden-layer network. Parameters are laid out as `W1 (dim×h)`, `b1 (h)`, `W2 (h×k)`,
/// `b2 (k)`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Input dimension.
    pub dim: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes.
    pub n_classes: usize,
    /// Parameters (see the type docs).
    pub params: Vec<f32>,
}

/// What training did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlpInfo {
    /// Epochs run.
    pub epochs: usize,
    /// The epoch whose parameters were kept (1-based).
    pub best_epoch: usize,
    /// Validation loss at that epoch.
    pub val_loss: f64,
}

/// Number of parameters of a network.
pub fn n_params(dim: usize, hidden: usize, k: usize) -> usize {
    dim * hidden + hidden + hidden * k + k
}

/// Mean cross-entropy plus `weight_decay / 2 · ||W||²` of the network `p` on `x` (`n × dim`,
/// row-major), and its gradient written into `grad` (same layout as `p`).
#[allow(clippy::too_many_arguments)]
pub fn loss_and_grad<T: Real + Float>(
    p: &[T],
    dim: usize,
    hidden: usize,
    k: usize,
    x: &[T],
    y: &[u32],
    weight_decay: f64,
    grad: &mut [T],
) -> f64 {
    let n = y.len();
    let (w1, rest) = p.split_at(dim * hidden);
    let (b1, rest) = rest.split_at(hidden);
    let (w2, b2) = rest.split_at(hidden * k);
    let mut h = vec![T::zero(); n * hidden];
    matmul(n, dim, hidden, x, w1, &mut h, 1);
    for row in h.chunks_mut(hidden) {
        for (v, &b) in row.iter_mut().zip(b1) {
            *v = (*v + b).max(T::zero());
        }
    }
    let mut z = vec![T::zero(); n * k];
    matmul(n, hidden, k, &h, w2, &mut z, 1);
    let nf = T::from(n).unwrap();
    let mut loss = 0.0f64;
    // z becomes dL/dz = (softmax - onehot) / n
    for (row, &yi) in z.chunks_mut(k).zip(y) {
        for (v, &b) in row.iter_mut().zip(b2) {
            *v = *v + b;
        }
        let mx = row.iter().cloned().fold(T::neg_infinity(), T::max);
        let mut sum = T::zero();
        for v in row.iter_mut() {
            *v = (*v - mx).exp();
            sum = sum + *v;
        }
        loss += (sum.ln() - (row[yi as usize].ln())).to_f64().unwrap();
        for (j, v) in row.iter_mut().enumerate() {
            let t = if j == yi as usize {
                T::one()
            } else {
                T::zero()
            };
            *v = (*v / sum - t) / nf;
        }
    }
    let (gw1, grest) = grad.split_at_mut(dim * hidden);
    let (gb1, grest) = grest.split_at_mut(hidden);
    let (gw2, gb2) = grest.split_at_mut(hidden * k);
    matmul_tn(hidden, n, k, &h, &z, gw2, 1);
    gb2.iter_mut().for_each(|v| *v = T::zero());
    for row in z.chunks(k) {
        for (g, &v) in gb2.iter_mut().zip(row) {
            *g = *g + v;
        }
    }
    // dL/dh = dz · W2ᵀ, masked by the ReLU
    let mut dh = vec![T::zero(); n * hidden];
    matmul_nt(n, k, hidden, &z, w2, &mut dh, 1);
    for (d, &hv) in dh.iter_mut().zip(&h) {
        if hv <= T::zero() {
            *d = T::zero();
        }
    }
    matmul_tn(dim, n, hidden, x, &dh, gw1, 1);
    gb1.iter_mut().for_each(|v| *v = T::zero());
    for row in dh.chunks(hidden) {
        for (g, &v) in gb1.iter_mut().zip(row) {
            *g = *g + v;
        }
    }
    let wd = T::from(weight_decay).unwrap();
    let mut pen = 0.0f64;
    for (g, &w) in gw1.iter_mut().zip(w1).chain(gw2.iter_mut().zip(w2)) {
        *g = *g + wd * w;
        pen += w.to_f64().unwrap().powi(2);
    }
    loss / n as f64 + 0.5 * weight_decay * pen
}

impl Mlp {
    /// Random initialisation as PyTorch's `nn.Linear`: uniform in ±1/√fan_in.
    pub fn init(dim: usize, hidden: usize, n_classes: usize, rng: &mut impl Rng) -> Self {
        let mut params = Vec::with_capacity(n_params(dim, hidden, n_classes));
        let a1 = 1.0 / (dim as f32).sqrt();
        let a2 = 1.0 / (hidden as f32).sqrt();
        for _ in 0..dim * hidden + hidden {
            params.push(rng.gen_range(-a1..a1));
        }
        for _ in 0..hidden * n_classes + n_classes {
            params.push(rng.gen_range(-a2..a2));
        }
        Mlp {
            dim,
            hidden,
            n_classes,
            params,
        }
    }

    /// Output scores (logits), `n × k` row-major.
    pub fn logits(&self, x: MatRef) -> Vec<f32> {
        let (d, h, k) = (self.dim, self.hidden, self.n_classes);
        let (w1, rest) = self.params.split_at(d * h);
        let (b1, rest) = rest.split_at(h);
        let (w2, b2) = rest.split_at(h * k);
        let mut hid = vec![0f32; x.n * h];
        matmul(x.n, d, h, x.data, w1, &mut hid, 1);
        for row in hid.chunks_mut(h) {
            for (v, &b) in row.iter_mut().zip(b1) {
                *v = (*v + b).max(0.0);
            }
        }
        let mut z = vec![0f32; x.n * k];
        matmul(x.n, h, k, &hid, w2, &mut z, 1);
        for row in z.chunks_mut(k) {
            for (v, &b) in row.iter_mut().zip(b2) {
                *v += b;
            }
        }
        z
    }

    /// Class probabilities, `n × k` row-major.
    pub fn predict_proba(&self, x: MatRef) -> Vec<f64> {
        let mut p: Vec<f64> = self.logits(x).iter().map(|&v| v as f64).collect();
        for row in p.chunks_mut(self.n_classes) {
            let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (*v - mx).exp();
                s += *v;
            }
            row.iter_mut().for_each(|v| *v /= s);
        }
        p
    }

    /// Most probable class of each row.
    pub fn predict(&self, x: MatRef) -> Vec<u32> {
        self.predict_proba(x)
            .chunks(self.n_classes)
            .map(argmax)
            .collect()
    }

    /// Fraction of rows predicted as `y`.
    pub fn accuracy(&self, x: MatRef, y: &[u32]) -> f64 {
        accuracy(&self.predict(x), y)
    }

    /// Mean cross-entropy on `(x, y)`.
    pub fn mean_loss(&self, x: MatRef, y: &[u32]) -> f64 {
        let p = self.predict_proba(x);
        let k = self.n_classes;
        y.iter()
            .enumerate()
            .map(|(i, &yi)| -(p[i * k + yi as usize].max(1e-300)).ln())
            .sum::<f64>()
            / y.len().max(1) as f64
    }
}

fn check(x: MatRef, y: &[u32], k: usize, what: &str) -> Result<(), MlpError> {
    if x.n != y.len() || x.n == 0 {
        return Err(MlpError::Invalid(format!(
            "{what}: {} rows, {} labels",
            x.n,
            y.len()
        )));
    }
    if let Some(l) = y.iter().find(|&&l| l as usize >= k) {
        return Err(MlpError::Invalid(format!(
            "{what}: label {l} ≥ {k} classes"
        )));
    }
    Ok(())
}

/// Train on `(xtr, ytr)` with early stopping on `(xva, yva)`.
pub fn train(
    xtr: MatRef,
    ytr: &[u32],
    xva: MatRef,
    yva: &[u32],
    n_classes: usize,
    opts: &MlpSettings,
) -> Result<(Mlp, MlpInfo), MlpError> {
    check(xtr, ytr, n_classes, "training")?;
    check(xva, yva, n_classes, "validation")?;
    if n_classes < 2 || opts.hidden == 0 || opts.batch_size == 0 || xtr.dim != xva.dim {
        return Err(MlpError::Invalid(format!(
            "{n_classes} classes, {} hidden units, batch {}",
            opts.hidden, opts.batch_size
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (d, h, k) = (xtr.dim, opts.hidden, n_classes);
    let mut net = Mlp::init(d, h, k, &mut rng);
    let np = net.params.len();
    let (mut m1, mut m2) = (vec![0f32; np], vec![0f32; np]);
    let mut grad = vec![0f32; np];
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut t = 0i32;
    let mut order: Vec<usize> = (0..xtr.n).collect();
    let mut best = (net.clone(), f64::INFINITY, 0usize);
    let mut epochs = 0;
    let mut xb = Vec::with_capacity(opts.batch_size * d);
    let mut yb = Vec::with_capacity(opts.batch_size);
    for epoch in 1..=opts.max_epochs {
        epochs = epoch;
        order.shuffle(&mut rng);
        for chunk in order.chunks(opts.batch_size) {
            xb.clear();
            yb.clear();
            for &i in chunk {
                xb.extend_from_slice(xtr.row(i));
                yb.push(ytr[i]);
            }
            loss_and_grad(&net.params, d, h, k, &xb, &yb, opts.weight_decay, &mut grad);
            t += 1;
            let lr_t = opts.lr as f32 * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            for j in 0..np {
                let g = grad[j];
                m1[j] = b1 * m1[j] + (1.0 - b1) * g;
                m2[j] = b2 * m2[j] + (1.0 - b2) * g * g;
                net.params[j] -= lr_t * m1[j] / (m2[j].sqrt() + eps);
            }
        }
        let vl = net.mean_loss(xva, yva);
        if vl < best.1 {
            best = (net.clone(), vl, epoch);
        } else if epoch - best.2 >= opts.patience {
            break;
        }
    }
    let (net, val_loss, best_epoch) = best;
    Ok((
        net,
        MlpInfo {
            epochs,
            best_epoch,
            val_loss,
        },
    ))
}
