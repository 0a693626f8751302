//! The lexicon of the built-in grammar, written for the project: nouns with singular and plural
//! forms and animacy, proper names, verbs with their present (3rd singular and plural), past and
//! participle forms, adjectives, determiners with number, prepositions. Every word form that the
//! grammar can emit is listed by [`vocabulary`].

/// Grammatical number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Number {
    /// Singular.
    Sg,
    /// Plural.
    Pl,
}

impl Number {
    /// The other number.
    pub fn flip(self) -> Number {
        match self {
            Number::Sg => Number::Pl,
            Number::Pl => Number::Sg,
        }
    }
}

/// A common noun: singular form, plural form, animate or not.
#[derive(Debug, Clone, Copy)]
pub struct Noun {
    /// Singular form (tag NN).
    pub sg: &'static str,
    /// Plural form (tag NNS).
    pub pl: &'static str,
    /// Whether it can be the subject of a verb (all verbs take animate subjects).
    pub animate: bool,
}

const fn n(sg: &'static str, pl: &'static str, animate: bool) -> Noun {
    Noun { sg, pl, animate }
}

/// Common nouns.
pub const NOUNS: &[Noun] = &[
    n("dog", "dogs", true),
    n("cat", "cats", true),
    n("bird", "birds", true),
    n("horse", "horses", true),
    n("farmer", "farmers", true),
    n("teacher", "teachers", true),
    n("student", "students", true),
    n("doctor", "doctors", true),
    n("child", "children", true),
    n("woman", "women", true),
    n("man", "men", true),
    n("king", "kings", true),
    n("queen", "queens", true),
    n("baker", "bakers", true),
    n("pilot", "pilots", true),
    n("lawyer", "lawyers", true),
    n("sailor", "sailors", true),
    n("wolf", "wolves", true),
    n("fox", "foxes", true),
    n("mouse", "mice", true),
    n("rabbit", "rabbits", true),
    n("artist", "artists", true),
    n("singer", "singers", true),
    n("neighbor", "neighbors", true),
    n("girl", "girls", true),
    n("boy", "boys", true),
    n("book", "books", false),
    n("table", "tables", false),
    n("car", "cars", false),
    n("house", "houses", false),
    n("letter", "letters", false),
    n("song", "songs", false),
    n("apple", "apples", false),
    n("box", "boxes", false),
    n("garden", "gardens", false),
    n("river", "rivers", false),
    n("city", "cities", false),
    n("window", "windows", false),
    n("chair", "chairs", false),
    n("picture", "pictures", false),
    n("story", "stories", false),
    n("key", "keys", false),
    n("ball", "balls", false),
    n("boat", "boats", false),
    n("bridge", "bridges", false),
    n("park", "parks", false),
    n("hill", "hills", false),
    n("forest", "forests", false),
    n("cake", "cakes", false),
    n("door", "doors", false),
];

/// Proper names (tag NNP; singular, animate).
pub const NAMES: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack", "Kate",
    "Leo",
];

/// What a transitive verb takes as its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjClass {
    /// Intransitive: no object.
    None,
    /// Animate objects only.
    Animate,
    /// Inanimate objects only.
    Inanimate,
    /// Any object.
    Any,
}

/// A verb: base/present-plural form (VBP), 3rd singular present (VBZ), past (VBD), participle
/// (VBN), and its object class.
#[derive(Debug, Clone, Copy)]
pub struct Verb {
    /// Base form, also the present plural (VBP).
    pub base: &'static str,
    /// Present 3rd person singular (VBZ).
    pub s3: &'static str,
    /// Past (VBD).
    pub past: &'static str,
    /// Past participle (VBN), used in passives.
    pub part: &'static str,
    /// Object class (`None` for intransitives).
    pub obj: ObjClass,
}

const fn v(
    base: &'static str,
    s3: &'static str,
    past: &'static str,
    part: &'static str,
    obj: ObjClass,
) -> Verb {
    Verb {
        base,
        s3,
        past,
        part,
        obj,
    }
}

use ObjClass::{Animate as A, Any as Y, Inanimate as I, None as X};

