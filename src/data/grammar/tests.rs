//! Unit tests of the grammar: hand-checked trees and labels, agreement in everything generated,
//! every corruption caught by the independent check, balance and determinism.

use super::check::violations;
use super::downstream::{self, rewrite};
use super::lexicon::{Number, ADJECTIVES, DETS, NOUNS, PREPS, VERBS};
use super::syntax::{Clause, Conj, Np, Pp, Sentence, Tense, Voice};
use super::*;
use rand::SeedableRng;

fn idx<T>(list: &[T], f: impl Fn(&T) -> bool) -> usize {
    list.iter().position(f).expect("in the lexicon")
}

fn np(det: &str, adjs: &[&str], noun: &str, num: Number) -> Np {
    Np::Common {
        det: idx(DETS, |d| d.word == det),
        adjs: adjs.iter().map(|a| idx(ADJECTIVES, |x| x == a)).collect(),
        noun: idx(NOUNS, |n| n.sg == noun),
        num,
        pp: None,
        rel: None,
    }
}

fn clause(verb: &str, tense: Tense, agent: Np, patient: Option<Np>) -> Clause {
    Clause {
        verb: idx(VERBS, |v| v.base == verb),
        tense,
        voice: Voice::Active,
        agent,
        patient,
        pp: None,
    }
}

fn dog_chased_cat() -> Sentence {
    Sentence::Single(clause(
        "chase",
        Tense::Past,
        np("the", &[], "dog", Number::Sg),
        Some(np("a", &["old"], "cat", Number::Sg)),
    ))
}

#[test]
fn a_hand_built_sentence_has_the_expected_tree_and_text() {
    let s = dog_chased_cat();
    assert_eq!(
        s.tree().to_ptb(),
        "(ROOT (S (NP (DT the) (NN dog)) (VP (VBD chased) (NP (DT an) (JJ old) (NN cat))) (. .)))"
    );
    let mut p = s.clone();
    let Sentence::Single(c) = &mut p else {
        unreachable!()
    };
    c.voice = Voice::Passive;
    c.tense = Tense::Present;
    assert_eq!(p.text(), "an old cat is chased by the dog .");
    assert_eq!(
        p.tree().to_ptb(),
        "(ROOT (S (NP (DT an) (JJ old) (NN cat)) (VP (VBZ is) (VP (VBN chased) (PP (IN by) (NP (DT the) (NN dog))))) (. .)))"
    );
}

#[test]
fn paraphrase_labels_of_hand_checked_rewrites() {
    let a = dog_chased_cat();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    // passive: same meaning ("an old cat was chased by the dog")
    let mut b = a.clone();
    assert!(rewrite(&mut b, "voice", &mut rng));
    assert_eq!(b.text(), "an old cat was chased by the dog .");
    assert_eq!(a.meaning(), b.meaning());
    // passive with the roles swapped: "the dog was chased by an old cat" - different
    let mut c = b.clone();
    assert!(rewrite(&mut c, "swap_args", &mut rng));
    assert_eq!(c.text(), "the dog was chased by an old cat .");
    assert_ne!(a.meaning(), c.meaning());
    // tense: different
    let mut d = a.clone();
    assert!(rewrite(&mut d, "tense", &mut rng));
    assert_eq!(d.text(), "the dog chases an old cat .");
    assert_ne!(a.meaning(), d.meaning());
    // coordinated subject, order swapped: same meaning, plural agreement kept
    let subj = Np::And(
        Box::new(np("the", &[], "dog", Number::Sg)),
        Box::new(Np::Name(0)),
    );
    let e = Sentence::Single(clause("sleep", Tense::Present, subj, None));
    assert_eq!(e.text(), "the dog and Alice sleep .");
    let mut f = e.clone();
    assert!(rewrite(&mut f, "swap_conjuncts", &mut rng));
    assert_eq!(f.text(), "Alice and the dog sleep .");
    assert_eq!(e.meaning(), f.meaning());
    // clause order: same for `and`, not offered for `but`
    let g = Sentence::Coord(
        clause("sleep", Tense::Past, Np::Name(1), None),
        Conj::And,
        clause("laugh", Tense::Past, Np::Name(2), None),
    );
    let mut h = g.clone();
    assert!(rewrite(&mut h, "swap_clauses", &mut rng));
    assert_eq!(h.text(), "Carol laughed and Bob slept .");
    assert_eq!(g.meaning(), h.meaning());
    let mut but = g.clone();
    if let Sentence::Coord(_, conj, _) = &mut but {
        *conj = Conj::But;
    }
    assert!(!rewrite(&mut but.clone(), "swap_clauses", &mut rng));
}

