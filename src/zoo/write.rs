//! Writing Hugging Face model directories: config.json, model.safetensors (tensors in their own
//! dtypes, `format: pt` metadata as PyTorch writes it) and the tokenizer files copied from the
//! source. A whole directory is first written under a temporary name beside its destination and
//! then renamed into place, so a reader never sees a half-written variant.

use super::ZooError;
use crate::util;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tokenizer files copied into a written checkpoint when the source has them.
pub const TOKENIZER_FILES: [&str; 8] = [
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
];

/// Serialize named tensors as a safetensors file (in memory).
pub fn serialize_tensors(tensors: &[(String, Tensor)]) -> Result<Vec<u8>, ZooError> {
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let contig: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.contiguous()?)))
        .collect::<Result<_, candle_core::Error>>()?;
    safetensors::tensor::serialize(contig.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| ZooError::option("model.safetensors", format!("cannot serialize: {e}")))
}

/// Write config.json, model.safetensors and the tokenizer files of `tokenizer_src` into `dir`
/// (created if needed; each file written atomically).
pub fn write_hf_files(
    dir: &Path,
    config: &serde_json::Value,
    tensors: &[(String, Tensor)],
    tokenizer_src: &Path,
) -> Result<(), ZooError> {
    let io = |p: &Path, e: std::io::Error| ZooError::input(p, format!("cannot write: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let bytes = serialize_tensors(tensors)?;
    util::write_atomic(&dir.join("model.safetensors"), &bytes).map_err(|e| io(dir, e))?;
    util::write_json(&dir.join("config.json"), config).map_err(|m| ZooError::input(dir, m))?;
    for f in TOKENIZER_FILES {
        let p = tokenizer_src.join(f);
        if p.is_file() {
            let bytes =
                std::fs::read(&p).map_err(|e| ZooError::input(&p, format!("cannot read: {e}")))?;
            util::write_atomic(&dir.join(f), &bytes).map_err(|e| io(dir, e))?;
        }
    }
    Ok(())
}

/// Build a directory with `fill` under a temporary name beside `dest`, then move it to `dest`
/// (replacing an existing directory of that name). On error the temporary directory is removed
/// and `dest` is left as it was.
pub fn write_dir_atomically(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<(), ZooError>,
) -> Result<(), ZooError> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |p: &Path, e: std::io::Error| ZooError::input(p, format!("cannot write: {e}"));
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".probecast-variant-")
        .tempdir_in(&parent)
        .map_err(|e| io(&parent, e))?;
    fill(tmp.path())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io(tmp.path(), e))?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| io(dest, e))?;
    }
    let path = tmp.keep();
    std::fs::rename(&path, dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&path);
        io(dest, e)
    })
}