/// Verbs, transitive and intransitive.
pub const VERBS: &[Verb] = &[
    v("see", "sees", "saw", "seen", Y),
    v("chase", "chases", "chased", "chased", A),
    v("like", "likes", "liked", "liked", Y),
    v("find", "finds", "found", "found", Y),
    v("watch", "watches", "watched", "watched", Y),
    v("follow", "follows", "followed", "followed", A),
    v("help", "helps", "helped", "helped", A),
    v("visit", "visits", "visited", "visited", Y),
    v("paint", "paints", "painted", "painted", I),
    v("carry", "carries", "carried", "carried", Y),
    v("push", "pushes", "pushed", "pushed", Y),
    v("take", "takes", "took", "taken", I),
    v("write", "writes", "wrote", "written", I),
    v("eat", "eats", "ate", "eaten", I),
    v("bring", "brings", "brought", "brought", I),
    v("hold", "holds", "held", "held", Y),
    v("build", "builds", "built", "built", I),
    v("love", "loves", "loved", "loved", Y),
    v("admire", "admires", "admired", "admired", Y),
    v("call", "calls", "called", "called", A),
    v("greet", "greets", "greeted", "greeted", A),
    v("draw", "draws", "drew", "drawn", I),
    v("know", "knows", "knew", "known", Y),
    v("sleep", "sleeps", "slept", "slept", X),
    v("laugh", "laughs", "laughed", "laughed", X),
    v("arrive", "arrives", "arrived", "arrived", X),
    v("smile", "smiles", "smiled", "smiled", X),
    v("run", "runs", "ran", "run", X),
    v("sing", "sings", "sang", "sung", X),
    v("dance", "dances", "danced", "danced", X),
    v("wait", "waits", "waited", "waited", X),
    v("fall", "falls", "fell", "fallen", X),
    v("swim", "swims", "swam", "swum", X),
    v("walk", "walks", "walked", "walked", X),
    v("cry", "cries", "cried", "cried", X),
    v("shout", "shouts", "shouted", "shouted", X),
];

/// Adjectives (tag JJ).
pub const ADJECTIVES: &[&str] = &[
    "big", "small", "old", "young", "happy", "sad", "red", "green", "tall", "short", "quiet",
    "loud", "clever", "lazy", "brave", "angry", "kind", "strange", "famous", "tiny", "bright",
    "dark", "gentle", "busy",
];

/// Number restriction of a determiner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetNumber {
    /// Singular nouns only.
    Sg,
    /// Plural nouns only.
    Pl,
    /// Either.
    Any,
}

/// A determiner (tag DT). `a` is written `an` before a vowel.
#[derive(Debug, Clone, Copy)]
pub struct Det {
    /// Its form.
    pub word: &'static str,
    /// Which nouns it combines with.
    pub number: DetNumber,
}

/// Determiners.
pub const DETS: &[Det] = &[
    Det {
        word: "the",
        number: DetNumber::Any,
    },
    Det {
        word: "a",
        number: DetNumber::Sg,
    },
    Det {
        word: "this",
        number: DetNumber::Sg,
    },
    Det {
        word: "that",
        number: DetNumber::Sg,
    },
    Det {
        word: "every",
        number: DetNumber::Sg,
    },
    Det {
        word: "each",
        number: DetNumber::Sg,
    },
    Det {
        word: "these",
        number: DetNumber::Pl,
    },
    Det {
        word: "those",
        number: DetNumber::Pl,
    },
    Det {
        word: "some",
        number: DetNumber::Pl,
    },
    Det {
        word: "no",
        number: DetNumber::Any,
    },
];

/// The number a determiner form requires (`an` counts as `a`); `None` for unknown forms.
pub fn det_number(word: &str) -> Option<DetNumber> {
    let w = if word == "an" { "a" } else { word };
    DETS.iter().find(|d| d.word == w).map(|d| d.number)
}

/// Prepositions (tag IN).
pub const PREPS: &[&str] = &[
    "in", "on", "near", "behind", "under", "with", "beside", "above", "from", "without",
];

/// Function words: coordinators (CC), relative pronouns (WDT that, WP who), the passive
/// auxiliaries, `by` and the full stop.
pub const FUNCTION_WORDS: &[&str] = &[
    "and", "but", "that", "who", "is", "are", "was", "were", "by", "an", ".",
];

/// Every word form the grammar can emit, sorted and deduplicated.
pub fn vocabulary() -> Vec<&'static str> {
    let mut w: Vec<&'static str> = Vec::new();
    for x in NOUNS {
        w.push(x.sg);
        w.push(x.pl);
    }
    w.extend_from_slice(NAMES);
    for x in VERBS {
        w.extend_from_slice(&[x.base, x.s3, x.past, x.part]);
    }
    w.extend_from_slice(ADJECTIVES);
    w.extend(DETS.iter().map(|d| d.word));
    w.extend_from_slice(PREPS);
    w.extend_from_slice(FUNCTION_WORDS);
    w.sort_unstable();
    w.dedup();
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_has_a_few_hundred_distinct_forms_and_no_spaces() {
        let v = vocabulary();
        assert!((250..=400).contains(&v.len()), "{}", v.len());
        assert!(v
            .iter()
            .all(|w| !w.is_empty() && !w.contains(char::is_whitespace)));
    }

    #[test]
    fn determiner_numbers() {
        assert_eq!(det_number("an"), Some(DetNumber::Sg));
        assert_eq!(det_number("those"), Some(DetNumber::Pl));
        assert_eq!(det_number("the"), Some(DetNumber::Any));
        assert_eq!(det_number("dog"), None);
    }
}
