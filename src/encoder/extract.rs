//! Feature extraction: tokenize, sort by length, batch with dynamic padding, run the forward
//! pass, pool every layer, and put rows back in input order. [`embed_dataset`] adds the cache.

use super::config::EncoderConfig;
use super::model::{Batch, Encoder};
use super::tokenizer::TextTokenizer;
use super::weights::{weights_file, Weights};
use super::{resolve, EncoderError, PooledFeatures, Pooling};
use crate::cache::{cache_key, FeatureCache};
use crate::data::senteval::Dataset;
use crate::util;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Settings of an extraction run.
#[derive(Debug, Clone)]
pub struct EmbedSettings {
    /// Poolings to compute.
    pub poolings: Vec<Pooling>,
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Truncation length in tokens, special tokens included.
    pub max_length: usize,
    /// Root of the feature cache.
    pub cache_dir: PathBuf,
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

/// A checkpoint loaded and ready to embed.
pub struct LoadedModel {
    /// Checkpoint directory.
    pub dir: PathBuf,
    /// The encoder.
    pub encoder: Encoder,
    /// Its tokenizer, truncating at the load-time maximum length.
    pub tokenizer: TextTokenizer,
}

/// A short display name for a `--model` argument.
pub fn model_name(spec: &str) -> String {
    let p = Path::new(spec.trim_end_matches('/'));
    if p.is_dir() {
        p.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_string())
    } else {
        spec.to_string()
    }
}

/// Check `max_length` against the model's position limit.
pub fn check_max_length(
    dir: &Path,
    cfg: &EncoderConfig,
    max_length: usize,
) -> Result<(), EncoderError> {
    if max_length < 2 {
        return Err(EncoderError::input(
            dir,
            format!("--max-length {max_length} is too small (at least 2: the special tokens)"),
        ));
    }
    if max_length > cfg.max_input_tokens() {
        return Err(EncoderError::input(
            dir,
            format!(
                "--max-length {max_length} exceeds the model's position limit of {} tokens",
                cfg.max_input_tokens()
            ),
        ));
    }
    Ok(())
}

/// Content hash of a checkpoint: config.json, the weights file and the tokenizer files.
pub fn model_hash(dir: &Path) -> Result<String, EncoderError> {
    let mut parts = Vec::new();
    let mut files = vec![dir.join("config.json"), weights_file(dir)?];
    for t in ["tokenizer.json", "vocab.txt", "tokenizer_config.json"] {
        let p = dir.join(t);
        if p.is_file() {
            files.push(p);
        }
    }
    for f in files {
        let h = util::sha256_file(&f)
            .map_err(|e| EncoderError::input(&f, format!("cannot read: {e}")))?;
        parts.push(format!("{}={h}", f.file_name().unwrap().to_string_lossy()));
    }
    Ok(util::sha256_hex(parts.join("\n").as_bytes()))
}

/// Content hash of a list of sentence pairs (order-sensitive; never equal to a
/// [`sentences_hash`], so pairs and sentences keep apart in the cache).
pub fn pairs_hash(pairs: &[(String, String)]) -> String {
    let mut s = String::from("sentence pairs\n");
    for (a, b) in pairs {
        s.push_str(a);
        s.push('\t');
        s.push_str(b);
        s.push('\n');
    }
    util::sha256_hex(s.as_bytes())
}

/// Content hash of a list of sentences (order-sensitive).
pub fn sentences_hash(sentences: &[String]) -> String {
    let mut s = String::new();
    for x in sentences {
        s.push_str(x);
        s.push('\n');
    }
    util::sha256_hex(s.as_bytes())
}

impl LoadedModel {
    /// Load a checkpoint directory (config, weights with shape checks, tokenizer).
    pub fn load(dir: &Path, max_length: usize) -> Result<Self, EncoderError> {
        let cfg = EncoderConfig::from_dir(dir)?;
        check_max_length(dir, &cfg, max_length)?;
        let tokenizer = TextTokenizer::from_dir(dir, max_length)?;
        let w = Weights::load(&weights_file(dir)?)?;
        let encoder = Encoder::load(cfg, w)?;
        Ok(LoadedModel {
            dir: dir.to_path_buf(),
            encoder,
            tokenizer,
        })
    }
}

