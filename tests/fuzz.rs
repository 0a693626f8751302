//! Property tests (issue #15): every input parser returns `Ok` or a clean `Err` on arbitrary and
//! mutated input, and never panics. Each parser gets arbitrary text/bytes and mutations (byte
//! flips, insertions, deletions, truncation, line duplication) of a valid seed input.
//!
//! CI runs a short pass (`PROPTEST_CASES` unset: 64 cases per parser, a few seconds in all).
//! The long run documented in docs/bad-inputs.md:
//! `PROPTEST_CASES=20000 nice -n 10 cargo test --release --test fuzz`.

use probecast::data::{conllu, glue, ptb, senteval, tagged};
use probecast::encoder::config::EncoderConfig;
use probecast::encoder::tokenizer::TextTokenizer;
use probecast::encoder::weights::Weights;
use probecast::predict::{persist, table};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

mod common;

/// Cases per property: `PROPTEST_CASES` or 64.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One mutation of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the formats: structure characters, digits, signs, odd whitespace.
    let interesting =
        prop::sample::select(b"\t\n\r ,;:()[]{}\"'\\-+.0123456789eEnN_#=/\x00\xff\xc3".to_vec());
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), prop::collection::vec(interesting, 1..8))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for e in edits {
        let n = v.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if !v.is_empty() {
                    let i = i % v.len();
                    v[i] = *b;
                }
            }
            Edit::Insert(i, bs) => {
                let i = i % (v.len() + 1);
                v.splice(i..i, bs.iter().copied());
            }
            Edit::Delete(i, k) => {
                let i = i % n;
                let j = (i + k).min(v.len());
                if i < j {
                    v.drain(i..j);
                }
            }
            Edit::Truncate(i) => v.truncate(i % n),
            Edit::DuplicateLine(i) => {
                let lines: Vec<&[u8]> = v.split(|&b| b == b'\n').collect();
                let k = i % lines.len();
                let mut out = Vec::new();
                for (j, l) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    if j == k {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                    }
                }
                v = out;
            }
        }
    }
    v
}

