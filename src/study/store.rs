//! Unit directories: written into a private staging directory, closed by a completion marker
//! (`done.json`: the unit's key and hash, and every file's size and SHA-256), then renamed into
//! place. A unit directory counts as done only when its marker is there, names this unit's hash,
//! and every listed file has its recorded size (and, below [`HASH_CHECK_LIMIT`] bytes, its
//! recorded SHA-256): a file truncated or altered after the fact makes the unit pending again,
//! and its directory is replaced when it is recomputed, never read.

use crate::util;
use std::path::{Path, PathBuf};

/// The completion marker's file name.
pub const MARKER: &str = "done.json";

/// Files up to this size have their SHA-256 checked on every read of the unit; bigger ones
/// (variant weights) their size only, so that `study status` stays fast.
pub const HASH_CHECK_LIMIT: u64 = 16 << 20;

/// One file of a finished unit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    /// Path relative to the unit directory (`/`-separated).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// The completion marker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Marker {
    /// The unit's key (its directory name).
    pub unit: String,
    /// The unit's content hash.
    pub hash: String,
    /// Every file of the unit but the marker, sorted.
    pub files: Vec<FileSum>,
    /// Wall-clock seconds the unit took (absent in markers of older runs).
    #[serde(default)]
    pub seconds: f64,
    /// CPU seconds (user + system, every thread) the unit took: what it costs a user.
    #[serde(default)]
    pub cpu_seconds: f64,
}

/// The marker of a finished unit (`None` when unreadable).
pub fn read_marker(dir: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else {
            out.push(p.strip_prefix(root).expect("below root").to_path_buf());
        }
    }
    Ok(())
}

/// Sum every file below `dir` (the marker excluded), sorted by path.
pub fn sum_files(dir: &Path) -> Result<Vec<FileSum>, String> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
    files.sort();
    let mut out = Vec::new();
    for rel in files {
        let name = rel.to_string_lossy().replace('\\', "/");
        if name == MARKER {
            continue;
        }
        let p = dir.join(&rel);
        let bytes = std::fs::metadata(&p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .len();
        let sha256 = util::sha256_file(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        out.push(FileSum {
            path: name,
            bytes,
            sha256,
        });
    }
    Ok(out)
}

/// Why a unit directory is not (or no longer) a finished unit; `None` when it is.
pub fn verify(dir: &Path, hash: &str) -> Option<String> {
    let m = dir.join(MARKER);
    if !dir.exists() {
        return Some("not run".into());
    }
    let Ok(text) = std::fs::read_to_string(&m) else {
        return Some(format!("{} is missing (unfinished)", m.display()));
    };
    let Ok(marker) = serde_json::from_str::<Marker>(&text) else {
        return Some(format!("{} is unreadable", m.display()));
    };
    if marker.hash != hash {
        return Some(format!("{} belongs to another unit", m.display()));
    }
    for f in &marker.files {
        let p = dir.join(&f.path);
        match std::fs::metadata(&p) {
            Err(_) => return Some(format!("{} is missing", p.display())),
            Ok(md) if md.len() != f.bytes => {
                return Some(format!(
                    "{} has {} bytes, {} recorded (truncated)",
                    p.display(),
                    md.len(),
                    f.bytes
                ))
            }
            Ok(_) => {}
        }
        if f.bytes <= HASH_CHECK_LIMIT && util::sha256_file(&p).ok().as_ref() != Some(&f.sha256) {
            return Some(format!("{} does not match its checksum", p.display()));
        }
    }
    None
}

/// Build a unit: `make` writes into a fresh staging directory beside `dir` (named so that
/// [`crate::outdir::remove_stale_temp`] removes it once this process is gone); then the marker
/// is written, an old (unfinished or stale) `dir` removed, and the staging directory renamed to
/// `dir`.
pub fn build(
    dir: &Path,
    unit: &str,
    hash: &str,
    make: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let parent = dir.parent().expect("a unit directory has a parent");
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    crate::outdir::remove_stale_temp(parent);
    let staging = parent.join(format!(".probecast-staging-{}-{unit}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    }
    let (t0, cpu0) = (std::time::Instant::now(), util::process_cpu_seconds());
    let res = make(&staging);
    let (seconds, cpu_seconds) = (
        t0.elapsed().as_secs_f64(),
        util::process_cpu_seconds() - cpu0,
    );
    if let Err(e) = res {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let marker = Marker {
        unit: unit.to_string(),
        hash: hash.to_string(),
        files: sum_files(&staging)?,
        seconds,
        cpu_seconds,
    };
    let text = serde_json::to_string_pretty(&marker).expect("a marker serialises") + "\n";
    util::write_atomic_str(&staging.join(MARKER), &text)
        .map_err(|e| format!("{}: {e}", staging.join(MARKER).display()))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_unit_verifies_and_a_truncated_file_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("u");
        build(&dir, "u", "h1", |d| {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            std::fs::write(d.join("a.csv"), "x,y\n1,2\n").unwrap();
            std::fs::write(d.join("sub/b.txt"), "hello").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(verify(&dir, "h1"), None);
        assert!(verify(&dir, "h2").unwrap().contains("another unit"));
        std::fs::write(dir.join("a.csv"), "x,y\n1,").unwrap();
        assert!(verify(&dir, "h1").unwrap().contains("truncated"));
        std::fs::write(dir.join("a.csv"), "x,y\n1,3\n").unwrap();
        assert!(verify(&dir, "h1").unwrap().contains("checksum"));
        // no staging directory is left behind
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn a_failed_build_leaves_the_old_unit_and_no_staging_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("u");
        build(&dir, "u", "h", |d| {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("a"), "1").unwrap();
            Ok(())
        })
        .unwrap();
        let e = build(&dir, "u", "h", |d| {
            std::fs::create_dir_all(d).unwrap();
            Err("boom".into())
        });
        assert_eq!(e.unwrap_err(), "boom");
        assert_eq!(verify(&dir, "h"), None);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
