//! Readers and writers of datasets: SentEval probing files, GLUE TSV, treebanks (CoNLL-U, Penn
//! Treebank, tagged corpora), the probing-task builders and the built-in grammar.

pub mod conllu;
pub mod glue;
pub mod grammar;
pub mod ptb;
pub mod senteval;
pub mod tagged;
pub mod tasks;
