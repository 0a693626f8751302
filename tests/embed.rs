//! `probecast embed` and the encoder stage, end to end: agreement with PyTorch + transformers
//! (fixtures made by bench/python/reference_hidden_states.py), invariances, the cache, bad input.

mod common;
use common::*;
use probecast::data::senteval;
use probecast::encoder::{embed_sentences, LoadedModel, PooledFeatures, Pooling};
use probecast::features::cache::load_features;
use std::collections::BTreeMap;
use std::path::Path;

fn reference(path: &Path, prefix: &str, pooling: &str) -> Vec<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = Vec::new();
    for k in 0.. {
        match st.tensor(&format!("{prefix}{pooling}_layer_{k}")) {
            Ok(t) => out.push((
                t.shape().to_vec(),
                t.data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )),
            Err(_) => break,
        }
    }
    assert!(
        !out.is_empty(),
        "no reference tensors in {}",
        path.display()
    );
    out
}

/// Max |a - b| over every layer, checking shapes.
fn max_diff(ours: &PooledFeatures, refs: &[(Vec<usize>, Vec<f32>)]) -> f32 {
    assert_eq!(ours.layers.len(), refs.len(), "hidden state count");
    let mut m = 0f32;
    for (l, (shape, r)) in ours.layers.iter().zip(refs) {
        assert_eq!(shape, &vec![ours.n, ours.dim]);
        for (a, b) in l.iter().zip(r) {
            m = m.max((a - b).abs());
        }
    }
    m
}

fn tiny_sentences() -> Vec<String> {
    senteval::read(&fixture("encoder/tiny_sentences.txt"))
        .unwrap()
        .examples
        .into_iter()
        .map(|e| e.sentence)
        .collect()
}

fn embed(
    dir: &Path,
    sents: &[String],
    max_len: usize,
    bs: usize,
) -> BTreeMap<Pooling, PooledFeatures> {
    let m = LoadedModel::load(dir, max_len).unwrap();
    embed_sentences(
        &m,
        sents,
        &[Pooling::Cls, Pooling::Mean],
        bs,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap()
    .0
}

fn check_against_reference(model_dir: &Path, reference_file: &Path, prefix: &str, max_len: usize) {
    let f = embed(model_dir, &tiny_sentences(), max_len, 5);
    for p in [Pooling::Cls, Pooling::Mean] {
        let d = max_diff(&f[&p], &reference(reference_file, prefix, p.name()));
        assert!(d <= 1e-4, "{} {p}: max abs diff {d}", model_dir.display());
    }
}

#[test]
fn tiny_bert_matches_transformers_at_every_layer() {
    let d = fixture("encoder/tiny-bert");
    check_against_reference(&d, &d.join("reference.safetensors"), "", 128);
}

#[test]
fn tiny_bert_truncated_to_8_tokens_matches_transformers() {
    let d = fixture("encoder/tiny-bert");
    check_against_reference(&d, &d.join("reference.safetensors"), "trunc8_", 8);
}

#[test]
fn tiny_bert_with_only_vocab_txt_matches_transformers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    copy_dir(&fixture("encoder/tiny-bert"), &d);
    std::fs::remove_file(d.join("tokenizer.json")).unwrap();
    check_against_reference(
        &d,
        &fixture("encoder/tiny-bert/reference.safetensors"),
        "",
        128,
    );
}

#[test]
fn tiny_bert_from_pytorch_model_bin_matches_transformers() {
    let d = fixture("encoder/tiny-bert-bin");
    assert!(d.join("pytorch_model.bin").is_file() && !d.join("model.safetensors").exists());
    check_against_reference(
        &d,
        &fixture("encoder/tiny-bert/reference.safetensors"),
        "",
        128,
    );
}

#[test]
fn tiny_roberta_matches_transformers_at_every_layer() {
    let d = fixture("encoder/tiny-roberta");
    check_against_reference(&d, &d.join("reference.safetensors"), "", 128);
}

#[test]
fn tiny_xlm_roberta_matches_transformers_at_every_layer() {
    let d = fixture("encoder/tiny-xlm-roberta");
    check_against_reference(&d, &d.join("reference.safetensors"), "", 128);
}

#[test]
fn tiny_distilbert_matches_transformers_at_every_layer() {
    let d = fixture("encoder/tiny-distilbert");
    check_against_reference(&d, &d.join("reference.safetensors"), "", 128);
}

