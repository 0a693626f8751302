//! Reading the features/targets tables: a CSV with one row per checkpoint, an id column, target
//! columns, feature columns and an optional family (group) column; or features and targets in
//! two files joined on the id column. Every problem is reported as one line naming the file,
//! the line and the column.
//!
//! Family column choice: `--family-column NAME` if given; else `--family-regex` (first capture
//! group of the id); else a column literally named `family` is used automatically if present.
//! A `family` column is never treated as a feature.

use super::linalg::Mat;
use regex::Regex;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Errors of reading and validating the input tables.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file could not be opened or parsed as CSV.
    #[error("{file}: {msg}")]
    Csv {
        /// The file.
        file: String,
        /// What went wrong.
        msg: String,
    },
    /// A named column is absent.
    #[error("{file}: no {what} column '{name}' (columns: {columns})")]
    MissingColumn {
        /// The file.
        file: String,
        /// Which role the column had (id, target, family).
        what: &'static str,
        /// The column name.
        name: String,
        /// The columns present (abbreviated).
        columns: String,
    },
    /// A column that a saved predictor needs is absent.
    #[error("{file}: no feature column '{name}', which the predictor needs (columns: {columns})")]
    MissingNeeded {
        /// The file.
        file: String,
        /// The column name.
        name: String,
        /// The columns present (abbreviated).
        columns: String,
    },
    /// A cell that should be a number is not.
    #[error("{file}: line {line}, column '{column}': '{value}' is not a number{hint}")]
    NotNumeric {
        /// The file.
        file: String,
        /// 1-based line number in the file.
        line: u64,
        /// Column name.
        column: String,
        /// The cell.
        value: String,
        /// How to get past it.
        hint: String,
    },
    /// An empty or NA cell.
    #[error("{file}: line {line}, column '{column}': missing value{hint}")]
    Missing {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Column name.
        column: String,
        /// How to get past it.
        hint: String,
    },
    /// The same id twice.
    #[error("{file}: duplicate id '{id}' on lines {first} and {second}")]
    DuplicateId {
        /// The file.
        file: String,
        /// The id.
        id: String,
        /// Line of the first occurrence.
        first: u64,
        /// Line of the second.
        second: u64,
    },
    /// Ids differ between the features and targets files.
    #[error("ids differ between {features} and {targets}: {detail}")]
    MismatchedIds {
        /// Features file.
        features: String,
        /// Targets file.
        targets: String,
        /// Which ids are on one side only.
        detail: String,
    },
    /// No feature columns left.
    #[error("{file}: no feature columns{detail}")]
    NoFeatures {
        /// The file.
        file: String,
        /// Context (the regex used).
        detail: String,
    },
    /// No targets.
    #[error("no target columns: name them with --targets rte,cola,... or give --targets-file")]
    NoTargets,
    /// An id that the family regex does not match.
    #[error(
        "{file}: line {line}: id '{id}' does not match --family-regex (or has no capture group 1)"
    )]
    FamilyRegex {
        /// The file.
        file: String,
        /// Line.
        line: u64,
        /// The id.
        id: String,
    },
}

/// How to read the input tables.
#[derive(Debug, Clone, Default)]
pub struct TableSettings {
    /// Name of the id column (e.g. `model`).
    pub id_column: String,
    /// Target column names (may be empty when `targets_file` is given: then all its columns).
    pub targets: Vec<String>,
    /// Optional second file with the targets, joined on the id column.
    pub targets_file: Option<PathBuf>,
    /// Explicit family column.
    pub family_column: Option<String>,
    /// Family = first capture group of this regex on the id.
    pub family_regex: Option<Regex>,
    /// Column that groups the rows for `--cv group` when that is not the family (e.g. the
    /// variant operation); the family still gives the family-mean baseline.
    pub group_column: Option<String>,
    /// Only columns whose name matches are features (others are ignored).
    pub features: Option<Regex>,
    /// Keep missing feature cells (NaN), imputed later by training-fold means.
    pub impute_mean: bool,
}

