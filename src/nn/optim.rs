//! AdamW (decoupled weight decay, as `torch.optim.AdamW`), the linear warmup + linear decay
//! schedule (`transformers.get_linear_schedule_with_warmup`) and global-norm gradient clipping.

use super::ops::with_slice;
use super::params::Param;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, InplaceOp1, Layout, Result, Tensor, WithDType};

/// AdamW hyperparameters.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AdamWSettings {
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

impl Default for AdamWSettings {
    fn default() -> Self {
        AdamWSettings {
            lr: 2e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// One moment buffer per parameter, in the parameter's dtype.
enum Moments {
    F32(Vec<f32>, Vec<f32>),
    F64(Vec<f64>, Vec<f64>),
}

/// AdamW state. The update is one fused pass over each parameter's raw buffer (in place, in
/// parallel), with the moments kept as plain vectors: no tensor is allocated per step. This is
/// what `torch.optim.AdamW(fused=True)` does, and it matters here: composed tensor ops cost about
/// fifteen allocating passes over every parameter, the 30k x 384 word embeddings included.
pub struct AdamW {
    cfg: AdamWSettings,
    moments: Vec<Moments>,
    step: usize,
}

/// Floats the fused update supports (the parameter dtypes of probecast's models).
trait AdamFloat: num_traits::Float + WithDType + Send + Sync {
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
    fn moments(m: &mut Moments) -> Option<(&mut [Self], &mut [Self])>;
}

impl AdamFloat for f32 {
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn moments(m: &mut Moments) -> Option<(&mut [Self], &mut [Self])> {
        match m {
            Moments::F32(a, b) => Some((a, b)),
            _ => None,
        }
    }
}

impl AdamFloat for f64 {
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn moments(m: &mut Moments) -> Option<(&mut [Self], &mut [Self])> {
        match m {
            Moments::F64(a, b) => Some((a, b)),
            _ => None,
        }
    }
}

/// The scalars of one update.
#[derive(Clone, Copy)]
struct Coefs {
    decay: f64,
    beta1: f64,
    beta2: f64,
    grad_scale: f64,
    step_size: f64,
    sqrt_bc2: f64,
    eps: f64,
}

/// Elements per parallel chunk of the fused update.
const CHUNK: usize = 1 << 15;

/// The fused AdamW update of one parameter, applied in place to its storage.
struct FusedUpdate<'a, T> {
    grad: &'a [T],
    m: std::cell::RefCell<&'a mut [T]>,
    v: std::cell::RefCell<&'a mut [T]>,
    c: Coefs,
}

impl<T: AdamFloat> InplaceOp1 for FusedUpdate<'_, T> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        use rayon::prelude::*;
        let (a, b) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("AdamW: non-contiguous parameter".into()))?;
        let w = T::slice_mut(storage)
            .ok_or_else(|| candle_core::Error::Msg("AdamW: parameter dtype changed".into()))?;
        let w = &mut w[a..b];
        let mut m = self.m.borrow_mut();
        let mut v = self.v.borrow_mut();
        if w.len() != self.grad.len() || m.len() != w.len() {
            candle_core::bail!("AdamW: gradient or moment size differs from the parameter");
        }
        let f = |x: f64| T::from(x).unwrap_or_else(T::zero);
        let c = self.c;
        let (decay, b1, b2, gs, ss, sb, eps) = (
            f(c.decay),
            f(c.beta1),
            f(c.beta2),
            f(c.grad_scale),
            f(c.step_size),
            f(c.sqrt_bc2),
            f(c.eps),
        );
        let (one_b1, one_b2) = (T::one() - b1, T::one() - b2);
        w.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(self.grad.par_chunks(CHUNK))
            .for_each(|(((w, m), v), g)| {
                for i in 0..w.len() {
                    let gi = g[i] * gs;
                    m[i] = b1 * m[i] + one_b1 * gi;
                    v[i] = b2 * v[i] + one_b2 * gi * gi;
                    let denom = v[i].sqrt() / sb + eps;
                    w[i] = w[i] * decay - ss * m[i] / denom;
                }
            });
        Ok(())
    }
}

fn sum_sq<T: AdamFloat>(g: &Tensor) -> Result<f64> {
    use rayon::prelude::*;
    let g = &g.contiguous()?;
    with_slice::<T, f64>(g, |s| {
        Ok(s.par_chunks(CHUNK)
            .map(|c| {
                c.iter()
                    .map(|x| {
                        let x = x.to_f64().unwrap_or(0.0);
                        x * x
                    })
                    .sum::<f64>()
            })
            // in chunk order: rayon's parallel sum associates in a work-stealing order
            .collect::<Vec<f64>>()
            .into_iter()
            .sum())
    })
}

impl AdamW {
    /// Zero moments for `params` (f32 or f64 parameters).
    pub fn new(params: &[Param], cfg: AdamWSettings) -> Result<Self> {
        let moments = params
            .iter()
            .map(|p| {
                let n = p.var.as_tensor().elem_count();
                match p.var.dtype() {
                    DType::F32 => Ok(Moments::F32(vec![0.0; n], vec![0.0; n])),
                    DType::F64 => Ok(Moments::F64(vec![0.0; n], vec![0.0; n])),
                    d => candle_core::bail!("AdamW: unsupported parameter dtype {d:?}"),
                }
            })
            .collect::<Result<_>>()?;
        Ok(AdamW {
            cfg,
            moments,
            step: 0,
        })
    }

