//! probecast: forecast how well a pretrained NLP encoder checkpoint will do after fine-tuning,
//! from cheap probing tests, without fine-tuning it.
//!
//! The crate is layered; each layer uses only the layers below it, and no stage uses another
//! stage (`tests/layering.rs` checks this):
//!
//! 9. [`cli`]: the command line, wiring only (parse, call one library function, print);
//! 8. [`demo`]: `probecast demo`, the whole loop on built-in data;
//! 7. [`study`]: `probecast study`, the whole loop from a study file as resumable,
//!    content-addressed units, sharded or over Slurm job arrays;
//! 6. [`report`]: the HTML report with SVG figures, from the stages' output files;
//! 5. the stages, each with a `run` entry point that takes checked settings and writes its
//!    outputs and manifest: [`probe`] (probing classifiers and protocol), [`finetune`]
//!    (ground-truth fine-tuning), [`zoo`] (checkpoint variants and masked-LM training),
//!    [`predict`] (predictors with honest validation; knows no tensors), [`transfer`]
//!    (transferability estimators: LogME, H-score, kNN, target-task probe; `probecast rank`);
//! 4. [`features`]: the content-addressed feature cache and the cached embedding calls;
//! 3. [`encoder`]: checkpoint directory -> model (inference forward pass, trainable body,
//!    tokenizers, the one Hugging Face directory writer);
//! 2. [`nn`]: what training shares (parameters, fused ops with backward, optimiser, schedule);
//!    [`learn`]: linear models on frozen features (logistic regression, L-BFGS, `MatRef`),
//!    shared by the probing stage and the transferability estimators;
//! 1. [`data`]: datasets (SentEval, GLUE, treebanks, task builders, the built-in grammar);
//! 0. [`kernels`] (GEMM and activation kernels), [`util`] (atomic writes, hashing, settings
//!    errors, progress bars, the safetensors serialiser), [`outdir`] (output directories
//!    replaced only by a complete set), [`stats`] (the one statistics
//!    module), [`manifest`] (the one `manifest.json` type), [`hub`] (downloading checkpoints
//!    by model id into the Hugging Face cache).

pub mod cli;
pub mod data;
pub mod demo;
pub mod encoder;
pub mod features;
pub mod finetune;
pub mod hub;
pub mod kernels;
pub mod learn;
pub mod manifest;
pub mod nn;
pub mod outdir;
pub mod predict;
pub mod probe;
pub mod report;
pub mod stats;
pub mod study;
pub mod transfer;
pub mod util;
pub mod zoo;
