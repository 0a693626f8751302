//! The encoder families beyond BERT (MPNet, ELECTRA, ALBERT, DeBERTa-v2/v3, DeBERTa v1, XLNet,
//! ModernBERT) against transformers: tiny random
//! checkpoints and reference hidden states made by bench/python/make_arch_fixtures.py, every
//! hidden state and cls / first / mean pooling within 1e-4, with padding (one batch of
//! sentences of different lengths) and truncation (max_length 7); the real all-mpnet-base-v2
//! against transformers (bench/python/mpnet_reference.py); `probecast probe` on each tiny
//! checkpoint; bad input.

mod common;
use common::{assert_user_error, copy_dir, fixture, probecast, skip};
use probecast::encoder::extract::{embed_sentences, LoadedModel};
use probecast::encoder::model::Batch;
use probecast::encoder::Pooling;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const TOL: f32 = 1e-4;

fn load_ref(path: &Path) -> HashMap<String, candle_core::Tensor> {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f32s(t: &candle_core::Tensor) -> Vec<f32> {
    t.to_dtype(candle_core::DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn i64s(t: &candle_core::Tensor) -> Vec<i64> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn sentences() -> Vec<String> {
    std::fs::read_to_string(fixture("arch/sentences.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Compare one family's tiny checkpoint with the reference, for one case (`full`, `trunc`).
fn check_case(dir: &Path, reference: &Path, case: &str, max_length: usize, sents: &[String]) {
    let r = load_ref(reference);
    let m = LoadedModel::load(dir, max_length).unwrap();
    // token ids: the same as the transformers tokenizer, row by row
    let ids = m.tokenizer.encode_all(sents).unwrap();
    let ref_ids = &r[&format!("{case}_ids")];
    let (n, s) = ref_ids.dims2().unwrap();
    let ref_ids = i64s(ref_ids);
    let lengths: Vec<usize> = i64s(&r[&format!("{case}_lengths")])
        .iter()
        .map(|&l| l as usize)
        .collect();
    assert_eq!(ids.len(), n);
    for (i, row) in ids.iter().enumerate() {
        assert_eq!(row.len(), lengths[i], "{case} sentence {i} length");
        let want: Vec<u32> = ref_ids[i * s..i * s + lengths[i]]
            .iter()
            .map(|&x| x as u32)
            .collect();
        assert_eq!(row, &want, "{case} sentence {i} ids");
    }
    // every hidden state at every real position, one padded batch
    let pad = m.encoder.pad_token_id();
    let mut batch = Batch {
        ids: vec![pad; n * s],
        type_ids: vec![0; n * s],
        lengths: lengths.clone(),
        seq: s,
    };
    for (i, row) in ids.iter().enumerate() {
        batch.ids[i * s..i * s + row.len()].copy_from_slice(row);
    }
    let states = m.encoder.forward(&batch).unwrap();
    assert_eq!(states.len(), m.encoder.num_hidden_states());
    let nl = states.len();
    assert!(r.contains_key(&format!("{case}_mean_{}", nl - 1)));
    assert!(!r.contains_key(&format!("{case}_mean_{nl}")), "layer count");
    let h = m.encoder.hidden_size();
    // (the real-model reference holds pooled vectors only)
    let per_token = r.contains_key(&format!("{case}_hidden_0"));
    for (k, st) in states.iter().enumerate().filter(|_| per_token) {
        let ours = f32s(st);
        let want = f32s(&r[&format!("{case}_hidden_{k}")]);
        let mut worst = 0f32;
        for (i, &len) in lengths.iter().enumerate() {
            for t in 0..len {
                for j in 0..h {
                    let idx = (i * s + t) * h + j;
                    worst = worst.max((ours[idx] - want[idx]).abs());
                }
            }
        }
        assert!(
            worst <= TOL,
            "{case} hidden state {k}: max abs diff {worst}"
        );
    }
    // pooled through the extraction path (length-sorted batches of 4)
    let pools = [Pooling::Cls, Pooling::Mean, Pooling::First];
    let (f, _) = embed_sentences(&m, sents, &pools, 4, &indicatif::ProgressBar::hidden()).unwrap();
    for p in pools {
        let p_ref = if r.contains_key(&format!("{case}_{}_0", p.name())) {
            p
        } else {
            Pooling::Cls // first = cls except for XLNet
        };
        for k in 0..nl {
            let want = f32s(&r[&format!("{case}_{}_{k}", p_ref.name())]);
            let ours = &f[&p].layers[k];
            let worst = ours
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= TOL, "{case} {p} layer {k}: max abs diff {worst}");
        }
    }
}

fn check_family(family: &str) {
    let d = fixture(&format!("arch/{family}"));
    let r = d.join("reference.safetensors");
    let s = sentences();
    check_case(&d, &r, "full", 64, &s);
    check_case(&d, &r, "trunc", 7, &s);
}

#[test]
fn tiny_mpnet_matches_transformers_at_every_layer_and_pooling_within_1e_4() {
    check_family("mpnet");
}

#[test]
fn tiny_electra_with_embedding_projection_matches_transformers_within_1e_4() {
    check_family("electra");
}

#[test]
fn tiny_albert_with_two_shared_groups_over_four_layers_matches_transformers_within_1e_4() {
    check_family("albert");
}

#[test]
fn tiny_deberta_v3_shaped_with_log_buckets_conv_and_projection_matches_transformers_within_1e_4() {
    check_family("deberta-v2");
}

#[test]
fn tiny_deberta_v1_with_fused_projections_and_clamped_relative_positions_matches_transformers_within_1e_4(
) {
    check_family("deberta");
}

#[test]
fn tiny_deberta_v1_shaped_as_deberta_base_relative_positions_only_matches_transformers_within_1e_4()
{
    // position_biased_input false, max_relative_positions -1 (the table spans the positions),
    // pos_att_type as a list: microsoft/deberta-base's settings
    check_family("deberta-base-shaped");
}

#[test]
fn tiny_xlnet_content_stream_with_cls_last_matches_left_padded_transformers_within_1e_4() {
    check_family("xlnet");
}

#[test]
fn tiny_modernbert_with_rotary_geglu_and_a_sliding_window_layer_matches_transformers_within_1e_4() {
    check_family("modernbert");
}

#[test]
fn xlnet_cls_pooling_is_the_last_token_and_first_pooling_the_first() {
    // the two poolings differ on XLNet (on the other families they are the same vector)
    let d = fixture("arch/xlnet");
    let m = LoadedModel::load(&d, 64).unwrap();
    assert!(m.encoder.cls_is_last());
    let s = sentences();
    let pools = [Pooling::Cls, Pooling::First];
    let (f, _) = embed_sentences(&m, &s, &pools, 4, &indicatif::ProgressBar::hidden()).unwrap();
    let last = f[&Pooling::Cls].layers.len() - 1;
    assert_ne!(
        f[&Pooling::Cls].row(last, 0),
        f[&Pooling::First].row(last, 0)
    );
    let r = load_ref(&d.join("reference.safetensors"));
    let ids = i64s(&r["full_ids"]);
    let lengths = i64s(&r["full_lengths"]);
    let seq = ids.len() / lengths.len();
    // <sep> <cls> close every row (the tokenizer's template), so cls pooling reads <cls>
    let tok = m.tokenizer.encode_all(&s).unwrap();
    for (i, row) in tok.iter().enumerate() {
        assert_eq!(
            row[row.len() - 1] as i64,
            ids[i * seq + lengths[i] as usize - 1]
        );
        assert_eq!(row[row.len() - 1], 3, "<cls> last");
        assert_eq!(row[row.len() - 2], 4, "<sep> before it");
    }
}

/// all-mpnet-base-v2 from scripts/fetch-models.sh, if present.
fn mpnet_dir() -> Option<PathBuf> {
    let base = std::env::var("PROBECAST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/probecast/models")
        });
    let p = base.join("all-mpnet-base-v2");
    p.join("model.safetensors").is_file().then_some(p)
}

#[test]
fn real_all_mpnet_base_v2_matches_transformers_at_every_layer_within_1e_4() {
    let Some(d) = mpnet_dir() else {
        skip("all-mpnet-base-v2 not fetched (run scripts/fetch-models.sh)");
        return;
    };
    let s = sentences();
    let r = fixture("arch/mpnet_real_reference.safetensors");
    check_case(&d, &r, "full", 64, &s[..4]);
}

/// Every family with a tiny fixture, in the order `probe` gets them.
const FAMILIES: [&str; 7] = [
    "mpnet",
    "electra",
    "albert",
    "deberta-v2",
    "deberta",
    "xlnet",
    "modernbert",
];

fn word_task() -> String {
    let a = ["the", "cat", "sat", "on", "mat", "dog", "barked"];
    let b = ["she", "reads", "books", "every", "evening", "birds", "sing"];
    let mut s = String::new();
    for (split, n) in [("tr", 20), ("te", 10)] {
        for i in 0..n {
            for (label, words) in [("A", &a), ("B", &b)] {
                let w: Vec<&str> = (0..4 + i % 3).map(|j| words[(i * 3 + j * 5) % 7]).collect();
                s.push_str(&format!("{split}\t{label}\t{} .\n", w.join(" ")));
            }
        }
    }
    s
}

/// `probecast probe` of `models` on the small two-class word task (written into `dir`), one
/// seed, 16 training examples per class, plus `extra` flags; returns features.csv.
fn probe_words(models: &[PathBuf], dir: &Path, extra: &[&str]) -> String {
    let task = dir.join("words.txt");
    std::fs::write(&task, word_task()).unwrap();
    let out = dir.join("probe-out");
    let mut args: Vec<String> = vec!["probe".into()];
    for m in models {
        args.push("--model".into());
        args.push(m.display().to_string());
    }
    for a in [
        "--tasks",
        task.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--train-per-class",
        "16",
        "--seeds",
        "1",
        "--metrics",
        "acc",
        "--max-length",
        "32",
        "--cache-dir",
        dir.join("cache").to_str().unwrap(),
    ]
    .iter()
    .chain(extra)
    {
        args.push(a.to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = probecast(&argv);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out.join("features.csv")).unwrap()
}

#[test]
fn probe_runs_on_every_new_family_and_writes_first_pooling_columns() {
    let d = tempfile::tempdir().unwrap();
    let models: Vec<PathBuf> = FAMILIES
        .iter()
        .map(|f| fixture(&format!("arch/{f}")))
        .collect();
    let text = probe_words(&models, d.path(), &["--pooling", "cls,first,mean"]);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for col in [
        "words_layer_0",
        "words_layer_2__first",
        "words_layer_2__mean",
    ] {
        assert!(header.contains(&col), "{header:?} lacks {col}");
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, FAMILIES);
    for r in &rows {
        for v in &r[1..] {
            if let Ok(x) = v.parse::<f64>() {
                assert!((0.0..=1.0).contains(&x), "{r:?}");
            }
        }
    }
    // ALBERT: 4 layers → hidden states 0..=4
    assert!(header.contains(&"words_layer_4"));
}

fn embed_args<'a>(model: &'a str, data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["embed", "--model", model, "--data", data, "--out", out]
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn bad_checkpoints_of_new_families_exit_2_with_one_line_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data.txt");
    std::fs::write(&data, "tr\tA\tthe cat sat .\nte\tB\tthe dog .\n").unwrap();
    let out = d.path().join("out");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());
    let cache = d.path().join("cache");
    let run = |m: &Path| {
        let mut a = embed_args(m.to_str().unwrap(), data_s, out_s);
        a.extend(["--cache-dir", cache.to_str().unwrap(), "--max-length", "32"]);
        probecast(&a)
    };

    // an architecture still unsupported names the supported list
    let gpt = d.path().join("gpt");
    copy_dir(&fixture("arch/electra"), &gpt);
    edit_config(&gpt, |v| v["model_type"] = "gpt2".into());
    assert_user_error(
        &run(&gpt),
        &[
            "config.json",
            "unknown model_type \"gpt2\"",
            "mpnet, electra, albert, deberta-v2, deberta, xlnet, modernbert",
        ],
    );

    // DeBERTa-v2 with an attention type it does not know
    let deb = d.path().join("deberta");
    copy_dir(&fixture("arch/deberta-v2"), &deb);
    edit_config(&deb, |v| {
        v["pos_att_type"] = serde_json::json!(["c2p", "p2p"])
    });
    assert_user_error(
        &run(&deb),
        &[
            "config.json",
            "unknown pos_att_type \"p2p\" (supported: c2p, p2c)",
        ],
    );

    // DeBERTa v1 with an attention type it does not know, and with talking heads
    let deb1 = d.path().join("deberta1");
    copy_dir(&fixture("arch/deberta"), &deb1);
    edit_config(&deb1, |v| v["pos_att_type"] = "c2p|p2p".into());
    assert_user_error(
        &run(&deb1),
        &[
            "config.json",
            "unknown pos_att_type \"p2p\" (supported: c2p, p2c)",
        ],
    );
    edit_config(&deb1, |v| {
        v["pos_att_type"] = "c2p".into();
        v["talking_head"] = true.into();
    });
    assert_user_error(
        &run(&deb1),
        &["config.json", "talking_head is not supported"],
    );

    // XLNet in its one-directional (language model) setting
    let xl = d.path().join("xlnet");
    copy_dir(&fixture("arch/xlnet"), &xl);
    edit_config(&xl, |v| v["attn_type"] = "uni".into());
    assert_user_error(
        &run(&xl),
        &["config.json", "attn_type \"uni\" is not supported"],
    );

    // ModernBERT with scaled rotary positions
    let mb = d.path().join("modernbert");
    copy_dir(&fixture("arch/modernbert"), &mb);
    edit_config(&mb, |v| {
        v["rope_parameters"]["full_attention"]["rope_type"] = "yarn".into()
    });
    assert_user_error(
        &run(&mb),
        &[
            "config.json",
            "rope_type \"yarn\" of full_attention is not supported",
        ],
    );

    // ALBERT groups that do not divide the layers
    let alb = d.path().join("albert");
    copy_dir(&fixture("arch/albert"), &alb);
    edit_config(&alb, |v| v["num_hidden_groups"] = 3.into());
    assert_user_error(
        &run(&alb),
        &[
            "config.json",
            "num_hidden_groups 3 does not divide num_hidden_layers 4",
        ],
    );

    // a tokenizer whose ids run past the embedding table
    let small = d.path().join("small");
    copy_dir(&fixture("arch/mpnet"), &small);
    let w = small.join("model.safetensors");
    let mut t = candle_core::safetensors::load(&w, &candle_core::Device::Cpu).unwrap();
    let key = "embeddings.word_embeddings.weight";
    let emb = t[key].narrow(0, 0, 5).unwrap();
    t.insert(key.into(), emb);
    candle_core::safetensors::save(&t, &w).unwrap();
    edit_config(&small, |v| v["vocab_size"] = 5.into());
    assert_user_error(
        &run(&small),
        &["tokenizer.json", "past the embedding table of 5 rows"],
    );
}

/// The subdirectory of `dir` whose name ends with `suffix`.
fn child_ending(dir: &Path, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} under {}", dir.display()))
}

#[test]
fn real_all_mpnet_base_v2_probes_finetunes_and_makes_variants() {
    let Some(m) = mpnet_dir() else {
        skip("all-mpnet-base-v2 not fetched (run scripts/fetch-models.sh)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let ms = m.to_str().unwrap();
    // probe: every hidden state (embeddings + 12 layers)
    let feats = probe_words(std::slice::from_ref(&m), d.path(), &[]);
    let header = feats.lines().next().unwrap();
    assert!(header.contains("words_layer_12") && !header.contains("words_layer_13"));
    // finetune: a small sentence-pair task in GLUE layout, one epoch
    let rte = d.path().join("RTE");
    std::fs::create_dir_all(&rte).unwrap();
    let mut tsv = String::from("index\tsentence1\tsentence2\tlabel\n");
    for i in 0..16 {
        let (a, lab) = if i % 2 == 0 {
            ("the cat sat on the mat", "entailment")
        } else {
            ("birds sing every evening", "not_entailment")
        };
        tsv.push_str(&format!("{i}\t{a} .\ta cat sat .\t{lab}\n"));
    }
    std::fs::write(rte.join("train.tsv"), &tsv).unwrap();
    std::fs::write(rte.join("dev.tsv"), &tsv).unwrap();
    let ft = d.path().join("ft");
    let o = probecast(&[
        "finetune",
        "--model",
        ms,
        "--task",
        rte.to_str().unwrap(),
        "--out",
        ft.to_str().unwrap(),
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--batch-size",
        "8",
        "--max-length",
        "32",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = std::fs::read_to_string(ft.join("targets.csv")).unwrap();
    let score: f64 = t
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=1.0).contains(&score), "{t}");
    // variants: a truncation to 6 layers computes exactly the base's first 6 layers
    let v = d.path().join("variants");
    let o = probecast(&[
        "variants",
        "--model",
        ms,
        "--out",
        v.to_str().unwrap(),
        "--truncate",
        "6",
        "--prune",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trunc = child_ending(&v, "-trunc6");
    assert!(child_ending(&v, "-prune0.3").join("config.json").is_file());
    let s: Vec<String> = sentences()[..4].to_vec();
    let embed = |dir: &Path| {
        let lm = LoadedModel::load(dir, 64).unwrap();
        let (mut f, _) = embed_sentences(
            &lm,
            &s,
            &[Pooling::Mean],
            4,
            &indicatif::ProgressBar::hidden(),
        )
        .unwrap();
        f.remove(&Pooling::Mean).unwrap()
    };
    let (full, cut) = (embed(&m), embed(&trunc));
    assert_eq!((full.layers.len(), cut.layers.len()), (13, 7));
    for k in 0..7 {
        for i in 0..s.len() {
            let (a, b) = (full.row(k, i), cut.row(k, i));
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "layer {k} sentence {i}: {worst}");
        }
    }
}
