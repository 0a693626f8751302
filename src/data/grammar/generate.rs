//! The seeded probabilistic generator: rule probabilities, bounded embedding depth, animacy and
//! object-class restrictions, determiners chosen to agree with the noun.

use super::lexicon::{DetNumber, Number, ObjClass, ADJECTIVES, DETS, NAMES, NOUNS, PREPS, VERBS};
use super::syntax::{Clause, Conj, Np, Pp, Rel, Sentence, Tense, Voice, Wh};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Rule probabilities of the grammar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GrammarSettings {
    /// A sentence is two coordinated clauses.
    pub p_coord_clause: f64,
    /// The coordinator is `but` (else `and`).
    pub p_but: f64,
    /// A clause's verb is transitive.
    pub p_transitive: f64,
    /// A transitive clause is passive.
    pub p_passive: f64,
    /// Past tense (else present).
    pub p_past: f64,
    /// A clause has a PP on its verb phrase.
    pub p_vp_pp: f64,
    /// A noun phrase is a name.
    pub p_name: f64,
    /// A subject or object is a coordination of two noun phrases (top level only).
    pub p_np_coord: f64,
    /// Plural noun.
    pub p_plural: f64,
    /// Each further adjective (geometric: 0, 1, 2 adjectives).
    pub p_adj: f64,
    /// A noun phrase has a PP (depth-limited).
    pub p_np_pp: f64,
    /// A noun phrase has a relative clause (depth-limited).
    pub p_rel: f64,
    /// Maximum embedding depth of noun phrases inside noun phrases.
    pub max_depth: usize,
}

impl Default for GrammarSettings {
    fn default() -> Self {
        GrammarSettings {
            p_coord_clause: 0.15,
            p_but: 0.3,
            p_transitive: 0.7,
            p_passive: 0.2,
            p_past: 0.5,
            p_vp_pp: 0.2,
            p_name: 0.12,
            p_np_coord: 0.08,
            p_plural: 0.45,
            p_adj: 0.35,
            p_np_pp: 0.15,
            p_rel: 0.12,
            max_depth: 2,
        }
    }
}

/// A seeded sentence generator.
pub struct Generator<'a> {
    /// The rule probabilities.
    pub params: &'a GrammarSettings,
    /// The random source.
    pub rng: &'a mut ChaCha8Rng,
}

fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.gen_range(0..n)
}

