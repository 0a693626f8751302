//! `probecast study slurm` on a real one-node Slurm cluster (scripts/slurm-local.sh): the tiny
//! study's script is submitted with `sbatch`, the job arrays run, and the outputs equal a
//! single-process `study run` byte for byte. The daemons started here are stopped by their pids
//! and their directory removed, whatever happens.
//!
//! Skipped (with the reason) when Slurm is not installed or this is not root; under CI=true
//! that is a failure, and so is a daemon that does not start (with its own error).

mod common;
mod study_fixture;

use common::{fixture, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use study_fixture::{result_files, write_study};

fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The cluster of one test: stopped (daemons by pid, directory removed) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Result<Cluster, String> {
        let out = Command::new("bash")
            .arg(root().join("scripts/slurm-local.sh"))
            .arg("start")
            .arg(dir)
            .env("PROBECAST_SLURM_PORT", "6947")
            .output()
            .map_err(|e| e.to_string())?;
        let c = Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
        };
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(c)
    }

    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        c.env("SLURM_CONF", &self.conf);
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/slurm-local.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

fn pids_alive(dir: &Path) -> Vec<String> {
    ["slurmd.pid", "slurmctld.pid", "munge/munged.pid"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .map(|p| p.trim().to_string())
        .filter(|p| Path::new("/proc").join(p).exists())
        .collect()
}

#[test]
fn sbatch_runs_the_tiny_study_and_equals_a_single_process_run_byte_for_byte() {
    let root_user = unsafe { libc::geteuid() } == 0;
    let missing: Vec<&str> = ["munged", "slurmctld", "slurmd", "sbatch", "squeue"]
        .into_iter()
        .filter(|b| !have(b))
        .collect();
    if !missing.is_empty() || !root_user {
        let why = if root_user {
            format!(
                "slurm not installed (missing {}): apt-get install -y slurm-wlm munge",
                missing.join(", ")
            )
        } else {
            "the local Slurm cluster needs root".to_string()
        };
        common::skip(&why);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = write_study(tmp.path(), &fixture("encoder/tiny-bert"), 2e-2);
    let single = tmp.path().join("single");
    let (code, so, se) = run(&[
        "study",
        "run",
        f.to_str().unwrap(),
        "--out",
        single.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{so}\n{se}");

    let cdir = tmp.path().join("cluster");
    let cluster = match Cluster::start(&cdir) {
        Ok(c) => c,
        Err(e) => panic!("the local Slurm cluster did not start: {e}"),
    };
    let pids = pids_alive(&cdir);
    assert_eq!(pids.len(), 3, "three daemons should run: {pids:?}");
    let out = tmp.path().join("slurm");
    let (code, so, se) = run(&[
        "study",
        "slurm",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cpus-per-task",
        "1",
    ]);
    assert_eq!(code, 0, "{so}\n{se}");
    let sub = cluster
        .cmd("sbatch")
        .arg(out.join("study.sbatch"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        sub.status.success(),
        "sbatch: {}",
        String::from_utf8_lossy(&sub.stderr)
    );
    // wait for the submit job, then for every array and the fit job
    let t0 = Instant::now();
    let logs = out.join("work/slurm");
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let q = cluster
            .cmd("squeue")
            .args(["-h", "-o", "%i %j %T %r"])
            .output()
            .unwrap();
        let q = String::from_utf8_lossy(&q.stdout).to_string();
        let submitted = std::fs::read_dir(&logs)
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        if q.trim().is_empty() && submitted && t0.elapsed() > Duration::from_secs(2) {
            break;
        }
        if q.contains("DependencyNeverSatisfied") || t0.elapsed() > Duration::from_secs(300) {
            let mut all = String::new();
            for e in std::fs::read_dir(&logs).into_iter().flatten() {
                let p = e.unwrap().path();
                all.push_str(&format!(
                    "== {}\n{}",
                    p.display(),
                    std::fs::read_to_string(&p).unwrap_or_default()
                ));
            }
            panic!("the jobs did not finish: squeue: {q}\nlogs:\n{all}");
        }
    }
    let fit_log = std::fs::read_to_string(logs.join("fit.log")).unwrap_or_default();
    assert!(out.join("results/fit.json").is_file(), "no fit: {fit_log}");
    let (a, b) = (result_files(&single), result_files(&out));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs between sbatch and a single run");
    }
    drop(cluster);
    // the daemons it started are gone, and so is their directory
    for p in &pids {
        assert!(
            !Path::new("/proc").join(p).exists(),
            "daemon {p} still runs"
        );
    }
    assert!(!cdir.exists());
}
