//! The demo's model zoo: a word-level tokenizer over the grammar's vocabulary, tiny BERT
//! encoders pretrained from scratch with masked-language modelling on the generated corpus
//! (`zoo::mlm`, checkpoints saved along training for each size and seed), and variants of each
//! run's final checkpoint made by `zoo::run::run_variants` (Gaussian noise, continued MLM on
//! word-shuffled text).

use super::{stage, DemoError, DemoSettings};
use crate::data::grammar::lexicon;
use crate::zoo::mlm::{train_mlm_with_progress, MlmInit, MlmModel, MlmSettings};
use crate::zoo::run::{run_variants, VariantsSpec};
use crate::zoo::write::write_dir_atomically;
use std::path::{Path, PathBuf};
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// Special tokens, ids 0..5.
pub const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// One encoder size of the zoo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelSize {
    /// Name used in checkpoint ids.
    pub name: String,
    /// Hidden size.
    pub hidden: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward size.
    pub intermediate: usize,
    /// Pretraining seeds: one run per seed.
    pub seeds: Vec<u64>,
}

/// The pretraining runs of the settings, (size, seed), in a fixed order.
pub fn runs(s: &DemoSettings) -> Vec<(&ModelSize, u64)> {
    s.sizes
        .iter()
        .flat_map(|size| size.seeds.iter().map(move |&seed| (size, seed)))
        .collect()
}

/// A checkpoint of the zoo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZooEntry {
    /// Id (directory name).
    pub id: String,
    /// Family: the pretraining run (size and seed) it comes from.
    pub family: String,
    /// `pretrain`, `noise` or `corrupt`.
    pub kind: String,
    /// The directory.
    pub dir: PathBuf,
}

/// The vocabulary of the tokenizer: the specials, then every word form of the lexicon.
pub fn vocabulary() -> Vec<String> {
    SPECIALS
        .iter()
        .copied()
        .chain(lexicon::vocabulary())
        .map(str::to_string)
        .collect()
}

/// Write tokenizer.json (WordLevel, whitespace split, `[CLS] a [SEP] (b [SEP])`),
/// tokenizer_config.json and special_tokens_map.json into `dir`.
pub fn write_tokenizer(dir: &Path, max_length: usize) -> Result<(), DemoError> {
    let vocab = vocabulary();
    let map: std::collections::HashMap<String, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), i as u32))
        .collect();
    let wl = WordLevel::builder()
        .vocab(map.into_iter().collect())
        .unk_token("[UNK]".into())
        .build()
        .map_err(|e| DemoError::Io(format!("cannot build the tokenizer: {e}")))?;
    let mut tok = Tokenizer::new(wl);
    tok.with_pre_tokenizer(Some(WhitespaceSplit));
    tok.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), 3),
        ("[CLS]".into(), 2),
    )));
    tok.add_special_tokens(
        SPECIALS
            .iter()
            .map(|s| AddedToken::from(*s, true))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| DemoError::Io(format!("cannot add the special tokens: {e}")))?;
    let path = dir.join("tokenizer.json");
    let json = tok
        .to_string(true)
        .map_err(|e| DemoError::Io(format!("{}: cannot serialize: {e}", path.display())))?;
    stage::write(&path, &json)?;
    let specials = serde_json::json!({
        "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
        "sep_token": "[SEP]", "mask_token": "[MASK]",
    });
    let mut cfg = specials.clone();
    cfg["tokenizer_class"] = serde_json::json!("PreTrainedTokenizerFast");
    cfg["model_max_length"] = serde_json::json!(max_length);
    cfg["do_lower_case"] = serde_json::json!(false);
    stage::write(
        &dir.join("tokenizer_config.json"),
        &serde_json::to_string_pretty(&cfg).expect("json"),
    )?;
    stage::write(
        &dir.join("special_tokens_map.json"),
        &serde_json::to_string_pretty(&specials).expect("json"),
    )
}

/// A BERT config.json for a size.
pub fn bert_config(size: &ModelSize, vocab_size: usize, max_length: usize) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": size.hidden,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "intermediate_size": size.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": max_length,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": true,
    })
}

fn mlm_settings(s: &DemoSettings, seed: u64) -> MlmSettings {
    MlmSettings {
        steps: s.mlm_steps,
        save_at: s.save_at.clone(),
        batch_size: s.mlm_batch,
        lr: s.mlm_lr,
        warmup_ratio: 0.06,
        max_length: s.max_length,
        seed,
        ..Default::default()
    }
}

fn run_id(size: &ModelSize, seed: u64) -> String {
    format!("{}-s{seed}", size.name)
}

