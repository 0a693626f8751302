//! The bad-input catalogue (issue #15, docs/bad-inputs.md): one table of cases, each a command
//! line through the binary, the setup that makes its input bad, the fragments the one-line
//! message must contain, and what `--out` must look like afterwards (absent, or an earlier good
//! run byte for byte). Every case also checks that no `.probecast-*` leftover remains in `--out`
//! or in the feature cache. Add a row whenever someone finds a new bad input.

mod common;
use common::*;
use std::path::PathBuf;

/// A scratch directory with good inputs that a case then spoils.
struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        copy_dir(&fixture("encoder/tiny-bert"), &root.join("model"));
        std::fs::copy(
            fixture("encoder/tiny_sentences.txt"),
            root.join("sentences.txt"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("tasks")).unwrap();
        std::fs::write(root.join("tasks/words.txt"), word_task(12, 8)).unwrap();
        std::fs::create_dir_all(root.join("RTE")).unwrap();
        std::fs::write(root.join("RTE/train.tsv"), rte_rows()).unwrap();
        std::fs::write(root.join("RTE/dev.tsv"), rte_rows()).unwrap();
        std::fs::copy(
            fixture("predict/small_features.csv"),
            root.join("features.csv"),
        )
        .unwrap();
        std::fs::copy(
            fixture("predict/small_targets.csv"),
            root.join("targets.csv"),
        )
        .unwrap();
        Env { _tmp: tmp, root }
    }

    fn p(&self, rel: &str) -> String {
        self.root.join(rel).to_string_lossy().into_owned()
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let p = self.root.join(rel);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "{rel} lacks {from:?}");
        std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
    }

    /// Expand `{name}` placeholders to paths under the scratch directory.
    fn args(&self, line: &str) -> Vec<String> {
        line.split_whitespace()
            .map(
                |a| match a.strip_prefix('{').and_then(|a| a.strip_suffix('}')) {
                    Some(rel) => self.p(rel),
                    None => a.to_string(),
                },
            )
            .collect()
    }

    fn ok(&self, line: &str) {
        let args = self.args(line);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = probecast(&a);
        assert!(
            o.status.success(),
            "setup run failed: {line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A two-class SentEval task whose label is which word list a sentence is drawn from.
fn word_task(tr: usize, te: usize) -> String {
    let a = ["the", "cat", "sat", "on", "mat", "dog", "barked"];
    let b = ["she", "reads", "books", "every", "evening", "birds", "sing"];
    let mut s = String::new();
    for (split, n) in [("tr", tr), ("va", 4), ("te", te)] {
        for i in 0..n {
            for (label, words) in [("A", &a), ("B", &b)] {
                let w: Vec<&str> = (0..4 + i % 3).map(|j| words[(i * 3 + j * 5) % 7]).collect();
                s.push_str(&format!("{split}\t{label}\t{} .\n", w.join(" ")));
            }
        }
    }
    s
}

fn rte_rows() -> String {
    let mut s = String::from("index\tsentence1\tsentence2\tlabel\n");
    for i in 0..12 {
        let lab = ["entailment", "not_entailment"][i % 2];
        s.push_str(&format!(
            "{i}\tthe cat sat {i} .\tthe dog {} .\t{lab}\n",
            i % 5
        ));
    }
    s
}

/// What `--out` must look like after the failing run.
#[derive(Clone, Copy, Debug)]
enum OutAfter {
    /// It did not exist before and must not exist after (a failed run removes what it created).
    Absent,
    /// A good earlier run (made by the case's `before` command) is there, byte for byte.
    Untouched,
    /// The command writes no --out (or the case does not concern it).
    NotApplicable,
}

/// One catalogue row.
struct Case {
    /// Issue #15 problem kind (1-5; 0: found later, e.g. by fuzzing) and a short name.
    kind: u8,
    name: &'static str,
    /// A good run into the same `--out` before the failing one (for `OutAfter::Untouched`).
    before: Option<&'static str>,
    /// Spoil the inputs.
    setup: fn(&Env),
    /// The failing command line (`{rel}` = path under the scratch directory).
    line: &'static str,
    /// Fragments the one-line message must contain (`{rel}` expanded too).
    needles: &'static [&'static str],
    out: OutAfter,
}

const EMBED: &str = "embed --model {model} --data {sentences.txt} --out {out} --cache-dir {cache}";
const PROBE: &str = "probe --model {model} --tasks {tasks} --out {out} --cache-dir {cache} --train-per-class 8 --seeds 1 --probe logreg";
const FIT: &str = "fit --data {features.csv} --targets-file {targets.csv} --out {out}";

fn nothing(_: &Env) {}

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: 1,
            name: "absurd layer count in config.json",
            before: None,
            setup: |e| {
                e.edit(
                    "model/config.json",
                    "\"num_hidden_layers\": 2",
                    "\"num_hidden_layers\": 1000000000000",
                )
            },
            line: EMBED,
            needles: &["config.json", "layer count 1000000000000", "sane limit"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 1,
            name: "absurd vocabulary size in config.json",
            before: None,
            setup: |e| {
                e.edit(
                    "model/config.json",
                    "\"vocab_size\": 120",
                    "\"vocab_size\": 99999999999",
                )
            },
            line: EMBED,
            needles: &["config.json", "vocab_size 99999999999", "sane limit"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 1,
            name: "config sizes disagree with the weights",
            before: None,
            setup: |e| {
                e.edit(
                    "model/config.json",
                    "\"intermediate_size\": 37",
                    "\"intermediate_size\": 38",
                )
            },
            line: EMBED,
            needles: &["model.safetensors", "shape", "expected"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 2,
            name: "probe where every model fails keeps the earlier good run",
            before: Some(PROBE),
            setup: |e| std::fs::remove_file(e.root.join("model/model.safetensors")).unwrap(),
            line: PROBE,
            needles: &["every model failed", "nothing written"],
            out: OutAfter::Untouched,
        },
        Case {
            kind: 2,
            name: "embed that fails keeps the earlier good run",
            before: Some(EMBED),
            setup: |e| {
                e.edit(
                    "model/config.json",
                    "\"layer_norm_eps\": 1e-12",
                    "\"layer_norm_eps\": -1e-12",
                )
            },
            line: EMBED,
            needles: &["config.json", "layer_norm_eps"],
            out: OutAfter::Untouched,
        },
        Case {
            kind: 2,
            name: "fit that fails keeps the earlier good predictor",
            before: Some(FIT),
            setup: |e| e.edit("targets.csv", "0.581295", "abc"),
            line: FIT,
            needles: &["targets.csv", "line 2", "'abc' is not a number"],
            out: OutAfter::Untouched,
        },
        Case {
            kind: 3,
            name: "a failing run removes the --out directory it created",
            before: None,
            setup: |e| std::fs::write(e.root.join("model/tokenizer.json"), "{").unwrap(),
            line: EMBED,
            needles: &["tokenizer.json", "cannot load tokenizer"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "NaN weight named with its tensor",
            before: None,
            setup: |e| poison_weight(e, "embeddings.LayerNorm.weight", f32::NAN),
            line: EMBED,
            needles: &[
                "model.safetensors",
                "embeddings.LayerNorm.weight",
                "non-finite",
            ],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "infinite weight refused by variants too",
            before: None,
            setup: |e| {
                poison_weight(
                    e,
                    "encoder.layer.0.attention.self.query.weight",
                    f32::INFINITY,
                )
            },
            line: "variants --model {model} --out {out} --noise 0.1",
            needles: &["encoder.layer.0.attention.self.query.weight", "non-finite"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "negative layer_norm_eps",
            before: None,
            setup: |e| {
                e.edit(
                    "model/config.json",
                    "\"layer_norm_eps\": 1e-12",
                    "\"layer_norm_eps\": -1e-05",
                )
            },
            line: EMBED,
            needles: &["config.json", "layer_norm_eps -1e-5", "positive"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "zero layer_norm_eps",
            before: None,
            setup: |e| {
                e.edit(
                    "model/config.json",
                    "\"layer_norm_eps\": 1e-12",
                    "\"layer_norm_eps\": 0",
                )
            },
            line: EMBED,
            needles: &["config.json", "layer_norm_eps 0e0", "positive"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "integer-typed tensor where a float weight belongs",
            before: None,
            setup: |e| integer_weight(e, "embeddings.token_type_embeddings.weight"),
            line: EMBED,
            needles: &[
                "embeddings.token_type_embeddings.weight",
                "integers",
                "float weight",
            ],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "predictor.json with a zero scale",
            before: Some(FIT),
            setup: |e| edit_predictor(e, |t| t["scales"][0] = 0.0.into()),
            line: "predict --predictor {out/predictor.json} --data {features.csv}",
            needles: &["predictor.json", "scales[0] is 0", "positive"],
            out: OutAfter::NotApplicable,
        },
        Case {
            kind: 4,
            name: "predictor.json with a negative interval half-width",
            before: Some(FIT),
            setup: |e| edit_predictor(e, |t| t["interval_half_width"] = (-0.5).into()),
            line: "predict --predictor {out/predictor.json} --data {features.csv}",
            needles: &["predictor.json", "interval_half_width is -0.5"],
            out: OutAfter::NotApplicable,
        },
        Case {
            kind: 4,
            name: "duplicate seeds",
            before: None,
            setup: nothing,
            line: "finetune --model {model} --task {RTE} --out {out} --seeds 1,1",
            needles: &["--seeds", "1"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 4,
            name: "treebank with a missing bracket balanced by an extra one",
            before: None,
            setup: |e| {
                let s = std::fs::read_to_string(fixture("tasks/mini.mrg")).unwrap();
                let mut lines: Vec<String> = s.lines().map(String::from).collect();
                lines[0] = lines[0].trim_end().strip_suffix(')').unwrap().to_string();
                lines[5].push(')');
                std::fs::write(e.root.join("bad.mrg"), lines.join("\n") + "\n").unwrap();
            },
            line: "tasks build --treebank {bad.mrg} --out {out}",
            needles: &["bad.mrg", "line 2", "opened on line 1", "missing"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 5,
            name: "CSV error on a CRLF file names the right line",
            before: None,
            setup: |e| {
                let s = std::fs::read_to_string(e.root.join("targets.csv")).unwrap();
                let s = s.replacen("0.584858", "x", 1).replace('\n', "\r\n");
                std::fs::write(e.root.join("targets.csv"), s).unwrap();
            },
            line: FIT,
            needles: &["targets.csv", "line 3", "'x' is not a number"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 5,
            name: "token id past the embedding table names the tokenizer",
            before: None,
            setup: |e| {
                // A vocabulary with 150 more entries than the weights' embedding table.
                std::fs::remove_file(e.root.join("model/tokenizer.json")).unwrap();
                let v = std::fs::read_to_string(e.root.join("model/vocab.txt")).unwrap();
                let fill: String = (0..150).map(|i| format!("[unused{i}]\n")).collect();
                std::fs::write(e.root.join("model/vocab.txt"), fill + &v).unwrap();
            },
            line: EMBED,
            needles: &["vocab.txt", "past the embedding table of 120 rows", "vocab_size"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 5,
            name: "NaN weight decay refused up front",
            before: None,
            setup: nothing,
            line: "finetune --model {model} --task {RTE} --out {out} --weight-decay NaN",
            needles: &["--weight-decay", "finite"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 5,
            name: "leave-one-out on two rows",
            before: None,
            setup: |e| {
                std::fs::write(e.root.join("f2.csv"), "model,a\nm1,0.1\nm2,0.3\n").unwrap();
                std::fs::write(e.root.join("t2.csv"), "model,rte\nm1,0.5\nm2,0.6\n").unwrap();
            },
            line: "fit --data {f2.csv} --targets-file {t2.csv} --cv loo --out {out}",
            needles: &["loo needs at least 3 rows", "got 2"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 5,
            name: "zero-byte dev.tsv",
            before: None,
            setup: |e| std::fs::write(e.root.join("RTE/dev.tsv"), "").unwrap(),
            line: "finetune --model {model} --task {RTE} --out {out}",
            needles: &["dev.tsv", "empty file"],
            out: OutAfter::Absent,
        },
        Case {
            kind: 5,
            name: "tasks build --out on a bad path names it once",
            before: None,
            setup: |e| {
                std::fs::write(e.root.join("file"), "").unwrap();
                // Enough sentences of every length for the sentence_length task.
                let w = ["dog", "cat", "bird", "man", "tree", "house", "car", "ball"];
                let trees: String = (0..600)
                    .map(|i| {
                        let leaves: Vec<String> = (0..5 + i % 40)
                            .map(|j| format!("(NN {}{i})", w[(i * 7 + j) % 8]))
                            .collect();
                        format!("( (S {}) )\n", leaves.join(" "))
                    })
                    .collect();
                std::fs::write(e.root.join("gen.mrg"), trees).unwrap();
            },
            line: "tasks build --treebank {gen.mrg} --out {file/sub} --tasks sentence_length --per-class 10 --max-words 60",
            needles: &["file/sub", "cannot create output directory"],
            out: OutAfter::NotApplicable,
        },
        Case {
            kind: 0,
            name: "tokenizer.json whose decoder value is missing (found by tests/fuzz.rs: the tokenizers crate panicked)",
            before: None,
            setup: |e| {
                let p = e.root.join("model/tokenizer.json");
                let s = std::fs::read_to_string(&p).unwrap();
                let (a, b) = (s.find("\"decoder\":").unwrap(), s.find("\"model\":").unwrap());
                let s = format!("{}\"decoder\":, {}", &s[..a], &s[b..]);
                std::fs::write(&p, s).unwrap();
            },
            line: EMBED,
            needles: &["tokenizer.json", "cannot load tokenizer"],
            out: OutAfter::Absent,
        },
    ]
}

/// Overwrite one f32 of a weight in the model's safetensors file.
fn poison_weight(e: &Env, name: &str, v: f32) {
    let path = e.root.join("model/model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let (n, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let info = meta
        .info(name)
        .unwrap_or_else(|| panic!("no tensor {name}"));
    let at = 8 + n + info.data_offsets.0;
    let mut bytes = bytes;
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
}

/// Rewrite the model with one tensor stored as i64.
fn integer_weight(e: &Env, name: &str) {
    use candle_core::{DType, Device};
    let path = e.root.join("model/model.safetensors");
    let mut t = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let x = t.remove(name).unwrap();
    t.insert(name.to_string(), x.to_dtype(DType::I64).unwrap());
    candle_core::safetensors::save(&t, &path).unwrap();
}

fn edit_predictor(e: &Env, f: fn(&mut serde_json::Value)) {
    let p = e.root.join("out/predictor.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v["targets"][0]);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn every_catalogued_bad_input_exits_2_with_one_line_and_leaves_out_and_cache_clean() {
    let mut failures = Vec::new();
    for c in cases() {
        let e = Env::new();
        std::fs::copy(fixture("tasks/mini.mrg"), e.root.join("mini.mrg")).unwrap();
        if let Some(b) = c.before {
            e.ok(b);
        }
        let before = snapshot(&e.root.join("out"));
        (c.setup)(&e);
        let args = e.args(c.line);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = probecast(&a);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut why = Vec::new();
        if o.status.code() != Some(2) {
            why.push(format!("exit code {:?}", o.status.code()));
        }
        // probe reports each failing model as it goes, then the final error.
        let expect_lines = if c.name.starts_with("probe where every model fails") {
            2
        } else {
            1
        };
        if lines.len() != expect_lines {
            why.push(format!("{} stderr lines", lines.len()));
        }
        for n in c.needles {
            let n = e.args(n).join(" ");
            if !err.contains(&n) {
                why.push(format!("message lacks {n:?}"));
            }
        }
        let out = e.root.join("out");
        match c.out {
            OutAfter::Absent if out.exists() => why.push("--out was left behind".into()),
            OutAfter::Untouched if snapshot(&out) != before => {
                why.push("the earlier run in --out changed".into())
            }
            _ => {}
        }
        let left = [leftovers(&out), leftovers(&e.root.join("cache"))].concat();
        if !left.is_empty() {
            why.push(format!("leftovers {left:?}"));
        }
        if c.name.contains("names it once") {
            let bad = e.p("file/sub");
            if err.matches(&bad).count() != 1 {
                why.push("the path is not printed exactly once".into());
            }
        }
        if !why.is_empty() {
            failures.push(format!(
                "[kind {}] {}: {}\n    stderr: {}",
                c.kind,
                c.name,
                why.join("; "),
                err.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn stale_temp_files_in_out_and_cache_are_removed_by_the_next_run() {
    let e = Env::new();
    let out = e.root.join("out");
    let cache = e.root.join("cache");
    for d in [&out, &cache] {
        std::fs::create_dir_all(d).unwrap();
        // pid 4194304 is past Linux's pid_max: its writer cannot be alive.
        std::fs::write(d.join(".probecast-4194304-abc.tmp"), "half").unwrap();
        std::fs::create_dir_all(d.join(".probecast-staging-4194304-x")).unwrap();
    }
    e.ok(EMBED);
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    assert!(leftovers(&cache).is_empty(), "{:?}", leftovers(&cache));
    assert!(out.join("manifest.json").is_file());
}

#[test]
fn a_second_embed_with_other_settings_removes_the_first_runs_files_after_success() {
    let e = Env::new();
    std::fs::create_dir_all(e.root.join("out")).unwrap();
    std::fs::write(e.root.join("out/notes.txt"), "mine").unwrap();
    e.ok(EMBED);
    let first: Vec<String> = snapshot(&e.root.join("out")).into_keys().collect();
    assert_eq!(
        first,
        [
            "cls.safetensors",
            "labels.json",
            "manifest.json",
            "mean.safetensors",
            "notes.txt"
        ]
    );
    e.ok(&format!("{EMBED} --pooling cls"));
    let second: Vec<String> = snapshot(&e.root.join("out")).into_keys().collect();
    // mean.safetensors was the first run's; notes.txt never was probecast's.
    assert_eq!(
        second,
        [
            "cls.safetensors",
            "labels.json",
            "manifest.json",
            "notes.txt"
        ]
    );
}

#[test]
fn variants_force_that_fails_part_way_leaves_the_old_run_whole() {
    let e = Env::new();
    e.ok("variants --model {model} --out {out} --truncate 1 --noise 0.1");
    let before = snapshot(&e.root.join("out"));
    std::fs::copy(fixture("variants/corpus.txt"), e.root.join("corpus.txt")).unwrap();
    // The pruning variant is written first; then the corruption run's loss diverges (absurd
    // learning rate) and the run fails part-way.
    let args = e.args(
        "variants --model {model} --out {out} --prune 0.5 --corrupt-steps 3 --corpus {corpus.txt} --lr 1e30 --force",
    );
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = probecast(&a);
    assert_user_error(&o, &["training loss became"]);
    assert_eq!(snapshot(&e.root.join("out")), before);
    assert!(leftovers(&e.root.join("out")).is_empty());
}

#[test]
fn stsb_dev_with_constant_scores_is_warned_about_and_its_correlations_are_undefined() {
    let e = Env::new();
    let task = e.root.join("STS-B");
    std::fs::create_dir_all(&task).unwrap();
    let mut train = String::from("index\tsentence1\tsentence2\tscore\n");
    let mut dev = train.clone();
    for i in 0..8 {
        let row = |score: f64| format!("{i}\tthe cat sat {i} .\tthe dog {} .\t{score}\n", i % 3);
        train.push_str(&row(i as f64 / 2.0));
        dev.push_str(&row(3.0));
    }
    std::fs::write(task.join("train.tsv"), train).unwrap();
    std::fs::write(task.join("dev.tsv"), dev).unwrap();
    let model = fixture("encoder/tiny-distilbert");
    let out = e.root.join("out");
    let (code, _, err) = run(&[
        "finetune",
        "--model",
        model.to_str().unwrap(),
        "--task",
        task.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning:") && err.contains("dev.tsv") && err.contains("undefined"),
        "{err}"
    );
    let targets = std::fs::read_to_string(out.join("targets.csv")).unwrap();
    assert!(
        targets.lines().nth(1).unwrap().ends_with("NaN"),
        "{targets}"
    );
}
