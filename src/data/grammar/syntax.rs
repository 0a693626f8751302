//! Abstract sentences of the grammar (who does what to whom, with which modifiers), their
//! realization as Penn-Treebank-style trees with standard tags, and their meaning (the
//! predicate-argument structure that the paraphrase task compares).

use super::lexicon::{Number, ADJECTIVES, DETS, NAMES, NOUNS, PREPS, VERBS};

/// Past or present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tense {
    /// Present (VBZ/VBP, is/are).
    Present,
    /// Past (VBD, was/were).
    Past,
}

/// Active or passive voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// Agent as subject.
    Active,
    /// Patient as subject, agent in a `by` phrase.
    Passive,
}

/// Relative pronoun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wh {
    /// `that` (WDT).
    That,
    /// `who` (WP), animate heads only.
    Who,
}

/// A noun phrase.
#[derive(Debug, Clone, PartialEq)]
pub enum Np {
    /// A proper name (index into [`NAMES`]).
    Name(usize),
    /// Determiner, adjectives, noun, optional prepositional phrase and relative clause.
    Common {
        /// Index into [`DETS`].
        det: usize,
        /// Indices into [`ADJECTIVES`], in order.
        adjs: Vec<usize>,
        /// Index into [`NOUNS`].
        noun: usize,
        /// Number of the noun.
        num: Number,
        /// `near the river`.
        pp: Option<Box<Pp>>,
        /// `that chased the cat` (the gapped argument is [`Np::Gap`]).
        rel: Option<Box<Rel>>,
    },
    /// `X and Y` (plural).
    And(Box<Np>, Box<Np>),
    /// The gap of a relative clause (realized as nothing).
    Gap,
}

/// A prepositional phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Pp {
    /// Index into [`PREPS`].
    pub prep: usize,
    /// Its object.
    pub np: Np,
}

/// A relative clause: `that`/`who` + a clause with one argument replaced by [`Np::Gap`].
#[derive(Debug, Clone, PartialEq)]
pub struct Rel {
    /// The pronoun.
    pub wh: Wh,
    /// The clause (agent or patient is the gap).
    pub clause: Clause,
}

/// A clause: verb, tense, voice, agent, patient (transitive verbs) and an optional PP on the VP.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Index into [`VERBS`].
    pub verb: usize,
    /// Tense.
    pub tense: Tense,
    /// Voice (passive needs a patient).
    pub voice: Voice,
    /// The doer.
    pub agent: Np,
    /// The thing done to (None for intransitives).
    pub patient: Option<Np>,
    /// `in the park`.
    pub pp: Option<Pp>,
}

/// Clause coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conj {
    /// `and` (order does not change the meaning).
    And,
    /// `but` (order kept in the meaning).
    But,
}

/// A sentence: one clause, or two coordinated clauses.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Sentence {
    /// One clause.
    Single(Clause),
    /// `A and B`, `A but B`.
    Coord(Clause, Conj, Clause),
}

/// A PTB-style tree: a phrase with children, or a (tag, word) leaf.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// Phrase label and children.
    Node(String, Vec<Tree>),
    /// Part-of-speech tag and word.
    Leaf(String, String),
}

impl Tree {
    fn node(label: &str, children: Vec<Tree>) -> Tree {
        Tree::Node(label.to_string(), children)
    }
    fn leaf(tag: &str, word: &str) -> Tree {
        Tree::Leaf(tag.to_string(), word.to_string())
    }

    /// The bracketed form, `(ROOT (S (NP (DT the) (NN dog)) ...))`.
    pub fn to_ptb(&self) -> String {
        let mut s = String::new();
        self.write_ptb(&mut s);
        s
    }

    fn write_ptb(&self, s: &mut String) {
        match self {
            Tree::Leaf(t, w) => {
                s.push('(');
                s.push_str(t);
                s.push(' ');
                s.push_str(w);
                s.push(')');
            }
            Tree::Node(l, cs) => {
                s.push('(');
                s.push_str(l);
                for c in cs {
                    s.push(' ');
                    c.write_ptb(s);
                }
                s.push(')');
            }
        }
    }

