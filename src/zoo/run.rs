//! `probecast variants`: check every input first, refuse an output directory that holds another
//! run, write one Hugging Face directory per variant (each renamed into place when complete),
//! then `variants.csv` and `manifest.json`.

use super::checkpoint::{Checkpoint, ModelKind};
use super::corrupt::shuffle_words;
use super::mlm::{train_mlm_with_progress, MlmInit, MlmModel, MlmSettings};
use super::{noise, prune, quantize, truncate, ZooError};
use crate::encoder::config::Arch;
use crate::encoder::family::Family;
use crate::encoder::write::{write_dir_atomically, write_hf_dir};
use crate::manifest::Manifest;
use crate::util;
use std::path::{Path, PathBuf};

/// What to make.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VariantsSettings {
    /// Short name of the base model (directory name or model id): the variants' family.
    pub family: String,
    /// The base checkpoint directory.
    pub model_dir: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Relative noise scales.
    pub noise: Vec<f64>,
    /// Target sparsities.
    pub prune: Vec<f64>,
    /// Layer counts to keep.
    pub truncate: Vec<usize>,
    /// Quantisations (`int8`, `int4`, ...).
    pub quantize: Vec<String>,
    /// Corruption checkpoints (steps of continued MLM training on word-shuffled text).
    pub corrupt_steps: Vec<usize>,
    /// The corpus for `corrupt_steps`.
    pub corpus: Option<PathBuf>,
    /// Seed of the noise, the word shuffling and the MLM training.
    pub seed: u64,
    /// Replace an output directory that holds a different run.
    pub force: bool,
    /// MLM settings of the corruption (steps, save_at and seed are set from the above).
    pub mlm: MlmSettings,
}

/// One row of `variants.csv`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VariantRow {
    /// Variant id (also its directory name under the output directory).
    pub variant: String,
    /// The base model's name.
    pub family: String,
    /// noise, prune, truncate, quantize or corrupt.
    pub operation: String,
    /// `key=value` pairs separated by `;`.
    pub parameters: String,
    /// Content hash of the base checkpoint.
    pub base_hash: String,
    /// What the operation measured on the result (sparsity reached, ...), for the manifest.
    #[serde(skip)]
    pub measured: serde_json::Value,
}

fn dedup<T: PartialEq + Clone>(v: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn check(spec: &VariantsSettings, ck: &Checkpoint) -> Result<Vec<String>, ZooError> {
    let none = spec.noise.is_empty()
        && spec.prune.is_empty()
        && spec.truncate.is_empty()
        && spec.quantize.is_empty()
        && spec.corrupt_steps.is_empty();
    if none {
        return Err(ZooError::option(
            "variants",
            "no operation given (use --noise, --prune, --truncate, --quantize or --corrupt-steps)",
        ));
    }
    if let Some(s) = spec.noise.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(ZooError::option(
            "--noise",
            format!("{s}: the noise scale must be positive"),
        ));
    }
    if let Some(s) = spec.prune.iter().find(|s| !(0.0..1.0).contains(*s)) {
        return Err(ZooError::option(
            "--prune",
            format!("sparsity {s} is outside [0, 1)"),
        ));
    }
    let l = ck.num_layers;
    if let Some(k) = spec.truncate.iter().find(|&&k| k == 0 || k > l) {
        return Err(ZooError::option(
            "--truncate",
            format!(
                "{k} layers: must be between 1 and the {l} layers of {}",
                ck.dir.display()
            ),
        ));
    }
    for &k in &spec.truncate {
        // an ALBERT truncation its layer sharing cannot express is refused before any output
        truncate::truncate(&mut ck.clone(), k)?;
    }
    for q in &spec.quantize {
        quantize::parse_bits(q)?;
    }
    let mut corpus = Vec::new();
    if !spec.corrupt_steps.is_empty() {
        let Some(path) = &spec.corpus else {
            return Err(ZooError::option(
                "--corrupt-steps",
                "needs --corpus <text file> (one text per line)",
            ));
        };
        if spec.corrupt_steps.contains(&0) {
            return Err(ZooError::option(
                "--corrupt-steps",
                "steps must be at least 1",
            ));
        }
        let mlm_ok = match &ck.kind {
            ModelKind::Classic(c) => c.arch == Arch::Bert,
            ModelKind::Family(f) => matches!(
                f,
                Family::Albert
                    | Family::DebertaV2
                    | Family::Deberta
                    | Family::Mpnet
                    | Family::ModernBert
            ),
        };
        if !mlm_ok {
            return Err(ZooError::input(
                ck.dir.join("config.json"),
                format!(
                    "--corrupt-steps needs masked-LM training, supported for BERT-family, ALBERT, DeBERTa v1, DeBERTa-v2/v3, MPNet and ModernBERT checkpoints (this is {})",
                    ck.model_type()
                ),
            ));
        }
        let text = std::fs::read(path)
            .map_err(|e| ZooError::input(path, format!("cannot read the corpus: {e}")))?;
        let text = String::from_utf8(text)
            .map_err(|_| ZooError::input(path, "the corpus is not UTF-8 text"))?;
        corpus = text.lines().map(str::to_string).collect();
        if corpus.iter().all(|l| l.trim().is_empty()) {
            return Err(ZooError::input(
                path,
                "the corpus is empty (no non-blank line)",
            ));
        }
    } else if let Some(p) = &spec.corpus {
        return Err(ZooError::input(
            p,
            "--corpus is only used with --corrupt-steps",
        ));
    }
    Ok(corpus)
}

