//! `probecast study`: a tiny study run end to end, reused on rerun, a changed setting
//! recomputing exactly the units it affects, a truncated unit detected and recomputed, shards
//! that together equal one run byte for byte, the bad inputs, and the real study's file.

mod common;
mod study_fixture;

use common::{fixture, root, run};
use std::path::Path;
use study_fixture::{result_files, write_study};

fn study(args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["study"];
    a.extend_from_slice(args);
    run(&a)
}

fn done_lines(stdout: &str, stage: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{stage} ")) && l.contains(": done in"))
        .count()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first seed's score of unit `<prefix>-seed<seed>-*` (its own targets.csv).
fn unit_score(out: &Path, prefix: &str, seed: u64) -> f64 {
    let d = std::fs::read_dir(out.join("finetune"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with(&format!("{prefix}-seed{seed}-"))
        })
        .unwrap();
    let t = std::fs::read_to_string(d.join("targets.csv")).unwrap();
    t.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn csv_rows(p: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// Remove the unit of `stage` whose directory starts with `prefix`; returns its key.
fn remove_unit(out: &Path, stage: &str, prefix: &str) -> String {
    let d = std::fs::read_dir(out.join(stage))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {stage} unit {prefix}*"));
    std::fs::remove_dir_all(&d).unwrap();
    d.file_name().unwrap().to_string_lossy().to_string()
}

/// `study run --stage fit --partial`, which must succeed; returns partial.json and stdout.
fn partial_fit_out(f: &Path, out: &Path) -> (serde_json::Value, String) {
    let (code, so, se) = study(&["run", s(f), "--out", s(out), "--stage", "fit", "--partial"]);
    assert_eq!(code, 0, "{so}\n{se}");
    let p = out.join("results-partial/partial.json");
    let note = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    (note, so)
}

/// [`partial_fit_out`]'s partial.json.
fn partial_fit(f: &Path, out: &Path) -> serde_json::Value {
    partial_fit_out(f, out).0
}

#[test]
fn a_partial_fit_uses_the_complete_checkpoints_and_reports_seed_noise_and_cost() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_study(tmp.path(), &fixture("encoder/tiny-bert"), 2e-2);
    let out = tmp.path().join("out");
    // status before the first run: everything pending, nothing created
    let (code, so, se) = study(&["status", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0, "{so}\n{se}");
    let row = |so: &str, stage: &str| -> Vec<String> {
        let l = so
            .lines()
            .find(|l| l.starts_with(stage))
            .unwrap()
            .to_string();
        l.split_whitespace().skip(1).map(String::from).collect()
    };
    assert_eq!(row(&so, "probe"), ["0", "4", "0", "-"], "{so}");
    assert_eq!(row(&so, "finetune"), ["0", "4", "0", "-"], "{so}");
    assert!(!out.exists(), "status wrote {}", out.display());
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0, "{so}\n{se}");
    // seed noise: the base has seeds 1 and 2, so the floor is |a - b| / sqrt(2); the targets'
    // spread is the sample sd of the three fine-tuned checkpoints' means
    let (a, b) = (
        unit_score(&out, "tiny-rte", 1),
        unit_score(&out, "tiny-rte", 2),
    );
    let means = [
        (a + b) / 2.0,
        unit_score(&out, "tiny-noise0.5-rte", 1),
        unit_score(&out, "tiny-trunc1-rte", 1),
    ];
    let m = means.iter().sum::<f64>() / 3.0;
    let target_sd = (means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 2.0).sqrt();
    let noise = csv_rows(&out.join("results/seed-noise.csv"));
    assert_eq!(
        noise[0],
        [
            "task",
            "checkpoints_with_seeds",
            "seed_sd",
            "checkpoints",
            "target_sd",
            "target_range",
            "target_sd_over_seed_sd"
        ]
    );
    assert_eq!(
        (
            noise[1][0].as_str(),
            noise[1][1].as_str(),
            noise[1][3].as_str()
        ),
        ("rte", "1", "3")
    );
    let num = |x: &str| x.parse::<f64>().unwrap();
    assert!(
        (num(&noise[1][2]) - (a - b).abs() / 2f64.sqrt()).abs() < 1e-6,
        "{noise:?}"
    );
    assert!((num(&noise[1][4]) - target_sd).abs() < 1e-6, "{noise:?}");
    // cost: every checkpoint's probing and each fine-tuned one's runs took CPU time
    let cost = csv_rows(&out.join("results/cost.csv"));
    assert_eq!(
        cost[0][..3],
        ["model", "probe_cpu_seconds", "finetune_cpu_seconds_rte"]
    );
    assert_eq!(cost.len(), 5, "{cost:?}");
    for r in &cost[1..] {
        assert!(num(&r[1]) > 0.0, "{r:?}");
        if r[0] != "tiny-noise2" {
            assert!(num(&r[2]) > 0.0 && num(&r[3]) == num(&r[2]), "{r:?}");
        } else {
            assert_eq!(r[2], "", "not fine-tuned: {r:?}");
        }
    }
    // --partial needs --stage fit
    let (code, _, se) = study(&["run", s(&f), "--out", s(&out), "--partial"]);
    assert_eq!(code, 2, "{se}");
    assert!(se.contains("--partial") && se.lines().count() == 1, "{se}");
    // drop one checkpoint's probing unit: a partial fit leaves it out, says so, and fits the rest
    remove_unit(&out, "probe", "tiny-noise2-");
    let part = out.join("results-partial");
    let note = partial_fit(&f, &out);
    assert_eq!(note["missing"], serde_json::json!(["tiny-noise2"]));
    assert_eq!(note["included"].as_array().unwrap().len(), 3);
    assert!(!part.join("fit.json").exists());
    assert_eq!(
        std::fs::read(part.join("targets.csv")).unwrap(),
        std::fs::read(out.join("results/targets.csv")).unwrap()
    );
    assert!(part.join("fit-loo/predictor.json").is_file());
    assert!(
        !part.join("predictions.csv").exists(),
        "nothing left to predict"
    );
    assert_eq!(note["pending_seeds"], serde_json::json!([]));
    // drop the base's extra seed: the partial fit keeps the base with the finished seed
    // (extra seeds run last), and lists the pending one
    let key = remove_unit(&out, "finetune", "tiny-rte-seed2-");
    let note = partial_fit(&f, &out);
    assert_eq!(note["included"].as_array().unwrap().len(), 3, "{note}");
    assert_eq!(note["pending_seeds"], serde_json::json!([key]));
    let t = csv_rows(&part.join("targets.csv"));
    assert_eq!(t[1][0], "tiny");
    assert!(
        (num(&t[1][1]) - a).abs() < 1e-12,
        "{t:?}: seed 1 alone is {a}"
    );
    assert_eq!(note["skipped_folds"], serde_json::json!([]));
    // two complete checkpoints leave no scheme a fit: a partial fit says why and skips them
    remove_unit(&out, "probe", "tiny-noise0.5-");
    let (note, so) = partial_fit_out(&f, &out);
    assert!(
        so.contains("fit: no fold scheme could run on the complete checkpoints yet"),
        "{so}"
    );
    assert!(!so.contains("fit (loo):"), "{so}");
    let skipped = note["skipped_folds"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{note}");
    assert_eq!(skipped[0]["folds"], "loo");
    let why = skipped[0]["why"].as_str().unwrap();
    assert!(why.contains("table-loo.csv"), "{note}");
    assert!(!part.join("fit-loo").exists());
    // without --partial the fit refuses: a unit is missing
    let (code, so, _) = study(&["run", s(&f), "--out", s(&out), "--stage", "fit"]);
    assert_eq!(code, 2, "{so}");
}

#[test]
fn tiny_study_runs_reuses_its_units_and_recomputes_exactly_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_study(tmp.path(), &fixture("encoder/tiny-bert"), 2e-2);
    let out = tmp.path().join("out");
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0, "{so}\n{se}");
    // 3 variant builds, 4 checkpoints probed, 3 fine-tuned checkpoints + one extra seed
    assert_eq!(done_lines(&so, "variants"), 3, "{so}");
    assert_eq!(done_lines(&so, "probe"), 4, "{so}");
    assert_eq!(done_lines(&so, "finetune"), 4, "{so}");
    let res = out.join("results");
    for f in [
        "features.csv",
        "probes.csv",
        "targets.csv",
        "finetune.csv",
        "checkpoints.csv",
        "fit-loo/predictor.json",
        "fit-by-operation/cv_predictions.csv",
        "predictions.csv",
        "fit.json",
    ] {
        assert!(res.join(f).is_file(), "missing results/{f}\n{so}");
    }
    let targets = std::fs::read_to_string(res.join("targets.csv")).unwrap();
    let lines: Vec<&str> = targets.lines().collect();
    assert_eq!(lines[0], "model,rte");
    assert_eq!(lines.len(), 4, "{targets}");
    // the base's target is the mean of its two seeds' units
    let base: f64 = lines
        .iter()
        .find(|l| l.starts_with("tiny,"))
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (base - (unit_score(&out, "tiny-rte", 1) + unit_score(&out, "tiny-rte", 2)) / 2.0).abs()
            < 1e-12
    );
    // the checkpoint not fine-tuned is predicted
    let preds = std::fs::read_to_string(res.join("predictions.csv")).unwrap();
    assert!(
        preds.lines().any(|l| l.starts_with("tiny-noise2,rte,")),
        "{preds}"
    );
    let first = result_files(&out);

    // rerun: nothing to do, same results
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert!(!so.contains(": done in"), "{so}");
    assert_eq!(result_files(&out), first);

    // a truncated unit output is detected (status) and recomputed, alone
    let probe_unit = std::fs::read_dir(out.join("probe"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tiny-trunc1-")
        })
        .unwrap();
    let csv = probe_unit.join("probes.csv");
    let text = std::fs::read(&csv).unwrap();
    std::fs::write(&csv, &text[..text.len() / 2]).unwrap();
    let (code, so, _) = study(&["status", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0);
    let probe_line = so.lines().find(|l| l.starts_with("probe")).unwrap();
    assert_eq!(
        probe_line.split_whitespace().collect::<Vec<_>>()[..4],
        ["probe", "3", "1", "0"],
        "{so}"
    );
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert_eq!(done_lines(&so, "probe"), 1, "{so}");
    assert_eq!(done_lines(&so, "finetune") + done_lines(&so, "variants"), 0);
    assert_eq!(result_files(&out), first, "recomputed unit differs");

    // a changed fine-tuning setting reruns every fine-tuning unit and nothing else
    std::fs::write(
        &f,
        study_fixture::study_text(&fixture("encoder/tiny-bert"), 3e-2),
    )
    .unwrap();
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out)]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert_eq!(done_lines(&so, "finetune"), 4, "{so}");
    assert_eq!(
        done_lines(&so, "probe") + done_lines(&so, "variants"),
        0,
        "{so}"
    );
    let (_, so, _) = study(&["status", s(&f), "--out", s(&out)]);
    assert!(
        so.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["finetune", "4", "0", "0", "-"]),
        "{so}"
    );
}