#[test]
fn minilm_matches_transformers_at_every_layer_both_poolings() {
    let (Some(model), Some(data)) = (minilm_dir(), shared_data()) else {
        skip("all-MiniLM-L6-v2 (scripts/fetch-models.sh) or ../shared/data");
        return;
    };
    // The same 30 sentences as bench/python/reference_hidden_states.py: first 10 lines of 3 files.
    let mut sents = Vec::new();
    for f in ["bigram_shift.txt", "past_present.txt", "subj_number.txt"] {
        let d = senteval::read(&data.join("senteval_probing_sample").join(f)).unwrap();
        sents.extend(d.examples.into_iter().take(10).map(|e| e.sentence));
    }
    let f = embed(&model, &sents, 128, 8);
    let r = fixture("encoder/minilm_reference.safetensors");
    for p in [Pooling::Cls, Pooling::Mean] {
        let refs = reference(&r, "", p.name());
        assert_eq!(refs.len(), 7, "6 layers + embeddings");
        let d = max_diff(&f[&p], &refs);
        assert!(d <= 1e-4, "MiniLM {p}: max abs diff {d}");
    }
}

#[test]
fn cls_only_extraction_equals_cls_of_a_full_pass_and_matches_transformers() {
    // With only [CLS] requested the last layer stops at the first token; its features must be
    // those of the full pass (and of transformers) at every layer.
    for model in [
        "encoder/tiny-bert",
        "encoder/tiny-roberta",
        "encoder/tiny-distilbert",
    ] {
        let d = fixture(model);
        let s = tiny_sentences();
        let full = embed(&d, &s, 128, 3);
        let m = LoadedModel::load(&d, 128).unwrap();
        let (cls, _) = embed_sentences(
            &m,
            &s,
            &[Pooling::Cls],
            3,
            &indicatif::ProgressBar::hidden(),
        )
        .unwrap();
        let (a, b) = (&cls[&Pooling::Cls], &full[&Pooling::Cls]);
        assert_eq!(a.layers.len(), b.layers.len());
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            for (x, y) in la.iter().zip(lb) {
                assert!((x - y).abs() < 1e-5, "{model}: cls-only {x} vs full {y}");
            }
        }
        let refs = reference(&d.join("reference.safetensors"), "", "cls");
        assert!(max_diff(a, &refs) <= 1e-4, "{model}");
    }
}

#[test]
fn features_do_not_depend_on_batch_size_padding_or_order() {
    let d = fixture("encoder/tiny-roberta");
    let s = tiny_sentences();
    let a = embed(&d, &s, 128, 1);
    let b = embed(&d, &s, 128, 32);
    let rev: Vec<String> = s.iter().rev().cloned().collect();
    let c = embed(&d, &rev, 128, 3);
    let n = s.len();
    for p in [Pooling::Cls, Pooling::Mean] {
        for k in 0..a[&p].layers.len() {
            for i in 0..n {
                let (ra, rb, rc) = (a[&p].row(k, i), b[&p].row(k, i), c[&p].row(k, n - 1 - i));
                for j in 0..ra.len() {
                    assert!(
                        (ra[j] - rb[j]).abs() < 1e-5,
                        "batch size changed {p} layer {k} row {i}"
                    );
                    assert!(
                        (ra[j] - rc[j]).abs() < 1e-5,
                        "order changed {p} layer {k} row {i}"
                    );
                }
            }
        }
    }
}

