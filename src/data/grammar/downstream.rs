//! The two downstream tasks, with exact labels:
//! - acceptability (single sentence, CoLA layout): a generated sentence (label 1) or a minimally
//!   corrupted one (label 0): a subject-verb agreement flip, a determiner of the wrong number, or
//!   a determiner/adjective swapped with the word after it;
//! - paraphrase (sentence pair, MRPC layout): sentence B is A after meaning-preserving rewrites
//!   (active <-> passive, reordering `and` conjuncts, `that` <-> `who`) and possibly one
//!   meaning-changing edit (swap agent and patient, change a noun, its number, the verb or the
//!   tense); the label is whether the two meanings ([`Sentence::meaning`]) are equal.

use super::generate::Generator;
use super::lexicon::{DetNumber, Number, ObjClass, DETS, NOUNS, VERBS};
use super::syntax::{Clause, Conj, Np, Sentence, Tense, Tree, Voice, Wh};
use rand::seq::SliceRandom;
use rand::Rng;

/// One acceptability example.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptExample {
    /// The sentence.
    pub text: String,
    /// 1 grammatical, 0 corrupted.
    pub label: u8,
    /// `ok`, `agreement`, `determiner` or `order`.
    pub kind: &'static str,
    /// The tree (corrupted trees keep the original tags).
    pub tree: Tree,
}

fn leaves_mut(t: &mut Tree) -> Vec<&mut Tree> {
    let mut out = Vec::new();
    fn go<'a>(t: &'a mut Tree, out: &mut Vec<&'a mut Tree>) {
        match t {
            Tree::Leaf(..) => out.push(t),
            Tree::Node(_, cs) => cs.iter_mut().for_each(|c| go(c, out)),
        }
    }
    go(t, &mut out);
    out
}

/// The other number's form of an agreeing verb (`sees` <-> `see`, `is` <-> `are`,
/// `was` <-> `were`); None for forms without agreement.
pub fn flip_agreement(word: &str) -> Option<&'static str> {
    let fixed = [
        ("is", "are"),
        ("are", "is"),
        ("was", "were"),
        ("were", "was"),
    ];
    if let Some((_, b)) = fixed.iter().find(|(a, _)| *a == word) {
        return Some(b);
    }
    VERBS.iter().find_map(|v| {
        if v.s3 == word {
            Some(v.base)
        } else if v.base == word {
            Some(v.s3)
        } else {
            None
        }
    })
}

/// Collect the NP nodes whose leaf children start with a determiner.
fn det_nps(t: &mut Tree) -> Vec<&mut Vec<Tree>> {
    let mut out = Vec::new();
    fn go<'a>(t: &'a mut Tree, out: &mut Vec<&'a mut Vec<Tree>>) {
        if let Tree::Node(l, cs) = t {
            let simple = l == "NP" && matches!(cs.first(), Some(Tree::Leaf(tag, _)) if tag == "DT");
            if simple {
                out.push(cs);
            } else {
                cs.iter_mut().for_each(|c| go(c, out));
            }
        }
    }
    go(t, &mut out);
    out
}

/// Apply one corruption of `kind` (`agreement`, `determiner`, `order`) to a tree; false when
/// the tree has no place for it.
pub fn corrupt(tree: &mut Tree, kind: &str, rng: &mut impl Rng) -> bool {
    match kind {
        "agreement" => {
            let mut cands: Vec<&mut Tree> = leaves_mut(tree)
                .into_iter()
                .filter(|l| matches!(l, Tree::Leaf(t, w) if (t == "VBZ" || t == "VBP" || (t == "VBD" && (w == "was" || w == "were")))))
                .collect();
            if cands.is_empty() {
                return false;
            }
            let i = rng.gen_range(0..cands.len());
            if let Tree::Leaf(_, w) = &mut *cands[i] {
                match flip_agreement(w) {
                    Some(f) => *w = f.to_string(),
                    None => return false,
                }
            }
            true
        }
        "determiner" => {
            let mut nps = det_nps(tree);
            if nps.is_empty() {
                return false;
            }
            let i = rng.gen_range(0..nps.len());
            let kids = &mut *nps[i];
            let plural = matches!(kids.last(), Some(Tree::Leaf(t, _)) if t == "NNS");
            let want = if plural { DetNumber::Sg } else { DetNumber::Pl };
            let opts: Vec<&str> = DETS
                .iter()
                .filter(|d| d.number == want)
                .map(|d| d.word)
                .collect();
            let mut w = *opts.choose(rng).expect("determiners of each number");
            let next = match kids.get(1) {
                Some(Tree::Leaf(_, n)) => n.clone(),
                _ => String::new(),
            };
            if w == "a" && next.starts_with(['a', 'e', 'i', 'o', 'u']) {
                w = "an";
            }
            if let Tree::Leaf(_, d) = &mut kids[0] {
                *d = w.to_string();
            }
            true
        }
        "order" => {
            let mut nps = det_nps(tree);
            if nps.is_empty() {
                return false;
            }
            let i = rng.gen_range(0..nps.len());
            let kids = &mut *nps[i];
            // swap the determiner or an adjective with the leaf after it
            let last_leaf = kids
                .iter()
                .rposition(|k| matches!(k, Tree::Leaf(..)))
                .unwrap_or(0);
            if last_leaf == 0 {
                return false;
            }
            // only neighbours with different tags (two adjectives swapped stay grammatical)
            let tag = |k: &Tree| match k {
                Tree::Leaf(t, _) => t.clone(),
                Tree::Node(l, _) => l.clone(),
            };
            let cands: Vec<usize> = (0..last_leaf)
                .filter(|&j| tag(&kids[j]) != tag(&kids[j + 1]))
                .collect();
            let Some(&j) = cands.choose(rng) else {
                return false;
            };
            kids.swap(j, j + 1);
            true
        }
        _ => false,
    }
}

