//! Readers and writers of datasets: SentEval probing files and GLUE TSV; the built-in grammar.

pub mod glue;
pub mod grammar;
pub mod senteval;
