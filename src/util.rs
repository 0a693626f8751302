//! Small shared helpers: atomic file writes and content hashing.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: write a temporary file in the same directory, flush it to
/// disk, then rename it over `path`. A reader never sees a half-written file, and a run killed
/// midway leaves at most a `.tmp` file with a unique name that no reader looks at.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The pid in the name lets a later run tell a killed writer's leftover from a live one
    // (`outdir::remove_stale_temp`).
    let prefix = format!(".probecast-{}-", std::process::id());
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write a string atomically (see [`write_atomic`]).
pub fn write_atomic_str(path: &Path, s: &str) -> std::io::Result<()> {
    write_atomic(path, s.as_bytes())
}

/// Write a JSON value pretty-printed and atomically; the error names the file.
pub fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).expect("serialising a JSON value");
    write_atomic_str(path, &text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// The one safetensors serialiser: named tensors (candle tensors, or `safetensors` views over
/// raw bytes) into a file's bytes, with optional header metadata (`format: pt` for checkpoints
/// that PyTorch and transformers load; none for feature files).
pub fn safetensors_bytes<S: AsRef<str> + Ord + std::fmt::Display, V: safetensors::View>(
    tensors: impl IntoIterator<Item = (S, V)>,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    safetensors::tensor::serialize(tensors, metadata)
}

/// A setting out of its valid range, found by a settings struct's `check()` before any work
/// starts. It names the setting by its command-line flag (`--batch-size`), which is also the
/// field name with `_` read as `-`, so a library caller and a command-line user read the same
/// message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--{} {msg}", field.replace('_', "-"))]
pub struct SettingsError {
    /// The settings field (snake case).
    pub field: &'static str,
    /// What is wrong, e.g. "must be at least 1, got 0".
    pub msg: String,
}

impl SettingsError {
    /// An error about `field`.
    pub fn new(field: &'static str, msg: impl Into<String>) -> Self {
        SettingsError {
            field,
            msg: msg.into(),
        }
    }
}

/// `Err` naming `field` unless `value >= 1`.
pub fn at_least_one(field: &'static str, value: usize) -> Result<(), SettingsError> {
    if value == 0 {
        return Err(SettingsError::new(field, "must be at least 1, got 0"));
    }
    Ok(())
}

/// `Err` naming `max_length` unless it leaves room for the special tokens (at least 2).
pub fn room_for_special_tokens(max_length: usize) -> Result<(), SettingsError> {
    if max_length < 2 {
        return Err(SettingsError::new(
            "max_length",
            format!("{max_length} is too small (at least 2: the special tokens)"),
        ));
    }
    Ok(())
}

/// `Err` naming `field` unless `value` is finite and positive.
pub fn positive(field: &'static str, value: f64) -> Result<(), SettingsError> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(SettingsError::new(
            field,
            format!("must be positive and finite, got {value}"),
        ));
    }
    Ok(())
}

/// The one progress mechanism: an `indicatif` bar on stderr with `template`, drawn only when
/// stderr is a terminal (indicatif hides it otherwise); long-running library calls take a
/// `&ProgressBar` and callers that want silence pass `ProgressBar::hidden()`.
pub fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    pb
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file's content, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Check that `dir` exists (creating it if needed) and is writable; returns a one-line error
/// message naming the directory otherwise.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create output directory: {e}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".probecast-write-check-")
        .tempfile_in(dir)
        .map_err(|e| format!("{}: output directory is not writable: {e}", dir.display()))?;
    Ok(())
}

/// CPU seconds (user + system, every thread) this process has used so far; the difference of
/// two readings is the CPU cost of the work between them (0 where the platform cannot say).
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Seconds since the Unix epoch, for manifests.
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Make candle's element-wise thread pool single-threaded unless the user chose
/// (`CANDLE_NUM_THREADS`). That pool's waiting thread spins instead of sleeping: on a 2-core
/// machine with anything else running (parallel tests, a second job) the spinning took 35-77% of
/// the time of a training step and made it 2.2x slower (BENCHMARKS.md, fine-tuning). GEMMs keep
/// all cores (`RAYON_NUM_THREADS`); probecast's own kernels use rayon. Call at the start of
/// `main`, before any other thread exists.
pub fn default_candle_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// Whether the CPU has AVX2 and FMA, the features probecast's vectorised kernels are compiled
/// for (`#[target_feature(enable = "avx2,fma")]` copies of generic kernels). The check is
/// cached by the standard library, so it is cheap inside loops.
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `avx2_or!(fast, generic; args...)`: call `fast(args)` (an `unsafe` `avx2,fma`
/// target-feature copy of `generic`) when [`has_avx2_fma`] says the CPU can run it, else
/// `generic(args)`; evaluates to the call's value. On other architectures only `generic` exists
/// in the expansion.
macro_rules! avx2_or {
    ($fast:path, $generic:path; $($a:expr),* $(,)?) => {{
        #[cfg(target_arch = "x86_64")]
        let r = if $crate::util::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function was compiled for.
            unsafe { $fast($($a),*) }
        } else {
            $generic($($a),*)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let r = $generic($($a),*);
        r
    }};
}
pub(crate) use avx2_or;

/// Keep freed memory in the process instead of returning it to the kernel after every tensor.
///
/// candle allocates a fresh buffer for every tensor op (several MB each in a training step).
/// glibc serves such sizes with `mmap` or trims them off the heap top on `free`, so every op
/// paid page faults and zeroing of new pages: 10% of a fine-tuning step's samples in `perf`, and
/// the step was 20% faster with the thresholds below (BENCHMARKS.md, fine-tuning). Allocations
/// up to 64 MiB come from the heap, and up to 1 GiB of free heap is kept for reuse. No effect
/// outside glibc. Call at the start of `main` (benches call it too).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// The process-wide runtime defaults of the probecast binary: [`default_candle_threads`] and
/// [`tune_allocator`]. Call first thing in `main`, before any other thread exists.
pub fn runtime_defaults() {
    default_candle_threads();
    tune_allocator();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_matches_the_published_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.txt");
        write_atomic_str(&p, "one").unwrap();
        write_atomic_str(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
