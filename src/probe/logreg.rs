//! Multinomial logistic regression with an L2 penalty, trained to convergence with L-BFGS.
//!
//! The objective is scikit-learn's `LogisticRegression(C=c)` divided by the number of examples:
//! `mean_i CE_i + ||W||² / (2 c n)`, intercepts unpenalised. Two classes use one weight vector
//! (sigmoid), as scikit-learn does; more classes use a softmax over one vector per class.
//! Products with the data run in `f32` through `gemm`; the parameters, losses and the optimiser
//! run in `f64`.

use super::lbfgs::{self, LbfgsOptions, LbfgsReport};
use super::linalg::{matmul, matmul_tn, MatRef};

/// Errors of the logistic-regression probe.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LogRegError {
    /// Labels and rows disagree in number.
    #[error("{labels} labels for {rows} rows")]
    LengthMismatch { labels: usize, rows: usize },
    /// A label is out of range.
    #[error("label {label} out of range for {classes} classes")]
    BadLabel { label: u32, classes: usize },
    /// Fewer than two classes, no rows, or a non-positive penalty.
    #[error("invalid problem: {0}")]
    Invalid(String),
}

/// Settings of one fit.
#[derive(Debug, Clone, Copy)]
pub struct LogRegOptions {
    /// Inverse regularisation strength (scikit-learn's `C`).
    pub c: f64,
    /// Optimiser stopping rules.
    pub lbfgs: LbfgsOptions,
    /// Threads for the matrix products (1 = none; use 1 inside an outer parallel loop).
    pub threads: usize,
}

impl Default for LogRegOptions {
    fn default() -> Self {
        LogRegOptions {
            c: 1.0,
            lbfgs: LbfgsOptions {
                max_iter: 1000,
                gtol: 1e-5,
                ftol: 1e-10,
                memory: 10,
            },
            threads: 1,
        }
    }
}

/// A fitted (or initial) model.
#[derive(Debug, Clone, PartialEq)]
pub struct LogReg {
    /// Number of classes `k` (≥ 2).
    pub n_classes: usize,
    /// Feature dimension.
    pub dim: usize,
    /// Parameters: weights `dim × m` row-major, then `m` intercepts, where `m = 1` for two
    /// classes and `m = k` otherwise.
    pub theta: Vec<f64>,
}

/// Outcome of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitInfo {
    /// The penalty it was fitted with.
    pub c: f64,
    /// Final objective (see the module docs).
    pub objective: f64,
    /// Optimiser report.
    pub report: LbfgsReport,
}

fn outputs(k: usize) -> usize {
    if k == 2 {
        1
    } else {
        k
    }
}

impl LogReg {
    /// All-zero parameters.
    pub fn zeros(n_classes: usize, dim: usize) -> Self {
        let m = outputs(n_classes);
        LogReg {
            n_classes,
            dim,
            theta: vec![0.0; m * (dim + 1)],
        }
    }

    fn m(&self) -> usize {
        outputs(self.n_classes)
    }

    /// Scores `n × m` (`m = 1` for two classes: the logit of class 1).
    pub fn decision(&self, x: MatRef) -> Vec<f64> {
        assert_eq!(x.dim, self.dim);
        let m = self.m();
        let w: Vec<f32> = self.theta[..self.dim * m]
            .iter()
            .map(|&v| v as f32)
            .collect();
        let b = &self.theta[self.dim * m..];
        let mut z = vec![0f32; x.n * m];
        matmul(x.n, x.dim, m, x.data, &w, &mut z, 1);
        z.chunks(m)
            .flat_map(|r| r.iter().zip(b).map(|(&v, &bb)| v as f64 + bb))
            .collect()
    }

