//! `probecast tasks build` / `tasks list`: label rules against hand-checked examples on each
//! source type (tests/fixtures/tasks: mini.mrg, mini.conllu, mini.brown), the build rules
//! (balance, splits, deduplication, determinism) on a generated corpus, every bad input through
//! the binary, and a real-data build from ../shared (UD EWT, the NLTK PTB sample, Brown, SST).

mod common;

use common::{assert_user_error, fixture, probecast, shared_data, skip};
use probecast::data::senteval::{self, Split};
use probecast::data::tasks::{
    self, analysis, intrinsic_label, source, swappable, BuildSettings, Lexicon, Sentence, Task,
};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

fn load(rel: &str) -> Vec<Sentence> {
    source::load(&fixture(rel)).unwrap().sentences
}

fn labels(s: &Sentence) -> Vec<Option<String>> {
    [
        Task::SentenceLength,
        Task::TreeDepth,
        Task::TopConstituents,
        Task::PastPresent,
        Task::SubjNumber,
        Task::ObjNumber,
    ]
    .into_iter()
    .map(|t| intrinsic_label(t, s))
    .collect()
}

fn l(v: [Option<&str>; 6]) -> Vec<Option<String>> {
    v.into_iter().map(|x| x.map(str::to_string)).collect()
}

fn inverted(s: &Sentence) -> Option<String> {
    analysis::main_clause(s)?
        .coordination
        .map(|c| c.invert(&s.words).join(" "))
}

#[test]
fn ptb_labels_match_hand_checked_examples() {
    let s = load("tasks/mini.mrg");
    assert_eq!(s.len(), 9);
    // (length bin, depth, top constituents, tense, subject number, object number)
    let want = [
        // The dogs chased a cat .
        [
            Some("0"),
            Some("5"),
            Some("NP_VP_."),
            Some("PAST"),
            Some("NNS"),
            Some("NN"),
        ],
        // Mary has eaten the apples from the tree . (tense on the auxiliary; object head
        // "apples", not the PP's "tree")
        [
            Some("1"),
            Some("8"),
            Some("NP_VP_."),
            Some("PRES"),
            Some("NN"),
            Some("NNS"),
        ],
        // He will join the board Nov. 29 . (modal: no tense; pronoun: no subject number;
        // NP-TMP is not the object)
        [
            Some("0"),
            Some("6"),
            Some("NP_VP_."),
            None,
            None,
            Some("NN"),
        ],
        // The sun rose , but the birds slept .
        [Some("1"), Some("5"), Some("S_,_CC_S_."), None, None, None],
        // The owners of the dog live here . (head "owners", not the attractor "dog")
        [
            Some("0"),
            Some("6"),
            Some("NP_VP_."),
            Some("PRES"),
            Some("NNS"),
            None,
        ],
        // John 's cats were pets . (possessive is not the head; NP-PRD is not an object)
        [
            Some("0"),
            Some("5"),
            Some("NP_VP_."),
            Some("PAST"),
            Some("NNS"),
            None,
        ],
        // said Smith , a lawyer . (SINV: no main-clause labels)
        [Some("0"), Some("4"), Some("VP_NP_,_NP_."), None, None, None],
        // Cats and dogs run all day . (coordinated subject; NP-ADV)
        [
            Some("0"),
            Some("5"),
            Some("NP_VP_."),
            Some("PRES"),
            None,
            None,
        ],
        // The bill was passed by senators . (trace removed)
        [
            Some("0"),
            Some("7"),
            Some("NP_VP_."),
            Some("PAST"),
            Some("NN"),
            None,
        ],
    ];
    for (i, w) in want.into_iter().enumerate() {
        assert_eq!(labels(&s[i]), l(w), "sentence {}: {}", i + 1, s[i].text());
    }
    assert_eq!(s[8].text(), "The bill was passed by senators .");
    assert_eq!(
        inverted(&s[3]).as_deref(),
        Some("the birds slept , but The sun rose .")
    );
    assert!(s
        .iter()
        .enumerate()
        .all(|(i, x)| i == 3 || inverted(x).is_none()));
}

