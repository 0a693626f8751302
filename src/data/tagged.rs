//! POS-tagged corpora in `word/tag` form, one sentence a line (the Brown Corpus as NLTK ships
//! it: `The/at jury/nn said/vbd ./.`, sentences separated by blank lines and indented by a tab).
//!
//! Tags are kept as written, upper-cased, except that the Brown noun and verb tags that the
//! probing tasks need are mapped to their Penn Treebank equivalents (see [`brown_to_penn`]).

/// A tagged sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedSentence {
    /// 1-based line of the sentence.
    pub line: usize,
    /// Words.
    pub words: Vec<String>,
    /// Tags (mapped by [`brown_to_penn`]), one per word.
    pub tags: Vec<String>,
}

/// Errors reading a tagged corpus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaggedError {
    /// A token that is not `word/tag`.
    #[error("line {line}: token {token:?} is not word/tag")]
    Token { line: usize, token: String },
    /// No sentence in the text.
    #[error("no tagged sentence found")]
    Empty,
}

/// Map a Brown tag to a Penn Treebank tag where the probing tasks need one: common and proper
/// nouns (`nn` NN, `nns` NNS, `np` NNP, `nps` NNPS) and lexical verbs (`vb` VB, `vbd` VBD,
/// `vbz` VBZ, `vbg` VBG, `vbn` VBN). Headline/title/cited suffixes (`-hl`, `-tl`, `-nc`) and the
/// foreign-word prefix (`fw-`) are dropped first. Every other tag (possessives like `nn$`,
/// auxiliaries `bed`, `hvz`, contractions `pps+bez`, ...) is returned upper-cased, so it never
/// looks like a noun or a lexical verb.
pub fn brown_to_penn(tag: &str) -> String {
    let mut t = tag.to_ascii_lowercase();
    for suffix in ["-hl", "-tl", "-nc"] {
        while let Some(s) = t.strip_suffix(suffix) {
            t = s.to_string();
        }
    }
    if let Some(s) = t.strip_prefix("fw-") {
        t = s.to_string();
    }
    match t.as_str() {
        "nn" => "NN".into(),
        "nns" => "NNS".into(),
        "np" => "NNP".into(),
        "nps" => "NNPS".into(),
        "vb" => "VB".into(),
        "vbd" => "VBD".into(),
        "vbz" => "VBZ".into(),
        "vbg" => "VBG".into(),
        "vbn" => "VBN".into(),
        _ => t.to_ascii_uppercase(),
    }
}

/// Split `word/tag` at the last `/`.
fn split_token(tok: &str) -> Option<(&str, &str)> {
    let (w, t) = tok.rsplit_once('/')?;
    (!w.is_empty() && !t.is_empty()).then_some((w, t))
}

/// True when most whitespace-separated tokens of the first non-empty lines are `word/tag`
/// (used to detect the format of a file).
pub fn looks_tagged(text: &str) -> bool {
    let (mut n, mut ok) = (0usize, 0usize);
    for tok in text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(50)
        .flat_map(|l| l.split_whitespace())
    {
        n += 1;
        if split_token(tok).is_some() {
            ok += 1;
        }
    }
    n >= 3 && ok * 10 >= n * 9
}

/// Parse a tagged corpus: every non-empty line is a sentence.
pub fn parse(text: &str) -> Result<Vec<TaggedSentence>, TaggedError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (mut words, mut tags) = (Vec::new(), Vec::new());
        for tok in line.split_whitespace() {
            let (w, t) = split_token(tok).ok_or_else(|| TaggedError::Token {
                line: i + 1,
                token: tok.to_string(),
            })?;
            words.push(w.to_string());
            tags.push(brown_to_penn(t));
        }
        out.push(TaggedSentence {
            line: i + 1,
            words,
            tags,
        });
    }
    if out.is_empty() {
        return Err(TaggedError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_brown_lines_and_maps_noun_and_verb_tags() {
        let s =
            parse("\n\n\tThe/at Fulton/np-tl jury/nn said/vbd 1/2/cd ./.\n\n\tOk/uh\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].line, 3);
        assert_eq!(
            s[0].words,
            vec!["The", "Fulton", "jury", "said", "1/2", "."]
        );
        assert_eq!(s[0].tags, vec!["AT", "NNP", "NN", "VBD", "CD", "."]);
        assert_eq!(brown_to_penn("nn$"), "NN$");
        assert_eq!(brown_to_penn("fw-nns-tl"), "NNS");
        assert_eq!(brown_to_penn("bedz"), "BEDZ");
    }

    #[test]
    fn detects_format_and_rejects_untagged_tokens() {
        assert!(looks_tagged("The/at dog/nn ran/vbd ./."));
        assert!(!looks_tagged("The dog ran ."));
        assert_eq!(
            parse("a/at dog\n").unwrap_err().to_string(),
            "line 1: token \"dog\" is not word/tag"
        );
    }
}