    /// Class probabilities, `n × k` row-major.
    pub fn predict_proba(&self, x: MatRef) -> Vec<f64> {
        let z = self.decision(x);
        let k = self.n_classes;
        if k == 2 {
            z.iter()
                .flat_map(|&s| {
                    let p1 = sigmoid(s);
                    [1.0 - p1, p1]
                })
                .collect()
        } else {
            let mut p = z;
            for row in p.chunks_mut(k) {
                let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - mx).exp();
                    sum += *v;
                }
                row.iter_mut().for_each(|v| *v /= sum);
            }
            p
        }
    }

    /// Most probable class of each row (ties: the lower class index).
    pub fn predict(&self, x: MatRef) -> Vec<u32> {
        let z = self.decision(x);
        if self.n_classes == 2 {
            z.iter().map(|&s| u32::from(s > 0.0)).collect()
        } else {
            z.chunks(self.n_classes).map(argmax).collect()
        }
    }

    /// Fraction of rows whose predicted class equals `y`.
    pub fn accuracy(&self, x: MatRef, y: &[u32]) -> f64 {
        accuracy(&self.predict(x), y)
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(row: &[f64]) -> u32 {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best as u32
}

/// Fraction of equal entries.
pub fn accuracy(pred: &[u32], y: &[u32]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(z))` without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn check(x: MatRef, y: &[u32], k: usize, c: f64) -> Result<(), LogRegError> {
    if y.len() != x.n {
        return Err(LogRegError::LengthMismatch {
            labels: y.len(),
            rows: x.n,
        });
    }
    if k < 2 || x.n == 0 || c.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(LogRegError::Invalid(format!(
            "{} classes, {} rows, C = {c}",
            k, x.n
        )));
    }
    if let Some(&label) = y.iter().find(|&&l| l as usize >= k) {
        return Err(LogRegError::BadLabel { label, classes: k });
    }
    Ok(())
}

/// Workspace for objective evaluations.
struct Objective<'a> {
    x: MatRef<'a>,
    y: &'a [u32],
    k: usize,
    m: usize,
    c: f64,
    threads: usize,
    w: Vec<f32>,
    z: Vec<f32>,
    r: Vec<f32>,
    gw: Vec<f32>,
}

impl<'a> Objective<'a> {
    fn new(x: MatRef<'a>, y: &'a [u32], k: usize, c: f64, threads: usize) -> Self {
        let m = outputs(k);
        Objective {
            x,
            y,
            k,
            m,
            c,
            threads,
            w: vec![0.0; x.dim * m],
            z: vec![0.0; x.n * m],
            r: vec![0.0; x.n * m],
            gw: vec![0.0; x.dim * m],
        }
    }

    /// Objective value; writes the gradient into `grad`.
    fn eval(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (n, dim, m) = (self.x.n, self.x.dim, self.m);
        let nf = n as f64;
        for (w, &t) in self.w.iter_mut().zip(&theta[..dim * m]) {
            *w = t as f32;
        }
        let b = &theta[dim * m..];
        matmul(n, dim, m, self.x.data, &self.w, &mut self.z, self.threads);
        let mut loss = 0.0;
        let mut gb = vec![0.0; m];
        if self.k == 2 {
            for i in 0..n {
                let s = self.z[i] as f64 + b[0];
                let yi = self.y[i] as f64;
                loss += if self.y[i] == 1 {
                    softplus(-s)
                } else {
                    softplus(s)
                };
                let r = (sigmoid(s) - yi) / nf;
                self.r[i] = r as f32;
                gb[0] += r;
            }
        } else {
            let mut row = vec![0.0; m];
            for i in 0..n {
                let zi = &self.z[i * m..(i + 1) * m];
                let mut mx = f64::NEG_INFINITY;
                for j in 0..m {
                    row[j] = zi[j] as f64 + b[j];
                    mx = mx.max(row[j]);
                }
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - mx).exp();
                    sum += *v;
                }
                let yi = self.y[i] as usize;
                loss += sum.ln() - (row[yi].ln());
                for j in 0..m {
                    let p = row[j] / sum;
                    let r = (p - if j == yi { 1.0 } else { 0.0 }) / nf;
                    self.r[i * m + j] = r as f32;
                    gb[j] += r;
                }
            }
        }
        matmul_tn(dim, n, m, self.x.data, &self.r, &mut self.gw, self.threads);
        let lam = 1.0 / (self.c * nf);
        let mut pen = 0.0;
        for ((g, &gw), &t) in grad[..dim * m]
            .iter_mut()
            .zip(&self.gw)
            .zip(&theta[..dim * m])
        {
            *g = gw as f64 + lam * t;
            pen += t * t;
        }
        grad[dim * m..].copy_from_slice(&gb);
        loss / nf + 0.5 * lam * pen
    }
}

/// The objective (see the module docs) of `model` on `(x, y)` with penalty `c`.
pub fn objective(model: &LogReg, x: MatRef, y: &[u32], c: f64) -> Result<f64, LogRegError> {
    check(x, y, model.n_classes, c)?;
    let mut obj = Objective::new(x, y, model.n_classes, c, 1);
    let mut g = vec![0.0; model.theta.len()];
    Ok(obj.eval(&model.theta, &mut g))
}

/// Fit a model on `(x, y)` with labels in `0..n_classes`, starting from `init` (a warm start)
/// or from zero.
pub fn fit(
    x: MatRef,
    y: &[u32],
    n_classes: usize,
    opts: &LogRegOptions,
    init: Option<&LogReg>,
) -> Result<(LogReg, FitInfo), LogRegError> {
    check(x, y, n_classes, opts.c)?;
    let mut model = match init {
        Some(m) if m.n_classes == n_classes && m.dim == x.dim => m.clone(),
        _ => LogReg::zeros(n_classes, x.dim),
    };
    let mut obj = Objective::new(x, y, n_classes, opts.c, opts.threads);
    let report = lbfgs::minimize(&mut model.theta, |t, g| obj.eval(t, g), &opts.lbfgs);
    Ok((
        model,
        FitInfo {
            c: opts.c,
            objective: report.value,
            report,
        },
    ))
}

/// Fit one model per penalty in `cs` (in the given order), each warm-started from the previous
/// one. Ascending `cs` (strong to weak regularisation) makes the warm starts most useful.
pub fn fit_path(
    x: MatRef,
    y: &[u32],
    n_classes: usize,
    cs: &[f64],
    opts: &LogRegOptions,
) -> Result<Vec<(LogReg, FitInfo)>, LogRegError> {
    let mut out: Vec<(LogReg, FitInfo)> = Vec::with_capacity(cs.len());
    for &c in cs {
        let o = LogRegOptions { c, ..*opts };
        let init = out.last().map(|(m, _)| m);
        let r = fit(x, y, n_classes, &o, init)?;
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<f32>, Vec<u32>) {
        // 3 classes on a line, overlapping a little.
        let x: Vec<f32> = (0..30)
            .map(|i| (i as f32) / 10.0 + ((i * 7) % 5) as f32 * 0.3)
            .collect();
        let y: Vec<u32> = (0..30).map(|i| (i / 10) as u32).collect();
        (x, y)
    }

    #[test]
    fn gradient_matches_finite_differences_for_binary_and_multiclass() {
        let (x, y3) = toy();
        let y2: Vec<u32> = y3.iter().map(|&v| u32::from(v > 0)).collect();
        let xm = MatRef::new(&x, 30, 1);
        for (y, k) in [(&y2, 2usize), (&y3, 3)] {
            let mut obj = Objective::new(xm, y, k, 0.7, 1);
            let m = outputs(k);
            let theta: Vec<f64> = (0..2 * m).map(|j| 0.1 * j as f64 - 0.2).collect();
            let mut g = vec![0.0; theta.len()];
            obj.eval(&theta, &mut g);
            for j in 0..theta.len() {
                let h = 1e-3;
                let mut tp = theta.clone();
                tp[j] += h;
                let mut tm = theta.clone();
                tm[j] -= h;
                let mut d = vec![0.0; theta.len()];
                let fd = (obj.eval(&tp, &mut d) - obj.eval(&tm, &mut d)) / (2.0 * h);
                assert!((fd - g[j]).abs() < 1e-4, "k={k} j={j}: {fd} vs {}", g[j]);
            }
        }
    }

    #[test]
    fn rejects_labels_out_of_range_and_single_class_problems() {
        let (x, mut y) = toy();
        y[0] = 5;
        let xm = MatRef::new(&x, 30, 1);
        assert_eq!(
            fit(xm, &y, 3, &LogRegOptions::default(), None).unwrap_err(),
            LogRegError::BadLabel {
                label: 5,
                classes: 3
            }
        );
        assert!(fit(xm, &y, 1, &LogRegOptions::default(), None).is_err());
    }
}