    /// One update with learning rate `lr` (the schedule's value for this step). Parameters
    /// without a gradient are left alone.
    pub fn step(&mut self, params: &[Param], grads: &GradStore, lr: f64) -> Result<()> {
        self.step_clipped(params, grads, lr, None).map(|_| ())
    }

    /// One update, with the gradients first scaled so that their global L2 norm is at most
    /// `max_norm` (as `clip_grad_norm_` then `step` in PyTorch), in one fused pass per parameter.
    /// Returns the gradient norm before clipping.
    pub fn step_clipped(
        &mut self,
        params: &[Param],
        grads: &GradStore,
        lr: f64,
        max_norm: Option<f64>,
    ) -> Result<f64> {
        // Made contiguous once (a transposed weight's gradient arrives as a strided view).
        let gs = params
            .iter()
            .map(|p| {
                grads
                    .get(p.var.as_tensor())
                    .map(Tensor::contiguous)
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        let mut sq = 0f64;
        for g in gs.iter().flatten() {
            {
                sq += match g.dtype() {
                    DType::F64 => sum_sq::<f64>(g)?,
                    _ => sum_sq::<f32>(g)?,
                };
            }
        }
        let norm = sq.sqrt();
        let grad_scale = match max_norm {
            Some(mx) => (mx / (norm + 1e-6)).min(1.0),
            None => 1.0,
        };
        self.step += 1;
        let c = self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        for ((p, mom), g) in params.iter().zip(&mut self.moments).zip(&gs) {
            let Some(g) = g else {
                continue;
            };
            let coefs = Coefs {
                decay: if p.decay {
                    1.0 - lr * c.weight_decay
                } else {
                    1.0
                },
                beta1: c.beta1,
                beta2: c.beta2,
                grad_scale,
                step_size: lr / bc1,
                sqrt_bc2: bc2.sqrt(),
                eps: c.eps,
            };
            match mom {
                Moments::F32(..) => update::<f32>(p, g, mom, coefs)?,
                Moments::F64(..) => update::<f64>(p, g, mom, coefs)?,
            }
        }
        Ok(norm)
    }
}

fn update<T: AdamFloat>(p: &Param, g: &Tensor, mom: &mut Moments, c: Coefs) -> Result<()> {
    let g = &g.contiguous()?;
    let (m, v) = T::moments(mom)
        .ok_or_else(|| candle_core::Error::Msg("AdamW: parameter dtype changed".into()))?;
    with_slice::<T, ()>(g, |grad| {
        p.var.as_tensor().inplace_op1(&FusedUpdate {
            grad,
            m: std::cell::RefCell::new(m),
            v: std::cell::RefCell::new(v),
            c,
        })
    })
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
        let cfg = AdamWSettings {
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

    /// torch.optim.AdamW after torch.nn.utils.clip_grad_norm_, written out per element.
    fn torch_adamw(w: &mut [f64], m: &mut [f64], v: &mut [f64], g: &[f64], t: i32, lr: f64) {
        let (b1, b2, eps, wd, max_norm) = (0.9, 0.999, 1e-8, 0.01, 0.5);
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let coef = (max_norm / (norm + 1e-6)).min(1.0);
        for i in 0..w.len() {
            let gi = g[i] * coef;
            w[i] *= 1.0 - lr * wd;
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let denom = v[i].sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            w[i] -= lr / (1.0 - b1.powi(t)) * m[i] / denom;
        }
    }

    #[test]
    fn fused_clipped_steps_match_torch_adamw_written_out() {
        // loss = Σ a_i w_i² / 2, so g_i = a_i w_i; three steps with clipping at 0.5.
        let a = [1.0f64, -2.0, 3.0, 0.5, 4.0];
        let mut w_ref = [0.5f64, -1.0, 2.0, 0.1, -0.3];
        let var = Var::from_slice(&w_ref, 5, &Device::Cpu).unwrap();
        let av = Tensor::from_slice(&a, 5, &Device::Cpu).unwrap();
        let params = vec![Param {
            name: "w".into(),
            var: var.clone(),
            decay: true,
        }];
        let mut opt = AdamW::new(&params, AdamWSettings::default()).unwrap();
        let (mut m, mut v) = ([0.0; 5], [0.0; 5]);
        for t in 1..=3 {
            let lr = 0.05 * t as f64;
            let loss = ((var.as_tensor().sqr().unwrap() * &av)
                .unwrap()
                .sum_all()
                .unwrap()
                * 0.5)
                .unwrap();
            let grads = loss.backward().unwrap();
            let g: Vec<f64> = a.iter().zip(&w_ref).map(|(a, w)| a * w).collect();
            let norm = opt.step_clipped(&params, &grads, lr, Some(0.5)).unwrap();
            let expect_norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm - expect_norm).abs() < 1e-12);
            torch_adamw(&mut w_ref, &mut m, &mut v, &g, t, lr);
            let got = var.as_tensor().to_vec1::<f64>().unwrap();
            for (g, e) in got.iter().zip(&w_ref) {
                assert!((g - e).abs() < 1e-12, "step {t}: {g} vs {e}");
            }
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
