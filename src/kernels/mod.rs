//! The lowest layer: numerical kernels on plain slices that every layer above may call.
//!
//! - [`dense`]: matrix products on row-major slices (the `gemm` crate), shared by the probes,
//!   the training ops and the transferability estimators;
//! - [`activation`]: GELU / exp / erf kernels (scalar, AVX2-vectorised, and a multi-threaded
//!   candle custom op), shared by the inference forward pass and the training ops.

pub mod activation;
pub mod dense;
