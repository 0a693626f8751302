//! Readers and writers of datasets: SentEval probing files and GLUE TSV.

pub mod glue;
pub mod senteval;
