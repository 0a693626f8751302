//! The lowest layer: numerical kernels on plain slices that every layer above may call.
//!
//! - [`dense`]: matrix products on row-major slices (the `gemm` crate), shared by the probes,
//!   the training ops and the transferability estimators;
//! - [`qdot`]: exact integer inner products of rows quantised to 16 bits (AVX-512 VNNI), for
//!   the kNN search's screening;
//! - [`activation`]: GELU / exp / erf kernels (scalar, AVX2-vectorised, and a multi-threaded
//!   candle custom op), shared by the inference forward pass and the training ops.

pub mod activation;
pub mod dense;
pub mod qdot;
