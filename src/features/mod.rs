//! Features layer: what sits between the encoder and the stages that read sentence features.
//!
//! - [`cache`]: the content-addressed feature cache (safetensors entries keyed by checkpoint,
//!   sentences, pooling, maximum length and feature-code version);
//! - [`embed`]: [`embed::Embedder`] and [`embed::embed_dataset`], the cached entry points that
//!   the probing stage, `probecast embed` and the transferability estimators call;
//! - [`table`]: the tidy [`table::Record`] and the `probes.csv` / `features.csv` tables both of
//!   those stages fill.
//!
//! The encoder below knows nothing of the cache; the stages above never compute features
//! without it.

pub mod cache;
pub mod embed;
pub mod table;

pub use embed::{embed_dataset, EmbedOutput, EmbedSettings, Embedder};
