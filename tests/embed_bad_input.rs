//! `probecast embed` on bad input: exit code 2, one line naming the file and the problem, and
//! no output file written.

mod common;
use common::*;
use std::path::{Path, PathBuf};

struct Case {
    _tmp: tempfile::TempDir,
    model: PathBuf,
    data: PathBuf,
    out: PathBuf,
    cache: PathBuf,
}

fn case() -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    copy_dir(&fixture("encoder/tiny-bert"), &model);
    let data = tmp.path().join("data.txt");
    std::fs::copy(fixture("encoder/tiny_sentences.txt"), &data).unwrap();
    Case {
        model,
        data,
        out: tmp.path().join("out"),
        cache: tmp.path().join("cache"),
        _tmp: tmp,
    }
}

fn run(c: &Case, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "embed",
        "--model",
        c.model.to_str().unwrap(),
        "--data",
        c.data.to_str().unwrap(),
        "--out",
        c.out.to_str().unwrap(),
        "--cache-dir",
        c.cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    probecast(&args)
}

fn assert_no_output(c: &Case) {
    let files: Vec<_> = std::fs::read_dir(&c.out)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "output files written: {files:?}");
}

fn edit_config(dir: &Path, from: &str, to: &str) {
    let p = dir.join("config.json");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{from}");
    std::fs::write(&p, s.replace(from, to)).unwrap();
}

#[test]
fn missing_model_directory() {
    let mut c = case();
    c.model = c.model.join("nope");
    let r = run(&c, &[]);
    assert_user_error(&r, &["model/nope", "no such model directory"]);
}

#[test]
fn missing_config_json() {
    let c = case();
    std::fs::remove_file(c.model.join("config.json")).unwrap();
    assert_user_error(&run(&c, &[]), &["model", "missing config.json"]);
    assert_no_output(&c);
}

#[test]
fn unknown_model_type() {
    let c = case();
    edit_config(&c.model, "\"bert\"", "\"gpt2\"");
    assert_user_error(
        &run(&c, &[]),
        &["config.json", "unknown model_type \"gpt2\""],
    );
    assert_no_output(&c);
}

#[test]
fn truncated_safetensors() {
    let c = case();
    let p = c.model.join("model.safetensors");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() / 2]).unwrap();
    assert_user_error(
        &run(&c, &[]),
        &["model.safetensors", "corrupt or truncated"],
    );
    assert_no_output(&c);
}

#[test]
fn garbage_safetensors_header() {
    let c = case();
    std::fs::write(
        c.model.join("model.safetensors"),
        b"\xff\xff\xff\xff\xff\xff\xff\x7fjunk",
    )
    .unwrap();
    assert_user_error(
        &run(&c, &[]),
        &["model.safetensors", "corrupt or truncated"],
    );
}

#[test]
fn weight_with_the_wrong_shape() {
    let c = case();
    edit_config(
        &c.model,
        "\"intermediate_size\": 37",
        "\"intermediate_size\": 38",
    );
    assert_user_error(
        &run(&c, &[]),
        &[
            "model.safetensors",
            "encoder.layer.0.intermediate.dense.weight has shape [37, 32], expected [38, 32]",
        ],
    );
    assert_no_output(&c);
}

#[test]
fn missing_weight() {
    let c = case();
    let p = c.model.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != "encoder.layer.1.output.dense.bias")
        .collect();
    std::fs::write(&p, safetensors::tensor::serialize(kept, None).unwrap()).unwrap();
    assert_user_error(
        &run(&c, &[]),
        &[
            "model.safetensors",
            "missing weight encoder.layer.1.output.dense.bias",
        ],
    );
    assert_no_output(&c);
}

#[test]
fn missing_tokenizer() {
    let c = case();
    std::fs::remove_file(c.model.join("tokenizer.json")).unwrap();
    std::fs::remove_file(c.model.join("vocab.txt")).unwrap();
    assert_user_error(&run(&c, &[]), &["model", "missing tokenizer"]);
    assert_no_output(&c);
}

#[test]
fn empty_data_file() {
    let c = case();
    std::fs::write(&c.data, "").unwrap();
    assert_user_error(&run(&c, &[]), &["data.txt", "empty data file"]);
    assert!(!c.out.exists());
}

#[test]
fn data_line_without_three_fields() {
    let c = case();
    std::fs::write(&c.data, "tr\tA\tfine .\ntr\tno sentence here\n").unwrap();
    assert_user_error(
        &run(&c, &[]),
        &["data.txt:2", "expected 3 tab-separated fields"],
    );
}

#[test]
fn unknown_split_name() {
    let c = case();
    std::fs::write(&c.data, "train\tA\tHello .\n").unwrap();
    assert_user_error(&run(&c, &[]), &["data.txt:1", "unknown split \"train\""]);
}

#[test]
fn non_utf8_input() {
    let c = case();
    std::fs::write(&c.data, b"tr\tA\tcaf\xe9 .\n").unwrap();
    assert_user_error(&run(&c, &[]), &["data.txt", "not valid UTF-8"]);
}

#[test]
fn max_length_zero_or_above_the_position_limit() {
    let c = case();
    assert_user_error(
        &run(&c, &["--max-length", "0"]),
        &["--max-length 0 is too small"],
    );
    assert_user_error(
        &run(&c, &["--max-length", "131"]),
        &[
            "model",
            "--max-length 131 exceeds the model's position limit of 130 tokens",
        ],
    );
    assert_no_output(&c);
}

#[test]
fn unwritable_out() {
    let mut c = case();
    // A directory cannot be created below a regular file (this holds even for root).
    c.out = c.data.join("out");
    assert_user_error(
        &run(&c, &[]),
        &["data.txt/out", "cannot create output directory"],
    );
}

#[test]
fn killed_run_leaves_no_partial_file_in_cache_or_out() {
    let Some(model) = minilm_dir() else {
        skip("all-MiniLM-L6-v2 (scripts/fetch-models.sh)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("big.txt");
    let mut s = String::new();
    for i in 0..3000 {
        s.push_str(&format!(
            "tr\tA\tSentence number {i} is about the quiet river and the old stone bridge .\n"
        ));
    }
    std::fs::write(&data, s).unwrap();
    for delay_ms in [300u64, 1500] {
        let out = tmp.path().join(format!("out{delay_ms}"));
        let cache = tmp.path().join(format!("cache{delay_ms}"));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_probecast"))
            .args([
                "embed",
                "--model",
                model.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ])
            .arg("--out")
            .arg(&out)
            .arg("--cache-dir")
            .arg(&cache)
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever exists under a final name is complete: every safetensors file loads.
        for dir in [out.clone(), cache.join("features")] {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = e.path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with(".probecast-") {
                    continue; // a temp file no reader ever opens
                }
                if name.ends_with(".safetensors") {
                    probecast::features::cache::load_features(&p).expect("complete file");
                }
                if name.ends_with(".json") {
                    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&p).unwrap())
                        .expect("complete json");
                }
            }
        }
    }
}