/// A loaded data set: ids, optional families, features and targets, all row-aligned.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Checkpoint ids.
    pub ids: Vec<String>,
    /// Family of each row, if known (the family-mean baseline; the `--cv group` grouping
    /// unless `groups` is given).
    pub families: Option<Vec<String>>,
    /// The `--cv group` grouping when it is not the family.
    pub groups: Option<Vec<String>>,
    /// Feature column names.
    pub feature_names: Vec<String>,
    /// Features, rows x features; NaN marks a missing cell (only with `impute_mean`).
    pub x: Mat,
    /// Target names.
    pub target_names: Vec<String>,
    /// Target values, one vector per target, row-aligned.
    pub y: Vec<Vec<f64>>,
    /// SHA-256 of the input file(s) (`features` or `features+targets`).
    pub sha256: String,
    /// The input files, for messages.
    pub files: Vec<String>,
}

struct Raw {
    file: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    lines: Vec<u64>,
}

fn read_raw(path: &Path) -> Result<Raw, TableError> {
    let file = path.display().to_string();
    let err = |msg: String| TableError::Csv {
        file: file.clone(),
        msg,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(format!("cannot read: {}", io_msg(&e))))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| err(format!("bad CSV header: {e}")))?
        .iter()
        .enumerate()
        // a UTF-8 byte-order mark (spreadsheet exports) is not part of the first name
        .map(|(i, s)| {
            if i == 0 {
                s.trim_start_matches('\u{feff}')
            } else {
                s
            }
            .to_string()
        })
        .collect();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(err("empty file (no header)".into()));
    }
    let mut seen = BTreeSet::new();
    for h in &headers {
        if !seen.insert(h) {
            return Err(err(format!("column '{h}' appears twice in the header")));
        }
    }
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    // Line numbers come from byte offsets: the csv crate's own count is one too low on CRLF files.
    let bytes = std::fs::read(path).unwrap_or_default();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(csv_error_message(&e, &bytes)))?;
        let line = rec.position().map_or(0, |p| line_at(&bytes, p.byte()));
        rows.push(rec.iter().map(|s| s.to_string()).collect());
        lines.push(line);
    }
    if rows.is_empty() {
        return Err(err("no data rows".into()));
    }
    Ok(Raw {
        file,
        headers,
        rows,
        lines,
    })
}

fn io_msg(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

fn abbreviate(cols: &[String]) -> String {
    if cols.len() <= 8 {
        cols.join(", ")
    } else {
        format!("{}, ... ({} in all)", cols[..8].join(", "), cols.len())
    }
}

/// Whether a cell counts as missing: empty, `NA`, `NaN`, `null`, `None` (any case).
pub fn is_missing(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "" | "na" | "nan" | "null" | "none" | "n/a"
    )
}

impl Raw {
    fn col(&self, name: &str, what: &'static str) -> Result<usize, TableError> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| TableError::MissingColumn {
                file: self.file.clone(),
                what,
                name: name.to_string(),
                columns: abbreviate(&self.headers),
            })
    }

    fn ids(&self, c: usize) -> Result<Vec<String>, TableError> {
        let mut seen: HashMap<&str, u64> = HashMap::new();
        for (r, &line) in self.rows.iter().zip(&self.lines) {
            let id = r[c].as_str();
            if id.is_empty() {
                return Err(TableError::Missing {
                    file: self.file.clone(),
                    line,
                    column: self.headers[c].clone(),
                    hint: " (every row needs an id)".into(),
                });
            }
            if let Some(&first) = seen.get(id) {
                return Err(TableError::DuplicateId {
                    file: self.file.clone(),
                    id: id.to_string(),
                    first,
                    second: line,
                });
            }
            seen.insert(id, line);
        }
        Ok(self.rows.iter().map(|r| r[c].clone()).collect())
    }

    /// Parse column `c` as numbers; missing cells become NaN only if `allow_missing`.
    fn numeric(
        &self,
        c: usize,
        allow_missing: bool,
        hint: &str,
        bad_hint: &str,
    ) -> Result<Vec<f64>, TableError> {
        let mut out = Vec::with_capacity(self.rows.len());
        for (r, &line) in self.rows.iter().zip(&self.lines) {
            let s = r[c].as_str();
            if is_missing(s) {
                if allow_missing {
                    out.push(f64::NAN);
                    continue;
                }
                return Err(TableError::Missing {
                    file: self.file.clone(),
                    line,
                    column: self.headers[c].clone(),
                    hint: hint.to_string(),
                });
            }
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push(v),
                _ => {
                    return Err(TableError::NotNumeric {
                        file: self.file.clone(),
                        line,
                        column: self.headers[c].clone(),
                        value: s.to_string(),
                        hint: bad_hint.into(),
                    })
                }
            }
        }
        Ok(out)
    }
}

