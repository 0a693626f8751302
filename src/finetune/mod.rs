//! Fine-tuning stage: GLUE metrics, the optimiser and schedule, the trainable encoder with a
//! sequence classification/regression head, the training loop and model saving.

pub mod attention;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod optim;
pub mod results;
pub mod save;
pub mod train;
