//! Prediction stage: linear models from probing features to fine-tuning scores, best-k subset
//! search, cross-validation with baselines and prediction intervals, persistence.
pub mod enet;
pub mod linalg;
pub mod ols;
pub mod ridge;
pub mod subset;
