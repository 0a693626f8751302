//! Main-clause analysis for the syntactic tasks, from a constituency tree (Penn Treebank
//! categories) or from a Universal Dependencies analysis.
//!
//! Constituency trees (the top node after removing ROOT must be `S`):
//! - subject: the `NP-SBJ` child of S if function tags are present, else the first NP child
//!   before the first VP child;
//! - main VP: the first VP child of S; its finite verb is its first preterminal child tagged
//!   VB*/MD (for a coordinated VP without its own verb, that of the first VP inside);
//! - lexical VP: from the main VP, descend into the VP complement while the current VP's verbs
//!   all come before it (auxiliary chains: `will (VP join ...)`, `had (VP been (VP charged))`);
//! - direct object: the first NP child of the lexical VP that has no function tag (so `NP-PRD`,
//!   `NP-TMP`, `NP-ADV` ... are not objects);
//! - head noun of an NP: the last NN/NNS/NNP/NNPS preterminal among its direct children; if
//!   there is none and the first child is an NP, the head of that NP; none for a coordinated NP
//!   (a CC or CONJP child) or a pronoun;
//! - coordination: S whose children are `S [,] CC S [final punctuation]`.
//!
//! Dependencies (the root word is the main clause's head):
//! - subject: the first `nsubj` / `nsubj:pass` dependent of the root, object: the first `obj`;
//!   number from the word's Penn tag (NN/NNP singular, NNS/NNPS plural), none when the word has a
//!   `conj` dependent (coordinated);
//! - finite verb: the leftmost of the root and its `aux` / `aux:pass` / `cop` dependents that has
//!   `VerbForm=Fin` or a finite Penn tag (VBD, VBZ, VBP, MD);
//! - coordination: the root has exactly one `conj` dependent; it has its own subject and a `cc`
//!   that is the first word of its subtree (after a comma, which UD attaches there); its
//!   subtree is contiguous, comes after the root and is followed only by
//!   punctuation.

use super::Sentence;
use crate::data::ptb::Tree;

/// Grammatical number, labelled as SentEval does (`NN` singular, `NNS` plural).
pub fn number_of_tag(tag: &str) -> Option<&'static str> {
    match tag {
        "NN" | "NNP" => Some("NN"),
        "NNS" | "NNPS" => Some("NNS"),
        _ => None,
    }
}

/// Tense of a finite verb tag: `PAST` for VBD, `PRES` for VBZ / VBP; none otherwise (MD, ...).
pub fn tense_of_tag(tag: &str) -> Option<&'static str> {
    match tag {
        "VBD" => Some("PAST"),
        "VBZ" | "VBP" => Some("PRES"),
        _ => None,
    }
}

/// Word spans of a coordinated sentence: `words[..first_end]` is the first conjunct,
/// `words[middle]` the separator (comma, if any, then the conjunction),
/// `words[second_start..second_end]` the second conjunct, `words[second_end..]` the final
/// punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordination {
    /// End of the first conjunct.
    pub first_end: usize,
    /// Start of the second conjunct.
    pub second_start: usize,
    /// End of the second conjunct.
    pub second_end: usize,
}

impl Coordination {
    /// The sentence with the two conjuncts swapped, separator and final punctuation in place.
    pub fn invert(&self, words: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(words.len());
        out.extend_from_slice(&words[self.second_start..self.second_end]);
        out.extend_from_slice(&words[self.first_end..self.second_start]);
        out.extend_from_slice(&words[..self.first_end]);
        out.extend_from_slice(&words[self.second_end..]);
        out
    }
}

/// What the main clause tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MainClause {
    /// Subject number (`NN` / `NNS`).
    pub subj_number: Option<&'static str>,
    /// Direct object number (`NN` / `NNS`).
    pub obj_number: Option<&'static str>,
    /// Tense of the finite verb (`PAST` / `PRES`).
    pub tense: Option<&'static str>,
    /// Two coordinated clauses.
    pub coordination: Option<Coordination>,
}