#[test]
fn conllu_labels_match_hand_checked_examples() {
    let s = load("tasks/mini.conllu");
    assert_eq!(s.len(), 5);
    let want = [
        // The dogs chased a cat .
        [Some("0"), None, None, Some("PAST"), Some("NNS"), Some("NN")],
        // Mary has eaten the apples .
        [Some("0"), None, None, Some("PRES"), Some("NN"), Some("NNS")],
        // The sun rose , but the birds slept .
        [Some("1"), None, None, Some("PAST"), Some("NN"), None],
        // She could see the cats and the dogs . (modal; pronoun; coordinated object)
        [Some("1"), None, None, None, None, None],
        // The story is a lie . (copula carries the tense)
        [Some("0"), None, None, Some("PRES"), Some("NN"), None],
    ];
    for (i, w) in want.into_iter().enumerate() {
        assert_eq!(labels(&s[i]), l(w), "sentence {}: {}", i + 1, s[i].text());
    }
    assert_eq!(
        inverted(&s[2]).as_deref(),
        Some("the birds slept , but The sun rose .")
    );
    assert!(s
        .iter()
        .enumerate()
        .all(|(i, x)| i == 2 || inverted(x).is_none()));
    assert!(!Task::TreeDepth.can_use(&s[0]));
}

#[test]
fn brown_tags_and_odd_man_out_neighbours_are_hand_checked() {
    let s = load("tasks/mini.brown");
    assert_eq!(s.len(), 3);
    assert_eq!(
        s[1].tags.as_ref().unwrap(),
        &["AT", "NNP", "NN", "VBD", "AT", "NN", "."]
    );
    let refs: Vec<&Sentence> = s.iter().collect();
    let lex = Lexicon::new(&refs);
    // NN counts: jury 2, city 1, election 1 -> ranks jury, city, election.
    assert_eq!(lex.neighbours("city", "NN"), vec!["jury", "election"]);
    assert_eq!(lex.neighbours("jury", "NN"), vec!["city", "election"]);
    assert_eq!(lex.neighbours("praised", "VBD"), vec!["said"]);
    // Capitalised words are never replaced.
    assert!(lex.neighbours("Voters", "NNS").is_empty());
    for t in [Task::TreeDepth, Task::PastPresent, Task::TopConstituents] {
        assert!(!t.can_use(&s[0]), "{t}");
    }
    assert!(Task::OddManOut.can_use(&s[0]));
}

#[test]
fn bigram_positions_length_bins_and_word_content_targets() {
    let w = |t: &str| t.split(' ').map(str::to_string).collect::<Vec<_>>();
    // Final punctuation never moves; equal neighbours are not swapped.
    assert_eq!(swappable(&w("a b b c ."), None), vec![0, 2]);
    assert_eq!(swappable(&w("a b c"), None), vec![0, 1]);
    let bins: Vec<Option<usize>> = [4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 25, 26, 28, 29]
        .into_iter()
        .map(tasks::length_bin)
        .collect();
    let want = [
        None,
        Some(0),
        Some(0),
        Some(1),
        Some(1),
        Some(2),
        Some(2),
        Some(3),
        Some(3),
        Some(4),
        Some(4),
        Some(5),
        Some(5),
        None,
    ];
    assert_eq!(bins, want);
    let corpus: Vec<Sentence> = [
        "the cat sat",
        "the cat ran",
        "the dog sat",
        "a dog ate",
        "the bird",
    ]
    .iter()
    .map(|t| Sentence::from_words("x", w(t)))
    .collect();
    let refs: Vec<&Sentence> = corpus.iter().collect();
    // Sentence counts: the 4, cat 2, dog 2, sat 2, ... ; skipping 1 gives cat, dog, sat.
    assert_eq!(
        tasks::word_content_targets(&refs, 1, 3),
        vec!["cat", "dog", "sat"]
    );
}