/// Embed sentences with a loaded model: features per pooling with rows in input order, and the
/// number of real tokens. Batches hold sentences of similar length (sorted, longest first), each
/// padded only to its own longest row.
pub fn embed_sentences(
    model: &LoadedModel,
    sentences: &[String],
    poolings: &[Pooling],
    batch_size: usize,
    progress: bool,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    let pb = if progress {
        indicatif::ProgressBar::new(sentences.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    embed_sentences_bar(model, sentences, poolings, batch_size, &pb)
}

/// Pooled rows of one batch: per pooling (in `poolings` order), per hidden state, `rows × dim`.
type BatchRows = Vec<Vec<Vec<f32>>>;

/// [`embed_sentences`] reporting to `pb` (its length is set here). The batches run in
/// parallel, one per rayon thread, each forward pass on its own thread
/// ([`super::model::Encoder::forward_packed_with`] without inner parallelism): no waiting
/// inside a batch, and every batch's numbers are the same whichever thread runs it and
/// whatever else the pool is doing (other batches, or probes of another task).
pub fn embed_sentences_bar(
    model: &LoadedModel,
    sentences: &[String],
    poolings: &[Pooling],
    batch_size: usize,
    pb: &indicatif::ProgressBar,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    let ids = model.tokenizer.encode_all(sentences)?;
    embed_ids_bar(model, &ids, None, poolings, batch_size, pb)
}

/// [`embed_sentences_bar`] for sentence pairs: each pair is encoded with the tokenizer's own
/// pair template ([`TextTokenizer::encode_pairs`]: `[CLS] a [SEP] b [SEP]` for BERT,
/// `<s> a </s></s> b </s>` for RoBERTa) and its token type ids (zeros when the model has at
/// most one token type, as fine-tuning does). Rows in input order.
pub fn embed_pairs_bar(
    model: &LoadedModel,
    pairs: &[(String, String)],
    poolings: &[Pooling],
    batch_size: usize,
    pb: &indicatif::ProgressBar,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    let enc = model.tokenizer.encode_pairs(pairs)?;
    let zero_types = model.encoder.config.type_vocab_size <= 1;
    let (ids, types): (Vec<Vec<u32>>, Vec<Vec<u32>>) = enc
        .into_iter()
        .map(|(i, t)| {
            let t = if zero_types { vec![0; t.len()] } else { t };
            (i, t)
        })
        .unzip();
    embed_ids_bar(model, &ids, Some(&types), poolings, batch_size, pb)
}

/// Embed already tokenised rows (`type_ids`: per row, or all zeros when `None`).
fn embed_ids_bar(
    model: &LoadedModel,
    ids: &[Vec<u32>],
    type_ids: Option<&[Vec<u32>]>,
    poolings: &[Pooling],
    batch_size: usize,
    pb: &indicatif::ProgressBar,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    use rayon::prelude::*;
    let n = ids.len();
    let dim = model.encoder.config.hidden_size;
    let nl = model.encoder.num_hidden_states();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    pb.set_length(n as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} sentences ({per_sec}, eta {eta})",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    pb.set_message("embedding");
    let pad = model.encoder.config.pad_token_id;
    let bs = batch_size.max(1);
    // Only [CLS] wanted: the last layer can stop at the first token of each sentence.
    let cls_only = poolings.iter().all(|&p| p == Pooling::Cls);
    let run_batch = |chunk: &[usize]| -> Result<BatchRows, EncoderError> {
        let seq = chunk.iter().map(|&i| ids[i].len()).max().unwrap_or(1);
        let mut batch = Batch {
            ids: vec![pad; chunk.len() * seq],
            type_ids: vec![0; chunk.len() * seq],
            lengths: Vec::with_capacity(chunk.len()),
            seq,
        };
        for (r, &i) in chunk.iter().enumerate() {
            batch.ids[r * seq..r * seq + ids[i].len()].copy_from_slice(&ids[i]);
            if let Some(t) = type_ids {
                batch.type_ids[r * seq..r * seq + t[i].len()].copy_from_slice(&t[i]);
            }
            batch.lengths.push(ids[i].len());
        }
        let packed = model.encoder.forward_packed_with(&batch, cls_only, false)?;
        let rows = poolings
            .iter()
            .map(|&p| {
                packed
                    .states
                    .iter()
                    .map(|st| {
                        let mut m = vec![0f32; chunk.len() * dim];
                        for (r, dst) in m.chunks_mut(dim).enumerate() {
                            let (lo, hi) = (packed.offsets[r], packed.offsets[r + 1]);
                            pool_rows(p, &st[lo * dim..hi * dim], dim, dst);
                        }
                        m
                    })
                    .collect()
            })
            .collect();
        pb.inc(chunk.len() as u64);
        Ok(rows)
    };
    let chunks: Vec<&[usize]> = order.chunks(bs).collect();
    let pooled: Vec<BatchRows> = chunks
        .par_iter()
        .with_max_len(1)
        .map(|c| run_batch(c))
        .collect::<Result<_, _>>()?;
    let mut out: BTreeMap<Pooling, PooledFeatures> = BTreeMap::new();
    for (pi, &p) in poolings.iter().enumerate() {
        let mut layers = vec![vec![0f32; n * dim]; nl];
        for (chunk, rows) in chunks.iter().zip(&pooled) {
            for (k, m) in rows[pi].iter().enumerate() {
                for (&i, src) in chunk.iter().zip(m.chunks(dim)) {
                    layers[k][i * dim..(i + 1) * dim].copy_from_slice(src);
                }
            }
        }
        out.insert(p, PooledFeatures { n, dim, layers });
    }
    let tokens = ids.iter().map(Vec::len).sum();
    pb.finish_and_clear();
    Ok((out, tokens))
}

/// Pool one sentence's packed rows (`tokens × dim`) into `dst`.
fn pool_rows(p: Pooling, rows: &[f32], dim: usize, dst: &mut [f32]) {
    match p {
        Pooling::Cls => dst.copy_from_slice(&rows[..dim]),
        Pooling::Mean => {
            let mut acc = vec![0f64; dim];
            for row in rows.chunks(dim) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v as f64);
            }
            let inv = 1.0 / (rows.len() / dim) as f64;
            dst.iter_mut()
                .zip(&acc)
                .for_each(|(d, &a)| *d = (a * inv) as f32);
        }
    }
}