/// The corruption kinds, in the order they are tried.
pub const CORRUPTIONS: [&str; 3] = ["agreement", "determiner", "order"];

/// `n` acceptability examples, half of each label, in random order.
pub fn acceptability(g: &mut Generator, n: usize) -> Vec<AcceptExample> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut tree = g.sentence().tree();
        if out.len() % 2 == 0 {
            out.push(AcceptExample {
                text: tree.text(),
                label: 1,
                kind: "ok",
                tree,
            });
            continue;
        }
        let mut kinds = CORRUPTIONS.to_vec();
        kinds.shuffle(g.rng);
        // a sentence with no place for any corruption (`Alice slept .`) is drawn again
        if let Some(kind) = kinds.into_iter().find(|k| corrupt(&mut tree, k, g.rng)) {
            out.push(AcceptExample {
                text: tree.text(),
                label: 0,
                kind,
                tree,
            });
        }
    }
    out.shuffle(g.rng);
    out
}

/// One paraphrase pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairExample {
    /// Sentence A.
    pub a: Sentence,
    /// Sentence B.
    pub b: Sentence,
    /// 1 same meaning, 0 different.
    pub label: u8,
    /// The rewrites applied to A to get B, `+`-joined.
    pub ops: String,
}

fn main_clauses(s: &mut Sentence) -> Vec<&mut Clause> {
    match s {
        Sentence::Single(c) => vec![c],
        Sentence::Coord(a, _, b) => vec![a, b],
    }
}

/// Top-level noun phrases of a clause (agent, patient and their conjuncts) that are common nouns.
fn common_nps(c: &mut Clause) -> Vec<&mut Np> {
    let mut out = Vec::new();
    fn go<'a>(np: &'a mut Np, out: &mut Vec<&'a mut Np>) {
        match np {
            Np::And(a, b) => {
                go(a, out);
                go(b, out);
            }
            Np::Common { .. } => out.push(np),
            _ => {}
        }
    }
    go(&mut c.agent, &mut out);
    if let Some(p) = &mut c.patient {
        go(p, &mut out);
    }
    out
}

fn and_nps(c: &mut Clause) -> Vec<&mut Np> {
    let mut out = Vec::new();
    for np in std::iter::once(&mut c.agent).chain(c.patient.as_mut()) {
        if matches!(np, Np::And(..)) {
            out.push(np);
        }
    }
    out
}

fn rels(c: &mut Clause) -> Vec<&mut Wh> {
    let mut out = Vec::new();
    for np in common_nps(c) {
        if let Np::Common {
            noun, rel: Some(r), ..
        } = np
        {
            if NOUNS[*noun].animate {
                out.push(&mut r.wh);
            }
        }
    }
    out
}

/// Meaning-preserving rewrites.
pub const PRESERVING: [&str; 4] = ["voice", "swap_conjuncts", "swap_clauses", "wh"];
/// Meaning-changing edits.
pub const CHANGING: [&str; 5] = ["swap_args", "noun", "number", "verb", "tense"];

