//! Penn Treebank bracketed trees: `(S (NP (DT the) (NNS dogs)) (VP (VBD barked)) (. .))`.
//!
//! [`parse_trees`] reads any number of trees from a text. It accepts the forms found in the wild:
//! - an unlabelled outer wrapper `( (S ...) )` (the WSJ `.mrg` files) or a `ROOT` / `TOP` one;
//!   both are removed, so [`Tree::label`] of the result is the top constituent (`S`, `SINV`, ...);
//! - function tags and indices (`NP-SBJ-1`, `PP-LOC`, `NP=2`): [`Tree::label`] is the bare
//!   category (`NP`), [`Tree::raw_label`] keeps the label as written;
//! - `-NONE-` empty elements (traces): removed, together with constituents left empty;
//! - numeric labels (the Stanford Sentiment Treebank `(3 (2 The) (2 Rock))`): kept as labels.
//!
//! Bracket escapes in words (`-LRB-`, `-RRB-`, `-LCB-`, `-RCB-`, `-LSB-`, `-RSB-`) are turned
//! back into brackets by [`Tree::words`], and `\/`, `\*` into `/`, `*`.

/// A constituency tree node. A preterminal (POS node) has `word: Some(..)` and no children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The category without function tags (`NP-SBJ-1` -> `NP`); the POS tag of a preterminal.
    pub label: String,
    /// The label as written in the file.
    pub raw_label: String,
    /// The word, for a preterminal.
    pub word: Option<String>,
    /// The children, for a phrase.
    pub children: Vec<Tree>,
}

/// Errors reading bracketed trees. Line numbers are 1-based lines of the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PtbError {
    /// A `(` that is never closed.
    #[error("line {line}: unbalanced brackets: '(' opened here is never closed")]
    Unclosed { line: usize },
    /// A whole-tree wrapper opened inside another tree (a missing `)` balanced by an extra one).
    #[error("line {line}: unbalanced brackets: a tree wrapper opens here inside the tree opened on line {outer}, so a ')' is missing before it (or there is an extra '(')")]
    NestedTree { line: usize, outer: usize },
    /// A `)` with no `(` to close.
    #[error("line {line}: unbalanced brackets: ')' without a matching '('")]
    UnexpectedClose { line: usize },
    /// `()`, or a node with a label but neither a word nor children.
    #[error("line {line}: empty constituent {what}")]
    Empty { line: usize, what: String },
    /// A word outside any bracket.
    #[error("line {line}: text outside brackets: {text:?}")]
    Outside { line: usize, text: String },
    /// A node mixing words and constituents, or with several words.
    #[error("line {line}: constituent {label:?} mixes words and brackets or has several words")]
    Mixed { line: usize, label: String },
    /// No tree in the text.
    #[error("no bracketed tree found")]
    NoTrees,
}

impl Tree {
    /// A preterminal.
    pub fn leaf(tag: &str, word: &str) -> Tree {
        Tree {
            label: bare_label(tag),
            raw_label: tag.to_string(),
            word: Some(word.to_string()),
            children: Vec::new(),
        }
    }

    /// A phrase.
    pub fn node(label: &str, children: Vec<Tree>) -> Tree {
        Tree {
            label: bare_label(label),
            raw_label: label.to_string(),
            word: None,
            children,
        }
    }

    /// True for a preterminal (POS node carrying a word).
    pub fn is_preterminal(&self) -> bool {
        self.word.is_some()
    }

    /// The words, left to right, with bracket escapes (`-LRB-` ...) undone.
    pub fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit_leaves(&mut |t| out.push(unescape(t.word.as_deref().unwrap_or(""))));
        out
    }

    /// The preterminal labels (POS tags), left to right.
    pub fn tags(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit_leaves(&mut |t| out.push(t.label.clone()));
        out
    }

    /// Number of words under this node.
    pub fn len(&self) -> usize {
        if self.is_preterminal() {
            1
        } else {
            self.children.iter().map(Tree::len).sum()
        }
    }

    /// True when no word is under this node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Depth as in SentEval's tree_depth: the longest path, in edges, from a ROOT node above
    /// this one down to a word. A preterminal has depth 2 (ROOT -> POS -> word);
    /// `(S (NP (DT the) (NNS dogs)) (VP (VBD barked)))` has depth 4.
    pub fn depth(&self) -> usize {
        if self.is_preterminal() {
            2
        } else {
            1 + self.children.iter().map(Tree::depth).max().unwrap_or(0)
        }
    }

    fn visit_leaves<'a>(&'a self, f: &mut dyn FnMut(&'a Tree)) {
        if self.is_preterminal() {
            f(self);
        } else {
            for c in &self.children {
                c.visit_leaves(f);
            }
        }
    }

    /// Remove `-NONE-` preterminals and the constituents they leave empty. Returns `None` when
    /// nothing is left.
    pub fn without_empty_elements(self) -> Option<Tree> {
        if self.is_preterminal() {
            return (self.label != "-NONE-").then_some(self);
        }
        let Tree {
            label,
            raw_label,
            children,
            ..
        } = self;
        let children: Vec<Tree> = children
            .into_iter()
            .filter_map(Tree::without_empty_elements)
            .collect();
        (!children.is_empty()).then_some(Tree {
            label,
            raw_label,
            word: None,
            children,
        })
    }

    /// Bracketed text of the tree, one line (labels as written).
    pub fn to_bracketed(&self) -> String {
        match &self.word {
            Some(w) => format!("({} {})", self.raw_label, w),
            None => {
                let inner: Vec<String> = self.children.iter().map(Tree::to_bracketed).collect();
                format!("({} {})", self.raw_label, inner.join(" "))
            }
        }
    }
}