/// Embed a dataset with a checkpoint (`model` is a directory or a cached model id), using the
/// feature cache: poolings already cached are read back without loading the model; a run where
/// every pooling is cached does no forward pass.
pub fn embed_dataset(
    model: &str,
    data: &Dataset,
    settings: &EmbedSettings,
) -> Result<EmbedOutput, EncoderError> {
    embed_dataset_with_progress(model, data, settings, false)
}

/// [`embed_dataset`] with an optional progress bar on stderr.
pub fn embed_dataset_with_progress(
    model: &str,
    data: &Dataset,
    settings: &EmbedSettings,
    progress: bool,
) -> Result<EmbedOutput, EncoderError> {
    let pb = if progress {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    Embedder::new(model, settings)?.embed(data, &pb)
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
        let cfg = EncoderConfig::from_dir(&dir)?;
        check_max_length(&dir, &cfg, settings.max_length)?;
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
            |lm, missing| embed_sentences_bar(lm, &sentences, missing, bs, pb),
        )
    }

    /// Features of sentence pairs (see [`embed_pairs_bar`]) for every pooling of the settings,
    /// through the feature cache as [`Embedder::embed`] does for sentences (the cache key hashes
    /// the pairs, see [`pairs_hash`]).
    pub fn embed_pairs(
        &self,
        pairs: &[(String, String)],
        pb: &indicatif::ProgressBar,
    ) -> Result<EmbedOutput, EncoderError> {
        let bs = self.settings.batch_size;
        let (out, computed) =
            self.embed_cached(pairs_hash(pairs), pairs.len(), |lm, missing| {
                embed_pairs_bar(lm, pairs, missing, bs, pb)
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
