//! Prediction stage: linear models from probing features to fine-tuning scores, best-k subset
//! search, cross-validation with baselines and prediction intervals, persistence.
//!
//! Nothing here knows about tensors or checkpoints: the input is a table of numbers.
// NaN-safe `!(a > b)` tests are deliberate; index loops mirror the matrix formulas.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

pub mod conformal;
pub mod cv;
pub mod enet;
pub mod honest;
pub mod linalg;
pub mod model;
pub mod ols;
pub mod outputs;
pub mod paper;
pub mod persist;
pub mod pipeline;
#[cfg(test)]
mod reference_tests;
pub mod report;
pub mod ridge;
pub mod run;
pub mod shrinkage;
pub mod subset;
pub mod table;