/// A generated Penn Treebank corpus: simple transitive sentences (subject/object number and
/// tense vary) and, every fifth, two clauses coordinated with "but".
fn generated_ptb(n: usize) -> String {
    let adjs = [
        "big", "small", "old", "young", "red", "quiet", "happy", "tired",
    ];
    let nouns = [
        ("dog", "dogs"),
        ("cat", "cats"),
        ("farmer", "farmers"),
        ("teacher", "teachers"),
        ("bird", "birds"),
        ("child", "children"),
        ("horse", "horses"),
        ("doctor", "doctors"),
    ];
    let verbs = [
        ("chased", "chases", "chase"),
        ("saw", "sees", "see"),
        ("liked", "likes", "like"),
        ("found", "finds", "find"),
        ("helped", "helps", "help"),
        ("watched", "watches", "watch"),
    ];
    // Mixed-radix digits of i: every i below 3,072 gives a different clause.
    let clause = |i: usize| {
        let (subj_pl, obj_pl, past) = (
            i.is_multiple_of(2),
            (i / 2).is_multiple_of(2),
            (i / 4).is_multiple_of(2),
        );
        let (subj, obj) = (nouns[(i / 8) % 8], nouns[(i / 64) % 8]);
        let (vd, vz, vp) = verbs[(i / 512) % 6];
        let adj = adjs[(i / 3) % 8];
        let verb = if past {
            format!("(VBD {vd})")
        } else if subj_pl {
            format!("(VBP {vp})")
        } else {
            format!("(VBZ {vz})")
        };
        let np = |(sg, pl): (&str, &str), plural: bool, adj: &str| {
            if plural {
                format!("(NP (DT the) (JJ {adj}) (NNS {pl}))")
            } else {
                format!("(NP (DT the) (JJ {adj}) (NN {sg}))")
            }
        };
        format!(
            "{} (VP {verb} {})",
            np(subj, subj_pl, adj),
            np(obj, obj_pl, "other")
        )
    };
    assert!(n <= 3072);
    let mut out = String::new();
    for i in 0..n {
        if i % 5 == 4 {
            out.push_str(&format!(
                "( (S (S {}) (, ,) (CC but) (S {}) (. .)) )\n",
                clause(i),
                clause(3071 - i)
            ));
        } else {
            out.push_str(&format!("( (S {} (. .)) )\n", clause(i)));
        }
    }
    out
}

fn generated_sentences(n: usize) -> Vec<Sentence> {
    probecast::data::ptb::parse_trees(&generated_ptb(n))
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, t)| Sentence::from_tree(format!("gen#{i}"), t))
        .collect()
}

#[test]
fn generated_corpus_parses_to_the_intended_sentences() {
    let s = generated_sentences(10);
    assert_eq!(s.len(), 10);
    assert_eq!(s[0].text(), "the big dogs chased the other dogs .");
    assert_eq!(
        intrinsic_label(Task::SubjNumber, &s[0]).as_deref(),
        Some("NNS")
    );
    assert_eq!(
        intrinsic_label(Task::ObjNumber, &s[1]).as_deref(),
        Some("NNS")
    );
    assert_eq!(
        intrinsic_label(Task::PastPresent, &s[5]).as_deref(),
        Some("PRES")
    );
    assert!(inverted(&s[4]).is_some());
}

fn opts(per_class: Option<usize>, seed: u64) -> BuildSettings {
    BuildSettings {
        per_class,
        seed,
        word_content_skip: 3,
        word_content_words: 4,
        ..BuildSettings::default()
    }
}

