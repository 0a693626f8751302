//! An independent well-formedness check on trees, written from the rules of English rather than
//! from the generator: subject-verb agreement (the verb's form against the subject's number,
//! with the head noun standing in for the gap of a subject relative clause), determiner-noun
//! agreement, `a`/`an`, and the order determiner - adjectives - noun inside a noun phrase.
//! The tests use it to show that generated sentences are grammatical and that every
//! corruption of the acceptability task is not.

use super::lexicon::{det_number, DetNumber, Number, VERBS};
use super::syntax::Tree;

/// Number that a verb form requires of its subject (None: no agreement, e.g. `chased`).
fn verb_number(word: &str) -> Option<Number> {
    match word {
        "is" | "was" => return Some(Number::Sg),
        "are" | "were" => return Some(Number::Pl),
        _ => {}
    }
    if VERBS.iter().any(|v| v.s3 == word) {
        Some(Number::Sg)
    } else if VERBS.iter().any(|v| v.base == word) {
        Some(Number::Pl)
    } else {
        None
    }
}

/// Number of a noun phrase read off the tree: coordinations with `and` are plural, a complex
/// NP takes the number of its first NP, a simple NP the number of its noun's tag.
pub fn np_number(t: &Tree) -> Option<Number> {
    let Tree::Node(_, kids) = t else { return None };
    if kids
        .iter()
        .any(|k| matches!(k, Tree::Leaf(tag, w) if tag == "CC" && w == "and"))
    {
        return Some(Number::Pl);
    }
    if let Some(first @ Tree::Node(l, _)) = kids.first() {
        if l == "NP" {
            return np_number(first);
        }
    }
    kids.iter().rev().find_map(|k| match k {
        Tree::Leaf(tag, _) if tag == "NN" || tag == "NNP" => Some(Number::Sg),
        Tree::Leaf(tag, _) if tag == "NNS" => Some(Number::Pl),
        _ => None,
    })
}

fn label(t: &Tree) -> &str {
    match t {
        Tree::Node(l, _) => l,
        Tree::Leaf(t, _) => t,
    }
}

/// Every violation found in the tree, as readable strings (empty: well formed).
pub fn violations(t: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    walk(t, None, &mut out);
    out
}

fn check_np_leaves(kids: &[Tree], out: &mut Vec<String>) {
    let leaves: Vec<(&str, &str)> = kids
        .iter()
        .filter_map(|k| match k {
            Tree::Leaf(t, w) => Some((t.as_str(), w.as_str())),
            _ => None,
        })
        .collect();
    if leaves.is_empty() || leaves.iter().any(|(t, _)| *t == "CC") {
        return;
    }
    let tags: Vec<&str> = leaves.iter().map(|(t, _)| *t).collect();
    let ok_order = match tags.as_slice() {
        ["NNP"] => true,
        ["DT", mid @ .., last] => {
            mid.iter().all(|t| *t == "JJ") && (*last == "NN" || *last == "NNS")
        }
        _ => false,
    };
    if !ok_order {
        out.push(format!("noun phrase order {}", tags.join(" ")));
        return;
    }
    if tags[0] == "DT" {
        let (_, det) = leaves[0];
        let noun_num = if *tags.last().unwrap() == "NN" {
            Number::Sg
        } else {
            Number::Pl
        };
        match det_number(det) {
            Some(DetNumber::Sg) if noun_num == Number::Pl => {
                out.push(format!("determiner {det} with a plural noun"))
            }
            Some(DetNumber::Pl) if noun_num == Number::Sg => {
                out.push(format!("determiner {det} with a singular noun"))
            }
            None => out.push(format!("unknown determiner {det}")),
            _ => {}
        }
        let next = leaves[1].1;
        let vowel = next.starts_with(['a', 'e', 'i', 'o', 'u']);
        if (det == "a" && vowel) || (det == "an" && !vowel) {
            out.push(format!("{det} before {next}"));
        }
    }
}

fn walk(t: &Tree, gap_num: Option<Number>, out: &mut Vec<String>) {
    let Tree::Node(l, kids) = t else { return };
    match l.as_str() {
        "NP" => {
            check_np_leaves(kids, out);
            // [NP ... SBAR]: the head NP's number fills a subject gap inside the SBAR
            let head = kids
                .first()
                .filter(|k| label(k) == "NP")
                .and_then(np_number);
            for k in kids {
                let g = if label(k) == "SBAR" { head } else { None };
                walk(k, g, out);
            }
            return;
        }
        "S" => {
            let subj = kids.iter().find(|k| label(k) == "NP");
            let vp = kids.iter().find(|k| label(k) == "VP");
            let subj_num = match subj {
                Some(s) => np_number(s),
                None => gap_num,
            };
            if let (Some(Tree::Node(_, vk)), Some(n)) = (vp, subj_num) {
                if let Some(Tree::Leaf(_, w)) = vk.first() {
                    if let Some(vn) = verb_number(w) {
                        if vn != n {
                            out.push(format!("verb {w} does not agree with its subject"));
                        }
                    }
                }
            }
            if subj.is_none() && gap_num.is_none() && kids.iter().all(|k| label(k) != "S") {
                out.push("clause without a subject".into());
            }
        }
        "SBAR" => {
            for k in kids {
                walk(k, gap_num, out);
            }
            return;
        }
        _ => {}
    }
    for k in kids {
        walk(k, None, out);
    }
}
