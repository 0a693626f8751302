//! Probing classifiers and the probing protocol: logistic regression and a one-hidden-layer MLP
//! trained on frozen features, per-class sampling with seeds, model selection on validation,
//! control tasks (selectivity) and MDL online codelength.
//!
//! - the logistic regression, its optimiser and `MatRef` live a layer down, in `learn` (the
//!   transferability estimators use them too);
//! - [`mlp`]: one-hidden-layer MLP with Adam and early stopping;
//! - [`mdl`]: online codelength;
//! - [`protocol`]: task checks, per-class draws, hyper-parameter selection, selectivity, and
//!   [`protocol::probe_task`], the entry point the CLI calls per (task, pooling);
//! - [`pipeline`]: one checkpoint over a suite, embedding the next task while probing this one
//!   ([`pipeline::embed_and_probe`], what `probecast probe` runs per checkpoint);
//! - the `probes.csv` / `features.csv` tables live a layer down, in `features::table`;
//! - [`npy`]: `.npy` exchange with Python.

pub mod mdl;
pub mod mlp;
pub mod npy;
pub mod pipeline;
pub mod protocol;
pub mod run;

pub use crate::learn::MatRef;
pub use protocol::{
    prepare_task, probe_task, ProbeKind, ProbeSettings, ProtocolError, Record, TaskData,
};