const TARGET_HINT: &str = " (target values must be numbers)";
const FEATURE_HINT: &str = " (exclude non-feature columns with --features REGEX)";

impl Dataset {
    /// The grouping of `--cv group`: the group column, else the families.
    pub fn cv_groups(&self) -> Option<&[String]> {
        self.groups.as_deref().or(self.families.as_deref())
    }
}

/// Read and validate the input table(s).
pub fn load(data: &Path, opts: &TableSettings) -> Result<Dataset, TableError> {
    let raw = read_raw(data)?;
    let id_c = raw.col(&opts.id_column, "id")?;
    let ids = raw.ids(id_c)?;
    let mut reserved: BTreeSet<usize> = BTreeSet::from([id_c]);

    // Families.
    let families = if let Some(name) = &opts.family_column {
        let c = raw.col(name, "family")?;
        reserved.insert(c);
        Some(raw.rows.iter().map(|r| r[c].clone()).collect())
    } else if let Some(re) = &opts.family_regex {
        let mut f = Vec::with_capacity(ids.len());
        for (id, &line) in ids.iter().zip(&raw.lines) {
            let g =
                re.captures(id)
                    .and_then(|c| c.get(1))
                    .ok_or_else(|| TableError::FamilyRegex {
                        file: raw.file.clone(),
                        line,
                        id: id.clone(),
                    })?;
            f.push(g.as_str().to_string());
        }
        if let Some(c) = raw.headers.iter().position(|h| h == "family") {
            reserved.insert(c);
        }
        Some(f)
    } else if let Some(c) = raw.headers.iter().position(|h| h == "family") {
        reserved.insert(c);
        Some(raw.rows.iter().map(|r| r[c].clone()).collect())
    } else {
        None
    };

    // The grouping of `--cv group`, when it is not the family.
    let groups = match &opts.group_column {
        Some(name) => {
            let c = raw.col(name, "group")?;
            reserved.insert(c);
            Some(raw.rows.iter().map(|r| r[c].clone()).collect())
        }
        None => None,
    };

    // Targets.
    let missing_target_hint = " (target values cannot be imputed; remove the row)";
    let mut target_names = Vec::new();
    let mut y = Vec::new();
    let mut files = vec![raw.file.clone()];
    let mut sha = crate::util::sha256_file(data).map_err(|e| TableError::Csv {
        file: raw.file.clone(),
        msg: e.to_string(),
    })?;
    if let Some(tpath) = &opts.targets_file {
        let traw = read_raw(tpath)?;
        let tid_c = traw.col(&opts.id_column, "id")?;
        let tids = traw.ids(tid_c)?;
        let a: BTreeSet<&String> = ids.iter().collect();
        let b: BTreeSet<&String> = tids.iter().collect();
        if a != b {
            let only_a: Vec<&&String> = a.difference(&b).take(3).collect();
            let only_b: Vec<&&String> = b.difference(&a).take(3).collect();
            let mut detail = Vec::new();
            if !only_a.is_empty() {
                detail.push(format!("only in features: {only_a:?}"));
            }
            if !only_b.is_empty() {
                detail.push(format!("only in targets: {only_b:?}"));
            }
            return Err(TableError::MismatchedIds {
                features: raw.file.clone(),
                targets: traw.file.clone(),
                detail: detail.join("; "),
            });
        }
        let pos: HashMap<&String, usize> = tids.iter().enumerate().map(|(i, s)| (s, i)).collect();
        let names: Vec<String> = if opts.targets.is_empty() {
            traw.headers
                .iter()
                .enumerate()
                .filter(|&(c, h)| c != tid_c && h != "family")
                .map(|(_, h)| h.clone())
                .collect()
        } else {
            opts.targets.clone()
        };
        for name in names {
            let c = traw.col(&name, "target")?;
            let v = traw.numeric(c, false, missing_target_hint, TARGET_HINT)?;
            y.push(ids.iter().map(|id| v[pos[id]]).collect());
            target_names.push(name);
            // a same-named column in the features file is not a feature
            if let Some(fc) = raw
                .headers
                .iter()
                .position(|h| *h == target_names[target_names.len() - 1])
            {
                reserved.insert(fc);
            }
        }
        files.push(traw.file.clone());
        sha = crate::util::sha256_hex(
            format!(
                "{sha}+{}",
                crate::util::sha256_file(tpath).map_err(|e| TableError::Csv {
                    file: traw.file.clone(),
                    msg: e.to_string()
                })?
            )
            .as_bytes(),
        );
    } else {
        for name in &opts.targets {
            let c = raw.col(name, "target")?;
            y.push(raw.numeric(c, false, missing_target_hint, TARGET_HINT)?);
            target_names.push(name.clone());
            reserved.insert(c);
        }
    }
    if target_names.is_empty() {
        return Err(TableError::NoTargets);
    }

    // Features.
    let hint = if opts.impute_mean {
        ""
    } else {
        " (pass --impute mean to fill missing features with the training-fold mean)"
    };
    let mut feature_names = Vec::new();
    let mut cols = Vec::new();
    for (c, h) in raw.headers.iter().enumerate() {
        if reserved.contains(&c) {
            continue;
        }
        if let Some(re) = &opts.features {
            if !re.is_match(h) {
                continue;
            }
        }
        cols.push(raw.numeric(c, opts.impute_mean, hint, FEATURE_HINT)?);
        feature_names.push(h.clone());
    }
    if feature_names.is_empty() {
        return Err(TableError::NoFeatures {
            file: raw.file.clone(),
            detail: opts
                .features
                .as_ref()
                .map(|r| format!(" match --features '{}'", r.as_str()))
                .unwrap_or_default(),
        });
    }
    let n = ids.len();
    let p = cols.len();
    let mut x = Mat::zeros(n, p);
    for (j, col) in cols.iter().enumerate() {
        for i in 0..n {
            *x.at_mut(i, j) = col[i];
        }
    }
    Ok(Dataset {
        ids,
        families,
        groups,
        feature_names,
        x,
        target_names,
        y,
        sha256: sha,
        files,
    })
}