    /// The (tag, word) leaves, left to right.
    pub fn leaves(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        fn go<'a>(t: &'a Tree, out: &mut Vec<(&'a str, &'a str)>) {
            match t {
                Tree::Leaf(tag, w) => out.push((tag.as_str(), w.as_str())),
                Tree::Node(_, cs) => cs.iter().for_each(|c| go(c, out)),
            }
        }
        go(self, &mut out);
        out
    }

    /// The words joined by single spaces.
    pub fn text(&self) -> String {
        self.leaves()
            .iter()
            .map(|(_, w)| *w)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Np {
    /// Grammatical number (coordination is plural).
    pub fn number(&self) -> Number {
        match self {
            Np::Name(_) | Np::Gap => Number::Sg,
            Np::Common { num, .. } => *num,
            Np::And(..) => Number::Pl,
        }
    }

    /// Whether the head is animate (coordinations: both conjuncts).
    pub fn animate(&self) -> bool {
        match self {
            Np::Name(_) | Np::Gap => true,
            Np::Common { noun, .. } => NOUNS[*noun].animate,
            Np::And(a, b) => a.animate() && b.animate(),
        }
    }

    fn tree(&self) -> Option<Tree> {
        match self {
            Np::Gap => None,
            Np::Name(i) => Some(Tree::node("NP", vec![Tree::leaf("NNP", NAMES[*i])])),
            Np::And(a, b) => Some(Tree::node(
                "NP",
                vec![a.tree()?, Tree::leaf("CC", "and"), b.tree()?],
            )),
            Np::Common {
                det,
                adjs,
                noun,
                num,
                pp,
                rel,
            } => {
                let nw = match num {
                    Number::Sg => NOUNS[*noun].sg,
                    Number::Pl => NOUNS[*noun].pl,
                };
                let next = adjs.first().map(|&a| ADJECTIVES[a]).unwrap_or(nw);
                let mut dw = DETS[*det].word;
                if dw == "a" && next.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    dw = "an";
                }
                let mut kids = vec![Tree::leaf("DT", dw)];
                kids.extend(adjs.iter().map(|&a| Tree::leaf("JJ", ADJECTIVES[a])));
                let tag = if *num == Number::Sg { "NN" } else { "NNS" };
                kids.push(Tree::leaf(tag, nw));
                let mut t = Tree::node("NP", kids);
                if let Some(pp) = pp {
                    t = Tree::node("NP", vec![t, pp.tree()?]);
                }
                if let Some(r) = rel {
                    let (wt, ww, wp) = match r.wh {
                        Wh::That => ("WDT", "that", "WHNP"),
                        Wh::Who => ("WP", "who", "WHNP"),
                    };
                    let s = r.clause.tree(Some(*num));
                    let sbar =
                        Tree::node("SBAR", vec![Tree::node(wp, vec![Tree::leaf(wt, ww)]), s]);
                    t = Tree::node("NP", vec![t, sbar]);
                }
                Some(t)
            }
        }
    }
}

impl Pp {
    fn tree(&self) -> Option<Tree> {
        Some(Tree::node(
            "PP",
            vec![Tree::leaf("IN", PREPS[self.prep]), self.np.tree()?],
        ))
    }
}

impl Clause {
    /// The grammatical subject (agent in the active, patient in the passive).
    pub fn subject(&self) -> &Np {
        match (self.voice, &self.patient) {
            (Voice::Passive, Some(p)) => p,
            _ => &self.agent,
        }
    }

    /// The clause as an S node; `gap_num` is the number of the head noun when the subject is
    /// the gap of a relative clause.
    fn tree(&self, gap_num: Option<Number>) -> Tree {
        let verb = &VERBS[self.verb];
        let subj = self.subject();
        let num = match subj {
            Np::Gap => gap_num.unwrap_or(Number::Sg),
            s => s.number(),
        };
        let mut vp = Vec::new();
        let passive = self.voice == Voice::Passive && self.patient.is_some();
        if passive {
            let (tag, aux) = match (self.tense, num) {
                (Tense::Present, Number::Sg) => ("VBZ", "is"),
                (Tense::Present, Number::Pl) => ("VBP", "are"),
                (Tense::Past, Number::Sg) => ("VBD", "was"),
                (Tense::Past, Number::Pl) => ("VBD", "were"),
            };
            let mut inner = vec![Tree::leaf("VBN", verb.part)];
            if let Some(a) = self.agent.tree() {
                inner.push(Tree::node("PP", vec![Tree::leaf("IN", "by"), a]));
            }
            if let Some(pp) = self.pp.as_ref().and_then(Pp::tree) {
                inner.push(pp);
            }
            vp.push(Tree::leaf(tag, aux));
            vp.push(Tree::node("VP", inner));
        } else {
            let (tag, w) = match (self.tense, num) {
                (Tense::Present, Number::Sg) => ("VBZ", verb.s3),
                (Tense::Present, Number::Pl) => ("VBP", verb.base),
                (Tense::Past, _) => ("VBD", verb.past),
            };
            vp.push(Tree::leaf(tag, w));
            if let Some(o) = self.patient.as_ref().and_then(Np::tree) {
                vp.push(o);
            }
            if let Some(pp) = self.pp.as_ref().and_then(Pp::tree) {
                vp.push(pp);
            }
        }
        let mut kids = Vec::new();
        if let Some(s) = subj.tree() {
            kids.push(s);
        }
        kids.push(Tree::node("VP", vp));
        Tree::node("S", kids)
    }
}

