//! `probecast study slurm`: an sbatch script that submits one job array per stage (array task
//! `i` of a stage with `N` units runs `probecast study run --stage S --shard i/N`, which is that
//! stage's `i`-th unit, or nothing when it is done), chained with `afterok` dependencies
//! (variants, then probing and fine-tuning side by side, then one fit job). Submit the script
//! with `sbatch` (it runs as a short job that submits the chain) or run it with `bash`. The study
//! directory must be on a filesystem every node sees.

use super::plan::{Plan, Stage};
use std::path::Path;

/// Options of the generated jobs (Slurm's own flags; `None` leaves the cluster's default).
#[derive(Debug, Clone, Default)]
pub struct SlurmSettings {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (e.g. `04:00:00`).
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<usize>,
    /// At most this many tasks of one array at a time (`--array=1-N%K`).
    pub array_limit: Option<usize>,
}

/// Quote for a POSIX shell (single quotes).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Escape for the inside of a double-quoted bash string.
fn dq(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' | '$' | '`' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}

/// Write the script to `path` (atomically) and create the log directory its `#SBATCH --output`
/// names: Slurm opens that file before the script runs, and a job whose output directory does
/// not exist dies at once without a log.
pub fn write(
    path: &Path,
    name: &str,
    probecast: &Path,
    study_file: &Path,
    out: &Path,
    plan: &Plan,
    s: &SlurmSettings,
) -> Result<(), super::StudyError> {
    let logs = out.join("work").join("slurm");
    std::fs::create_dir_all(&logs).map_err(|e| super::StudyError::input(&logs, e.to_string()))?;
    let text = script(name, probecast, study_file, out, plan, s);
    crate::util::write_atomic_str(path, &text)
        .map_err(|e| super::StudyError::input(path, e.to_string()))
}

/// The script's text. `probecast`, `study_file` and `out` should be absolute (the jobs run
/// from the submission directory, on any node).
pub fn script(
    name: &str,
    probecast: &Path,
    study_file: &Path,
    out: &Path,
    plan: &Plan,
    s: &SlurmSettings,
) -> String {
    let mut opts = Vec::new();
    if let Some(p) = &s.partition {
        opts.push(format!("--partition={}", sh_quote(p)));
    }
    if let Some(t) = &s.time {
        opts.push(format!("--time={}", sh_quote(t)));
    }
    if let Some(c) = s.cpus_per_task {
        opts.push(format!("--cpus-per-task={c}"));
    }
    if let Some(g) = s.gpus_per_task {
        opts.push(format!("--gpus-per-task={g}"));
    }
    let base = format!(
        "{} study run {} --out {}",
        sh_quote(&probecast.display().to_string()),
        sh_quote(&study_file.display().to_string()),
        sh_quote(&out.display().to_string())
    );
    let logs = out.join("work").join("slurm");
    let mut t = String::new();
    t.push_str("#!/bin/bash\n");
    t.push_str(&format!("#SBATCH --job-name={}-submit\n", safe(name)));
    t.push_str("#SBATCH --ntasks=1\n");
    if let Some(p) = &s.partition {
        t.push_str(&format!("#SBATCH --partition={}\n", safe(p)));
    }
    t.push_str(&format!(
        "#SBATCH --output={}/submit-%j.log\n",
        safe(&logs.display().to_string())
    ));
    t.push_str(&format!(
        "# Written by `probecast study slurm` for study {name:?} ({}).\n",
        study_file.display()
    ));
    t.push_str("# Submit with `sbatch` (a short job that submits the stages' job arrays) or run with bash.\n");
    t.push_str("# Array task i of a stage with N units runs `study run --stage S --shard i/N`.\n");
    t.push_str("set -euo pipefail\n");
    t.push_str(&format!(
        "mkdir -p {}\n",
        sh_quote(&logs.display().to_string())
    ));
    t.push_str(&format!("OPTS=({})\n", opts.join(" ")));
    t.push_str("submit() { local id; id=$(sbatch --parsable \"${OPTS[@]}\" \"$@\"); echo \"${id%%;*}\"; }\n");
    let limit = s.array_limit.map(|k| format!("%{k}")).unwrap_or_default();
    let mut ids: Vec<(Stage, String)> = Vec::new();
    for (stage, after) in [
        (Stage::Variants, vec![]),
        (Stage::Probe, vec![Stage::Variants]),
        (Stage::Finetune, vec![Stage::Variants]),
    ] {
        let n = plan.stage(stage).len();
        if n == 0 {
            continue;
        }
        let dep: Vec<String> = ids
            .iter()
            .filter(|(s, _)| after.contains(s))
            .map(|(_, v)| format!("${v}"))
            .collect();
        let dep = if dep.is_empty() {
            String::new()
        } else {
            format!("--dependency=afterok:{} ", dep.join(":"))
        };
        let var = stage.name().to_uppercase();
        let cmd = format!(
            "{base} --stage {} --shard ${{SLURM_ARRAY_TASK_ID}}/{n}",
            stage.name()
        );
        t.push_str(&format!(
            "{var}=$(submit {dep}--job-name={}-{} --array=1-{n}{limit} --output={} --wrap \"{}\")\n",
            safe(name),
            stage.name(),
            sh_quote(&logs.join(format!("{}-%a.log", stage.name())).display().to_string()),
            dq(&cmd)
        ));
        ids.push((stage, var));
    }
    let dep: Vec<String> = ids.iter().map(|(_, v)| format!("${v}")).collect();
    let dep = if dep.is_empty() {
        String::new()
    } else {
        format!("--dependency=afterok:{} ", dep.join(":"))
    };
    t.push_str(&format!(
        "FIT=$(submit {dep}--job-name={}-fit --output={} --wrap \"{}\")\n",
        safe(name),
        sh_quote(&logs.join("fit.log").display().to_string()),
        dq(&format!("{base} --stage fit"))
    ));
    let mut echo: Vec<String> = ids
        .iter()
        .map(|(s, v)| format!("{} ${v}", s.name()))
        .collect();
    echo.push("fit $FIT".into());
    t.push_str(&format!("echo \"submitted: {}\"\n", echo.join(", ")));
    t
}

/// A name for `#SBATCH` lines and job names: letters, digits, `-_./` kept, others `_`.
fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_./".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_spaces_quotes_and_dollars() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(dq("say \"$x\""), "say \\\"\\$x\\\"");
    }
}
