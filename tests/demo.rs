//! `probecast demo`: the reduced loop end to end (outputs exist and agree with each other: the
//! printed table equals results.csv; a held-out checkpoint's prediction is recomputed from a
//! fit that never saw it; a second run resumes from the outputs), and the generated checkpoints
//! load in transformers with the same hidden states as probecast's (committed fixture; the live
//! check runs when python3 with transformers is installed).

mod common;
use common::read_csv;

use probecast::encoder::extract::{embed_sentences, LoadedModel};
use probecast::encoder::tokenizer::TextTokenizer;
use probecast::encoder::Pooling;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn write_csv(path: &Path, h: &[String], rows: &[&Vec<String>]) {
    let mut s = h.join(",") + "\n";
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// Compare probecast's tokenizer ids and mean-pooled hidden states of `dir` with a JSON written
/// by bench/python/demo_hf_check.py.
fn assert_matches_transformers(dir: &Path, reference: &Path) {
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference).unwrap()).unwrap();
    assert_eq!(r["model_class"], "BertModel");
    let sentences: Vec<String> = r["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let ids = TextTokenizer::from_dir(dir, 64)
        .unwrap()
        .encode_all(&sentences)
        .unwrap();
    for (i, want) in r["input_ids"].as_array().unwrap().iter().enumerate() {
        let want: Vec<u32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ids[i], want, "token ids of {:?}", sentences[i]);
    }
    let lm = LoadedModel::load(dir, 64).unwrap();
    let (feats, _) = embed_sentences(
        &lm,
        &sentences,
        &[Pooling::Mean],
        8,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let f = &feats[&Pooling::Mean];
    let mut worst = 0f64;
    for (i, per_layer) in r["mean_hidden_states"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let per_layer = per_layer.as_array().unwrap();
        assert_eq!(per_layer.len(), f.layers.len());
        for (k, v) in per_layer.iter().enumerate() {
            let got = f.row(k, i);
            for (j, x) in v.as_array().unwrap().iter().enumerate() {
                worst = worst.max((got[j] as f64 - x.as_f64().unwrap()).abs());
            }
        }
    }
    assert!(
        worst < 1e-4,
        "largest difference from transformers: {worst}"
    );
}

#[test]
fn committed_demo_checkpoint_matches_transformers_hidden_states() {
    let dir = common::fixture("demo/tiny-demo");
    let reference = common::fixture("demo/reference.json");
    assert_matches_transformers(&dir, &reference);
}

fn python_with_transformers() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import transformers, torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// One uninterrupted `probecast demo --quick` run, shared by the tests of this file (made once,
/// under the target directory's test scratch space).
struct QuickRun {
    out: PathBuf,
    stdout: String,
    stderr: String,
}

fn uninterrupted_quick_run() -> &'static QuickRun {
    static RUN: OnceLock<QuickRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-quick-uninterrupted");
        let _ = std::fs::remove_dir_all(&out);
        let (code, stdout, stderr) =
            common::run(&["demo", "--quick", "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "stderr: {stderr}");
        QuickRun {
            out,
            stdout,
            stderr,
        }
    })
}