/// A fingerprint of everything that determines the run's output.
fn fingerprint(spec: &VariantsSettings, base_hash: &str, corpus_hash: &Option<String>) -> String {
    let v = serde_json::json!({
        "base_hash": base_hash, "family": spec.family, "noise": spec.noise, "prune": spec.prune,
        "truncate": spec.truncate, "quantize": spec.quantize, "corrupt_steps": spec.corrupt_steps,
        "corpus_hash": corpus_hash, "seed": spec.seed, "mlm": spec.mlm,
    });
    util::sha256_hex(v.to_string().as_bytes())
}

/// Refuse an output directory holding something other than this same run, unless `force`
/// (then the old run's variant directories are replaced when the new set is committed).
fn guard_out(out: &Path, fp: &str, force: bool) -> Result<(), ZooError> {
    // A killed run's leftovers are not "something else" in the directory.
    crate::outdir::remove_stale_temp(out);
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    if entries.count() == 0 {
        return Ok(());
    }
    let manifest = Manifest::read(out)
        .ok()
        .filter(|m| m.command == "variants")
        .map(|m| m.section().clone());
    let old_fp = manifest
        .as_ref()
        .and_then(|m| m.get("run_fingerprint"))
        .and_then(|f| f.as_str());
    if old_fp == Some(fp) {
        return Ok(());
    }
    if !force {
        let what = if old_fp.is_some() {
            "already holds a different variants run"
        } else {
            "is not empty and holds no variants run"
        };
        return Err(ZooError::input(
            out,
            format!(
                "the output directory {what}; choose another --out or pass --force to replace it"
            ),
        ));
    }
    // The old run's variant directories are removed only once the new set is complete
    // (`outdir::OutputTx::commit`), so a run that fails part-way leaves the old one whole.
    Ok(())
}

fn fmt_num(x: f64) -> String {
    format!("{x}")
}