/// Read the id column and the `needed` numeric columns of a features table (for applying a
/// saved predictor). A missing column is an error naming it; missing cells are an error unless
/// `impute_mean` (then NaN, which the model maps to the training mean).
pub fn read_columns(
    path: &Path,
    id_column: &str,
    needed: &[String],
    impute_mean: bool,
) -> Result<(Vec<String>, Mat), TableError> {
    let raw = read_raw(path)?;
    let id_c = raw.col(id_column, "id")?;
    let ids = raw.ids(id_c)?;
    let hint = if impute_mean {
        ""
    } else {
        " (pass --impute mean to use the training mean)"
    };
    let mut x = Mat::zeros(ids.len(), needed.len());
    for (j, name) in needed.iter().enumerate() {
        let c = raw.headers.iter().position(|h| h == name).ok_or_else(|| {
            TableError::MissingColumn {
                file: raw.file.clone(),
                what: "feature",
                name: name.clone(),
                columns: format!(
                    "the predictor needs it; file has {}",
                    abbreviate(&raw.headers)
                ),
            }
        })?;
        let v = raw.numeric(c, impute_mean, hint, "")?;
        for (i, vi) in v.into_iter().enumerate() {
            *x.at_mut(i, j) = vi;
        }
    }
    Ok((ids, x))
}