/// Analyse a sentence's main clause (from its tree if it has a categorised one, else from its
/// dependencies); `None` when it has neither.
pub fn main_clause(s: &Sentence) -> Option<MainClause> {
    if s.has_categorised_tree() {
        return Some(from_tree(s.tree.as_ref().expect("tree")));
    }
    match (&s.deps, &s.tags) {
        (Some(d), Some(t)) => Some(from_deps(&s.words, t, d)),
        _ => None,
    }
}

fn is_verb_tag(t: &str) -> bool {
    t.starts_with("VB") || t == "MD"
}

fn is_punct_tag(t: &str) -> bool {
    matches!(t, "." | "," | ":" | "``" | "''" | "-LRB-" | "-RRB-")
}

/// Main clause from a constituency tree.
pub fn from_tree(top: &Tree) -> MainClause {
    let mut m = MainClause::default();
    if top.label != "S" {
        return m;
    }
    let vp_pos = top.children.iter().position(|c| c.label == "VP");
    let subj = top
        .children
        .iter()
        .find(|c| c.raw_label.starts_with("NP-SBJ"))
        .or_else(|| {
            top.children[..vp_pos.unwrap_or(0)]
                .iter()
                .find(|c| c.label == "NP")
        });
    m.subj_number = subj.and_then(np_number);
    if let Some(vp) = vp_pos.map(|i| &top.children[i]) {
        m.tense = finite_verb(vp).and_then(|t| tense_of_tag(&t.label));
        let lex = lexical_vp(vp);
        m.obj_number = lex
            .children
            .iter()
            .find(|c| c.label == "NP" && c.raw_label == "NP")
            .and_then(np_number);
    }
    m.coordination = tree_coordination(top);
    m
}

/// The finite verb of a VP: its first verb preterminal, or that of its first VP child.
fn finite_verb(vp: &Tree) -> Option<&Tree> {
    match vp
        .children
        .iter()
        .find(|c| c.is_preterminal() && is_verb_tag(&c.label))
    {
        Some(v) => Some(v),
        None => vp
            .children
            .iter()
            .find(|c| c.label == "VP")
            .and_then(finite_verb),
    }
}

/// Descend auxiliary chains (and coordinated VPs without their own verb) to the lexical VP.
fn lexical_vp(vp: &Tree) -> &Tree {
    let mut cur = vp;
    loop {
        let Some(i) = cur.children.iter().position(|c| c.label == "VP") else {
            return cur;
        };
        let has_np_before = cur.children[..i].iter().any(|c| c.label == "NP");
        let verbs_after = cur.children[i + 1..]
            .iter()
            .any(|c| c.is_preterminal() && is_verb_tag(&c.label));
        if has_np_before || verbs_after {
            return cur;
        }
        cur = &cur.children[i];
    }
}

/// Number of an NP's head noun (see the module docs).
pub fn np_number(np: &Tree) -> Option<&'static str> {
    if np.is_preterminal() {
        return number_of_tag(&np.label);
    }
    if np
        .children
        .iter()
        .any(|c| c.label == "CC" || c.label == "CONJP")
    {
        return None;
    }
    if let Some(n) = np
        .children
        .iter()
        .rev()
        .find(|c| c.is_preterminal() && number_of_tag(&c.label).is_some())
    {
        return number_of_tag(&n.label);
    }
    match np.children.first() {
        Some(c) if c.label == "NP" => np_number(c),
        _ => None,
    }
}

fn tree_coordination(top: &Tree) -> Option<Coordination> {
    let labels: Vec<&str> = top.children.iter().map(|c| c.label.as_str()).collect();
    let mut end = labels.len();
    while end > 0 && top.children[end - 1].is_preterminal() && is_punct_tag(labels[end - 1]) {
        end -= 1;
    }
    let core = &labels[..end];
    let comma = match core {
        ["S", "CC", "S"] => false,
        ["S", ",", "CC", "S"] => true,
        _ => return None,
    };
    let first_end = top.children[0].len();
    let sep = if comma { 2 } else { 1 };
    let second_start = first_end + sep;
    let second_end = second_start + top.children[sep + 1].len();
    Some(Coordination {
        first_end,
        second_start,
        second_end,
    })
}

