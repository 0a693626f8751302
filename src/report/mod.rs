//! `probecast report`: one self-contained HTML page (inline SVG and CSS, no JavaScript, nothing
//! fetched) from the stages' output files, and each figure as its own SVG file.
//!
//! Orchestration only: the inputs are read with the readers that live beside their writers
//! ([`inputs`]); the figures are drawn with plotters ([`figures`]); the page is a maud template,
//! which escapes every user string (model names, paths) ([`page`]). Sections appear only when
//! their inputs are given ([`sections`]):
//! - Probing: accuracy against layer per task (one line per checkpoint, colour by family,
//!   chance level, error bars over seeds), a task x layer heatmap per family, selectivity and
//!   MDL curves when present ([`probing`]);
//! - Fine-tuning: the primary dev metric per epoch per checkpoint and seed, the targets table
//!   ([`tuning`]);
//! - Prediction: per fit and target, out-of-fold predicted against actual with intervals, the
//!   baselines with permutation p and coverage, an "in-sample" label on every number of the
//!   paper protocol, and the shrunk-to-the-mean reading aid ([`prediction`]);
//! - Ranking: a forest plot of predicted scores with intervals, fine-tuned references marked;
//! - Provenance: versions, command lines, input hashes and timings from every manifest
//!   ([`provenance`]), always present.

pub mod figures;
pub mod inputs;
pub mod page;
pub mod prediction;
pub mod probing;
pub mod provenance;
pub mod tuning;

use figures::Figure;
pub use inputs::{collect, Inputs};
use std::path::{Path, PathBuf};

/// Errors of the report (each one line, naming the file).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input cannot be used.
    #[error("{0}")]
    Input(String),
    /// An output cannot be written.
    #[error("{0}")]
    Output(String),
    /// The plotting library failed (not expected on valid data).
    #[error("drawing a figure failed: {0}")]
    Figure(String),
}

/// The report's sections, in page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Probing curves and heatmaps.
    Probing,
    /// Fine-tuning curves and targets.
    Finetuning,
    /// Predicted against actual, baselines.
    Prediction,
    /// Forest plots of predicted scores.
    Ranking,
    /// Versions, command lines, hashes, timings.
    Provenance,
}

impl Section {
    /// The heading shown on the page.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Probing => "Probing",
            Section::Finetuning => "Fine-tuning",
            Section::Prediction => "Prediction",
            Section::Ranking => "Ranking",
            Section::Provenance => "Provenance",
        }
    }

    /// The HTML id of the section.
    pub fn id(self) -> &'static str {
        match self {
            Section::Probing => "probing",
            Section::Finetuning => "fine-tuning",
            Section::Prediction => "prediction",
            Section::Ranking => "ranking",
            Section::Provenance => "provenance",
        }
    }
}

/// The sections that the inputs call for (provenance always).
pub fn sections(inp: &Inputs) -> Vec<Section> {
    let mut s = Vec::new();
    if !inp.probes.is_empty() {
        s.push(Section::Probing);
    }
    if !inp.finetune.is_empty() {
        s.push(Section::Finetuning);
    }
    if !inp.fits.is_empty() {
        s.push(Section::Prediction);
    }
    if !inp.predictions.is_empty() {
        s.push(Section::Ranking);
    }
    s.push(Section::Provenance);
    s
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The HTML page.
    pub html: String,
    /// Every figure, in page order (each is inline in the page once).
    pub figures: Vec<Figure>,
    /// The sections present.
    pub sections: Vec<Section>,
}

/// How the report was asked for (shown under Provenance).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The command line that made the report.
    pub command_line: Vec<String>,
    /// The inputs as given.
    pub inputs: Vec<PathBuf>,
}

/// Render the report of `inp`.
pub fn build(inp: &Inputs, ctx: &Context) -> Result<Report, ReportError> {
    let secs = sections(inp);
    let mut figs = Vec::new();
    let mut parts = Vec::new();
    for &s in &secs {
        let body = match s {
            Section::Probing => probing::section(inp, &mut figs)?,
            Section::Finetuning => tuning::section(inp, &mut figs)?,
            Section::Prediction => prediction::section(inp, &mut figs)?,
            Section::Ranking => prediction::ranking(inp, &mut figs)?,
            Section::Provenance => provenance::section(inp, ctx),
        };
        parts.push((s, body));
    }
    // unique figure names (two fits may have the same target)
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for f in &mut figs {
        let n = seen.entry(f.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            f.name = format!("{}-{}", f.name, n);
        }
    }
    let html = page::page(&parts, &figs).into_string();
    Ok(Report {
        html,
        figures: figs,
        sections: secs,
    })
}

/// Check that `out` can be written: its directory must exist (it is not created).
pub fn check_out(out: &Path) -> Result<(), ReportError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(ReportError::Output(format!(
            "{}: directory of --out {} does not exist",
            dir.display(),
            out.display()
        )));
    }
    if out.is_dir() {
        return Err(ReportError::Output(format!(
            "{}: --out is a directory; name the HTML file",
            out.display()
        )));
    }
    Ok(())
}

/// Write the page to `out` and, with `figures_dir`, every figure as `<name>.svg` there
/// (created if needed); all atomically. Returns the figure files written.
pub fn write(
    r: &Report,
    out: &Path,
    figures_dir: Option<&Path>,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    if let Some(dir) = figures_dir {
        crate::util::ensure_writable_dir(dir).map_err(ReportError::Output)?;
        for f in &r.figures {
            let p = dir.join(format!("{}.svg", f.name));
            crate::util::write_atomic_str(&p, &f.svg)
                .map_err(|e| ReportError::Output(format!("{}: cannot write: {e}", p.display())))?;
            files.push(p);
        }
    }
    crate::util::write_atomic_str(out, &r.html)
        .map_err(|e| ReportError::Output(format!("{}: cannot write: {e}", out.display())))?;
    Ok(files)
}

/// Read `inputs`, render and write the report: the whole `probecast report` command.
pub fn run(
    inputs: &[PathBuf],
    out: &Path,
    figures_dir: Option<&Path>,
    command_line: &[String],
) -> Result<Report, ReportError> {
    check_out(out)?;
    let inp = collect(inputs)?;
    let ctx = Context {
        command_line: command_line.to_vec(),
        inputs: inputs.to_vec(),
    };
    let r = build(&inp, &ctx)?;
    write(&r, out, figures_dir)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sections_with_inputs_are_selected_and_provenance_always() {
        let mut inp = Inputs::default();
        assert_eq!(sections(&inp), vec![Section::Provenance]);
        inp.predictions.push(inputs::PredictInput {
            path: "p.csv".into(),
            rows: vec![],
        });
        inp.finetune.push(inputs::FinetuneInput::default());
        assert_eq!(
            sections(&inp),
            vec![Section::Finetuning, Section::Ranking, Section::Provenance]
        );
    }

    #[test]
    fn an_out_file_in_a_missing_directory_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = check_out(&d.path().join("nope/report.html"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("does not exist"), "{e}");
        assert!(check_out(&d.path().join("report.html")).is_ok());
    }
}