#[test]
fn embed_writes_features_labels_manifest_and_second_run_hits_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cache = tmp.path().join("cache");
    let model = fixture("encoder/tiny-distilbert");
    let data = fixture("encoder/tiny_sentences.txt");
    let args = [
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--batch-size",
        "4",
    ];
    let r = probecast(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let cls = load_features(&out.join("cls.safetensors")).unwrap();
    let mean = load_features(&out.join("mean.safetensors")).unwrap();
    assert_eq!((cls.n, cls.dim, cls.layers.len()), (12, 32, 3));
    let refs = reference(&model.join("reference.safetensors"), "", "mean");
    assert!(max_diff(&mean, &refs) <= 1e-4);
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("labels.json")).unwrap()).unwrap();
    assert_eq!(labels[0], serde_json::json!({"split": "tr", "label": "B"}));
    assert_eq!(labels[11], serde_json::json!({"split": "te", "label": "A"}));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["command"], "embed");
    assert_eq!(m["embed"]["cache_hit"], false);
    assert_eq!(m["settings"]["max_length"], 128);
    assert_eq!(m["inputs"][0]["role"], "model");
    assert_eq!(m["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        m["outputs"],
        serde_json::json!(["cls.safetensors", "mean.safetensors", "labels.json"])
    );
    // Second run: served from the cache, no forward pass, identical files.
    let out2 = tmp.path().join("out2");
    let mut args2 = args;
    args2[6] = out2.to_str().unwrap();
    let r = probecast(&args2);
    assert!(r.status.success());
    assert!(String::from_utf8_lossy(&r.stdout).contains("(from cache)"));
    let m2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        (
            m2["embed"]["cache_hit"].clone(),
            m2["embed"]["tokens"].clone()
        ),
        (serde_json::json!(true), serde_json::json!(0))
    );
    assert_eq!(
        std::fs::read(out.join("cls.safetensors")).unwrap(),
        std::fs::read(out2.join("cls.safetensors")).unwrap()
    );
}

#[test]
fn model_id_resolves_inside_a_local_hugging_face_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp
        .path()
        .join("hub/models--acme--tiny-bert/snapshots/abc123");
    copy_dir(&fixture("encoder/tiny-bert"), &snap);
    std::fs::create_dir_all(tmp.path().join("hub/models--acme--tiny-bert/refs")).unwrap();
    std::fs::write(
        tmp.path().join("hub/models--acme--tiny-bert/refs/main"),
        "abc123",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_probecast"))
        .env("HF_HOME", tmp.path())
        .env_remove("HF_HUB_CACHE")
        .args(["embed", "--model", "acme/tiny-bert", "--data"])
        .arg(fixture("encoder/tiny_sentences.txt"))
        .arg("--out")
        .arg(&out)
        .arg("--cache-dir")
        .arg(tmp.path().join("c"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let f = load_features(&out.join("cls.safetensors")).unwrap();
    let refs = reference(
        &fixture("encoder/tiny-bert/reference.safetensors"),
        "",
        "cls",
    );
    assert!(max_diff(&f, &refs) <= 1e-4);
    // An id that is not cached, offline: a clear error, no download attempted (downloads are
    // tested against a local server in tests/hub.rs).
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_probecast"))
        .env("HF_HOME", tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["embed", "--model", "acme/absent", "--data"])
        .arg(fixture("encoder/tiny_sentences.txt"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_user_error(&r, &["acme/absent", "not in the local Hugging Face cache"]);
}

#[test]
fn sequential_and_parallel_forward_passes_and_thread_counts_give_identical_features() {
    // The probing pipeline runs one batch per thread with a sequential forward pass; the
    // numbers must be bit for bit those of the parallel pass and of any thread count.
    use probecast::encoder::model::Batch;
    for model in ["encoder/tiny-bert", "encoder/tiny-roberta"] {
        let d = fixture(model);
        let m = LoadedModel::load(&d, 128).unwrap();
        let s = tiny_sentences();
        let ids = m.tokenizer.encode_all(&s).unwrap();
        let seq = ids.iter().map(Vec::len).max().unwrap();
        let pad = m.encoder.pad_token_id();
        let mut batch = Batch {
            ids: vec![pad; ids.len() * seq],
            type_ids: vec![0; ids.len() * seq],
            lengths: ids.iter().map(Vec::len).collect(),
            seq,
        };
        for (r, t) in ids.iter().enumerate() {
            batch.ids[r * seq..r * seq + t.len()].copy_from_slice(t);
        }
        let pool2 = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for cls_only in [false, true] {
            let par = pool2
                .install(|| m.encoder.forward_packed_with(&batch, cls_only, true))
                .unwrap();
            let seq_pass = m
                .encoder
                .forward_packed_with(&batch, cls_only, false)
                .unwrap();
            assert_eq!(par.states, seq_pass.states, "{model} cls_only={cls_only}");
        }
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| embed(&d, &s, 128, 2));
        let two = pool2.install(|| embed(&d, &s, 128, 2));
        assert_eq!(one, two, "{model}");
    }
}