impl Sentence {
    /// The clauses, left to right.
    pub fn clauses(&self) -> Vec<&Clause> {
        match self {
            Sentence::Single(c) => vec![c],
            Sentence::Coord(a, _, b) => vec![a, b],
        }
    }

    /// The tree `(ROOT (S ... (. .)))`.
    pub fn tree(&self) -> Tree {
        let s = match self {
            Sentence::Single(c) => match c.tree(None) {
                Tree::Node(l, mut kids) => {
                    kids.push(Tree::leaf(".", "."));
                    Tree::Node(l, kids)
                }
                leaf => leaf,
            },
            Sentence::Coord(a, conj, b) => {
                let cw = match conj {
                    Conj::And => "and",
                    Conj::But => "but",
                };
                Tree::node(
                    "S",
                    vec![
                        a.tree(None),
                        Tree::leaf("CC", cw),
                        b.tree(None),
                        Tree::leaf(".", "."),
                    ],
                )
            }
        };
        Tree::node("ROOT", vec![s])
    }

    /// The sentence's words joined by spaces (`the dog chased a cat .`).
    pub fn text(&self) -> String {
        self.tree().text()
    }
}

/// The meaning of a noun phrase: what it refers to, independent of word order in coordination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NpMeaning {
    /// A name.
    Name(usize),
    /// Determiner (a = an), sorted adjectives, noun, number, PP, relative clause.
    Common(
        usize,
        Vec<usize>,
        usize,
        Number,
        Option<Box<(usize, NpMeaning)>>,
        Option<Box<ClauseMeaning>>,
    ),
    /// A sorted set of conjuncts.
    And(Vec<NpMeaning>),
    /// The gap.
    Gap,
}

/// The meaning of a clause: predicate, tense, agent, patient and PP; voice is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClauseMeaning {
    /// Verb.
    pub verb: usize,
    /// Tense.
    pub tense: Tense,
    /// Agent.
    pub agent: NpMeaning,
    /// Patient.
    pub patient: Option<NpMeaning>,
    /// PP on the clause.
    pub pp: Option<(usize, NpMeaning)>,
}

/// The meaning of a sentence: one clause, a sorted `and` set, or an ordered `but` pair.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Meaning {
    /// One clause.
    Single(ClauseMeaning),
    /// `and`: sorted.
    And(Vec<ClauseMeaning>),
    /// `but`: ordered.
    But(ClauseMeaning, ClauseMeaning),
}

impl Np {
    /// Its meaning.
    pub fn meaning(&self) -> NpMeaning {
        match self {
            Np::Name(i) => NpMeaning::Name(*i),
            Np::Gap => NpMeaning::Gap,
            Np::And(a, b) => {
                let mut v = Vec::new();
                for x in [a, b] {
                    match x.meaning() {
                        NpMeaning::And(inner) => v.extend(inner),
                        m => v.push(m),
                    }
                }
                v.sort();
                NpMeaning::And(v)
            }
            Np::Common {
                det,
                adjs,
                noun,
                num,
                pp,
                rel,
            } => {
                let mut a = adjs.clone();
                a.sort_unstable();
                NpMeaning::Common(
                    *det,
                    a,
                    *noun,
                    *num,
                    pp.as_ref().map(|p| Box::new((p.prep, p.np.meaning()))),
                    rel.as_ref().map(|r| Box::new(r.clause.meaning())),
                )
            }
        }
    }
}

impl Clause {
    /// Its meaning (voice-independent).
    pub fn meaning(&self) -> ClauseMeaning {
        ClauseMeaning {
            verb: self.verb,
            tense: self.tense,
            agent: self.agent.meaning(),
            patient: self.patient.as_ref().map(Np::meaning),
            pp: self.pp.as_ref().map(|p| (p.prep, p.np.meaning())),
        }
    }
}

impl Sentence {
    /// Its meaning.
    pub fn meaning(&self) -> Meaning {
        match self {
            Sentence::Single(c) => Meaning::Single(c.meaning()),
            Sentence::Coord(a, Conj::And, b) => {
                let mut v = vec![a.meaning(), b.meaning()];
                v.sort();
                Meaning::And(v)
            }
            Sentence::Coord(a, Conj::But, b) => Meaning::But(a.meaning(), b.meaning()),
        }
    }
}