#[test]
fn agreement_check_sees_through_an_attractor() {
    let mut subj = np("the", &[], "dog", Number::Sg);
    if let Np::Common { pp, .. } = &mut subj {
        *pp = Some(Box::new(Pp {
            prep: idx(PREPS, |p| *p == "near"),
            np: np("the", &[], "cat", Number::Pl),
        }));
    }
    let s = Sentence::Single(clause("sleep", Tense::Present, subj, None));
    let mut t = s.tree();
    assert_eq!(t.text(), "the dog near the cats sleeps .");
    assert!(violations(&t).is_empty());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    assert!(downstream::corrupt(&mut t, "agreement", &mut rng));
    assert_eq!(t.text(), "the dog near the cats sleep .");
    assert_eq!(
        violations(&t),
        vec!["verb sleep does not agree with its subject"]
    );
}

#[test]
fn generated_sentences_are_grammatical_by_the_independent_check() {
    for (i, s) in sentences(7, 9, 3000).iter().enumerate() {
        let t = s.tree();
        let v = violations(&t);
        assert!(
            v.is_empty(),
            "sentence {i}: {} -> {v:?}\n{}",
            t.text(),
            t.to_ptb()
        );
        // depth stays bounded
        assert!(t.text().split(' ').count() < 60, "{}", t.text());
    }
}

#[test]
fn acceptability_is_balanced_and_every_corruption_is_ungrammatical() {
    let (train, dev) = acceptability_splits(
        3,
        TaskSizes {
            train: 1000,
            dev: 200,
        },
    );
    assert_eq!((train.len(), dev.len()), (1000, 200));
    for split in [&train, &dev] {
        let pos = split.iter().filter(|e| e.label == 1).count();
        assert_eq!(pos * 2, split.len());
        for e in split.iter() {
            let v = violations(&e.tree);
            assert_eq!(e.label == 1, v.is_empty(), "{} {:?} {v:?}", e.text, e.kind);
        }
    }
    for kind in downstream::CORRUPTIONS {
        let n = train.iter().filter(|e| e.kind == kind).count();
        assert!(n > 80, "{kind}: {n}");
    }
    let seen: std::collections::HashSet<_> = train.iter().map(|e| &e.text).collect();
    assert!(dev.iter().all(|e| !seen.contains(&e.text)));
}

#[test]
fn paraphrase_labels_are_balanced_and_equal_to_the_meaning_comparison() {
    let (train, dev) = paraphrase_splits(
        5,
        TaskSizes {
            train: 600,
            dev: 100,
        },
    );
    for split in [&train, &dev] {
        assert_eq!(
            split.iter().filter(|e| e.label == 1).count() * 2,
            split.len()
        );
        for e in split.iter() {
            assert_eq!(e.label == 1, e.a.meaning() == e.b.meaning());
            assert_ne!(e.a.text(), e.b.text());
            assert!(violations(&e.b.tree()).is_empty(), "{}", e.b.text());
        }
    }
    // the passive occurs in both classes, so the surface form alone does not give the label
    for label in [0, 1] {
        assert!(train
            .iter()
            .any(|e| e.label == label && e.ops.contains("voice")));
    }
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    assert_eq!(corpus(11, 50), corpus(11, 50));
    assert_ne!(corpus(11, 50), corpus(12, 50));
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let sizes = TaskSizes { train: 40, dev: 10 };
    write_glue_tasks(d1.path(), 2, sizes).unwrap();
    write_glue_tasks(d2.path(), 2, sizes).unwrap();
    for f in ["acceptability/train.tsv", "paraphrase/dev.tsv"] {
        assert_eq!(
            std::fs::read(d1.path().join(f)).unwrap(),
            std::fs::read(d2.path().join(f)).unwrap()
        );
    }
    // the files read back through the GLUE reader with the labels they were written with
    let (tr, dv) =
        crate::data::glue::read_task(&d1.path().join("paraphrase"), Some("mrpc")).unwrap();
    assert_eq!((tr.examples.len(), dv.examples.len()), (40, 10));
    let (tr, _) =
        crate::data::glue::read_task(&d1.path().join("acceptability"), Some("cola")).unwrap();
    assert_eq!(tr.examples.iter().filter(|e| e.target == 1.0).count(), 20);
}
