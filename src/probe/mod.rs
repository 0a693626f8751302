//! Probing classifiers and the probing protocol: logistic regression and a one-hidden-layer MLP
//! trained on frozen features, per-class sampling with seeds, model selection on validation,
//! control tasks (selectivity) and MDL online codelength.
//!
//! - [`logreg`]: L2 multinomial logistic regression (L-BFGS, fused AVX2 objective), matching
//!   scikit-learn's `LogisticRegression`;
//! - [`mlp`]: one-hidden-layer MLP with Adam and early stopping;
//! - [`mdl`]: online codelength;
//! - [`protocol`]: task checks, per-class draws, hyper-parameter selection, selectivity, and
//!   [`protocol::probe_task`], the entry point the CLI calls per (task, pooling);
//! - [`pipeline`]: one checkpoint over a suite, embedding the next task while probing this one
//!   ([`pipeline::embed_and_probe`], what `probecast probe` runs per checkpoint);
//! - [`results`]: `probes.csv` and `features.csv`;
//! - [`lbfgs`], [`linalg`], [`npy`]: the optimiser, dense helpers, `.npy` exchange with Python.

pub mod lbfgs;
pub mod linalg;
pub mod logreg;
pub mod mdl;
pub mod mlp;
pub mod npy;
pub mod pipeline;
pub mod protocol;
pub mod results;
pub mod run;

pub use linalg::MatRef;
pub use protocol::{
    prepare_task, probe_task, ProbeKind, ProbeSettings, ProtocolError, Record, TaskData,
};
