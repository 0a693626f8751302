//! Content-addressed feature cache. An entry holds one pooling's features of one dataset at
//! every layer, stored as safetensors (`layer_<k>`, shape [n, dim]). Its key is the SHA-256 of
//! the checkpoint's content hash, the sentences' content hash, the pooling, the maximum length
//! and [`FEATURE_CODE_VERSION`], so any change to an input or to the feature code is a miss.
//! Entries are written atomically (temp file + rename): an interrupted run leaves no entry.

use crate::encoder::{PooledFeatures, Pooling};
use crate::util;
use safetensors::tensor::{Dtype, TensorView};
use std::path::{Path, PathBuf};

/// Bumped whenever the feature code changes what it computes.
pub const FEATURE_CODE_VERSION: u32 = 1;

/// Errors reading or writing feature files.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A filesystem error on a named path.
    #[error("{path}: {msg}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        msg: String,
    },
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> CacheError {
    CacheError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// The cache key of one (checkpoint, sentences, pooling, max length).
pub fn cache_key(model_hash: &str, data_hash: &str, pooling: Pooling, max_length: usize) -> String {
    util::sha256_hex(
        format!(
            "probecast-features v{FEATURE_CODE_VERSION}|model={model_hash}|data={data_hash}|pooling={pooling}|max_length={max_length}"
        )
        .as_bytes(),
    )
}

/// Serialise features to safetensors bytes: one f32 tensor `layer_<k>` of shape [n, dim] per
/// layer.
pub fn features_to_bytes(f: &PooledFeatures) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = f
        .layers
        .iter()
        .map(|l| l.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .enumerate()
        .map(|(k, b)| {
            (
                format!("layer_{k}"),
                TensorView::new(Dtype::F32, vec![f.n, f.dim], b).expect("shape matches data"),
            )
        })
        .collect();
    util::safetensors_bytes(views, None).expect("serialising in-memory tensors")
}

/// Parse safetensors bytes written by [`features_to_bytes`].
pub fn features_from_bytes(path: &Path, bytes: &[u8]) -> Result<PooledFeatures, CacheError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| io_err(path, e))?;
    let mut layers = Vec::new();
    let (mut n, mut dim) = (0, 0);
    for k in 0.. {
        let t = match st.tensor(&format!("layer_{k}")) {
            Ok(t) => t,
            Err(_) => break,
        };
        if t.dtype() != Dtype::F32 || t.shape().len() != 2 {
            return Err(io_err(path, format!("layer_{k} is not a 2-D f32 tensor")));
        }
        if k == 0 {
            (n, dim) = (t.shape()[0], t.shape()[1]);
        } else if t.shape() != [n, dim] {
            return Err(io_err(path, format!("layer_{k} has shape {:?}", t.shape())));
        }
        layers.push(
            t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        );
    }
    if layers.is_empty() {
        return Err(io_err(path, "no layer_<k> tensors"));
    }
    Ok(PooledFeatures { n, dim, layers })
}

/// Write features to a safetensors file atomically.
pub fn save_features(path: &Path, f: &PooledFeatures) -> Result<(), CacheError> {
    util::write_atomic(path, &features_to_bytes(f)).map_err(|e| io_err(path, e))
}

/// Read a features safetensors file.
pub fn load_features(path: &Path) -> Result<PooledFeatures, CacheError> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    features_from_bytes(path, &bytes)
}

/// The on-disk cache.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
}

impl FeatureCache {
    /// A cache rooted at `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FeatureCache { dir: dir.into() }
    }

    /// The default cache directory: `$PROBECAST_CACHE`, else `~/.cache/probecast`.
    pub fn default_dir() -> PathBuf {
        if let Ok(p) = std::env::var("PROBECAST_CACHE") {
            return PathBuf::from(p);
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        PathBuf::from(home).join(".cache/probecast")
    }

    /// Path of an entry.
    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join("features").join(format!("{key}.safetensors"))
    }

    /// Look an entry up. A missing entry is `None`; an unreadable or corrupt one is also `None`
    /// (it will be recomputed and overwritten), with a warning on stderr.
    pub fn get(&self, key: &str) -> Option<PooledFeatures> {
        let p = self.entry_path(key);
        if !p.is_file() {
            return None;
        }
        match load_features(&p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("warning: ignoring corrupt cache entry: {e}");
                None
            }
        }
    }

    /// Store an entry atomically.
    pub fn put(&self, key: &str, f: &PooledFeatures) -> Result<(), CacheError> {
        let p = self.entry_path(key);
        let dir = p.parent().expect("entry has a parent");
        std::fs::create_dir_all(dir)
            .map_err(|e| io_err(dir, format!("cannot create cache directory: {e}")))?;
        save_features(&p, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_round_trip_through_safetensors_bytes() {
        let f = PooledFeatures {
            n: 2,
            dim: 3,
            layers: vec![
                vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
                vec![0.0, -1.0, 1e-7, 3.0, 2.0, 1.0],
            ],
        };
        let b = features_to_bytes(&f);
        assert_eq!(features_from_bytes(Path::new("x"), &b).unwrap(), f);
        assert!(features_from_bytes(Path::new("x"), &b[..b.len() - 3]).is_err());
    }

    #[test]
    fn keys_differ_when_any_part_differs() {
        let a = cache_key("m", "d", Pooling::Cls, 128);
        assert_ne!(a, cache_key("m", "d", Pooling::Mean, 128));
        assert_ne!(a, cache_key("m", "d", Pooling::Cls, 64));
        assert_ne!(a, cache_key("m2", "d", Pooling::Cls, 128));
        assert_eq!(a, cache_key("m", "d", Pooling::Cls, 128));
    }
}
