//! Readers and writers of datasets: SentEval probing files, GLUE TSV, treebanks (CoNLL-U, Penn
//! Treebank, tagged corpora) and the probing-task builders.

pub mod conllu;
pub mod glue;
pub mod ptb;
pub mod senteval;
pub mod tagged;
pub mod tasks;
