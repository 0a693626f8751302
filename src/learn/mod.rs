//! Linear models on frozen feature matrices, shared by the probing stage and the
//! transferability estimators (stages may not use each other, so what they share lives here):
//!
//! - [`logreg`]: L2 multinomial logistic regression (L-BFGS, fused AVX2 objective), matching
//!   scikit-learn's `LogisticRegression`;
//! - [`lbfgs`]: the optimiser;
//! - [`linalg`]: [`MatRef`] (a row-major view), column statistics and standardisation, the f64
//!   exp/log kernels, and the GEMM products re-exported from `kernels::dense`.

pub mod lbfgs;
pub mod linalg;
pub mod logreg;

pub use linalg::MatRef;
