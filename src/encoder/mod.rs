//! Encoder stage: checkpoint directory -> every layer's hidden states, pooled per sentence.
//!
//! (Being built: see `extract` for the public entry point.)