#[test]
fn shards_of_each_stage_together_equal_a_single_run_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_study(tmp.path(), &fixture("encoder/tiny-bert"), 2e-2);
    let one = tmp.path().join("one");
    let (code, so, se) = study(&["run", s(&f), "--out", s(&one)]);
    assert_eq!(code, 0, "{so}\n{se}");
    let sharded = tmp.path().join("sharded");
    let mut ran = 0;
    for stage in ["variants", "probe", "finetune"] {
        for i in 1..=3 {
            let shard = format!("{i}/3");
            let (code, so, se) = study(&[
                "run",
                s(&f),
                "--out",
                s(&sharded),
                "--stage",
                stage,
                "--shard",
                &shard,
            ]);
            assert_eq!(code, 0, "{so}\n{se}");
            assert!(!so.contains("fit ("), "a shard must not fit: {so}");
            ran += done_lines(&so, stage);
        }
    }
    assert_eq!(ran, 3 + 4 + 4);
    let (code, so, se) = study(&["run", s(&f), "--out", s(&sharded), "--stage", "fit"]);
    assert_eq!(code, 0, "{so}\n{se}");
    let (a, b) = (result_files(&one), result_files(&sharded));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs");
    }
}

fn assert_bad(args: &[&str], needles: &[&str]) {
    let (code, so, se) = study(args);
    assert_eq!(code, 2, "{so}\n{se}");
    let lines: Vec<&str> = se.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line: {se}");
    for n in needles {
        assert!(se.contains(n), "{se:?} lacks {n:?}");
    }
}