#[test]
fn build_is_balanced_split_80_10_10_deduplicated_and_deterministic() {
    let mut sents = generated_sentences(600);
    // Duplicates of the first 50 sentences must be dropped before anything else.
    let dups: Vec<Sentence> = sents[..50].to_vec();
    sents.extend(dups);
    let suite = tasks::build(&sents, &opts(Some(40), 7)).unwrap();
    assert_eq!(suite.sentences_in, 650);
    assert_eq!(suite.sentences_used, 600);
    let built: Vec<Task> = suite.tasks.iter().map(|t| t.task).collect();
    // The generated sentences are 8 or 17 tokens long: two length classes only, so
    // sentence_length (6 fixed bins) cannot have 40 of each and is skipped... unless asked for.
    assert!(
        suite
            .skipped
            .iter()
            .all(|(t, _)| matches!(t, Task::SentenceLength | Task::WordContent)),
        "{:?}",
        suite.skipped
    );
    for t in [
        Task::TreeDepth,
        Task::BigramShift,
        Task::PastPresent,
        Task::SubjNumber,
        Task::ObjNumber,
        Task::OddManOut,
        Task::CoordinationInversion,
    ] {
        assert!(built.contains(&t), "{t} not built: {:?}", suite.skipped);
    }
    let all_texts: HashSet<String> = sents.iter().map(|s| s.text()).collect();
    for t in &suite.tasks {
        assert_eq!(t.per_class, 40, "{}", t.task);
        let mut counts: BTreeMap<(Split, String), usize> = BTreeMap::new();
        let mut seen = HashSet::new();
        for e in &t.examples {
            *counts.entry((e.split, e.label.clone())).or_default() += 1;
            assert!(
                seen.insert(e.sentence.clone()),
                "{}: {:?} twice",
                t.task,
                e.sentence
            );
        }
        for c in &t.classes {
            assert_eq!(counts[&(Split::Train, c.clone())], 32, "{} {c}", t.task);
            assert_eq!(counts[&(Split::Valid, c.clone())], 4, "{} {c}", t.task);
            assert_eq!(counts[&(Split::Test, c.clone())], 4, "{} {c}", t.task);
        }
        // Splits come in order tr, va, te.
        let order: Vec<Split> = t.examples.iter().map(|e| e.split).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{}", t.task);
        if matches!(
            t.task,
            Task::BigramShift | Task::OddManOut | Task::CoordinationInversion
        ) {
            // Altered sentences are new, originals are corpus sentences, and undoing an
            // alteration never gives a sentence used as an original (one source, one use).
            let originals: HashSet<&str> = t
                .examples
                .iter()
                .filter(|e| e.label == "O")
                .map(|e| e.sentence.as_str())
                .collect();
            for e in &t.examples {
                if e.label == "O" {
                    assert!(all_texts.contains(&e.sentence));
                    continue;
                }
                assert!(
                    !all_texts.contains(&e.sentence),
                    "{}: {}",
                    t.task,
                    e.sentence
                );
                let w: Vec<&str> = e.sentence.split(' ').collect();
                let undone: Vec<String> = match t.task {
                    Task::BigramShift => (0..w.len() - 1)
                        .map(|i| {
                            let mut u = w.clone();
                            u.swap(i, i + 1);
                            u.join(" ")
                        })
                        .collect(),
                    Task::CoordinationInversion => {
                        let (a, b) = e.sentence.split_once(" , but ").unwrap();
                        vec![format!("{} , but {a} .", b.trim_end_matches(" ."))]
                    }
                    _ => Vec::new(),
                };
                for u in undone {
                    assert!(!originals.contains(u.as_str()), "{}: {u}", t.task);
                }
            }
        }
    }
    let again = tasks::build(&sents, &opts(Some(40), 7)).unwrap();
    assert_eq!(tasks::fingerprint(&suite), tasks::fingerprint(&again));
    let other = tasks::build(&sents, &opts(Some(40), 8)).unwrap();
    assert_ne!(tasks::fingerprint(&suite), tasks::fingerprint(&other));
    // A task's file does not depend on which other tasks are built.
    let mut one = opts(Some(40), 7);
    one.tasks = Some(vec![Task::BigramShift]);
    let alone = tasks::build(&sents, &one).unwrap();
    let a = suite
        .tasks
        .iter()
        .find(|t| t.task == Task::BigramShift)
        .unwrap();
    assert_eq!(tasks::task_text(&alone.tasks[0]), tasks::task_text(a));
}

