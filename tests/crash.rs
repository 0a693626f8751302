//! Crash safety as a property (issue #15): `embed`, `probe`, `finetune` and `variants` are
//! killed with SIGKILL at random moments (several seeds), then rerun; after each rerun the outputs
//! must be complete and identical to an uninterrupted run's, and no `.probecast-*` temp file or
//! staging directory may remain in `--out` or in the feature cache. Between the kill and the
//! rerun, `--out` must hold either no manifest or a complete earlier set (never a manifest beside
//! missing files). Tiny fixtures keep the whole file to seconds.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Kill moments per command.
const SEEDS: u64 = 4;

/// The outputs minus what legitimately differs between two runs: the manifest's times and the
/// cache-hit flag (compared through its `outputs` list instead), and timing columns.
fn comparable(dir: &Path) -> BTreeMap<String, String> {
    snapshot(dir)
        .into_iter()
        .map(|(k, v)| {
            let v = if k.ends_with("manifest.json") {
                let m: serde_json::Value = serde_json::from_slice(&v).expect("manifest parses");
                format!("{} {}", m["command"], m["outputs"])
            } else if k.ends_with(".csv") {
                String::from_utf8_lossy(&v)
                    .lines()
                    .filter(|l| !l.contains("seconds"))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                probecast::util::sha256_hex(&v)
            };
            (k, v)
        })
        .collect()
}

/// After a kill: either no manifest, or one whose every listed output exists.
fn no_manifest_or_complete(out: &Path) -> Result<(), String> {
    let Ok(text) = std::fs::read_to_string(out.join("manifest.json")) else {
        return Ok(());
    };
    let m: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("torn manifest: {e}"))?;
    for f in m["outputs"].as_array().into_iter().flatten() {
        let f = f.as_str().unwrap_or_default();
        if !out.join(f).exists() {
            return Err(format!("manifest lists {f}, which is missing"));
        }
    }
    Ok(())
}

/// A tiny deterministic generator for the kill moments.
fn next(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

fn run_to_end(args: &[String]) -> Duration {
    let t = Instant::now();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = probecast(&a);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t.elapsed()
}

/// Run `make_args(out, cache)` uninterrupted, then for each seed: start it into a fresh
/// `--out`/cache, SIGKILL it at a random moment, check the interim state, rerun, and compare.
fn killed_runs_recover(name: &str, make_args: &dyn Fn(&Path, &Path) -> Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let (ref_out, ref_cache) = (tmp.path().join("ref"), tmp.path().join("ref-cache"));
    let t_ref = run_to_end(&make_args(&ref_out, &ref_cache));
    let expected = comparable(&ref_out);
    let mut rng = 0x5eed ^ name.len() as u64;
    for seed in 0..SEEDS {
        let out = tmp.path().join(format!("out{seed}"));
        let cache = tmp.path().join(format!("cache{seed}"));
        // Two kills into the same --out and cache, then a full run.
        for _ in 0..2 {
            let at = t_ref.mul_f64(1.2 * next(&mut rng));
            let mut child = Command::new(env!("CARGO_BIN_EXE_probecast"))
                .args(make_args(&out, &cache))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
            if let Err(e) = no_manifest_or_complete(&out) {
                panic!("{name} seed {seed}, killed after {at:?}: {e}");
            }
        }
        run_to_end(&make_args(&out, &cache));
        assert_eq!(
            comparable(&out),
            expected,
            "{name} seed {seed}: outputs differ from the uninterrupted run"
        );
        let left = [leftovers(&out), leftovers(&cache)].concat();
        assert!(left.is_empty(), "{name} seed {seed}: leftovers {left:?}");
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn embed_killed_at_random_moments_recovers_identically_without_leftovers() {
    let model = fixture("encoder/tiny-bert");
    let data = fixture("encoder/tiny_sentences.txt");
    killed_runs_recover("embed", &|out, cache| {
        [
            "embed",
            "--model",
            &s(&model),
            "--data",
            &s(&data),
            "--out",
            &s(out),
            "--cache-dir",
            &s(cache),
        ]
        .map(String::from)
        .to_vec()
    });
}

#[test]
fn probe_killed_at_random_moments_recovers_identically_without_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let tasks = tmp.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let mut t = String::new();
    let (a, b) = (
        ["the", "cat", "sat", "on", "mat", "dog", "barked"],
        ["she", "reads", "books", "every", "evening", "birds", "sing"],
    );
    for (split, n) in [("tr", 12), ("te", 8)] {
        for i in 0..n {
            for (label, w) in [("A", &a), ("B", &b)] {
                let words: Vec<&str> = (0..4 + i % 3).map(|j| w[(i * 3 + j * 5) % 7]).collect();
                t.push_str(&format!("{split}\t{label}\t{} .\n", words.join(" ")));
            }
        }
    }
    std::fs::write(tasks.join("words.txt"), t).unwrap();
    let model = fixture("encoder/tiny-bert");
    killed_runs_recover("probe", &|out, cache| {
        [
            "probe",
            "--model",
            &s(&model),
            "--tasks",
            &s(&tasks),
            "--out",
            &s(out),
            "--cache-dir",
            &s(cache),
            "--train-per-class",
            "8",
            "--seeds",
            "2",
            "--probe",
            "logreg",
        ]
        .map(String::from)
        .to_vec()
    });
}

#[test]
fn finetune_killed_at_random_moments_recovers_identically_without_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let task = tmp.path().join("RTE");
    std::fs::create_dir_all(&task).unwrap();
    let mut rows = String::from("index\tsentence1\tsentence2\tlabel\n");
    for i in 0..16 {
        let lab = ["entailment", "not_entailment"][i % 2];
        rows.push_str(&format!(
            "{i}\tthe cat sat {i} .\tthe dog {} .\t{lab}\n",
            i % 5
        ));
    }
    std::fs::write(task.join("train.tsv"), &rows).unwrap();
    std::fs::write(task.join("dev.tsv"), &rows).unwrap();
    let model = fixture("encoder/tiny-distilbert");
    killed_runs_recover("finetune", &|out, _cache| {
        [
            "finetune",
            "--model",
            &s(&model),
            "--task",
            &s(&task),
            "--out",
            &s(out),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--save-model",
        ]
        .map(String::from)
        .to_vec()
    });
}

#[test]
fn variants_killed_at_random_moments_recovers_identically_without_leftovers() {
    let model = fixture("encoder/tiny-bert");
    let corpus = fixture("variants/corpus.txt");
    killed_runs_recover("variants", &|out, _cache| {
        [
            "variants",
            "--model",
            &s(&model),
            "--out",
            &s(out),
            "--noise",
            "0.1",
            "--truncate",
            "1",
            "--quantize",
            "int4",
            "--corrupt-steps",
            "2",
            "--corpus",
            &s(&corpus),
            "--batch-size",
            "4",
        ]
        .map(String::from)
        .to_vec()
    });
}
