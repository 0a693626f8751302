//! Trainable parameters and the layers built from them: [`Param`] (a candle `Var` with its
//! Hugging Face name and whether AdamW decays it), [`Lin`], [`Norm`], the [`ParamBuilder`] that
//! reads them from a checkpoint (any [`ParamSource`]) or initialises them like Hugging Face's
//! `_init_weights`, and seeded dropout.

use super::{NnError, ParamSource};
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

fn cerr(e: candle_core::Error) -> NnError {
    NnError::Candle(e)
}

/// Creates the trainable parameters of a model, in order, either from a checkpoint's weights or
/// freshly initialised like Hugging Face's `_init_weights`: weights and embeddings
/// N(0, initializer_range), biases 0, LayerNorm scale 1 and shift 0.
pub struct ParamBuilder<'a> {
    w: Option<&'a dyn ParamSource>,
    dtype: DType,
    params: Vec<Param>,
    rng: ChaCha8Rng,
    std: f64,
}

impl<'a> ParamBuilder<'a> {
    /// Parameters read from `w` (whose prefix is already selected); tensors created with the
    /// `new_*` methods are drawn from a ChaCha8 stream seeded with `seed`, N(0, `std`).
    pub fn from_weights(w: &'a dyn ParamSource, dtype: DType, seed: u64, std: f64) -> Self {
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

    fn var(&mut self, name: &str, t: Tensor, decay: bool) -> Result<Var, NnError> {
        let v = Var::from_tensor(&t.to_dtype(self.dtype).map_err(cerr)?).map_err(cerr)?;
        self.params.push(Param {
            name: name.to_string(),
            var: v.clone(),
            decay,
        });
        Ok(v)
    }

    fn normal(&mut self, shape: &[usize]) -> Result<Tensor, NnError> {
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
    pub fn load(&mut self, name: &str, shape: &[usize], decay: bool) -> Result<Var, NnError> {
        let t = match self.w {
            Some(w) => w.get(name, shape)?,
            None => self.normal(shape)?,
        };
        self.var(name, t, decay)
    }

    /// The first of `names` present in the checkpoint, recorded under `names[0]` (e.g. a
    /// LayerNorm's `weight` read from an older `gamma`); N(0, std) when fresh.
    pub fn load_any(
        &mut self,
        names: &[String],
        shape: &[usize],
        decay: bool,
    ) -> Result<Var, NnError> {
        let t = match self.w {
            Some(w) => w.get_any(names, shape)?,
            None => self.normal(shape)?,
        };
        self.var(&names[0], t, decay)
    }

    /// An embedding table whose row `pad` is zero when fresh (`nn.Embedding(padding_idx)`).
    pub fn embedding(
        &mut self,
        name: &str,
        shape: &[usize],
        pad: Option<usize>,
    ) -> Result<Var, NnError> {
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
    pub fn lin(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, NnError> {
        if self.w.is_none() {
            return self.new_lin(name, out, inp);
        }
        Ok(Lin {
            w: self.load(&format!("{name}.weight"), &[out, inp], true)?,
            b: self.load(&format!("{name}.bias"), &[out], false)?,
        })
    }

    /// A LayerNorm (`weight`/`bias`, or the older `gamma`/`beta`): read, or 1/0 when fresh.
    pub fn norm(&mut self, name: &str, h: usize, eps: f64) -> Result<Norm, NnError> {
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
    pub fn norm_or_new(&mut self, name: &str, h: usize, eps: f64) -> Result<Norm, NnError> {
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
    pub fn vector_or_zeros(&mut self, name: &str, n: usize) -> Result<Var, NnError> {
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
    pub fn new_lin(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, NnError> {
        let w = self.normal(&[out, inp])?;
        let b = Tensor::zeros(out, DType::F64, &Device::Cpu).map_err(cerr)?;
        Ok(Lin {
            w: self.var(&format!("{name}.weight"), w, true)?,
            b: self.var(&format!("{name}.bias"), b, false)?,
        })
    }

    /// A new weight matrix [out, in], N(0, std), decayed (a linear layer without a bias).
    pub fn new_matrix(&mut self, name: &str, out: usize, inp: usize) -> Result<Var, NnError> {
        let w = self.normal(&[out, inp])?;
        self.var(name, w, true)
    }

    /// A new constant vector (a LayerNorm's ones, a bias's zeros), never decayed.
    pub fn new_const(&mut self, name: &str, n: usize, value: f64) -> Result<Var, NnError> {
        let t = (Tensor::ones(n, DType::F64, &Device::Cpu).map_err(cerr)? * value).map_err(cerr)?;
        self.var(name, t, false)
    }

    /// A checkpoint linear layer if present (under the encoder prefix), else a new one.
    pub fn lin_or_new(&mut self, name: &str, out: usize, inp: usize) -> Result<Lin, NnError> {
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

/// Inverted dropout with a seeded mask (candle's own dropout draws from an unseeded RNG, which
/// would make runs irreproducible). Identity when `rng` is None or `p` is 0.
pub fn dropout(x: &Tensor, p: f32, rng: Option<&mut ChaCha8Rng>) -> CResult<Tensor> {
    let Some(rng) = rng else { return Ok(x.clone()) };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    x.mul(&dropout_mask(x.shape(), x.dtype(), p, rng)?)
}

/// [`dropout_mask`] when training (`rng` given) with `p > 0`, else `None`: the multipliers a
/// fused op applies itself (the attention-probability dropout of `nn::attention`).
pub fn maybe_dropout_mask(
    shape: impl Into<candle_core::Shape>,
    dtype: DType,
    p: f32,
    rng: Option<&mut ChaCha8Rng>,
) -> CResult<Option<Tensor>> {
    match rng {
        Some(r) if p > 0.0 => Ok(Some(dropout_mask(shape, dtype, p, r)?)),
        _ => Ok(None),
    }
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