#[test]
fn bad_study_files_and_flags_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("encoder/tiny-bert");
    let f = write_study(tmp.path(), &model, 2e-2);
    let good = std::fs::read_to_string(&f).unwrap();
    let bad = tmp.path().join("bad.toml");
    let write = |text: &str| std::fs::write(&bad, text).unwrap();
    let b = s(&bad);
    let out = tmp.path().join("o");
    let o = s(&out);
    // unknown key, with line and column
    write(&good.replace("seeds = 1\n", "seeds = 1\nsead = 2\n"));
    let line = good.lines().position(|l| l == "seeds = 1").unwrap() + 2;
    assert_bad(
        &["run", b, "--out", o],
        &[
            "bad.toml",
            &format!("line {line}, column 1"),
            "unknown field `sead`",
        ],
    );
    // wrong type
    write(&good.replace("epochs = 6", "epochs = \"one\""));
    let line = good.lines().position(|l| l == "epochs = 6").unwrap() + 1;
    assert_bad(
        &["run", b, "--out", o],
        &[&format!("line {line}, column 10"), "invalid type"],
    );
    // a checkpoint path that does not exist
    write(&good.replace(&model.display().to_string(), "no/such/model"));
    assert_bad(
        &["run", b, "--out", o],
        &["checkpoint 'tiny'", "no/such/model", "does not exist"],
    );
    // two checkpoints with the same name
    write(&format!(
        "{good}\n[[checkpoint]]\nname = \"tiny-trunc1\"\npath = \"{}\"\n",
        model.display()
    ));
    assert_bad(
        &["run", b, "--out", o],
        &["two checkpoints are named 'tiny-trunc1'"],
    );
    // a target task without dev labels
    let nolab = tmp.path().join("nolabels/RTE");
    std::fs::create_dir_all(&nolab).unwrap();
    std::fs::copy(tmp.path().join("RTE/train.tsv"), nolab.join("train.tsv")).unwrap();
    std::fs::write(
        nolab.join("dev.tsv"),
        "index\tsentence1\tsentence2\n0\ta\tb\n",
    )
    .unwrap();
    write(&good.replace("path = \"RTE\"", "path = \"nolabels/RTE\""));
    assert_bad(
        &["run", b, "--out", o],
        &["finetune.task", "dev.tsv", "label"],
    );
    // --shard 3/2
    assert_bad(
        &["run", s(&f), "--out", o, "--shard", "3/2"],
        &["--shard 3/2"],
    );
    // a study directory made by another study file: refused unless --force
    let (code, _, se) = study(&[
        "run",
        s(&f),
        "--out",
        o,
        "--stage",
        "variants",
        "--shard",
        "1/9",
    ]);
    assert_eq!(code, 0, "{se}");
    write(&good.replacen("name = \"tiny\"\n", "name = \"other\"\n", 1));
    assert_bad(
        &["status", b, "--out", o],
        &["belongs to study \"tiny\"", "--force"],
    );
    let (code, _, se) = study(&["status", b, "--out", o, "--force"]);
    assert_eq!(code, 0, "{se}");
}

