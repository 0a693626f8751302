//! Fine-tuning stage: GLUE metrics, the optimiser and schedule, the trainable encoder with a
//! sequence classification/regression head, and the training loop.

pub mod metrics;
