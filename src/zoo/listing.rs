//! `checkpoints.csv`: the list of a zoo's checkpoints (`model,family,kind,dir`), written by the
//! demo's zoo stage (and, later, a study), read by the report for the families.

use super::ZooError;
use std::path::Path;

/// One listed checkpoint.
#[derive(Debug, Clone)]
pub struct Listed<'a> {
    /// Checkpoint name.
    pub model: &'a str,
    /// Family (pretraining run, base model).
    pub family: &'a str,
    /// How it was made (`pretrain`, `noise`, `corrupt`, ...).
    pub kind: &'a str,
    /// Its directory.
    pub dir: &'a Path,
}

/// The text of `checkpoints.csv`.
pub fn checkpoints_csv(rows: &[Listed]) -> String {
    std::iter::once("model,family,kind,dir\n".to_string())
        .chain(
            rows.iter()
                .map(|e| format!("{},{},{},{}\n", e.model, e.family, e.kind, e.dir.display())),
        )
        .collect()
}

/// Read the `(model, family)` pairs of the zoo stage's `checkpoints.csv`
/// (`model,family,kind,dir`, written by [`checkpoints_csv`]).
pub fn read_checkpoints_csv(path: &Path) -> Result<Vec<(String, String)>, ZooError> {
    let bad = |msg: String| ZooError::input(path, msg);
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let h: Vec<String> = rd
        .headers()
        .map_err(|e| bad(format!("bad CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |n: &str| {
        h.iter()
            .position(|x| x == n)
            .ok_or_else(|| bad(format!("missing column '{n}'")))
    };
    let (m, f) = (col("model")?, col("family")?);
    let mut out = Vec::new();
    for r in rd.records() {
        let r = r.map_err(|e| bad(format!("bad CSV: {e}")))?;
        out.push((
            r.get(m).unwrap_or("").to_string(),
            r.get(f).unwrap_or("").to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_csv_reads_back_model_and_family() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("checkpoints.csv");
        let rows = [Listed {
            model: "a",
            family: "f",
            kind: "noise",
            dir: Path::new("/x/a"),
        }];
        std::fs::write(&p, checkpoints_csv(&rows)).unwrap();
        assert_eq!(
            read_checkpoints_csv(&p).unwrap(),
            vec![("a".to_string(), "f".to_string())]
        );
        std::fs::write(&p, "model,kind\na,noise\n").unwrap();
        let e = read_checkpoints_csv(&p).unwrap_err().to_string();
        assert!(
            e.contains("checkpoints.csv") && e.contains("missing column 'family'"),
            "{e}"
        );
    }
}
