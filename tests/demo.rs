//! `probecast demo`: the reduced loop end to end (outputs exist and agree with each other: the
//! printed table equals results.csv; a held-out checkpoint's prediction is recomputed from a
//! fit that never saw it; a second run resumes from the outputs), and the generated checkpoints
//! load in transformers with the same hidden states as probecast's (committed fixture; the live
//! check runs when python3 with transformers is installed).

mod common;

use probecast::encoder::extract::{embed_sentences, LoadedModel};
use probecast::encoder::tokenizer::TextTokenizer;
use probecast::encoder::Pooling;
use std::collections::HashMap;
use std::path::Path;

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = rd.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (h, rows)
}

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
    let (feats, _) = embed_sentences(&lm, &sentences, &[Pooling::Mean], 8, false).unwrap();
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

#[test]
fn quick_demo_runs_end_to_end_with_consistent_outputs_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let o = out.to_str().unwrap();
    let (code, stdout, stderr) = common::run(&["demo", "--quick", "--out", o]);
    assert_eq!(code, 0, "stderr: {stderr}");
    for stage in ["data", "zoo", "probe", "finetune", "fit"] {
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

    // a held-out checkpoint's out-of-fold prediction, recomputed by a fit without it
    let (fh, frows) = read_csv(&out.join("probe/features.csv"));
    let (th, trows) = read_csv(&out.join("finetune/targets.csv"));
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
        out.join("probe/features.csv").to_str().unwrap(),
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

    // a second run resumes: every stage skipped, the same table
    let (code, stdout2, stderr2) = common::run(&["demo", "--quick", "--out", o]);
    assert_eq!(code, 0, "{stderr2}");
    assert_eq!(stderr2.matches("skipped").count(), 5, "{stderr2}");
    let table = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("total"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&stdout), table(&stdout2));
}