impl Generator<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen::<f64>() < p
    }

    /// A random noun index with the given animacy (None: any).
    pub fn noun(&mut self, animate: Option<bool>) -> usize {
        loop {
            let i = pick(self.rng, NOUNS.len());
            if animate.is_none_or(|a| NOUNS[i].animate == a) {
                return i;
            }
        }
    }

    /// A determiner index that agrees with `num`.
    pub fn det(&mut self, num: Number) -> usize {
        loop {
            let i = pick(self.rng, DETS.len());
            let ok = match DETS[i].number {
                DetNumber::Any => true,
                DetNumber::Sg => num == Number::Sg,
                DetNumber::Pl => num == Number::Pl,
            };
            // `the` twice as often as the others
            if ok && (DETS[i].word == "the" || self.chance(0.6)) {
                return i;
            }
        }
    }

    /// A noun phrase at embedding `depth`; `animate` restricts the head; `coord` allows `X and Y`.
    pub fn np(&mut self, depth: usize, animate: Option<bool>, coord: bool) -> Np {
        let p = self.params;
        if coord && self.chance(p.p_np_coord) {
            let a = self.np(depth + 1, animate, false);
            let b = self.np(depth + 1, animate, false);
            return Np::And(Box::new(a), Box::new(b));
        }
        if animate != Some(false) && self.chance(p.p_name) {
            return Np::Name(pick(self.rng, NAMES.len()));
        }
        let noun = self.noun(animate);
        let num = if self.chance(p.p_plural) {
            Number::Pl
        } else {
            Number::Sg
        };
        let det = self.det(num);
        let mut adjs = Vec::new();
        while adjs.len() < 2 && self.chance(p.p_adj) {
            let a = pick(self.rng, ADJECTIVES.len());
            if !adjs.contains(&a) {
                adjs.push(a);
            }
        }
        let deeper = depth < p.max_depth;
        let pp = (deeper && self.chance(p.p_np_pp)).then(|| {
            Box::new(Pp {
                prep: pick(self.rng, PREPS.len()),
                np: self.np(depth + 1, None, false),
            })
        });
        let rel = (deeper && self.chance(p.p_rel)).then(|| Box::new(self.rel(depth + 1, noun)));
        Np::Common {
            det,
            adjs,
            noun,
            num,
            pp,
            rel,
        }
    }

    fn verb(&mut self, transitive: bool, patient_animate: Option<bool>) -> usize {
        loop {
            let i = pick(self.rng, VERBS.len());
            let ok = match (VERBS[i].obj, transitive) {
                (ObjClass::None, t) => !t,
                (_, false) => false,
                (ObjClass::Any, true) => true,
                (ObjClass::Animate, true) => patient_animate != Some(false),
                (ObjClass::Inanimate, true) => patient_animate != Some(true),
            };
            if ok {
                return i;
            }
        }
    }

    fn patient_animacy(&mut self, verb: usize) -> Option<bool> {
        match VERBS[verb].obj {
            ObjClass::Animate => Some(true),
            ObjClass::Inanimate => Some(false),
            _ => None,
        }
    }

    fn tense(&mut self) -> Tense {
        if self.chance(self.params.p_past) {
            Tense::Past
        } else {
            Tense::Present
        }
    }

    /// A relative clause modifying a noun (its gap is the subject or the object).
    fn rel(&mut self, depth: usize, head: usize) -> Rel {
        let head_animate = NOUNS[head].animate;
        let wh = if head_animate && self.chance(0.5) {
            Wh::Who
        } else {
            Wh::That
        };
        let tense = self.tense();
        let pp = None;
        // An inanimate head can only be a patient (all verbs take animate agents).
        let gap_is_agent = head_animate && self.chance(0.6);
        let clause = if gap_is_agent {
            if self.chance(self.params.p_transitive) {
                let verb = self.verb(true, None);
                let pa = self.patient_animacy(verb);
                Clause {
                    verb,
                    tense,
                    voice: Voice::Active,
                    agent: Np::Gap,
                    patient: Some(self.np(depth, pa, false)),
                    pp,
                }
            } else {
                Clause {
                    verb: self.verb(false, None),
                    tense,
                    voice: Voice::Active,
                    agent: Np::Gap,
                    patient: None,
                    pp,
                }
            }
        } else {
            let verb = self.verb(true, Some(head_animate));
            let voice = if self.chance(0.5) {
                Voice::Passive
            } else {
                Voice::Active
            };
            Clause {
                verb,
                tense,
                voice,
                agent: self.np(depth, Some(true), false),
                patient: Some(Np::Gap),
                pp,
            }
        };
        Rel { wh, clause }
    }

    /// A main clause.
    pub fn clause(&mut self) -> Clause {
        let p = self.params;
        let tense = self.tense();
        let transitive = self.chance(p.p_transitive);
        let verb = self.verb(transitive, None);
        let agent = self.np(0, Some(true), true);
        let (patient, voice) = if transitive {
            let pa = self.patient_animacy(verb);
            let pat = self.np(0, pa, true);
            let voice = if self.chance(p.p_passive) {
                Voice::Passive
            } else {
                Voice::Active
            };
            (Some(pat), voice)
        } else {
            (None, Voice::Active)
        };
        let pp = self.chance(p.p_vp_pp).then(|| Pp {
            prep: pick(self.rng, PREPS.len()),
            np: self.np(1, None, false),
        });
        Clause {
            verb,
            tense,
            voice,
            agent,
            patient,
            pp,
        }
    }

    /// A sentence.
    pub fn sentence(&mut self) -> Sentence {
        if self.chance(self.params.p_coord_clause) {
            let a = self.clause();
            let conj = if self.chance(self.params.p_but) {
                Conj::But
            } else {
                Conj::And
            };
            let b = self.clause();
            Sentence::Coord(a, conj, b)
        } else {
            Sentence::Single(self.clause())
        }
    }
}
