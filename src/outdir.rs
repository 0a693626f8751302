//! Output directories that are replaced only by a complete new set.
//!
//! A stage writes its outputs into a private staging directory inside `--out`
//! ([`OutputTx::dir`]); only when everything succeeded does [`OutputTx::commit`] move them into
//! `--out`, the manifest last. So:
//!
//! - a failing run leaves an earlier run's files untouched (nothing was moved);
//! - files of an earlier run that the new manifest does not list are removed only after the new
//!   set is in place;
//! - the old `manifest.json` is removed before the first file moves in, so a process killed in
//!   the middle of the commit leaves a directory without a manifest: readers (and the next run)
//!   see no finished run there, never a mixture presented as one;
//! - an `--out` directory that a failed run created itself is removed again;
//! - leftovers of killed runs (`.probecast-*.tmp` files written by [`crate::util::write_atomic`],
//!   staging directories, and the files a commit killed midway had moved in, listed in its
//!   journal) whose process is gone are removed when the next run starts.
//!
//! One run per `--out` at a time: a leftover whose process is still alive is left alone.

use std::path::{Path, PathBuf};

/// Prefix of staging directories inside an output directory.
const STAGING_PREFIX: &str = ".probecast-staging-";
/// Prefix of commit journals (`.probecast-journal-<pid>-commit.tmp`).
const JOURNAL_PREFIX: &str = ".probecast-journal-";

/// An output directory being replaced: see the module docs.
#[derive(Debug)]
pub struct OutputTx {
    out: PathBuf,
    staging: Option<PathBuf>,
    created_out: bool,
}

/// Whether a leftover name (`.probecast-<pid>-…tmp` or `.probecast-staging-<pid>-…`) belongs
/// to a process that no longer runs. Names without a readable pid count as stale.
fn owner_gone(name: &str) -> bool {
    let rest = name
        .strip_prefix(STAGING_PREFIX)
        .or_else(|| name.strip_prefix(JOURNAL_PREFIX))
        .or_else(|| name.strip_prefix(".probecast-"));
    let pid = rest
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(p) if p == std::process::id() => false,
        Some(p) => !Path::new("/proc").join(p.to_string()).exists(),
        None => true,
    }
}

/// Remove the leftovers of killed runs in `dir` (not recursive): `.probecast-*.tmp` files and
/// staging directories whose process is gone. Returns how many entries were removed. A missing
/// directory has none.
pub fn remove_stale_temp(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let stale_tmp = name.starts_with(".probecast-") && name.ends_with(".tmp");
        let stale_dir = name.starts_with(STAGING_PREFIX);
        if !(stale_tmp || stale_dir) || !owner_gone(&name) {
            continue;
        }
        if name.starts_with(JOURNAL_PREFIX) && !dir.join("manifest.json").exists() {
            // A commit killed midway: take back the files it had moved in (no manifest lists
            // them; the old manifest was already removed).
            let listed = std::fs::read_to_string(&path).unwrap_or_default();
            for f in listed.lines().filter(|f| is_plain_name(f)) {
                let p = dir.join(f);
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
        let ok = if path.is_dir() {
            std::fs::remove_dir_all(&path).is_ok()
        } else {
            std::fs::remove_file(&path).is_ok()
        };
        removed += usize::from(ok);
    }
    removed
}

/// [`remove_stale_temp`] in `dir` and every directory below it (for the feature cache).
pub fn remove_stale_temp_tree(dir: &Path) -> usize {
    let mut n = remove_stale_temp(dir);
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() && !name.starts_with(STAGING_PREFIX) {
                n += remove_stale_temp_tree(&p);
            }
        }
    }
    n
}

impl OutputTx {
    /// Start replacing `out`: refuse a path that exists and is not a directory, create it if
    /// needed (remembering that this run created it), remove leftovers of killed runs, and make
    /// the staging directory. Errors are one line naming `out`.
    pub fn begin(out: &Path) -> Result<Self, String> {
        if out.exists() && !out.is_dir() {
            return Err(format!("{}: exists and is not a directory", out.display()));
        }
        let created_out = !out.exists();
        std::fs::create_dir_all(out)
            .map_err(|e| format!("{}: cannot create output directory: {e}", out.display()))?;
        let mut tx = OutputTx {
            out: out.to_path_buf(),
            staging: None,
            created_out,
        };
        remove_stale_temp(out);
        let staging = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
            .tempdir_in(out)
            .map_err(|e| format!("{}: output directory is not writable: {e}", out.display()))?
            .keep();
        tx.staging = Some(staging);
        Ok(tx)
    }

