//! Feature extraction: tokenize, sort by length, batch with dynamic padding, run the forward
//! pass, pool every layer, and put rows back in input order. The cached entry point lives a layer
//! up, in the `features` module.

use super::config::EncoderConfig;
use super::family::AnyEncoder;
use super::model::Batch;
use super::tokenizer::TextTokenizer;
use super::weights::{weights_file, Weights};
use super::{EncoderError, PooledFeatures, Pooling};
use crate::util;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A checkpoint loaded and ready to embed.
pub struct LoadedModel {
    /// Checkpoint directory.
    pub dir: PathBuf,
    /// The encoder (any supported architecture).
    pub encoder: AnyEncoder,
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
    check_max_length_limit(dir, cfg.max_input_tokens(), max_length)
}

/// Check `max_length` against a position limit of `limit` tokens.
pub fn check_max_length_limit(
    dir: &Path,
    limit: usize,
    max_length: usize,
) -> Result<(), EncoderError> {
    if max_length < 2 {
        return Err(EncoderError::input(
            dir,
            format!("--max-length {max_length} is too small (at least 2: the special tokens)"),
        ));
    }
    if max_length > limit {
        return Err(EncoderError::input(
            dir,
            format!(
                "--max-length {max_length} exceeds the model's position limit of {limit} tokens"
            ),
        ));
    }
    Ok(())
}

/// Content hash of a checkpoint: config.json, the weights file and the tokenizer files.
pub fn model_hash(dir: &Path) -> Result<String, EncoderError> {
    let mut parts = Vec::new();
    let mut files = vec![dir.join("config.json"), weights_file(dir)?];
    for t in [
        "tokenizer.json",
        "vocab.txt",
        "tokenizer_config.json",
        "spiece.model",
        "spm.model",
    ] {
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

/// Refuse token ids past the embedding table of `vocab_size` rows (a tokenizer that does not
/// belong to the weights), naming the tokenizer file it came from and config.json's `vocab_size`.
pub fn check_token_ids<'a>(
    tokenizer_file: &Path,
    vocab_size: usize,
    ids: impl IntoIterator<Item = &'a [u32]>,
) -> Result<(), EncoderError> {
    match ids.into_iter().flatten().copied().max() {
        Some(id) if id as usize >= vocab_size => Err(EncoderError::input(
            tokenizer_file,
            format!(
                "the tokenizer produced token id {id}, past the embedding table of {vocab_size} rows (vocab_size in config.json): the tokenizer or vocabulary does not belong to these weights"
            ),
        )),
        _ => Ok(()),
    }
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
        check_max_length_limit(dir, super::family::max_input_tokens(dir)?, max_length)?;
        let tokenizer = TextTokenizer::from_dir(dir, max_length)?;
        let w = Weights::load(&weights_file(dir)?)?;
        let encoder = AnyEncoder::load(dir, w)?;
        Ok(LoadedModel {
            dir: dir.to_path_buf(),
            encoder,
            tokenizer,
        })
    }
}

/// Pooled rows of one batch: per pooling (in `poolings` order), per hidden state, `rows × dim`.
type BatchRows = Vec<Vec<Vec<f32>>>;

/// Embed sentences with a loaded model: features per pooling with rows in input order, and the
/// number of real tokens; progress goes to `pb` (its length and style are set here; pass
/// `ProgressBar::hidden()` for none). Batches hold sentences of similar length (sorted, longest
/// first), each padded only to its own longest row. The batches run in parallel, one per rayon
/// thread, each forward pass on its own thread
/// ([`super::model::Encoder::forward_packed_with`] without inner parallelism): no waiting
/// inside a batch, and every batch's numbers are the same whichever thread runs it and
/// whatever else the pool is doing (other batches, or probes of another task).
pub fn embed_sentences(
    model: &LoadedModel,
    sentences: &[String],
    poolings: &[Pooling],
    batch_size: usize,
    pb: &indicatif::ProgressBar,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    let ids = model.tokenizer.encode_all(sentences)?;
    embed_ids(model, &ids, None, poolings, batch_size, pb)
}

/// [`embed_sentences`] for sentence pairs: each pair is encoded with the tokenizer's own
/// pair template ([`TextTokenizer::encode_pairs`]: `[CLS] a [SEP] b [SEP]` for BERT,
/// `<s> a </s></s> b </s>` for RoBERTa) and its token type ids (zeros when the model has at
/// most one token type, as fine-tuning does). Rows in input order.
pub fn embed_pairs(
    model: &LoadedModel,
    pairs: &[(String, String)],
    poolings: &[Pooling],
    batch_size: usize,
    pb: &indicatif::ProgressBar,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    let enc = model.tokenizer.encode_pairs(pairs)?;
    let zero_types = !model.encoder.uses_token_types();
    let (ids, types): (Vec<Vec<u32>>, Vec<Vec<u32>>) = enc
        .into_iter()
        .map(|(i, t)| {
            let t = if zero_types { vec![0; t.len()] } else { t };
            (i, t)
        })
        .unzip();
    embed_ids(model, &ids, Some(&types), poolings, batch_size, pb)
}

/// Embed already tokenised rows (`type_ids`: per row, or all zeros when `None`).
fn embed_ids(
    model: &LoadedModel,
    ids: &[Vec<u32>],
    type_ids: Option<&[Vec<u32>]>,
    poolings: &[Pooling],
    batch_size: usize,
    pb: &indicatif::ProgressBar,
) -> Result<(BTreeMap<Pooling, PooledFeatures>, usize), EncoderError> {
    use rayon::prelude::*;
    check_token_ids(
        model.tokenizer.source(),
        model.encoder.vocab_size(),
        ids.iter().map(Vec::as_slice),
    )?;
    let n = ids.len();
    let dim = model.encoder.hidden_size();
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
    let pad = model.encoder.pad_token_id();
    let cls_last = model.encoder.cls_is_last();
    let bs = batch_size.max(1);
    // Only the first token wanted: the last layer can stop at the first token of each sentence.
    let cls_only = poolings
        .iter()
        .all(|&p| p == Pooling::First || (p == Pooling::Cls && !cls_last));
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
                            pool_rows(p, cls_last, &st[lo * dim..hi * dim], dim, dst);
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

/// Pool one sentence's packed rows (`tokens × dim`) into `dst`; `cls_last`: the architecture's
/// summary token is the last one (XLNet).
fn pool_rows(p: Pooling, cls_last: bool, rows: &[f32], dim: usize, dst: &mut [f32]) {
    match p {
        Pooling::Cls if cls_last => dst.copy_from_slice(&rows[rows.len() - dim..]),
        Pooling::Cls | Pooling::First => dst.copy_from_slice(&rows[..dim]),
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