/// Apply the rewrite `op` to a random place in `s`; false if it does not apply.
pub fn rewrite(s: &mut Sentence, op: &str, rng: &mut impl Rng) -> bool {
    if op == "swap_clauses" {
        return match s {
            Sentence::Coord(a, Conj::And, b) => {
                std::mem::swap(a, b);
                true
            }
            _ => false,
        };
    }
    let mut cs = main_clauses(s);
    let ci = rng.gen_range(0..cs.len());
    let c = &mut *cs[ci];
    match op {
        "voice" => {
            if c.patient.is_none() {
                return false;
            }
            c.voice = match c.voice {
                Voice::Active => Voice::Passive,
                Voice::Passive => Voice::Active,
            };
            true
        }
        "swap_conjuncts" => {
            let mut v = and_nps(c);
            if v.is_empty() {
                return false;
            }
            let i = rng.gen_range(0..v.len());
            if let Np::And(a, b) = &mut *v[i] {
                std::mem::swap(a, b);
            }
            true
        }
        "wh" => {
            let mut v = rels(c);
            if v.is_empty() {
                return false;
            }
            let i = rng.gen_range(0..v.len());
            let w = &mut *v[i];
            *w = if *w == Wh::That { Wh::Who } else { Wh::That };
            true
        }
        "swap_args" => {
            // the patient must be able to act, and the verb must accept the agent as object
            let ok = c.patient.as_ref().is_some_and(|p| p.animate())
                && VERBS[c.verb].obj != ObjClass::Inanimate;
            if !ok {
                return false;
            }
            let p = c.patient.take().expect("checked");
            c.patient = Some(std::mem::replace(&mut c.agent, p));
            true
        }
        "tense" => {
            c.tense = match c.tense {
                Tense::Past => Tense::Present,
                Tense::Present => Tense::Past,
            };
            true
        }
        "verb" => {
            let pat_anim = c.patient.as_ref().map(|p| p.animate());
            let opts: Vec<usize> = (0..VERBS.len())
                .filter(|&i| i != c.verb)
                .filter(|&i| match (VERBS[i].obj, pat_anim) {
                    (ObjClass::None, None) => true,
                    (ObjClass::None, Some(_)) | (_, None) => false,
                    (ObjClass::Any, Some(_)) => true,
                    (ObjClass::Animate, Some(a)) => a,
                    (ObjClass::Inanimate, Some(a)) => !a,
                })
                .collect();
            match opts.choose(rng) {
                Some(&v) => {
                    c.verb = v;
                    true
                }
                None => false,
            }
        }
        "noun" | "number" => {
            let mut v = common_nps(c);
            if v.is_empty() {
                return false;
            }
            let i = rng.gen_range(0..v.len());
            if let Np::Common { det, noun, num, .. } = &mut *v[i] {
                if op == "noun" {
                    let anim = NOUNS[*noun].animate;
                    let opts: Vec<usize> = (0..NOUNS.len())
                        .filter(|&j| j != *noun && NOUNS[j].animate == anim)
                        .collect();
                    *noun = *opts.choose(rng).expect("nouns of each animacy");
                } else {
                    *num = num.flip();
                    let fits = match DETS[*det].number {
                        DetNumber::Any => true,
                        DetNumber::Sg => *num == Number::Sg,
                        DetNumber::Pl => *num == Number::Pl,
                    };
                    if !fits {
                        // this -> these, a -> some, every -> the ...
                        let swap = [
                            ("a", "some"),
                            ("this", "these"),
                            ("that", "those"),
                            ("every", "the"),
                            ("each", "the"),
                            ("these", "this"),
                            ("those", "that"),
                            ("some", "a"),
                        ];
                        let w = DETS[*det].word;
                        let to = swap
                            .iter()
                            .find(|(f, _)| *f == w)
                            .map(|(_, t)| *t)
                            .unwrap_or("the");
                        *det = DETS
                            .iter()
                            .position(|d| d.word == to)
                            .expect("listed determiner");
                    }
                }
            }
            true
        }
        _ => false,
    }
}

/// One pair aiming at label `want`: B = A after 1-2 preserving rewrites (paraphrase), or after 0-1
/// preserving rewrites and one changing edit. The label is computed from the meanings; None when
/// no rewrite applied or the computed label is not `want` (the caller draws again).
pub fn pair(g: &mut Generator, want: bool) -> Option<PairExample> {
    let a = g.sentence();
    let mut b = a.clone();
    let mut ops = Vec::new();
    let n_pres = if want {
        1 + usize::from(g.rng.gen_bool(0.3))
    } else {
        usize::from(g.rng.gen_bool(0.5))
    };
    for _ in 0..n_pres {
        let mut order = PRESERVING.to_vec();
        order.shuffle(g.rng);
        if let Some(op) = order.into_iter().find(|op| rewrite(&mut b, op, g.rng)) {
            ops.push(op);
        }
    }
    if !want {
        let mut order = CHANGING.to_vec();
        order.shuffle(g.rng);
        if let Some(op) = order.into_iter().find(|op| rewrite(&mut b, op, g.rng)) {
            ops.push(op);
        }
    }
    if ops.is_empty() || a.text() == b.text() {
        return None;
    }
    let label = a.meaning() == b.meaning();
    (label == want).then(|| PairExample {
        a,
        b,
        label: u8::from(label),
        ops: ops.join("+"),
    })
}

/// `n` paraphrase pairs, alternating the wanted label (so half of each), in random order.
pub fn paraphrase(g: &mut Generator, n: usize) -> Vec<PairExample> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let want = out.len() % 2 == 0;
        if let Some(p) = pair(g, want) {
            out.push(p);
        }
    }
    out.shuffle(g.rng);
    out
}
