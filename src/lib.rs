//! probecast: forecast how well a pretrained NLP encoder checkpoint will do after fine-tuning,
//! from cheap probing tests, without fine-tuning it.
//!
//! The crate mirrors the pipeline of the design (see README.md):
//! - [`encoder`]: checkpoint directory -> every layer's hidden states, pooled per sentence;
//! - [`cache`]: content-addressed feature cache;
//! - [`data`]: readers and writers of the datasets (SentEval probing files, GLUE TSV);
//! - [`probe`]: probing classifiers and the probing protocol;
//! - [`predict`]: predictors from probing features to fine-tuning scores, with honest validation;
//! - [`zoo`]: checkpoint variants and the masked-LM trainer;
//! - [`demo`]: `probecast demo`, the whole loop on built-in data;
//! - [`report`]: the HTML report with SVG figures from the stages' output files;
//! - [`dense`]: matrix products on row-major slices (the `gemm` crate);
//! - [`cli`]: the command line, wiring only.

pub mod cache;
pub mod cli;
pub mod data;
pub mod demo;
pub mod dense;
pub mod encoder;
pub mod finetune;
pub mod predict;
pub mod probe;
pub mod report;
pub mod util;
pub mod zoo;