#[test]
fn a_failing_unit_is_reported_and_the_others_run() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_study(tmp.path(), &fixture("encoder/tiny-bert"), 2e-2);
    // truncation to 5 layers of a 2-layer model fails in the variants stage only
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("truncate = [1]", "truncate = [5]")
        .replace("\"tiny-trunc1\"]", "\"tiny-trunc5\"]");
    std::fs::write(&f, text).unwrap();
    let out = tmp.path().join("out");
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out)]);
    assert_eq!(code, 2, "{so}\n{se}");
    assert_eq!(done_lines(&so, "variants"), 2, "{so}");
    // the base and the noise variants are probed; the two units of the failed build fail too
    assert_eq!(done_lines(&so, "probe"), 3, "{so}");
    assert!(se.contains("tiny-trunc5-"), "{se}");
    assert_eq!(se.lines().count(), 1, "{se}");
    let (_, so, _) = study(&["status", s(&f), "--out", s(&out)]);
    let v: Vec<&str> = so
        .lines()
        .find(|l| l.starts_with("variants"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(v[..4], ["variants", "2", "0", "1"], "{so}");
}

#[test]
fn slurm_script_chains_one_array_per_stage_and_a_fit_job() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_study(tmp.path(), &fixture("encoder/tiny-bert"), 2e-2);
    let out = tmp.path().join("out");
    let (code, so, se) = study(&[
        "slurm",
        s(&f),
        "--out",
        s(&out),
        "--partition",
        "debug",
        "--time",
        "00:10:00",
        "--cpus-per-task",
        "1",
        "--array-limit",
        "2",
    ]);
    assert_eq!(code, 0, "{so}\n{se}");
    let sc = std::fs::read_to_string(out.join("study.sbatch")).unwrap();
    assert!(sc.starts_with("#!/bin/bash\n#SBATCH"), "{sc}");
    assert!(
        sc.contains("OPTS=(--partition='debug' --time='00:10:00' --cpus-per-task=1)"),
        "{sc}"
    );
    assert!(
        sc.contains("VARIANTS=$(submit --job-name=tiny-variants --array=1-3%2 "),
        "{sc}"
    );
    assert!(
        sc.contains(
            "PROBE=$(submit --dependency=afterok:$VARIANTS --job-name=tiny-probe --array=1-4%2 "
        ),
        "{sc}"
    );
    assert!(sc.contains("FINETUNE=$(submit --dependency=afterok:$VARIANTS --job-name=tiny-finetune --array=1-4%2 "), "{sc}");
    assert!(
        sc.contains(
            "FIT=$(submit --dependency=afterok:$VARIANTS:$PROBE:$FINETUNE --job-name=tiny-fit "
        ),
        "{sc}"
    );
    assert!(
        sc.contains("--stage probe --shard \\${SLURM_ARRAY_TASK_ID}/4"),
        "{sc}"
    );
    // bash accepts it
    let st = std::process::Command::new("bash")
        .arg("-n")
        .arg(out.join("study.sbatch"))
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn the_minilm_mpnet_glue_study_file_lists_30_checkpoints_and_its_units() {
    let file = root().join("studies/minilm-mpnet-glue/study.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    // the file parses whatever is installed
    let spec = probecast::study::file::parse(&file, &text).unwrap();
    assert_eq!(spec.checkpoints.len(), 2);
    assert_eq!(spec.finetune.tasks.len(), 4);
    let have_models = common::minilm_dir().is_some_and(|d| {
        d.parent()
            .unwrap()
            .join("all-mpnet-base-v2/config.json")
            .is_file()
    });
    if !have_models || common::shared_data().is_none() {
        common::skip(
            "all-MiniLM-L6-v2 + all-mpnet-base-v2 (scripts/fetch-models.sh) and ../shared/data",
        );
        return;
    }
    // the file names the models relative to $PROBECAST_MODELS's default; resolve against it
    let study = probecast::study::file::Study::load(&file).unwrap();
    assert_eq!(study.checkpoints.len(), 30);
    assert_eq!(study.builds.len(), 24);
    assert_eq!(study.probe_files.len(), 7);
    let tmp = tempfile::tempdir().unwrap();
    let plan = probecast::study::plan::Plan::new(&study, tmp.path()).unwrap();
    use probecast::study::plan::Stage;
    assert_eq!(plan.stage(Stage::Variants).len(), 24);
    assert_eq!(plan.stage(Stage::Probe).len(), 30);
    // 30 checkpoints x 4 tasks x seed 1, plus seeds 2 and 3 for 6 checkpoints x 4 tasks
    assert_eq!(plan.stage(Stage::Finetune).len(), 30 * 4 + 6 * 4 * 2);
    let three: Vec<&str> = study
        .checkpoints
        .iter()
        .filter(|c| c.seeds.len() == 3)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        three,
        [
            "minilm",
            "mpnet",
            "minilm-noise0.1",
            "minilm-prune0.5",
            "minilm-int4",
            "minilm-corrupt300"
        ]
    );
}

#[test]
fn the_committed_tiny_study_is_the_test_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    write_study(
        tmp.path(),
        Path::new("../../tests/fixtures/encoder/tiny-bert"),
        0.02,
    );
    let dir = root().join("studies/tiny");
    for f in [
        "probing/length.txt",
        "probing/start.txt",
        "RTE/train.tsv",
        "RTE/dev.tsv",
    ] {
        assert_eq!(
            std::fs::read(tmp.path().join(f)).unwrap(),
            std::fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }
    let committed = std::fs::read_to_string(dir.join("study.toml")).unwrap();
    let body: String = committed
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        body,
        std::fs::read_to_string(tmp.path().join("study.toml")).unwrap()
    );
}

