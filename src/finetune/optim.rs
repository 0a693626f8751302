//! AdamW (decoupled weight decay, as `torch.optim.AdamW`), the linear warmup + linear decay
//! schedule (`transformers.get_linear_schedule_with_warmup`) and global-norm gradient clipping.

use super::model::Param;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor};

/// AdamW hyperparameters.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay (applied to parameters with `decay`).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 2e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// AdamW state.
pub struct AdamW {
    cfg: AdamWConfig,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: usize,
}

impl AdamW {
    /// Zero moments for `params`.
    pub fn new(params: &[Param], cfg: AdamWConfig) -> Result<Self> {
        let z = |p: &Param| p.var.as_tensor().zeros_like();
        Ok(AdamW {
            cfg,
            m: params.iter().map(z).collect::<Result<_>>()?,
            v: params.iter().map(z).collect::<Result<_>>()?,
            step: 0,
        })
    }

    /// One update with learning rate `lr` (the schedule's value for this step). Parameters
    /// without a gradient are left alone.
    pub fn step(&mut self, params: &[Param], grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let c = self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        for (i, p) in params.iter().enumerate() {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let mut w = p.var.as_tensor().clone();
            if p.decay && c.weight_decay > 0.0 {
                w = (w * (1.0 - lr * c.weight_decay))?;
            }
            self.m[i] = ((&self.m[i] * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            self.v[i] = ((&self.v[i] * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let denom = ((&self.v[i] / bc2)?.sqrt()? + c.eps)?;
            let upd = ((&self.m[i] / bc1)? / denom)?;
            p.var.set(&(w - (upd * lr)?)?)?;
        }
        Ok(())
    }
}

/// Learning rate at optimizer step `step` (0-based) of `total`: linear warmup over `warmup`
/// steps from 0, then linear decay to 0 at `total`.
pub fn linear_schedule(peak: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        peak * step as f64 / warmup.max(1) as f64
    } else {
        peak * ((total as f64 - step as f64) / (total.saturating_sub(warmup)).max(1) as f64)
            .max(0.0)
    }
}

/// Scale gradients so that their global L2 norm is at most `max_norm`
/// (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm(params: &[Param], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let mut sq = 0f64;
    for p in params {
        if let Some(g) = grads.get(p.var.as_tensor()) {
            sq += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
        }
    }
    let norm = sq.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for p in params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                let g2 = (g * coef)?;
                grads.insert(p.var.as_tensor(), g2);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn one_adamw_step_matches_the_closed_form() {
        // After one step, m̂ = g and v̂ = g², so the update is lr·g/(|g|+ε) plus decoupled decay.
        let w0 = [0.5f64, -1.0, 2.0];
        let var = Var::from_slice(&w0, 3, &Device::Cpu).unwrap();
        let params = vec![Param {
            name: "w".into(),
            var: var.clone(),
            decay: true,
        }];
        let loss = (var.as_tensor().sqr().unwrap().sum_all().unwrap() * 0.5).unwrap(); // g = w
        let grads = loss.backward().unwrap();
        let cfg = AdamWConfig {
            lr: 0.1,
            weight_decay: 0.01,
            ..Default::default()
        };
        let mut opt = AdamW::new(&params, cfg).unwrap();
        opt.step(&params, &grads, 0.1).unwrap();
        let got = var.as_tensor().to_vec1::<f64>().unwrap();
        for (g, w) in got.iter().zip(w0) {
            let expect = w * (1.0 - 0.1 * 0.01) - 0.1 * w / (w.abs() + 1e-8);
            assert!((g - expect).abs() < 1e-12, "{g} vs {expect}");
        }
    }

    #[test]
    fn schedule_warms_up_then_decays_linearly_to_zero() {
        assert_eq!(linear_schedule(1.0, 0, 10, 110), 0.0);
        assert_eq!(linear_schedule(1.0, 5, 10, 110), 0.5);
        assert_eq!(linear_schedule(1.0, 10, 10, 110), 1.0);
        assert_eq!(linear_schedule(1.0, 60, 10, 110), 0.5);
        assert_eq!(linear_schedule(1.0, 110, 10, 110), 0.0);
    }

    #[test]
    fn clipping_scales_the_global_norm_to_the_limit() {
        let a = Var::from_slice(&[3.0f64], 1, &Device::Cpu).unwrap();
        let b = Var::from_slice(&[4.0f64], 1, &Device::Cpu).unwrap();
        let params = vec![
            Param {
                name: "a".into(),
                var: a.clone(),
                decay: false,
            },
            Param {
                name: "b".into(),
                var: b.clone(),
                decay: false,
            },
        ];
        // loss = a²/2 + b²/2: gradients (3, 4), norm 5.
        let loss = ((a.as_tensor().sqr().unwrap() + b.as_tensor().sqr().unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            * 0.5)
            .unwrap();
        let mut g = loss.backward().unwrap();
        let n = clip_grad_norm(&params, &mut g, 1.0).unwrap();
        assert!((n - 5.0).abs() < 1e-12);
        let ga = g.get(a.as_tensor()).unwrap().to_vec1::<f64>().unwrap()[0];
        assert!((ga - 0.6).abs() < 1e-6);
    }
}