/// The checkpoints the settings produce, in a fixed order (base runs, then variants).
pub fn plan(s: &DemoSettings, zoo_dir: &Path) -> Vec<ZooEntry> {
    let mut out = Vec::new();
    for (size, seed) in runs(s) {
        let fam = run_id(size, seed);
        for &step in &s.save_at {
            let id = format!("{fam}-step{step}");
            out.push(ZooEntry {
                dir: zoo_dir.join("pretrain").join(&id),
                id,
                family: fam.clone(),
                kind: "pretrain".into(),
            });
        }
    }
    for (size, seed) in runs(s) {
        let fam = run_id(size, seed);
        let base = format!("{fam}-step{}", s.mlm_steps);
        let vdir = zoo_dir.join("variants").join(&base);
        for &sigma in &s.noise {
            let id = format!("{base}-noise{sigma}");
            out.push(ZooEntry {
                dir: vdir.join(&id),
                id,
                family: fam.clone(),
                kind: "noise".into(),
            });
        }
        for &k in &s.corrupt_steps {
            let id = format!("{base}-corrupt{k}");
            out.push(ZooEntry {
                dir: vdir.join(&id),
                id,
                family: fam.clone(),
                kind: "corrupt".into(),
            });
        }
    }
    out
}

/// Build the zoo under `zoo_dir` (tokenizer, pretraining runs, variants); a run or a variant
/// set whose checkpoints all exist is skipped (resume). Returns the checkpoints.
pub fn build(
    s: &DemoSettings,
    zoo_dir: &Path,
    corpus_path: &Path,
    corpus: &[String],
    log: &dyn Fn(&str),
) -> Result<Vec<ZooEntry>, DemoError> {
    let tok_dir = stage::mkdir(&zoo_dir.join("tokenizer"))?;
    write_tokenizer(&tok_dir, s.max_length)?;
    let vocab_size = vocabulary().len();
    let entries = plan(s, zoo_dir);
    let done = |ids: &[&ZooEntry]| {
        ids.iter()
            .all(|e| e.dir.join("model.safetensors").is_file())
    };
    for (size, seed) in runs(s) {
        let fam = run_id(size, seed);
        let mine: Vec<&ZooEntry> = entries
            .iter()
            .filter(|e| e.family == fam && e.kind == "pretrain")
            .collect();
        if done(&mine) {
            log(&format!("  {fam}: pretrained checkpoints exist, skipped"));
            continue;
        }
        let init = MlmInit::Fresh {
            config: bert_config(size, vocab_size, s.max_length),
            tokenizer: tok_dir.clone(),
        };
        let t0 = std::time::Instant::now();
        let pb = super::bar(s.mlm_steps as u64, &format!("  pretraining {fam}"));
        let mut on_step = |st: usize, _: usize, loss: f64| {
            pb.set_position(st as u64);
            pb.set_message(format!("  pretraining {fam} loss {loss:.3}"));
        };
        let pre = zoo_dir.join("pretrain");
        let report = train_mlm_with_progress(
            init,
            corpus,
            &mlm_settings(s, seed),
            &mut on_step,
            |step: usize, m: &MlmModel| {
                write_dir_atomically(&pre.join(format!("{fam}-step{step}")), |d| m.save(d))
            },
        )?;
        pb.finish_and_clear();
        let last = report.losses.iter().rev().take(20).sum::<f64>()
            / report.losses.len().clamp(1, 20) as f64;
        log(&format!(
            "  {fam}: {} MLM steps in {:.1} s, final loss {last:.3}",
            s.mlm_steps,
            t0.elapsed().as_secs_f64()
        ));
    }
    for (size, seed) in runs(s) {
        let fam = run_id(size, seed);
        let base = format!("{fam}-step{}", s.mlm_steps);
        let mine: Vec<&ZooEntry> = entries
            .iter()
            .filter(|e| e.family == fam && e.kind != "pretrain")
            .collect();
        if mine.is_empty() || done(&mine) {
            continue;
        }
        let t0 = std::time::Instant::now();
        let spec = VariantsSpec {
            family: base.clone(),
            model_dir: zoo_dir.join("pretrain").join(&base),
            out: zoo_dir.join("variants").join(&base),
            noise: s.noise.clone(),
            prune: vec![],
            truncate: vec![],
            quantize: vec![],
            corrupt_steps: s.corrupt_steps.clone(),
            corpus: Some(corpus_path.to_path_buf()),
            seed: seed.wrapping_add(1000),
            force: true,
            mlm: mlm_settings(s, seed),
        };
        let argv = vec!["probecast".to_string(), "demo".into()];
        run_variants(spec, &argv, &mut |_| {})?;
        log(&format!(
            "  {base}: {} variant(s) in {:.1} s",
            mine.len(),
            t0.elapsed().as_secs_f64()
        ));
    }
    Ok(entries)
}

/// Read the `(model, family)` pairs of the zoo stage's `checkpoints.csv`
/// (`model,family,kind,dir`, written by [`super::run`]).
pub fn read_checkpoints_csv(path: &Path) -> Result<Vec<(String, String)>, DemoError> {
    let bad = |msg: String| DemoError::Io(format!("{}: {msg}", path.display()));
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let h: Vec<String> = rd
        .headers()
        .map_err(|e| bad(format!("bad CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |n: &str| {
        h.iter()
            .position(|x| x == n)
            .ok_or_else(|| bad(format!("missing column '{n}'")))
    };
    let (m, f) = (col("model")?, col("family")?);
    let mut out = Vec::new();
    for r in rd.records() {
        let r = r.map_err(|e| bad(format!("bad CSV: {e}")))?;
        out.push((
            r.get(m).unwrap_or("").to_string(),
            r.get(f).unwrap_or("").to_string(),
        ));
    }
    Ok(out)
}
