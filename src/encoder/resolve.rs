//! Resolve `--model`: a local Hugging Face model directory, or a model id (`org/name`): found
//! in the local Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, or
//! `~/.cache/huggingface/hub`), else downloaded into it ([`crate::hub`], which honours
//! `HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE=1`). The revision is `main` unless
//! [`set_revision`] (the CLI's `--revision`) names a branch, tag or commit.

use super::EncoderError;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static REVISION: OnceLock<String> = OnceLock::new();

/// Set the revision (branch, tag or commit) model ids resolve to for the rest of the process
/// (the CLI's global `--revision`); the first call wins. Default: `main`.
pub fn set_revision(rev: &str) {
    let _ = REVISION.set(rev.to_string());
}

/// The revision model ids resolve to.
pub fn revision() -> &'static str {
    REVISION.get().map(String::as_str).unwrap_or("main")
}

/// Hub cache directories to search, in order (an empty variable counts as unset, as in
/// [`crate::hub::cache_dir`], where downloads go).
pub fn hub_cache_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    let set = |k: &str| std::env::var(k).ok().filter(|p| !p.is_empty());
    if let Some(p) = set("HF_HUB_CACHE") {
        v.push(PathBuf::from(p));
    }
    if let Some(p) = set("HF_HOME") {
        v.push(PathBuf::from(p).join("hub"));
    }
    if let Some(h) = set("HOME") {
        v.push(PathBuf::from(h).join(".cache/huggingface/hub"));
    }
    v
}

/// Find a model id in one hub cache: `models--org--name/snapshots/<rev>`, where `<rev>` is the
/// commit in `refs/main` if present, else the only (or newest) snapshot.
pub fn find_in_cache(cache: &Path, id: &str) -> Option<PathBuf> {
    let repo = crate::hub::repo_folder(cache, id);
    let snaps = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs/main")) {
        let p = snaps.join(rev.trim());
        if p.join("config.json").is_file() {
            return Some(p);
        }
    }
    let mut cands: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&snaps)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("config.json").is_file())
        .map(|p| {
            let t = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    cands.sort();
    cands.pop().map(|(_, p)| p)
}

/// Resolve a `--model` argument to a checkpoint directory.
pub fn resolve_model(spec: &str) -> Result<PathBuf, EncoderError> {
    let p = Path::new(spec);
    if p.is_dir() {
        if !p.join("config.json").is_file() {
            return Err(EncoderError::input(
                p,
                "missing config.json in the model directory",
            ));
        }
        return Ok(p.to_path_buf());
    }
    let looks_like_id = !spec.starts_with('.')
        && !spec.starts_with('/')
        && spec.split('/').count() <= 2
        && !spec.is_empty();
    if looks_like_id {
        let rev = revision();
        for c in hub_cache_dirs() {
            let found = if rev == "main" {
                find_in_cache(&c, spec)
            } else {
                crate::hub::cached_snapshot(&c, spec, rev)
            };
            if let Some(d) = found {
                return Ok(d);
            }
        }
        let settings = crate::hub::HubSettings::from_env();
        return crate::hub::snapshot_download(spec, rev, &settings).map_err(|e| {
            EncoderError::input(
                p,
                format!("no such model directory, and not in the local Hugging Face cache; {e}"),
            )
        });
    }
    Err(EncoderError::input(p, "no such model directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_snapshot_named_by_refs_main() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("models--org--tiny");
        for rev in ["aaa", "bbb"] {
            std::fs::create_dir_all(repo.join("snapshots").join(rev)).unwrap();
            std::fs::write(repo.join("snapshots").join(rev).join("config.json"), "{}").unwrap();
        }
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "aaa\n").unwrap();
        assert_eq!(
            find_in_cache(d.path(), "org/tiny").unwrap(),
            repo.join("snapshots/aaa")
        );
        assert!(find_in_cache(d.path(), "org/other").is_none());
    }
}