/// The category of a label: function tags and indices removed (`NP-SBJ-1` -> `NP`,
/// `NP=2` -> `NP`); labels starting with `-` (`-NONE-`, `-LRB-`) are kept whole.
pub fn bare_label(raw: &str) -> String {
    if raw.starts_with('-') {
        return raw.to_string();
    }
    let cut = raw.find(['-', '=']).unwrap_or(raw.len());
    if cut == 0 {
        raw.to_string()
    } else {
        raw[..cut].to_string()
    }
}

/// Undo PTB escapes in a word: brackets (`-LRB-` ...) and the backslash before `/` and `*`
/// (`1\/8` -> `1/8`).
pub fn unescape(w: &str) -> String {
    match w {
        "-LRB-" => "(".into(),
        "-RRB-" => ")".into(),
        "-LCB-" => "{".into(),
        "-RCB-" => "}".into(),
        "-LSB-" => "[".into(),
        "-RSB-" => "]".into(),
        _ if w.contains('\\') => w.replace("\\/", "/").replace("\\*", "*"),
        _ => w.to_string(),
    }
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Open,
    Close,
    Atom(&'a str),
}

fn tokenize(text: &str) -> Vec<(Tok<'_>, usize)> {
    let mut out = Vec::new();
    let mut line = 1;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'(' => {
                out.push((Tok::Open, line));
                i += 1;
            }
            b')' => {
                out.push((Tok::Close, line));
                i += 1;
            }
            _ if c.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && bytes[i] != b'('
                    && bytes[i] != b')'
                {
                    i += 1;
                }
                out.push((Tok::Atom(&text[start..i]), line));
            }
        }
    }
    out
}

/// A node under construction: (label, line opened, atoms, children).
struct Open<'a> {
    label: Option<&'a str>,
    line: usize,
    words: Vec<&'a str>,
    children: Vec<Tree>,
}

/// Parse every bracketed tree in `text`. Outer wrappers (unlabelled, `ROOT`, `TOP`) and
/// `-NONE-` empty elements are removed (see the module docs). Trees that consist only of empty
/// elements are dropped.
pub fn parse_trees(text: &str) -> Result<Vec<Tree>, PtbError> {
    let mut trees = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut saw_any = false;
    for (tok, line) in tokenize(text) {
        match tok {
            Tok::Open => stack.push(Open {
                label: None,
                line,
                words: Vec::new(),
                children: Vec::new(),
            }),
            Tok::Atom(a) => match stack.last_mut() {
                None => {
                    return Err(PtbError::Outside {
                        line,
                        text: a.to_string(),
                    })
                }
                Some(top) => {
                    if top.label.is_none() && top.children.is_empty() {
                        top.label = Some(a);
                    } else {
                        top.words.push(a);
                    }
                }
            },
            Tok::Close => {
                let open = stack.pop().ok_or(PtbError::UnexpectedClose { line })?;
                // A whole-tree wrapper (unlabelled, ROOT, TOP) never sits inside another tree:
                // a missing ')' here and an extra one later would otherwise merge two sentences.
                if let Some(outer) = stack.first() {
                    let wrapper = match open.label {
                        None => !open.children.is_empty(),
                        Some(l) => l == "ROOT" || l == "TOP",
                    };
                    if wrapper {
                        return Err(PtbError::NestedTree {
                            line: open.line,
                            outer: outer.line,
                        });
                    }
                }
                let node = finish(open)?;
                match stack.last_mut() {
                    Some(parent) => {
                        if !parent.words.is_empty() {
                            return Err(PtbError::Mixed {
                                line,
                                label: parent.label.unwrap_or("").to_string(),
                            });
                        }
                        parent.children.push(node);
                    }
                    None => {
                        saw_any = true;
                        if let Some(t) = unwrap_root(node).without_empty_elements() {
                            trees.push(unwrap_root(t));
                        }
                    }
                }
            }
        }
    }
    if let Some(open) = stack.first() {
        return Err(PtbError::Unclosed { line: open.line });
    }
    if !saw_any {
        return Err(PtbError::NoTrees);
    }
    Ok(trees)
}

