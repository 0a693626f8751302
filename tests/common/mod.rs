//! Helpers shared by the integration tests: fixture paths, the real-model and shared-data
//! locations, and skipping (or failing under CI=true) when an external fixture is missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A committed fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// `../shared/data` beside the repository, if present.
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("../shared/data");
    p.is_dir().then_some(p)
}

/// The all-MiniLM-L6-v2 directory made by scripts/fetch-models.sh (`$PROBECAST_MODELS` or
/// `~/.cache/probecast/models`), if present.
pub fn minilm_dir() -> Option<PathBuf> {
    let base = std::env::var("PROBECAST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/probecast/models")
        });
    let p = base.join("all-MiniLM-L6-v2");
    p.join("config.json").is_file().then_some(p)
}

/// Skip a test whose external fixture is missing: print why and return true, except under
/// CI=true, where a missing fixture is a failure.
pub fn skip(what: &str) -> bool {
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("missing fixture under CI: {what}");
    }
    eprintln!("SKIPPED: {what}");
    true
}

/// Run the probecast binary.
pub fn probecast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_probecast"))
        .args(args)
        .output()
        .expect("run probecast")
}

/// Run the probecast binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = probecast(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Assert a run failed with exit code 2 and one stderr line containing every `needles`.
pub fn assert_user_error(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    for n in needles {
        assert!(err.contains(n), "{err:?} lacks {n:?}");
    }
}

/// Copy a directory (flat) to a new location.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Check autograd's gradient of one parameter against central finite differences (step 1e-6,
/// tolerance 1e-6 + 1e-4 |fd|) at the flat indices `pick(len)` chooses. `loss` evaluates the
/// model's scalar f64 loss with the parameter as currently set; the parameter is restored after
/// each probe. Returns the autograd values at the checked indices.
pub fn check_gradient_against_finite_differences(
    label: &str,
    var: &candle_core::Var,
    grads: &candle_core::backprop::GradStore,
    pick: &dyn Fn(usize) -> Vec<usize>,
    loss: &dyn Fn() -> f64,
) -> Vec<f64> {
    let g: Vec<f64> = grads
        .get(var.as_tensor())
        .unwrap_or_else(|| panic!("{label}: no gradient"))
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let w0 = var.as_tensor().copy().unwrap();
    let flat: Vec<f64> = w0.flatten_all().unwrap().to_vec1().unwrap();
    let eps = 1e-6;
    let mut checked = Vec::new();
    for i in pick(flat.len()) {
        let at = |d: f64| {
            let mut v = flat.clone();
            v[i] += d;
            var.set(&candle_core::Tensor::from_vec(v, w0.shape(), w0.device()).unwrap())
                .unwrap();
            loss()
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * eps);
        var.set(&w0).unwrap();
        assert!(
            (fd - g[i]).abs() <= 1e-6 + 1e-4 * fd.abs(),
            "{label}[{i}]: autograd {} vs finite difference {fd}",
            g[i]
        );
        checked.push(g[i]);
    }
    checked
}

/// A CSV file's header and rows as strings (panics naming the file when it cannot be read).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = rd.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (h, rows)
}

/// Every file under `dir` (relative path -> bytes).
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(base: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Paths of `.probecast-*` leftovers (temp files, staging directories) anywhere under `dir`.
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    fn walk(d: &Path, found: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with(".probecast-") {
                found.push(p.clone());
            }
            if p.is_dir() {
                walk(&p, found);
            }
        }
    }
    walk(dir, &mut found);
    found
}