/// Make the variants, reporting to `pb` (the variant being written; the corruption run's steps
/// and loss). Returns the rows of variants.csv.
pub fn run_variants(
    mut spec: VariantsSettings,
    argv: &[String],
    pb: &indicatif::ProgressBar,
) -> Result<Vec<VariantRow>, ZooError> {
    let t0 = std::time::Instant::now();
    spec.noise = dedup(&spec.noise);
    spec.prune = dedup(&spec.prune);
    spec.truncate = dedup(&spec.truncate);
    spec.quantize = dedup(&spec.quantize);
    spec.corrupt_steps = dedup(&spec.corrupt_steps);
    let ck = Checkpoint::load(&spec.model_dir)?;
    let corpus = check(&spec, &ck)?;
    let corpus_hash = spec
        .corpus
        .as_ref()
        .filter(|_| !corpus.is_empty())
        .map(|p| util::sha256_file(p).unwrap_or_default());
    let fp = fingerprint(&spec, &ck.hash, &corpus_hash);
    guard_out(&spec.out, &fp, spec.force)?;
    let tx = crate::outdir::OutputTx::begin(&spec.out).map_err(|m| ZooError::option("--out", m))?;
    let out_dir = tx.dir().to_path_buf();
    let safe = spec.family.replace(['/', '\\'], "--");
    let mut rows = Vec::new();
    let mut emit = |op: &str, tag: String, params: String, v: &Checkpoint, measured| {
        let id = format!("{safe}-{tag}");
        pb.set_message(format!("writing {id}"));
        let tensors: Vec<_> = v
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.tensor.clone()))
            .collect();
        write_hf_dir(&out_dir.join(&id), &v.config_json, &tensors, &ck.dir)?;
        rows.push(VariantRow {
            variant: id,
            family: spec.family.clone(),
            operation: op.to_string(),
            parameters: params,
            base_hash: ck.hash.clone(),
            measured,
        });
        Ok::<(), ZooError>(())
    };
    for (j, &s) in spec.noise.iter().enumerate() {
        let mut v = ck.clone();
        let seed = spec.seed ^ (0x6e6f_6973_6500_0000u64.wrapping_add(j as u64));
        let names = noise::add_noise(&mut v, s, seed)?;
        let m = serde_json::json!({"tensors": names.len()});
        let p = format!("sigma={};seed={}", fmt_num(s), spec.seed);
        emit("noise", format!("noise{}", fmt_num(s)), p, &v, m)?;
    }
    for &s in &spec.prune {
        let mut v = ck.clone();
        let st = prune::prune(&mut v, s)?;
        let m = serde_json::to_value(&st).unwrap_or_default();
        let p = format!("sparsity={}", fmt_num(s));
        emit("prune", format!("prune{}", fmt_num(s)), p, &v, m)?;
    }
    for &k in &spec.truncate {
        let mut v = ck.clone();
        truncate::truncate(&mut v, k)?;
        let m = serde_json::json!({"layers": k});
        emit(
            "truncate",
            format!("trunc{k}"),
            format!("layers={k}"),
            &v,
            m,
        )?;
    }
    for q in &spec.quantize {
        let bits = quantize::parse_bits(q)?;
        let mut v = ck.clone();
        quantize::quantize(&mut v, bits)?;
        let m = serde_json::json!({"bits": bits});
        emit(
            "quantize",
            format!("int{bits}"),
            format!("bits={bits}"),
            &v,
            m,
        )?;
    }
    let mut mlm_report = None;
    if !spec.corrupt_steps.is_empty() {
        let shuffled = shuffle_words(&corpus, spec.seed);
        let mut s = spec.mlm.clone();
        s.steps = *spec.corrupt_steps.iter().max().expect("non-empty");
        s.save_at = spec.corrupt_steps.clone();
        s.seed = spec.seed;
        let report = {
            let out = &out_dir;
            let rows = &mut rows;
            let (family, hash, seed) = (&spec.family, &ck.hash, spec.seed);
            let corpus_name = spec.corpus.as_ref().map(|p| p.display().to_string());
            train_mlm_with_progress(
                MlmInit::FromDir(spec.model_dir.clone()),
                &shuffled,
                &s,
                pb,
                |step: usize, model: &MlmModel| {
                    let id = format!("{safe}-corrupt{step}");
                    write_dir_atomically(&out.join(&id), |d| model.save(d))?;
                    rows.push(VariantRow {
                        variant: id,
                        family: family.clone(),
                        operation: "corrupt".into(),
                        parameters: format!(
                            "steps={step};seed={seed};lr={};batch_size={}",
                            s.lr, s.batch_size
                        ),
                        base_hash: hash.clone(),
                        measured: serde_json::json!({"corpus": corpus_name}),
                    });
                    Ok(())
                },
            )?
        };
        mlm_report = Some(report);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| ZooError::option("variants.csv", e.to_string());
    w.write_record(["variant", "family", "operation", "parameters", "base_hash"])
        .map_err(csv_err)?;
    for r in &rows {
        w.write_record([
            &r.variant,
            &r.family,
            &r.operation,
            &r.parameters,
            &r.base_hash,
        ])
        .map_err(csv_err)?;
    }
    let csv = w
        .into_inner()
        .map_err(|e| ZooError::option("variants.csv", e.to_string()))?;
    let csv_path = out_dir.join("variants.csv");
    util::write_atomic(&csv_path, &csv)
        .map_err(|e| ZooError::input(&csv_path, format!("cannot write: {e}")))?;
    let mut m = Manifest::new("variants", argv);
    m.input("model", &spec.model_dir, Some(ck.hash.clone()));
    if let Some(c) = &spec.corpus {
        m.input("corpus", c, corpus_hash.clone());
    }
    m.set_settings(&spec);
    m.outputs = rows
        .iter()
        .map(|r| r.variant.clone())
        .chain(["variants.csv".to_string()])
        .collect();
    m.set_section(serde_json::json!({
        "run_fingerprint": fp,
        "variants": rows.iter().map(|r| serde_json::json!({
            "variant": r.variant, "operation": r.operation, "parameters": r.parameters,
            "measured": r.measured})).collect::<Vec<_>>(),
        "mlm": mlm_report,
    }));
    m.set_elapsed(t0);
    m.write(&out_dir)
        .map_err(|e| ZooError::option("--out", e))?;
    tx.commit().map_err(|e| ZooError::option("--out", e))?;
    Ok(rows)
}