    /// Where the new outputs are written (moved into `--out` by [`Self::commit`]).
    pub fn dir(&self) -> &Path {
        self.staging.as_deref().expect("staging directory")
    }

    /// The final output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Move the staged files into `--out` (`manifest.json` last, after the old one was
    /// removed), then remove files of the earlier run that the new manifest does not list, and
    /// the staging directory. Files that are not the earlier run's (listed in its manifest) are
    /// never touched.
    pub fn commit(mut self) -> Result<(), String> {
        let staging = self.staging.take().expect("staging directory");
        let fail = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
        let old = crate::manifest::Manifest::read(&self.out).ok();
        let mut names: Vec<String> = std::fs::read_dir(&staging)
            .map_err(|e| fail(&staging, e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "manifest.json")
            .collect();
        names.sort();
        // The journal lists what is about to move in: if this process dies mid-commit, the next
        // run's cleanup removes those files again (see `remove_stale_temp`). It is written before
        // the old manifest is removed and removed after the new one is in, so a journal beside a
        // manifest means either nothing moved yet or the commit finished: no file to take back.
        let journal = self
            .out
            .join(format!("{JOURNAL_PREFIX}{}-commit.tmp", std::process::id()));
        crate::util::write_atomic_str(&journal, &names.join("\n"))
            .map_err(|e| fail(&journal, e))?;
        let manifest = self.out.join("manifest.json");
        if manifest.exists() {
            std::fs::remove_file(&manifest).map_err(|e| fail(&manifest, e))?;
        }
        for n in &names {
            let (from, to) = (staging.join(n), self.out.join(n));
            if to.is_dir() && from.is_dir() {
                std::fs::remove_dir_all(&to).map_err(|e| fail(&to, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| fail(&to, e))?;
        }
        if staging.join("manifest.json").exists() {
            std::fs::rename(staging.join("manifest.json"), &manifest)
                .map_err(|e| fail(&manifest, e))?;
        }
        if let Some(old) = old {
            for f in old.outputs.iter().filter(|f| is_plain_name(f)) {
                if !names.contains(f) {
                    let p = self.out.join(f);
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        }
        let _ = std::fs::remove_file(&journal);
        let _ = std::fs::remove_dir_all(&staging);
        Ok(())
    }
}

/// A manifest output name that stays inside the directory (no separators, not hidden).
fn is_plain_name(f: &str) -> bool {
    !f.is_empty() && !f.contains('/') && !f.contains('\\') && !f.starts_with('.')
}

impl Drop for OutputTx {
    /// A run that did not commit: remove its staging directory, and `--out` itself when this
    /// run created it and it is empty again.
    fn drop(&mut self) {
        if let Some(s) = self.staging.take() {
            let _ = std::fs::remove_dir_all(s);
            if self.created_out {
                let _ = std::fs::remove_dir(&self.out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_does_not_commit_leaves_the_old_files_and_removes_a_new_out() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("new");
        {
            let tx = OutputTx::begin(&out).unwrap();
            std::fs::write(tx.dir().join("a.csv"), "x").unwrap();
        }
        assert!(!out.exists());
        let old = t.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("a.csv"), "old").unwrap();
        {
            let tx = OutputTx::begin(&old).unwrap();
            std::fs::write(tx.dir().join("a.csv"), "new").unwrap();
        }
        assert_eq!(std::fs::read_to_string(old.join("a.csv")).unwrap(), "old");
        assert_eq!(std::fs::read_dir(&old).unwrap().count(), 1);
    }

    #[test]
    fn commit_replaces_the_set_and_drops_files_the_new_manifest_does_not_list() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path();
        let mut m = crate::manifest::Manifest::new("embed", &[]);
        m.outputs = vec!["cls.safetensors".into(), "mean.safetensors".into()];
        std::fs::write(out.join("cls.safetensors"), "old").unwrap();
        std::fs::write(out.join("mean.safetensors"), "old").unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        m.write(out).unwrap();
        std::fs::write(out.join(".probecast-999999999-abc.tmp"), "").unwrap();
        let tx = OutputTx::begin(out).unwrap();
        std::fs::write(tx.dir().join("cls.safetensors"), "new").unwrap();
        m.outputs = vec!["cls.safetensors".into()];
        m.write(tx.dir()).unwrap();
        tx.commit().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["cls.safetensors", "manifest.json", "notes.txt"]);
        assert_eq!(
            std::fs::read_to_string(out.join("cls.safetensors")).unwrap(),
            "new"
        );
    }
}
