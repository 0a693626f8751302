//! The one writer of Hugging Face model directories (variants, masked-LM checkpoints, fine-tuned
//! models): config.json, model.safetensors (tensors in their own dtypes, `format: pt` metadata as
//! PyTorch writes it) and every tokenizer file the source has, copied. [`write_hf_dir`] first
//! writes the whole directory under a temporary name beside its destination and then renames it
//! into place, so a reader never sees a half-written checkpoint.

use super::EncoderError;
use crate::util;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tokenizer files copied into a written checkpoint when the source has them: every file the
/// supported tokenizer formats read (tokenizer.json; WordPiece vocab.txt; byte-level BPE
/// vocab.json + merges.txt; SentencePiece models under the names their families use) and the
/// configuration files transformers reads beside them.
pub const TOKENIZER_FILES: [&str; 11] = [
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "spm.model",
    "sentencepiece.model",
];

fn io(p: &Path, e: impl std::fmt::Display) -> EncoderError {
    EncoderError::input(p, format!("cannot write: {e}"))
}

/// Serialize named tensors as a safetensors file (in memory), with `format: pt` metadata.
pub fn serialize_tensors(tensors: &[(String, Tensor)]) -> Result<Vec<u8>, EncoderError> {
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let contig: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.contiguous()?)))
        .collect::<Result<_, candle_core::Error>>()
        .map_err(|e| EncoderError::Internal(e.to_string()))?;
    util::safetensors_bytes(contig.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| EncoderError::input("model.safetensors", format!("cannot serialize: {e}")))
}

/// Write config.json, model.safetensors and the tokenizer files of `tokenizer_src` into `dir`
/// (created if needed; each file written atomically).
pub fn write_hf_files(
    dir: &Path,
    config: &serde_json::Value,
    tensors: &[(String, Tensor)],
    tokenizer_src: &Path,
) -> Result<(), EncoderError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let bytes = serialize_tensors(tensors)?;
    util::write_atomic(&dir.join("model.safetensors"), &bytes).map_err(|e| io(dir, e))?;
    util::write_json(&dir.join("config.json"), config).map_err(|m| EncoderError::input(dir, m))?;
    for f in TOKENIZER_FILES {
        let p = tokenizer_src.join(f);
        if p.is_file() {
            let bytes = std::fs::read(&p)
                .map_err(|e| EncoderError::input(&p, format!("cannot read: {e}")))?;
            util::write_atomic(&dir.join(f), &bytes).map_err(|e| io(dir, e))?;
        }
    }
    Ok(())
}

/// A complete checkpoint directory at `dest`, written atomically: [`write_hf_files`] into a
/// temporary directory beside it, then renamed into place.
pub fn write_hf_dir(
    dest: &Path,
    config: &serde_json::Value,
    tensors: &[(String, Tensor)],
    tokenizer_src: &Path,
) -> Result<(), EncoderError> {
    write_dir_atomically(dest, |d| write_hf_files(d, config, tensors, tokenizer_src))
}

/// Build a directory with `fill` under a temporary name beside `dest`, then move it to `dest`
/// (replacing an existing directory of that name). On error the temporary directory is removed
/// and `dest` is left as it was.
pub fn write_dir_atomically<E: From<EncoderError>>(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| E::from(io(&parent, e)))?;
    let tmp = tempfile::Builder::new()
        .prefix(".probecast-variant-")
        .tempdir_in(&parent)
        .map_err(|e| E::from(io(&parent, e)))?;
    fill(tmp.path())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| E::from(io(tmp.path(), e)))?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| E::from(io(dest, e)))?;
    }
    let path = tmp.keep();
    std::fs::rename(&path, dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&path);
        E::from(io(dest, e))
    })
}