/// Arbitrary input: either random bytes, or a mutation of `seed`.
fn input(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(edit(), 1..6).prop_map(move |e| apply(seed, &e)),
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch file holding `bytes`.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

const SENTEVAL: &[u8] =
    b"tr\tA\tThe cat sat .\ntr\tB\tShe reads .\nva\tA\tA dog .\nte\tB\tBirds sing .\n";
const GLUE: &[u8] = b"index\tsentence1\tsentence2\tlabel\n0\tthe cat .\tthe dog .\tentailment\n1\ta b\tc d\tnot_entailment\n";
const CONLLU: &[u8] = b"# sent_id = 1\n1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\tNN\tNumber=Sing\t3\tnsubj\t_\t_\n3\tsat\tsit\tVERB\tVBD\tTense=Past\t0\troot\t_\t_\n\n";
const PTB: &[u8] = b"( (S (NP-SBJ (DT The) (NNS dogs)) (VP (VBD chased) (NP (DT a) (NN cat))) (. .)) )\n(ROOT (S (NP (NNP Mary)) (VP (VBZ runs))))\n";
const TAGGED: &[u8] = b"The/at dog/nn barked/vbd ./.\nShe/pps reads/vbz books/nns ./.\n";
const CONFIG: &[u8] = br#"{"model_type":"bert","hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":37,"vocab_size":120,"max_position_embeddings":130,"type_vocab_size":2,"layer_norm_eps":1e-12,"hidden_act":"gelu","pad_token_id":0}"#;
const FEATURES: &[u8] =
    b"model,family,a,b\nm1,f1,0.5,1.5\nm2,f1,0.25,2\nm3,f2,0.75,-1\nm4,f2,1e-3,NaN\n";
const TARGETS: &[u8] = b"model,rte\nm1,0.5\nm2,0.6\nm3,0.7\nm4,0.65\n";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn senteval_lines_never_panic(b in input(SENTEVAL)) {
        let _ = senteval::parse(Path::new("t.txt"), &text(&b));
    }

    #[test]
    fn conllu_never_panics(b in input(CONLLU)) {
        let _ = conllu::parse(&text(&b));
    }

    #[test]
    fn bracketed_trees_never_panic(b in input(PTB)) {
        if let Ok(trees) = ptb::parse_trees(&text(&b)) {
            for t in trees {
                let _ = (t.depth(), t.words(), t.to_bracketed());
            }
        }
    }

    #[test]
    fn tagged_text_never_panics(b in input(TAGGED)) {
        let _ = tagged::parse(&text(&b));
    }

    #[test]
    fn config_json_never_panics(b in input(CONFIG)) {
        if let Ok(c) = EncoderConfig::parse(Path::new("config.json"), &text(&b)) {
            let _ = c.max_input_tokens();
        }
    }

    #[test]
    fn glue_tsv_never_panics(b in input(GLUE)) {
        let d = tempfile::tempdir().unwrap();
        let spec = glue::task_spec("rte").expect("rte");
        let _ = glue::read_split(spec, &file(d.path(), "dev.tsv", &b));
    }

    #[test]
    fn features_and_targets_csv_never_panic(f in input(FEATURES), t in input(TARGETS)) {
        let d = tempfile::tempdir().unwrap();
        let opts = table::TableSettings {
            id_column: "model".into(),
            targets_file: Some(file(d.path(), "targets.csv", &t)),
            ..table::TableSettings::default()
        };
        let _ = table::load(&file(d.path(), "features.csv", &f), &opts);
    }

    #[test]
    fn safetensors_headers_never_panic(b in input(SAFETENSORS.as_slice())) {
        let d = tempfile::tempdir().unwrap();
        let _ = Weights::load(&file(d.path(), "model.safetensors", &b));
    }

    #[test]
    fn tokenizer_json_never_panics(b in input(TOKENIZER.as_slice())) {
        let d = tempfile::tempdir().unwrap();
        file(d.path(), "tokenizer.json", &b);
        if let Ok(t) = TextTokenizer::from_dir(d.path(), 16) {
            let _ = t.encode_all(&["the cat sat".to_string()]);
        }
    }

    #[test]
    fn predictor_json_never_panics(b in input(PREDICTOR.as_slice())) {
        let d = tempfile::tempdir().unwrap();
        let p = file(d.path(), "predictor.json", &b);
        if let Ok(pf) = persist::load(&p) {
            let feats = file(d.path(), "features.csv", FEATURES);
            let _ = persist::apply(&pf, &feats, None, true);
        }
    }
}

static SAFETENSORS: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    // A small valid file: header + two tensors, so mutations hit the header and the offsets.
    let mut t = std::collections::HashMap::new();
    t.insert(
        "a".to_string(),
        candle_core::Tensor::new(&[1f32, 2., 3., 4.], &candle_core::Device::Cpu).unwrap(),
    );
    t.insert(
        "b".to_string(),
        candle_core::Tensor::new(&[1i64, 2], &candle_core::Device::Cpu).unwrap(),
    );
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.safetensors");
    candle_core::safetensors::save(&t, &p).unwrap();
    std::fs::read(p).unwrap()
});

static TOKENIZER: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    std::fs::read(common::fixture("encoder/tiny-bert/tokenizer.json")).unwrap()
});

static PREDICTOR: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    serde_json::to_vec_pretty(&serde_json::json!({
        "format": persist::FORMAT,
        "probecast_version": "0.1.0",
        "protocol": "honest",
        "id_column": "model",
        "training_data_sha256": "00",
        "training_rows": 4,
        "settings": {},
        "targets": [{
            "target": "rte",
            "method": {"name": "ridge"},
            "features": ["a", "b"],
            "means": [0.5, 1.0],
            "scales": [0.25, 1.0],
            "coefficients": [0.1, -0.2],
            "intercept": 0.6,
            "raw_coefficients": [0.4, -0.2],
            "raw_intercept": 0.6,
            "penalty": 1.0,
            "coverage": 0.9,
            "interval_half_width": 0.05,
            "validation": {}
        }]
    }))
    .unwrap()
});

#[test]
fn the_predictor_seed_is_a_valid_predictor() {
    // Otherwise the mutations above would only ever exercise the JSON error path.
    let d = tempfile::tempdir().unwrap();
    let p = file(d.path(), "predictor.json", &PREDICTOR);
    persist::load(&p).expect("seed predictor loads");
}
