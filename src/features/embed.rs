//! Cached embedding: a checkpoint resolved, checked and hashed once, every pooling of a dataset
//! read from the content-addressed [`super::cache`] or computed with
//! [`crate::encoder::extract::embed_sentences`] and stored.

use super::cache::{cache_key, FeatureCache};
use crate::data::senteval::Dataset;
use crate::encoder::extract::{
    check_max_length_limit, embed_pairs, embed_sentences, model_hash, model_name, pairs_hash,
    sentences_hash, LoadedModel,
};
use crate::encoder::{resolve, EncoderError, PooledFeatures, Pooling};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Settings of an extraction run (also a study file's `[probe.embed]` table: every field
/// optional, with the defaults below; the cache directory is the study's own).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedSettings {
    /// Poolings to compute.
    pub poolings: Vec<Pooling>,
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Truncation length in tokens, special tokens included.
    pub max_length: usize,
    /// Root of the feature cache.
    #[serde(skip)]
    pub cache_dir: PathBuf,
}

impl EmbedSettings {
    /// Validate the settings before any work: at least one pooling, a batch of at least one
    /// sentence, room for the special tokens.
    pub fn check(&self) -> Result<(), crate::util::SettingsError> {
        use crate::util::{at_least_one, SettingsError};
        if self.poolings.is_empty() {
            return Err(SettingsError::new("pooling", "needs at least one pooling"));
        }
        at_least_one("batch_size", self.batch_size)?;
        crate::util::room_for_special_tokens(self.max_length)?;
        Ok(())
    }
}

impl Default for EmbedSettings {
    fn default() -> Self {
        EmbedSettings {
            poolings: vec![Pooling::Cls, Pooling::Mean],
            batch_size: 32,
            max_length: 128,
            cache_dir: FeatureCache::default_dir(),
        }
    }
}

/// Result of [`embed_dataset`].
#[derive(Debug, Clone)]
pub struct EmbedOutput {
    /// A short name of the checkpoint (directory name or model id).
    pub model_name: String,
    /// The checkpoint directory used.
    pub model_dir: PathBuf,
    /// SHA-256 over the checkpoint's config, weights and tokenizer files.
    pub model_hash: String,
    /// SHA-256 of the sentences.
    pub data_hash: String,
    /// Features per pooling, rows in the dataset's order.
    pub features: BTreeMap<Pooling, PooledFeatures>,
    /// Whether every pooling came from the cache (no forward pass was run).
    pub from_cache: bool,
    /// Real tokens processed by the forward pass (0 on a cache hit).
    pub tokens: usize,
    /// Seconds spent in tokenization + forward + pooling, model loading excluded (0 on a cache
    /// hit).
    pub seconds: f64,
}

/// Embed a dataset with a checkpoint (`model` is a directory or a cached model id), using the
/// feature cache: poolings already cached are read back without loading the model; a run where
/// every pooling is cached does no forward pass. Progress goes to `pb`.
pub fn embed_dataset(
    model: &str,
    data: &Dataset,
    settings: &EmbedSettings,
    pb: &indicatif::ProgressBar,
) -> Result<EmbedOutput, EncoderError> {
    Embedder::new(model, settings)?.embed(data, pb)
}

/// A checkpoint resolved, checked and hashed once, for embedding several datasets with the
/// feature cache; the weights are loaded on the first cache miss and kept for the next ones.
pub struct Embedder {
    spec: String,
    dir: PathBuf,
    hash: String,
    settings: EmbedSettings,
    model: std::sync::OnceLock<LoadedModel>,
}