/// Main clause from a dependency analysis (`tags` are Penn tags, `deps[i]` is word i + 1).
pub fn from_deps(words: &[String], tags: &[String], deps: &[super::Dep]) -> MainClause {
    let mut m = MainClause::default();
    let Some(root) = deps.iter().position(|d| d.head == 0) else {
        return m;
    };
    let children =
        |h: usize| -> Vec<usize> { (0..deps.len()).filter(|&i| deps[i].head == h + 1).collect() };
    let root_kids = children(root);
    let number = |i: usize| -> Option<&'static str> {
        if children(i).iter().any(|&k| deps[k].rel == "conj") {
            return None;
        }
        number_of_tag(&tags[i])
    };
    m.subj_number = root_kids
        .iter()
        .find(|&&k| deps[k].rel == "nsubj" || deps[k].rel == "nsubj:pass")
        .and_then(|&k| number(k));
    m.obj_number = root_kids
        .iter()
        .find(|&&k| deps[k].rel == "obj")
        .and_then(|&k| number(k));
    let mut verbs: Vec<usize> = root_kids
        .iter()
        .copied()
        .filter(|&k| matches!(deps[k].rel.as_str(), "aux" | "aux:pass" | "cop"))
        .collect();
    verbs.push(root);
    verbs.sort();
    let finite = verbs.into_iter().find(|&k| {
        deps[k].feat("VerbForm") == Some("Fin")
            || matches!(tags[k].as_str(), "VBD" | "VBZ" | "VBP" | "MD")
    });
    m.tense = finite.and_then(|k| {
        if tags[k] == "MD" {
            return None;
        }
        tense_of_tag(&tags[k]).or(match deps[k].feat("Tense") {
            Some("Past") => Some("PAST"),
            Some("Pres") => Some("PRES"),
            _ => None,
        })
    });
    m.coordination = dep_coordination(words, deps, root, &root_kids);
    m
}

fn dep_coordination(
    words: &[String],
    deps: &[super::Dep],
    root: usize,
    root_kids: &[usize],
) -> Option<Coordination> {
    let conjs: Vec<usize> = root_kids
        .iter()
        .copied()
        .filter(|&k| deps[k].rel == "conj")
        .collect();
    let [c] = conjs[..] else { return None };
    // Subtree of c: every word whose head chain reaches c.
    let in_sub = |mut i: usize| -> bool {
        for _ in 0..=deps.len() {
            if i == c {
                return true;
            }
            match deps[i].head {
                0 => return false,
                h => i = h - 1,
            }
        }
        false
    };
    let sub: Vec<usize> = (0..deps.len()).filter(|&i| in_sub(i)).collect();
    let (s0, b) = (sub[0], *sub.last().expect("c itself"));
    if b - s0 + 1 != sub.len() || root >= s0 {
        return None;
    }
    // UD attaches the comma before the conjunction to the second conjunct.
    let is_comma = |i: usize| words[i] == "," && deps[i].upos == "PUNCT";
    let a = if is_comma(s0) { s0 + 1 } else { s0 };
    let c_kids: Vec<usize> = (0..deps.len()).filter(|&i| deps[i].head == c + 1).collect();
    let has_subj = c_kids
        .iter()
        .any(|&k| deps[k].rel.starts_with("nsubj") || deps[k].rel == "expl");
    if !has_subj || a >= b || deps[a].rel != "cc" || deps[a].head != c + 1 {
        return None;
    }
    if (b + 1..deps.len()).any(|i| deps[i].upos != "PUNCT") {
        return None;
    }
    let first_end = if a > 0 && is_comma(a - 1) { a - 1 } else { a };
    if first_end == 0 {
        return None;
    }
    Some(Coordination {
        first_end,
        second_start: a + 1,
        second_end: b + 1,
    })
}