#[test]
fn quick_demo_runs_end_to_end_with_consistent_outputs_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = uninterrupted_quick_run();
    let (out, stdout, stderr) = (&run.out, &run.stdout, &run.stderr);
    let o = out.to_str().unwrap();
    for stage in ["data", "zoo", "study", "fit"] {
        assert!(
            out.join(stage).join("manifest.json").is_file(),
            "{stage} manifest"
        );
        assert!(
            stderr.contains(&format!("] {stage}: ")),
            "progress of {stage}"
        );
    }
    // the zoo: real HF directories with the word-level tokenizer
    let (_, ckpts) = read_csv(&out.join("zoo/checkpoints.csv"));
    assert!(ckpts.len() >= 8, "{} checkpoints", ckpts.len());
    for c in &ckpts {
        let d = Path::new(&c[3]);
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            assert!(d.join(f).is_file(), "{}/{f}", d.display());
        }
    }
    let kinds: std::collections::BTreeSet<&str> = ckpts.iter().map(|c| c[2].as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["corrupt", "noise", "pretrain"]
    );
    // ten probing tasks, two downstream tasks
    let probing = std::fs::read_dir(out.join("data/probing"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "txt")
        })
        .count();
    assert_eq!(probing, 10);

    // the printed table equals results.csv, cell by cell
    let (h, rows) = read_csv(&out.join("fit/results.csv"));
    assert_eq!(
        h[..6],
        [
            "task",
            "estimate",
            "validation",
            "rmse",
            "kendall_tau",
            "coverage"
        ]
    );
    assert_eq!(rows.len(), 2 * 5);
    for r in &rows {
        let section = stdout
            .split("\n\n")
            .map(str::trim_start)
            .find(|s| s.starts_with(&format!("{}:", r[0])))
            .unwrap_or_else(|| panic!("no section for {} in\n{stdout}", r[0]));
        let line = section
            .lines()
            .find(|l| l.trim_start().starts_with(&r[1]) && l.contains(&r[2]))
            .unwrap_or_else(|| panic!("no line for {r:?} in\n{section}"));
        let cells: Vec<&str> = line.split_whitespace().rev().take(3).collect();
        assert_eq!(
            cells,
            [r[5].as_str(), r[4].as_str(), r[3].as_str()],
            "{line}"
        );
    }
    assert!(stdout.contains("beat the mean baseline out-of-sample"));
    // the report is written at the end and its path printed
    assert!(
        stdout.contains(&format!("report: {o}/report.html")),
        "{stdout}"
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for h in [
        "Probing",
        "Fine-tuning",
        "Prediction",
        "Ranking",
        "Provenance",
    ] {
        assert!(page.contains(&format!("<h2>{h}</h2>")), "report lacks {h}");
    }

    // a held-out checkpoint's out-of-fold prediction, recomputed by a fit without it
    let (fh, frows) = read_csv(&out.join("study/results/features.csv"));
    let (th, trows) = read_csv(&out.join("study/results/targets.csv"));
    let (_, cv) = read_csv(&out.join("fit/loo/cv_predictions.csv"));
    let (ch, _) = read_csv(&out.join("fit/loo/cv_predictions.csv"));
    let col = |name: &str| ch.iter().position(|c| c == name).unwrap();
    let held = &frows[3][0];
    let others_f: Vec<&Vec<String>> = frows.iter().filter(|r| &r[0] != held).collect();
    let others_t: Vec<&Vec<String>> = trows.iter().filter(|r| &r[0] != held).collect();
    let (f_csv, t_csv) = (tmp.path().join("f.csv"), tmp.path().join("t.csv"));
    write_csv(&f_csv, &fh, &others_f);
    write_csv(&t_csv, &th, &others_t);
    let fit_dir = tmp.path().join("refit");
    let (code, _, err) = common::run(&[
        "fit",
        "--data",
        f_csv.to_str().unwrap(),
        "--targets-file",
        t_csv.to_str().unwrap(),
        "--permutations",
        "0",
        "--noise-draws",
        "0",
        "--out",
        fit_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, preds, err) = common::run(&[
        "predict",
        "--predictor",
        fit_dir.join("predictor.json").to_str().unwrap(),
        "--data",
        out.join("study/results/features.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let refit: HashMap<(String, String), f64> = preds
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            ((c[0].to_string(), c[1].to_string()), c[2].parse().unwrap())
        })
        .collect();
    let mut checked = 0;
    for r in cv.iter().filter(|r| &r[col("model")] == held) {
        let target = r[col("target")].clone();
        let oof: f64 = r[col("predicted")].parse().unwrap();
        let again = refit[&(held.clone(), target.clone())];
        assert!(
            (oof - again).abs() < 1e-9,
            "{held} {target}: out-of-fold {oof} vs refit without it {again}"
        );
        checked += 1;
    }
    assert_eq!(checked, 2);

    // the generated checkpoints load in transformers with the same hidden states
    if python_with_transformers() {
        let ck = Path::new(&ckpts[1][3]);
        let sentences = common::fixture("demo/sentences.txt");
        let reference = tmp.path().join("reference.json");
        let o = std::process::Command::new("python3")
            .arg(common::root().join("bench/python/demo_hf_check.py"))
            .args([ck, &sentences, &reference])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_matches_transformers(ck, &reference);
    } else {
        eprintln!("SKIPPED (live transformers check): python3 with transformers and torch is not installed; the committed fixture is checked instead");
    }

    // the loop is an ordinary study: `study status` on the demo's own file finds every unit done
    let (code, status, err) = common::run(&["study", "status", &format!("{o}/study.toml")]);
    assert_eq!(code, 0, "{err}");
    let row = |stage: &str| -> Vec<String> {
        let l = status
            .lines()
            .find(|l| l.starts_with(stage))
            .unwrap_or_else(|| panic!("no {stage} row in {status}"));
        l.split_whitespace().map(String::from).collect()
    };
    // 8 checkpoints, 2 tasks
    for (stage, done) in [("probe", "8"), ("finetune", "16"), ("fit", "1")] {
        let r = row(stage);
        assert_eq!(r[1], done, "{status}");
        assert_eq!(r[2], "0", "{status}");
    }

    // a second run resumes: every stage skipped, the same table
    let (code, stdout2, stderr2) = common::run(&["demo", "--quick", "--out", o]);
    assert_eq!(code, 0, "{stderr2}");
    assert_eq!(stderr2.matches("skipped").count(), 4, "{stderr2}");
    let table = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("total"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(stdout), table(&stdout2));
    // --force recomputes every stage (the study in a fresh directory that replaces the old
    // one), on a copy: the other test reads this run's outputs
    let copy = tmp.path().join("forced");
    let st = std::process::Command::new("cp")
        .args(["-a", o, copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let c = copy.to_str().unwrap();
    let (code, stdout3, stderr3) = common::run(&["demo", "--quick", "--out", c, "--force"]);
    assert_eq!(code, 0, "{stderr3}");
    assert_eq!(stderr3.matches("done earlier").count(), 0, "{stderr3}");
    let table3 = |s: &str| table(&s.replace(c, o));
    assert_eq!(table(stdout), table3(&stdout3));
    assert!(!copy.join(".probecast-staging-study").exists());
    assert!(copy.join("study/results/targets.csv").is_file());
}

/// Every output file under `dir` that must not depend on how the run went (models, data, CSVs,
/// tables; not the JSON manifests and run records, which hold timings), with the directory's
/// own path replaced by `<out>` in text files. Keyed by relative path.
fn comparable_outputs(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            assert!(ext != "tmp", "a temporary file was left: {rel}");
            assert!(
                !rel.contains(".probecast-staging-"),
                "a staging directory was left: {rel}"
            );
            if rel.ends_with("cost.csv") {
                continue; // CPU seconds
            }
            let bytes = std::fs::read(&p).unwrap();
            match ext {
                "safetensors" => {
                    out.insert(rel, bytes);
                }
                "csv" | "tsv" | "txt" => {
                    let text = String::from_utf8(bytes).unwrap();
                    let text = text.replace(dir.to_str().unwrap(), "<out>");
                    out.insert(rel, text.into_bytes());
                }
                _ => {}
            }
        }
    }
    out
}

/// (inode, modification time) of a file: a unit that is rewritten gets a new pair (outputs are
/// written to a temporary file and renamed over the old one).
fn identity(p: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.ino(), m.modified().unwrap())
}

/// Start `probecast demo --quick --out out` and SIGKILL it as soon as `ready()` holds (polled
/// every 10 ms); panics if the run ends first.
fn kill_when(out: &Path, what: &str, ready: &dyn Fn() -> bool) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_probecast"))
        .args(["demo", "--quick", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if ready() {
            child.kill().unwrap();
            child.wait().unwrap();
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the demo ended ({status}) before it was {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn quick_demo_killed_mid_stage_resumes_reusing_finished_units_and_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    // 1. Kill inside the zoo stage, once the first pretraining run has saved its checkpoints and
    //    the second has not finished.
    let first_run = out.join("zoo/pretrain/tiny-s1-step30/model.safetensors");
    let second_run = out.join("zoo/pretrain/tiny-s2-step30/model.safetensors");
    kill_when(&out, "inside the zoo stage", &|| {
        first_run.is_file() && !second_run.is_file()
    });
    assert!(!out.join("zoo/manifest.json").exists());
    let kept_ckpt = identity(&first_run);

    // 2. Resume; kill inside the study stage once three fine-tuning units are done.
    let units = |stage: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("study").join(stage))
            .map(|rd| {
                rd.map(|e| e.unwrap().path().join("done.json"))
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    kill_when(&out, "inside the study stage", &|| {
        units("finetune").len() >= 3 && !out.join("study/manifest.json").exists()
    });
    assert!(!out.join("study/manifest.json").exists());
    assert_eq!(
        identity(&first_run),
        kept_ckpt,
        "the finished pretraining run was redone"
    );
    let snapshot = |stage: &str| -> Vec<(PathBuf, (u64, std::time::SystemTime))> {
        units(stage)
            .into_iter()
            .map(|p| {
                let id = identity(&p);
                (p, id)
            })
            .collect()
    };
    let done_runs = snapshot("finetune");
    assert!(done_runs.len() >= 3);
    let done_rows = snapshot("probe");

    // 3. Resume to the end: the earlier stages are skipped, the finished units reused.
    let (code, stdout, stderr) = common::run(&["demo", "--quick", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for stage in ["data", "zoo"] {
        assert!(
            stderr.contains(&format!("] {stage}: done earlier")),
            "{stage} not skipped: {stderr}"
        );
    }
    assert!(stderr.contains("] study: the study of"), "{stderr}");
    for (p, id) in done_runs.iter().chain(&done_rows) {
        assert_eq!(identity(p), *id, "{} was redone", p.display());
    }
    assert_eq!(identity(&first_run), kept_ckpt);

    // 4. Everything equals an uninterrupted run's outputs, byte for byte.
    let reference = uninterrupted_quick_run();
    let got = comparable_outputs(&out);
    let want = comparable_outputs(&reference.out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(got[k] == *v, "{k} differs from the uninterrupted run's");
    }
    // (the report line names each run's own directory)
    let table = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("total") && !l.starts_with("report: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&stdout), table(&reference.stdout));
}
