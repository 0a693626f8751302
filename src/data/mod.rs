//! Readers and writers of datasets: SentEval probing files (and, later, GLUE TSV, treebanks).

pub mod senteval;