#[test]
fn family_runs_only_that_familys_units_and_names_the_families_when_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("encoder/tiny-bert");
    let f = write_study(tmp.path(), &model, 2e-2);
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(
        &f,
        format!(
            "{text}\n[[checkpoint]]\nname = \"twin\"\npath = \"{}\"\nfamily = \"other\"\n",
            model.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("o");
    // only the twin's probing (it is not fine-tuned); no variant, no fit
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out), "--family", "other"]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert_eq!(done_lines(&so, "variants"), 0, "{so}");
    assert_eq!(done_lines(&so, "probe"), 1, "{so}");
    assert!(so.contains("probe twin-"), "{so}");
    assert_eq!(done_lines(&so, "finetune"), 0, "{so}");
    assert!(!so.contains("fit ("), "{so}");
    // then the rest, and the fit, since every unit is now done
    let (code, so, se) = study(&["run", s(&f), "--out", s(&out), "--family", "tiny"]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert_eq!(done_lines(&so, "variants"), 3, "{so}");
    assert_eq!(done_lines(&so, "probe"), 4, "{so}");
    assert_eq!(done_lines(&so, "finetune"), 4, "{so}");
    assert!(so.contains("fit ("), "{so}");
    // every fit table carries the family (the family-mean baseline), and leave one operation
    // out groups by the operation besides
    let head = |p: &str| {
        let t = std::fs::read_to_string(out.join("results").join(p)).unwrap();
        t.lines().next().unwrap().to_string()
    };
    assert!(
        head("table-loo.csv").starts_with("model,family,"),
        "{}",
        head("table-loo.csv")
    );
    assert!(head("table-by-operation.csv").starts_with("model,family,operation,"));
    // the predictor records which column grouped its folds (the report names the scheme by it)
    let p: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results/fit-by-operation/predictor.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(p["settings"]["cv"]["column"], "operation");
    let rows = csv_rows(&out.join("results/fit-loo/summary.csv"));
    let col = |n: &str| rows[0].iter().position(|c| c == n).unwrap();
    for r in &rows[1..] {
        // one fine-tuned family: its family mean is the training mean
        assert!(!r[col("baseline_family_mean")].is_empty(), "{r:?}");
        assert_eq!(r[col("baseline_family_mean")], r[col("baseline_mean")]);
    }
    assert_bad(
        &["run", s(&f), "--out", s(&out), "--family", "nope"],
        &["--family nope", "families: tiny, other"],
    );
}