fn finish(open: Open) -> Result<Tree, PtbError> {
    let Open {
        label,
        line,
        words,
        children,
    } = open;
    if !words.is_empty() && !children.is_empty() || words.len() > 1 {
        return Err(PtbError::Mixed {
            line,
            label: label.unwrap_or("").to_string(),
        });
    }
    match (label, words.first()) {
        (Some(l), Some(w)) => Ok(Tree::leaf(l, w)),
        (Some(l), None) if !children.is_empty() => Ok(Tree::node(l, children)),
        (None, None) if !children.is_empty() => Ok(Tree::node("", children)),
        (Some(l), None) => Err(PtbError::Empty {
            line,
            what: format!("({l})"),
        }),
        _ => Err(PtbError::Empty {
            line,
            what: "()".into(),
        }),
    }
}

/// Remove an unlabelled / ROOT / TOP wrapper around a single child.
fn unwrap_root(t: Tree) -> Tree {
    let wrapper = matches!(t.raw_label.as_str(), "" | "ROOT" | "TOP");
    if wrapper && t.children.len() == 1 {
        t.children.into_iter().next().expect("one child")
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrapped_tree_with_function_tags_and_traces() {
        let text = "( (S (NP-SBJ-1 (DT The) (NNS dogs)) (VP (VBD were) (VP (VBN fed) \
                    (NP (-NONE- *-1)))) (. .)) )\n";
        let trees = parse_trees(text).unwrap();
        assert_eq!(trees.len(), 1);
        let t = &trees[0];
        assert_eq!(t.label, "S");
        assert_eq!(t.children[0].label, "NP");
        assert_eq!(t.children[0].raw_label, "NP-SBJ-1");
        assert_eq!(t.words(), vec!["The", "dogs", "were", "fed", "."]);
        assert_eq!(t.tags(), vec!["DT", "NNS", "VBD", "VBN", "."]);
        // ROOT -> S -> VP -> VP -> VBN -> fed: 5 edges (the trace's NP is gone).
        assert_eq!(t.depth(), 5);
    }

    #[test]
    fn root_wrapper_sst_labels_and_escapes() {
        let t = &parse_trees("(ROOT (S (NP (PRP it)) (VP (VBZ is))))").unwrap()[0];
        assert_eq!(t.label, "S");
        assert_eq!(t.depth(), 4);
        let s = &parse_trees("(3 (2 (2 -LRB-) (2 The)) (2 Rock))\n(1 (1 bad))").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].words(), vec!["(", "The", "Rock"]);
        assert_eq!(s[0].label, "3");
        assert_eq!(s[0].depth(), 4);
    }

    #[test]
    fn a_tree_wrapper_inside_an_unclosed_tree_is_refused_with_both_lines() {
        // One ')' missing on line 1, an extra one on line 2: balanced overall, but two sentences
        // would silently merge.
        let e = parse_trees("( (S (NN a))\n( (S (NN b))) )\n").unwrap_err();
        assert_eq!(e, PtbError::NestedTree { line: 2, outer: 1 });
    }

    #[test]
    fn bad_brackets_are_reported_with_their_line() {
        assert_eq!(
            parse_trees("(S (NP (DT a)\n (NN b))").unwrap_err(),
            PtbError::Unclosed { line: 1 }
        );
        assert_eq!(
            parse_trees("(S (NN a))\n)").unwrap_err(),
            PtbError::UnexpectedClose { line: 2 }
        );
        assert!(matches!(
            parse_trees("(S ())").unwrap_err(),
            PtbError::Empty { .. }
        ));
        assert!(matches!(
            parse_trees("(NP (DT a) dog)").unwrap_err(),
            PtbError::Mixed { .. }
        ));
        assert!(matches!(
            parse_trees("dog").unwrap_err(),
            PtbError::Outside { .. }
        ));
        assert_eq!(parse_trees("  \n").unwrap_err(), PtbError::NoTrees);
    }

    #[test]
    fn bare_labels() {
        assert_eq!(bare_label("NP-SBJ-1"), "NP");
        assert_eq!(bare_label("NP=2"), "NP");
        assert_eq!(bare_label("-NONE-"), "-NONE-");
        assert_eq!(bare_label("PRP$"), "PRP$");
        assert_eq!(unescape("1\\/8"), "1/8");
        assert_eq!(unescape("-LCB-"), "{");
    }
}
