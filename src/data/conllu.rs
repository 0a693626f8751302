//! Universal Dependencies CoNLL-U: one token a line with 10 tab-separated columns
//! (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), sentences separated by blank lines,
//! `#` comment lines. Multiword-token ranges (`3-4`) and empty nodes (`5.1`) are skipped: the
//! syntactic words are what the trees are built on.

/// One syntactic word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// 1-based position in the sentence.
    pub id: usize,
    /// Word form.
    pub form: String,
    /// Lemma.
    pub lemma: String,
    /// Universal POS tag.
    pub upos: String,
    /// Language-specific POS tag (Penn Treebank tags in the English treebanks); `_` if none.
    pub xpos: String,
    /// Morphological features, `Name=Value` pairs in file order.
    pub feats: Vec<(String, String)>,
    /// Head position (0 = the root).
    pub head: usize,
    /// Universal dependency relation, with subtype (`nsubj:pass`).
    pub deprel: String,
}

impl Token {
    /// The value of a feature (`Tense`, `Number`, ...).
    pub fn feat(&self, name: &str) -> Option<&str> {
        self.feats
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConlluSentence {
    /// `# sent_id = ...`, or `line N` of its first token.
    pub id: String,
    /// `# text = ...` if present.
    pub text: Option<String>,
    /// Syntactic words in order; `tokens[i].id == i + 1`.
    pub tokens: Vec<Token>,
}

/// Errors reading CoNLL-U. Line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConlluError {
    /// A token line without 10 columns.
    #[error("line {line}: expected 10 tab-separated columns, found {found}: {text:?}")]
    Columns {
        line: usize,
        found: usize,
        text: String,
    },
    /// A bad ID or HEAD.
    #[error("line {line}: bad {what} {value:?}: {text:?}")]
    Field {
        line: usize,
        what: &'static str,
        value: String,
        text: String,
    },
    /// Token ids not 1, 2, 3... or a head outside the sentence.
    #[error("line {line}: {problem}")]
    Structure { line: usize, problem: String },
    /// No sentence in the text.
    #[error("no CoNLL-U sentence found")]
    Empty,
}

/// Parse CoNLL-U text.
pub fn parse(text: &str) -> Result<Vec<ConlluSentence>, ConlluError> {
    let mut out = Vec::new();
    let mut cur: Option<ConlluSentence> = None;
    let mut first_line = 0;
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            if let Some(s) = cur.take() {
                out.push(check(s, first_line)?);
            }
            continue;
        }
        let s = cur.get_or_insert_with(|| {
            first_line = n;
            ConlluSentence {
                id: format!("line {n}"),
                text: None,
                tokens: Vec::new(),
            }
        });
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if let Some(v) = c.strip_prefix("sent_id") {
                s.id = v.trim_start_matches([' ', '=']).trim().to_string();
            } else if let Some(v) = c.strip_prefix("text =") {
                s.text = Some(v.trim().to_string());
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 10 {
            return Err(ConlluError::Columns {
                line: n,
                found: cols.len(),
                text: line.to_string(),
            });
        }
        if cols[0].contains('-') || cols[0].contains('.') {
            continue;
        }
        let field = |what: &'static str, v: &str| ConlluError::Field {
            line: n,
            what,
            value: v.to_string(),
            text: line.to_string(),
        };
        let id: usize = cols[0].parse().map_err(|_| field("ID", cols[0]))?;
        let head: usize = cols[6].parse().map_err(|_| field("HEAD", cols[6]))?;
        let feats = if cols[5] == "_" {
            Vec::new()
        } else {
            cols[5]
                .split('|')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.to_string(), String::new()),
                })
                .collect()
        };
        if id != s.tokens.len() + 1 {
            return Err(ConlluError::Structure {
                line: n,
                problem: format!(
                    "token id {id} out of order (expected {})",
                    s.tokens.len() + 1
                ),
            });
        }
        s.tokens.push(Token {
            id,
            form: cols[1].to_string(),
            lemma: cols[2].to_string(),
            upos: cols[3].to_string(),
            xpos: cols[4].to_string(),
            feats,
            head,
            deprel: cols[7].to_string(),
        });
    }
    if let Some(s) = cur.take() {
        out.push(check(s, first_line)?);
    }
    out.retain(|s| !s.tokens.is_empty());
    if out.is_empty() {
        return Err(ConlluError::Empty);
    }
    Ok(out)
}

fn check(s: ConlluSentence, first_line: usize) -> Result<ConlluSentence, ConlluError> {
    let n = s.tokens.len();
    for t in &s.tokens {
        if t.head > n {
            return Err(ConlluError::Structure {
                line: first_line,
                problem: format!(
                    "sentence {}: token {} has head {} outside the sentence ({} words)",
                    s.id, t.id, t.head, n
                ),
            });
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# sent_id = a-1\n# text = Dogs bark.\n\
        1\tDogs\tdog\tNOUN\tNNS\tNumber=Plur\t2\tnsubj\t2:nsubj\t_\n\
        2-3\tbark.\t_\t_\t_\t_\t_\t_\t_\t_\n\
        2\tbark\tbark\tVERB\tVBP\tMood=Ind|Tense=Pres|VerbForm=Fin\t0\troot\t0:root\t_\n\
        3\t.\t.\tPUNCT\t.\t_\t2\tpunct\t2:punct\t_\n\n\
        1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n";

    #[test]
    fn reads_tokens_features_and_skips_ranges() {
        let s = parse(TWO).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "a-1");
        assert_eq!(s[0].text.as_deref(), Some("Dogs bark."));
        assert_eq!(s[0].tokens.len(), 3);
        assert_eq!(s[0].tokens[1].feat("Tense"), Some("Pres"));
        assert_eq!(s[0].tokens[0].head, 2);
        assert_eq!(s[1].id, "line 8");
    }

    #[test]
    fn wrong_column_count_names_the_line() {
        let e = parse("1\tDogs\tdog\tNOUN\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: expected 10 tab-separated columns, found 4: \"1\\tDogs\\tdog\\tNOUN\""
        );
        let e = parse("1\ta\ta\tX\tX\t_\tzz\tdep\t_\t_\n").unwrap_err();
        assert!(e.to_string().contains("bad HEAD \"zz\""));
        let e = parse("1\ta\ta\tX\tX\t_\t5\tdep\t_\t_\n").unwrap_err();
        assert!(e.to_string().contains("outside the sentence"));
    }
}
