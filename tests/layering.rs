//! The crate's layering (README "Layout", src/lib.rs): every top-level module of src/ has a
//! layer, and non-test code may name (`crate::x` / `probecast::x`, comments included, as the
//! shared layering hook counts them) only modules of a lower layer, or of its own layer when
//! that layer is not the stage layer. So there is no module cycle, no stage
//! reaching into a peer stage, and no lower layer reaching up. A new top-level module must be
//! given a layer here, which is the point: the test fails until someone decides where it sits.

use std::collections::BTreeMap;
use std::path::Path;

/// (module, layer). Higher layers may use lower ones.
const LAYERS: &[(&str, u32)] = &[
    // 0: kernels and utilities
    ("kernels", 0),
    ("util", 0),
    ("stats", 0),
    ("manifest", 0),
    ("outdir", 0),
    ("hub", 0),
    // 1: datasets
    ("data", 1),
    // 2: what training shares
    ("nn", 2),
    // 2: linear models on frozen features (probes and transferability estimators share them)
    ("learn", 2),
    // 3: checkpoints -> models
    ("encoder", 3),
    // 4: pooled features and their cache
    ("features", 4),
    // 5: the stages (peers: none may use another)
    ("probe", 5),
    ("finetune", 5),
    ("zoo", 5),
    ("predict", 5),
    ("transfer", 5),
    // 6-8: orchestration over the stages' outputs: the report, the study runner, the demo (a
    // study on built-in data that ends with a report)
    ("report", 6),
    ("study", 7),
    ("demo", 8),
    // 9: the command line
    ("cli", 9),
];

/// The stage layer: modules there must not use each other.
const STAGES: u32 = 5;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Non-test code of a file: inline `#[cfg(test)]` modules (at the end, by convention) and whole
/// test files dropped.
fn non_test_code(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    if name == "tests.rs" || name == "test.rs" || name.ends_with("_tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    text.split("#[cfg(test)]").next().unwrap().to_string()
}

/// Modules named as `crate::x` or `probecast::x` in `code`.
fn named_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["crate::", "probecast::"] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let m: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !m.is_empty() {
                out.push(m);
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_lower_layers_and_no_stage_uses_a_peer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut problems = Vec::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let Some(&own) = layer.get(name.as_str()) else {
            problems.push(format!(
                "src/{name}: a top-level module with no layer: add it to tests/layering.rs and the README's Layout"
            ));
            continue;
        };
        let mut files = Vec::new();
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else {
            files.push(p.clone());
        }
        for f in files {
            for m in named_modules(&non_test_code(&f)) {
                if m == name {
                    continue;
                }
                let Some(&theirs) = layer.get(m.as_str()) else {
                    continue; // not a module of the crate (e.g. `crate::` in a doc string)
                };
                let rel = f.strip_prefix(&src).unwrap().display().to_string();
                if theirs > own {
                    problems.push(format!(
                        "src/{rel}: {name} (layer {own}) uses {m} (layer {theirs}), a higher layer"
                    ));
                } else if theirs == own && own == STAGES {
                    problems.push(format!("src/{rel}: stage {name} uses its peer stage {m}"));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_module_scanner_sees_crate_paths_and_skips_other_identifiers() {
    let m = named_modules(
        "use crate::nn::ops;\nlet x = probecast::stats::rmse(a);\nmy_crate::zoo::x; // crate::data",
    );
    assert_eq!(m, vec!["nn", "data", "stats"]);
}