/// The 1-based line of the record starting at byte `pos`: line ends before it are counted after
/// skipping the `\r`/`\n` the parser may place at a record's start (LF, CRLF or CR files alike).
pub fn line_at(bytes: &[u8], pos: u64) -> u64 {
    let mut p = (pos as usize).min(bytes.len());
    while p < bytes.len() && (bytes[p] == b'\n' || bytes[p] == b'\r') {
        p += 1;
    }
    let before = &bytes[..p];
    let lf = before.iter().filter(|&&b| b == b'\n').count();
    let lone_cr = before
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(before.last() == Some(&b'\r'));
    (lf + lone_cr) as u64 + 1
}

/// A CSV parse error with the line computed by [`line_at`].
fn csv_error_message(e: &csv::Error, bytes: &[u8]) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos: Some(p),
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields where the header has {expected_len}",
            line_at(bytes, p.byte())
        ),
        csv::ErrorKind::Utf8 { pos: Some(p), .. } => {
            format!("line {}: not valid UTF-8", line_at(bytes, p.byte()))
        }
        _ => format!("bad CSV: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, s: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, s).unwrap();
        p
    }

    fn opts(targets: &[&str]) -> TableSettings {
        TableSettings {
            id_column: "model".into(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_family_column_is_used_automatically_and_is_not_a_feature() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "f.csv",
            "model,family,rte,a_layer_1,a_layer_2\nm1,x,0.5,1,2\nm2,y,0.6,3,4\n",
        );
        let ds = load(&p, &opts(&["rte"])).unwrap();
        assert_eq!(ds.feature_names, vec!["a_layer_1", "a_layer_2"]);
        assert_eq!(ds.families.unwrap(), vec!["x", "y"]);
        assert_eq!(ds.y, vec![vec![0.5, 0.6]]);
        assert_eq!(ds.x.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_byte_order_mark_before_the_id_column_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "f.csv",
            "\u{feff}model,rte,a\nm1,0.5,1\nm2,0.6,2\n",
        );
        assert_eq!(load(&p, &opts(&["rte"])).unwrap().ids, vec!["m1", "m2"]);
    }

    #[test]
    fn a_text_cell_is_reported_with_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "f.csv", "model,rte,a\nm1,0.5,1\nm2,0.6,abc\n");
        let e = load(&p, &opts(&["rte"])).unwrap_err().to_string();
        assert!(
            e.contains("f.csv: line 3, column 'a': 'abc' is not a number"),
            "{e}"
        );
    }

    #[test]
    fn targets_file_is_joined_on_ids_in_any_order() {
        let d = tempfile::tempdir().unwrap();
        let f = write(d.path(), "f.csv", "model,a\nm1,1\nm2,2\n");
        let t = write(
            d.path(),
            "t.csv",
            "model,rte,cola\nm2,0.2,0.4\nm1,0.1,0.3\n",
        );
        let mut o = opts(&[]);
        o.targets_file = Some(t);
        let ds = load(&f, &o).unwrap();
        assert_eq!(ds.target_names, vec!["rte", "cola"]);
        assert_eq!(ds.y, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
    }

    #[test]
    fn family_regex_takes_the_first_capture_group() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "f.csv",
            "model,rte,a\nroberta,0.5,1\nroberta_corr_1,0.6,2\nalbert_corr_2,0.1,3\n",
        );
        let mut o = opts(&["rte"]);
        o.family_regex = Some(Regex::new(r"^(.*?)(_corr_\d+)?$").unwrap());
        let ds = load(&p, &o).unwrap();
        assert_eq!(ds.families.unwrap(), vec!["roberta", "roberta", "albert"]);
    }
}