#[test]
fn altered_examples_follow_their_rules() {
    let sents = generated_sentences(300);
    let by_text: BTreeMap<String, &Sentence> = sents.iter().map(|s| (s.text(), s)).collect();
    let suite = tasks::build(&sents, &opts(Some(30), 1)).unwrap();
    let get = |t: Task| suite.tasks.iter().find(|b| b.task == t).unwrap();
    let bag = |s: &str| {
        let mut w: Vec<String> = s.split(' ').map(str::to_string).collect();
        w.sort();
        w
    };
    for e in get(Task::BigramShift)
        .examples
        .iter()
        .filter(|e| e.label == "I")
    {
        // Exactly one adjacent pair differs from some corpus sentence: undo it.
        let w: Vec<String> = e.sentence.split(' ').map(str::to_string).collect();
        let fixed = (0..w.len() - 1).filter(|&i| {
            let mut u = w.clone();
            u.swap(i, i + 1);
            by_text.contains_key(&u.join(" "))
        });
        assert_eq!(fixed.count(), 1, "{}", e.sentence);
        assert_eq!(w.last().map(String::as_str), Some("."));
    }
    for e in get(Task::OddManOut)
        .examples
        .iter()
        .filter(|e| e.label == "C")
    {
        // One word differs from a corpus sentence: a word of the same tag and near frequency.
        let w: Vec<&str> = e.sentence.split(' ').collect();
        let lex = Lexicon::new(&sents.iter().collect::<Vec<_>>());
        let ok = sents.iter().any(|s| {
            let diff: Vec<usize> = (0..w.len().min(s.words.len()))
                .filter(|&i| s.words[i] != w[i])
                .collect();
            s.words.len() == w.len()
                && diff.len() == 1
                && lex
                    .neighbours(&s.words[diff[0]], &s.tags.as_ref().unwrap()[diff[0]])
                    .contains(&w[diff[0]])
        });
        assert!(ok, "no source for {}", e.sentence);
    }
    for e in &get(Task::CoordinationInversion).examples {
        let i = e.sentence.find(" , but ").unwrap();
        let swapped = format!(
            "{} , but {} .",
            e.sentence[i + 7..].trim_end_matches(" ."),
            &e.sentence[..i]
        );
        let (orig, alt) = if e.label == "I" {
            (swapped, e.sentence.clone())
        } else {
            (e.sentence.clone(), swapped)
        };
        assert!(by_text.contains_key(&orig), "{orig}");
        assert!(!by_text.contains_key(&alt), "{alt}");
        assert_eq!(bag(&orig), bag(&alt));
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn cli_writes_senteval_files_report_and_manifest_and_guards_the_output() {
    let d = tempfile::tempdir().unwrap();
    let tb = write(d.path(), "gen.mrg", &generated_ptb(400));
    let out = d.path().join("out");
    let o = out.display().to_string();
    let args = [
        "tasks",
        "build",
        "--treebank",
        &tb,
        "--out",
        &o,
        "--per-class",
        "20",
        "--seed",
        "3",
    ];
    let r = probecast(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("skipped sentence_length"), "{stderr}");
    let ds = senteval::read(&out.join("subj_number.txt")).unwrap();
    assert_eq!(ds.examples.len(), 40);
    let report = std::fs::read_to_string(out.join("report.csv")).unwrap();
    assert!(report.starts_with("task,split,label,count\n"));
    assert!(
        report.contains("subj_number,tr,NN,16\nsubj_number,tr,NNS,16\n"),
        "{report}"
    );
    assert!(report.contains("subj_number,te,NNS,2\n"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["command"], "tasks");
    assert!(m["tasks"]["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("too few"));
    // The same run again is fine (same fingerprint); another run is refused; --force replaces.
    assert!(probecast(&args).status.success());
    let mut other = args.to_vec();
    other[9] = "4";
    assert_user_error(
        &probecast(&other),
        &[&o, "already holds a different tasks run", "--force"],
    );
    other.push("--force");
    assert!(probecast(&other).status.success());
    // A directory with other files is refused too.
    let foreign = d.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let f = foreign.display().to_string();
    assert_user_error(
        &probecast(&["tasks", "build", "--treebank", &tb, "--out", &f]),
        &[&f, "is not empty"],
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn list_prints_every_task_rule() {
    let r = probecast(&["tasks", "list"]);
    assert!(r.status.success());
    let text = String::from_utf8_lossy(&r.stdout);
    for t in Task::ALL {
        assert!(text.contains(&format!("{}\n  needs: ", t.name())), "{t}");
    }
    assert!(text.contains("5-8"));
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("out").display().to_string();
    let build = |tb: &str, extra: &[&str]| {
        let mut a = vec!["tasks", "build", "--treebank", tb, "--out", &o];
        a.extend_from_slice(extra);
        probecast(&a)
    };
    // CoNLL-U line with the wrong number of columns: the file, the line number and the line.
    let c = write(
        d.path(),
        "bad.conllu",
        "# sent_id = 1\n1\tDogs\tdog\tNOUN\tNNS\t_\t0\troot\t_\t_\n2\tbark\tbark\tVERB\n",
    );
    assert_user_error(
        &build(&c, &[]),
        &[
            "bad.conllu",
            "line 3",
            "expected 10 tab-separated columns, found 4",
            "2\\tbark\\tbark\\tVERB",
        ],
    );
    // Unbalanced brackets.
    let p = write(
        d.path(),
        "bad.mrg",
        "( (S (NP (DT The) (NNS dogs)) (VP (VBD ran)) )\n",
    );
    assert_user_error(
        &build(&p, &[]),
        &["bad.mrg", "line 1", "unbalanced brackets"],
    );
    let p2 = write(
        d.path(),
        "bad2.mrg",
        "(S (NP (DT The) (NNS dogs)) (VP (VBD ran))))\n",
    );
    assert_user_error(
        &build(&p2, &[]),
        &["bad2.mrg", "unbalanced brackets", "without a matching '('"],
    );
    // A task the source cannot support, asked for explicitly.
    let ud = fixture("tasks/mini.conllu").display().to_string();
    assert_user_error(
        &build(&ud, &["--tasks", "tree_depth", "--per-class", "10"]),
        &["task tree_depth", "cannot support", "constituency trees"],
    );
    // Unknown task name.
    assert_user_error(
        &build(&ud, &["--tasks", "tree_height"]),
        &["unknown task \"tree_height\""],
    );
    // Too few sentences for --per-class: says how many there are.
    let gen = write(d.path(), "gen.mrg", &generated_ptb(100));
    assert_user_error(
        &build(&gen, &["--tasks", "subj_number", "--per-class", "500"]),
        &[
            "task subj_number",
            "too few sentences for --per-class 500",
            "class NN has only 40",
        ],
    );
    assert_user_error(
        &build(&gen, &["--tasks", "bigram_shift", "--per-class", "500"]),
        &["task bigram_shift", "only 100 sentences qualify"],
    );
    // Nothing written by the failures.
    assert!(!Path::new(&o).exists());
    // Not a treebank at all.
    let txt = write(d.path(), "notes.txt", "just some words here\n");
    assert_user_error(&build(&txt, &[]), &["notes.txt", "cannot tell the format"]);
}

#[test]
fn dependency_source_skips_constituency_tasks_when_not_asked_for() {
    // Without --tasks, tree_depth and top_constituents are skipped with a reason.
    let s = load("tasks/mini.conllu");
    let err = tasks::build(&s, &BuildSettings::default()).unwrap();
    let skipped: Vec<Task> = err.skipped.iter().map(|(t, _)| *t).collect();
    assert!(skipped.contains(&Task::TreeDepth));
    assert!(skipped.contains(&Task::TopConstituents));
    assert!(err
        .skipped
        .iter()
        .any(|(t, r)| *t == Task::TreeDepth && r.contains("cannot support")));
}

/// Label counts of one task: (split, label) -> count.
fn counts(t: &tasks::BuiltTask) -> BTreeMap<(Split, String), usize> {
    let mut m = BTreeMap::new();
    for e in &t.examples {
        *m.entry((e.split, e.label.clone())).or_default() += 1;
    }
    m
}

fn assert_balanced(t: &tasks::BuiltTask) {
    let (tr, va, te) = tasks::split_counts(t.per_class);
    let c = counts(t);
    for l in &t.classes {
        for (s, n) in [(Split::Train, tr), (Split::Valid, va), (Split::Test, te)] {
            assert_eq!(c.get(&(s, l.clone())), Some(&n), "{} {l} {s:?}", t.task);
        }
    }
    let texts: HashSet<&str> = t.examples.iter().map(|e| e.sentence.as_str()).collect();
    assert_eq!(
        texts.len(),
        t.examples.len(),
        "{}: duplicate sentences",
        t.task
    );
}

#[test]
fn real_treebanks_give_balanced_tasks_with_plausible_labels() {
    let Some(data) = shared_data() else {
        skip("../shared/data (UD EWT, NLTK treebank sample)");
        return;
    };
    let ud = data.join("ud_english_ewt");
    let ptb = data.join("nltk_data_subset/treebank.zip");
    if !ud.is_dir() || !ptb.is_file() {
        skip("../shared/data/ud_english_ewt or nltk_data_subset/treebank.zip");
        return;
    }
    // UD EWT: 12,544 + 2,001 + 2,077 sentences; the dependency tasks, not the tree ones.
    let loaded = source::load(&ud).unwrap();
    assert_eq!(loaded.sentences.len(), 16622);
    let suite = tasks::build(&loaded.sentences, &BuildSettings::default()).unwrap();
    let names: Vec<&str> = suite.tasks.iter().map(|t| t.task.name()).collect();
    assert_eq!(
        names,
        [
            "sentence_length",
            "word_content",
            "bigram_shift",
            "past_present",
            "subj_number",
            "obj_number",
            "odd_man_out",
            "coordination_inversion"
        ]
    );
    let skipped: Vec<Task> = suite.skipped.iter().map(|(t, _)| *t).collect();
    assert_eq!(skipped, [Task::TreeDepth, Task::TopConstituents]);
    for t in &suite.tasks {
        assert_balanced(t);
    }
    let get =
        |s: &tasks::BuiltSuite, t: Task| s.tasks.iter().find(|b| b.task == t).cloned().unwrap();
    // Past and present main clauses are both common in EWT (thousands each).
    assert_eq!(get(&suite, Task::PastPresent).per_class, 1000);
    assert!(get(&suite, Task::SubjNumber).per_class >= 500);
    assert!(get(&suite, Task::ObjNumber).per_class >= 300);
    assert!(get(&suite, Task::CoordinationInversion).per_class >= 200);
    // Spot check against the CoNLL-U: an example's label agrees with the gold features.
    // The first sentence of each text is the one the builder kept.
    let mut by_text: BTreeMap<String, &Sentence> = BTreeMap::new();
    for s in &loaded.sentences {
        by_text.entry(s.text()).or_insert(s);
    }
    for e in get(&suite, Task::SubjNumber).examples.iter().take(400) {
        let s = by_text[&e.sentence];
        let deps = s.deps.as_ref().unwrap();
        let root = deps.iter().position(|d| d.head == 0).unwrap();
        let subj = deps
            .iter()
            .position(|d| d.head == root + 1 && d.rel.starts_with("nsubj"))
            .unwrap();
        // Plurale tantum ("remains") is plural, like its NNS tag.
        let want = match deps[subj].feat("Number") {
            Some("Plur") | Some("Ptan") => "NNS",
            Some("Sing") => "NN",
            other => panic!("{other:?} for {}", e.sentence),
        };
        assert_eq!(e.label, want, "{}", e.sentence);
    }

    // The PTB sample in the NLTK zip: 3,914 trees in combined/*.mrg; every task.
    let loaded = source::load(&ptb).unwrap();
    assert_eq!(loaded.sentences.len(), 3914);
    assert_eq!(loaded.files.len(), 199);
    let suite = tasks::build(&loaded.sentences, &BuildSettings::default()).unwrap();
    assert_eq!(suite.tasks.len(), 10, "{:?}", suite.skipped);
    for t in &suite.tasks {
        assert_balanced(t);
    }
    let tc = get(&suite, Task::TopConstituents);
    assert_eq!(tc.classes[0], "NP_VP_.");
    assert_eq!(tc.classes.last().map(String::as_str), Some("OTHER"));
    assert!(tc.classes.len() >= 5, "{:?}", tc.classes);
    let td = get(&suite, Task::TreeDepth);
    assert!(td.classes.len() >= 5, "{:?}", td.classes);
    assert!(td
        .classes
        .iter()
        .all(|d| (4..=25).contains(&d.parse::<usize>().unwrap())));
    // No escaped slashes leak into the sentences.
    assert!(suite
        .tasks
        .iter()
        .all(|t| t.examples.iter().all(|e| !e.sentence.contains("\\/"))));
}

#[test]
fn zip_input_uses_the_richest_format_and_ignores_the_rest() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let zpath = d.path().join("tb.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zpath).unwrap());
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in [
        ("tb/README", "A treebank sample.\n"),
        ("tb/parsed/a.prd", "( (S (NP The dogs) (VP barked)) )\n"),
        (
            "tb/combined/a.mrg",
            "( (S (NP (DT The) (NNS dogs)) (VP (VBD barked) (ADVP (RB loudly))) (. .)) )\n",
        ),
        (
            "tb/combined/b.mrg",
            "( (S (NP (DT A) (NN cat)) (VP (VBZ sleeps) (ADVP (RB here))) (. .)) )\n",
        ),
    ] {
        z.start_file(name, deflated).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    let loaded = source::load(&zpath).unwrap();
    assert_eq!(loaded.files.len(), 2);
    assert_eq!(loaded.ignored, 2);
    assert!(loaded.files[0].0.ends_with("tb.zip:tb/combined/a.mrg"));
    let texts: Vec<String> = loaded.sentences.iter().map(Sentence::text).collect();
    assert_eq!(texts, ["The dogs barked loudly .", "A cat sleeps here ."]);
    assert_eq!(
        intrinsic_label(Task::PastPresent, &loaded.sentences[1]).as_deref(),
        Some("PRES")
    );
}

#[test]
fn inconsistent_sentences_given_to_the_api_are_refused() {
    let w = |t: &str| t.split(' ').map(str::to_string).collect::<Vec<_>>();
    let s = Sentence::from_tagged("demo#1", w("the dogs ran away ."), w("DT NNS VBD"));
    let e = tasks::build(&[s], &BuildSettings::default()).unwrap_err();
    assert_eq!(e.to_string(), "demo#1: 3 tags for 5 words");
}