impl Embedder {
    /// Resolve `model` (a directory or a cached model id), check `settings.max_length` against
    /// it and hash its files; nothing is loaded yet.
    pub fn new(model: &str, settings: &EmbedSettings) -> Result<Self, EncoderError> {
        let dir = resolve::resolve_model(model)?;
        let limit = crate::encoder::family::max_input_tokens(&dir)?;
        check_max_length_limit(&dir, limit, settings.max_length)?;
        let hash = model_hash(&dir)?;
        Ok(Embedder {
            spec: model.to_string(),
            dir,
            hash,
            settings: settings.clone(),
            model: std::sync::OnceLock::new(),
        })
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Content hash of the checkpoint (see [`model_hash`]).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    fn loaded(&self) -> Result<&LoadedModel, EncoderError> {
        if let Some(m) = self.model.get() {
            return Ok(m);
        }
        let m = LoadedModel::load(&self.dir, self.settings.max_length)?;
        Ok(self.model.get_or_init(|| m))
    }

    /// Features of `data` for every pooling of the settings: poolings already cached are read
    /// back, the others computed (reporting to `pb`) and written to the cache.
    pub fn embed(
        &self,
        data: &Dataset,
        pb: &indicatif::ProgressBar,
    ) -> Result<EmbedOutput, EncoderError> {
        let (out, computed) = self.embed_uncached(data, pb)?;
        self.store(&out, &computed)?;
        Ok(out)
    }

    /// [`Embedder::embed`] without the cache writes: also returns the poolings that were
    /// computed rather than read, for [`Embedder::store`] (which a caller may run while it
    /// goes on with the features).
    pub fn embed_uncached(
        &self,
        data: &Dataset,
        pb: &indicatif::ProgressBar,
    ) -> Result<(EmbedOutput, Vec<Pooling>), EncoderError> {
        let sentences: Vec<String> = data.examples.iter().map(|e| e.sentence.clone()).collect();
        let bs = self.settings.batch_size;
        self.embed_cached(
            sentences_hash(&sentences),
            sentences.len(),
            |lm, missing| embed_sentences(lm, &sentences, missing, bs, pb),
        )
    }

    /// Features of sentence pairs (see [`crate::encoder::extract::embed_pairs`]) for every
    /// pooling of the settings, through the feature cache as [`Embedder::embed`] does for
    /// sentences (the cache key hashes the pairs, see [`pairs_hash`]).
    pub fn embed_pairs(
        &self,
        pairs: &[(String, String)],
        pb: &indicatif::ProgressBar,
    ) -> Result<EmbedOutput, EncoderError> {
        let bs = self.settings.batch_size;
        let (out, computed) =
            self.embed_cached(pairs_hash(pairs), pairs.len(), |lm, missing| {
                embed_pairs(lm, pairs, missing, bs, pb)
            })?;
        self.store(&out, &computed)?;
        Ok(out)
    }

    /// Read the cached poolings of the data hashed `dhash` (`n` rows); compute the others with
    /// `compute` (given the loaded model and the missing poolings).
    fn embed_cached(
        &self,
        dhash: String,
        n: usize,
        compute: impl FnOnce(
            &LoadedModel,
            &[Pooling],
        )
            -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError>,
    ) -> Result<(EmbedOutput, Vec<Pooling>), EncoderError> {
        let settings = &self.settings;
        let cache = FeatureCache::new(&settings.cache_dir);
        let mut features = BTreeMap::new();
        let mut missing = Vec::new();
        for &p in &settings.poolings {
            let key = cache_key(&self.hash, &dhash, p, settings.max_length);
            match cache.get(&key) {
                Some(f) if f.n == n => {
                    features.insert(p, f);
                }
                _ => missing.push(p),
            }
        }
        let (mut tokens, mut seconds) = (0, 0.0);
        let from_cache = missing.is_empty();
        if !missing.is_empty() {
            let lm = self.loaded()?;
            let t0 = std::time::Instant::now();
            let (computed, tk) = compute(lm, &missing)?;
            seconds = t0.elapsed().as_secs_f64();
            tokens = tk;
            features.extend(computed);
        }
        let out = EmbedOutput {
            model_name: model_name(&self.spec),
            model_dir: self.dir.clone(),
            model_hash: self.hash.clone(),
            data_hash: dhash,
            features,
            from_cache,
            tokens,
            seconds,
        };
        Ok((out, missing))
    }

    /// Write the poolings `which` of `out` to the feature cache.
    pub fn store(&self, out: &EmbedOutput, which: &[Pooling]) -> Result<(), EncoderError> {
        let settings = &self.settings;
        let cache = FeatureCache::new(&settings.cache_dir);
        for p in which {
            let key = cache_key(&self.hash, &out.data_hash, *p, settings.max_length);
            cache
                .put(&key, &out.features[p])
                .map_err(|e| EncoderError::Input {
                    path: settings.cache_dir.display().to_string(),
                    msg: format!("cannot write the feature cache: {e}"),
                })?;
        }
        Ok(())
    }
}

/// What [`embed_to_dir`] wrote.
#[derive(Debug, Clone)]
pub struct EmbedRun {
    /// The features and where they came from.
    pub output: EmbedOutput,
    /// Seconds for the whole command.
    pub seconds: f64,
}

/// `probecast embed`: embed the SentEval file `data_path` with `model` and write
/// `<pooling>.safetensors` per pooling, `labels.json` (split and label of every row, in file
/// order) and `manifest.json` into `out`. Settings are checked first; every file is written
/// atomically, the manifest last.
pub fn embed_to_dir(
    model: &str,
    data_path: &Path,
    out: &Path,
    settings: &EmbedSettings,
    command_line: &[String],
    pb: &indicatif::ProgressBar,
) -> Result<EmbedRun, EmbedError> {
    settings.check()?;
    let data = crate::data::senteval::read(data_path)?;
    crate::outdir::remove_stale_temp_tree(&settings.cache_dir);
    let tx = crate::outdir::OutputTx::begin(out).map_err(EmbedError::Output)?;
    let final_out = out;
    let out = tx.dir();
    let t0 = std::time::Instant::now();
    let res = embed_dataset(model, &data, settings, pb)?;
    let mut outputs = Vec::new();
    for (p, f) in &res.features {
        let name = format!("{p}.safetensors");
        super::cache::save_features(&out.join(&name), f)
            .map_err(|e| EmbedError::Output(e.to_string()))?;
        outputs.push(name);
    }
    let labels: Vec<serde_json::Value> = data
        .examples
        .iter()
        .map(|e| serde_json::json!({"split": e.split.code(), "label": e.label}))
        .collect();
    crate::util::write_atomic_str(
        &out.join("labels.json"),
        &serde_json::to_string(&labels).expect("json"),
    )
    .map_err(|e| EmbedError::Output(format!("{}: {e}", out.display())))?;
    outputs.push("labels.json".into());
    let f0 = res.features.values().next().expect("at least one pooling");
    let mut m = crate::manifest::Manifest::new("embed", command_line);
    m.input("model", &res.model_dir, Some(res.model_hash.clone()));
    m.input_file("data", data_path);
    m.set_settings(serde_json::json!({
        "pooling": settings.poolings,
        "batch_size": settings.batch_size,
        "max_length": settings.max_length,
        "cache_dir": settings.cache_dir,
        "feature_code_version": super::cache::FEATURE_CODE_VERSION,
    }));
    m.outputs = outputs;
    m.set_section(serde_json::json!({
        "model": model,
        "sentences_sha256": res.data_hash,
        "sentences": f0.n,
        "hidden_size": f0.dim,
        "hidden_states": f0.layers.len(),
        "cache_hit": res.from_cache,
        "forward_seconds": res.seconds,
        "tokens": res.tokens,
        "tokens_per_second": if res.seconds > 0.0 { res.tokens as f64 / res.seconds } else { 0.0 },
    }));
    m.set_elapsed(t0);
    m.write(out).map_err(EmbedError::Output)?;
    tx.commit()
        .map_err(|e| EmbedError::Output(format!("{}: {e}", final_out.display())))?;
    Ok(EmbedRun {
        output: res,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Errors of [`embed_to_dir`].
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A setting out of range.
    #[error(transparent)]
    Settings(#[from] crate::util::SettingsError),
    /// The data file.
    #[error(transparent)]
    Data(#[from] crate::data::senteval::SentEvalError),
    /// The checkpoint or the forward pass.
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    /// Writing the outputs (the message names the file).
    #[error("{0}")]
    Output(String),
}
