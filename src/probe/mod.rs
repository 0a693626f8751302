//! Probing classifiers and the probing protocol: logistic regression and a one-hidden-layer MLP
//! trained on frozen features, per-class sampling with seeds, model selection on validation,
//! control tasks (selectivity) and MDL online codelength.

pub mod lbfgs;
pub mod linalg;
pub mod logreg;
pub mod mdl;
pub mod mlp;
pub mod npy;
pub mod protocol;
pub mod results;

pub use linalg::MatRef;