#[test]
fn checkpoint_runs_only_that_checkpoints_units_with_its_variant_build() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("encoder/tiny-bert");
    let f = write_study(tmp.path(), &model, 2e-2);
    let out = tmp.path().join("o");
    // the noise 0.5 variant: its build, its probing and its one fine-tuning run, nothing else
    let (code, so, se) = study(&[
        "run",
        s(&f),
        "--out",
        s(&out),
        "--checkpoint",
        "tiny-noise0.5",
    ]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert_eq!(done_lines(&so, "variants"), 1, "{so}");
    assert!(so.contains("variants tiny-noise0.5-"), "{so}");
    assert_eq!(done_lines(&so, "probe"), 1, "{so}");
    assert!(so.contains("probe tiny-noise0.5-"), "{so}");
    assert_eq!(done_lines(&so, "finetune"), 1, "{so}");
    assert!(so.contains("finetune tiny-noise0.5-rte-seed1-"), "{so}");
    assert!(!so.contains("fit ("), "{so}");
    // two names: the base (probing, two seeds) and the not-fine-tuned noise 2.0 variant
    let (code, so, se) = study(&[
        "run",
        s(&f),
        "--out",
        s(&out),
        "--checkpoint",
        "tiny",
        "--checkpoint",
        "tiny-noise2",
    ]);
    assert_eq!(code, 0, "{so}\n{se}");
    assert_eq!(done_lines(&so, "variants"), 1, "{so}");
    assert_eq!(done_lines(&so, "probe"), 2, "{so}");
    assert_eq!(done_lines(&so, "finetune"), 2, "{so}");
    // the truncation's units did not run (the fit line names them as missing)
    assert!(
        !so.lines()
            .any(|l| l.contains(" tiny-trunc1") && l.ends_with(" s")),
        "{so}"
    );
    assert!(!so.contains("fit ("), "{so}");
    assert_bad(
        &["run", s(&f), "--out", s(&out), "--checkpoint", "nope"],
        &["--checkpoint nope", "checkpoints: tiny, tiny-noise0.5"],
    );
}
