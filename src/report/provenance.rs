//! The Provenance section: for every `manifest.json` found, the probecast version, command
//! line, creation time, timing and input hashes. Manifests are read leniently as JSON values:
//! the typed header (`probecast_version`, `command`, `command_line`, `created_unix`,
//! `inputs: [{role, path, sha256}]`, `settings`, `outputs`, `timing: {seconds}`) and the older
//! per-command keys (`argv`, `seconds`, `timing.total_seconds`, `total_seconds`, inputs as an
//! object or a list with `input_sha256`) both show.

use super::inputs::Inputs;
use super::Context;
use maud::{html, Markup};
use serde_json::Value;

/// What the section shows of one manifest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    /// `command` (with `stage` when there is one).
    pub command: String,
    /// `probecast_version`.
    pub version: String,
    /// `command_line` or `argv`, joined.
    pub command_line: String,
    /// `created_unix`, as UTC.
    pub created: String,
    /// Seconds the run took.
    pub seconds: Option<f64>,
    /// `(what, sha256)` of every hashed input.
    pub hashes: Vec<(String, String)>,
    /// Per-stage timings (`stages: [{stage, seconds, skipped}]`).
    pub stages: Vec<(String, f64, bool)>,
}

/// UTC `YYYY-MM-DD HH:MM:SS` of a Unix time (civil-from-days, proleptic Gregorian).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn label_of(obj: &serde_json::Map<String, Value>, key: &str) -> String {
    for k in ["path", "role", "task", "model", "name", "dir"] {
        if let Some(s) = obj.get(k).and_then(Value::as_str) {
            if key.ends_with("sha256") && key != "sha256" {
                return format!("{s} ({})", key.trim_end_matches("_sha256"));
            }
            return s.to_string();
        }
    }
    key.to_string()
}

fn collect_hashes(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if let (true, Some(h)) = (k.contains("sha256") || k.ends_with("_hash"), x.as_str())
                {
                    out.push((label_of(o, k), h.to_string()));
                } else {
                    collect_hashes(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_hashes(x, out)),
        _ => {}
    }
}

/// Read what the section shows from a manifest of either shape.
pub fn read(m: &Value) -> Provenance {
    let mut p = Provenance {
        command: m["command"].as_str().unwrap_or("?").to_string(),
        version: m["probecast_version"].as_str().unwrap_or("?").to_string(),
        ..Default::default()
    };
    if let Some(s) = m["stage"].as_str() {
        p.command = format!("{} (stage {s})", p.command);
    }
    let argv = m
        .get("command_line")
        .or_else(|| m.get("argv"))
        .and_then(Value::as_array);
    if let Some(a) = argv {
        p.command_line = a
            .iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join(" ");
    }
    if let Some(t) = m["created_unix"].as_u64() {
        p.created = utc(t);
    }
    p.seconds = m["timing"]["seconds"]
        .as_f64()
        .or_else(|| m["timing"]["total_seconds"].as_f64())
        .or_else(|| m["seconds"].as_f64())
        .or_else(|| m["total_seconds"].as_f64());
    collect_hashes(&m["inputs"], &mut p.hashes);
    if let Some(h) = m["input_sha256"].as_str() {
        let what = match &m["inputs"] {
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" + "),
            _ => "inputs".into(),
        };
        p.hashes.push((what, h.to_string()));
    }
    for s in m["stages"].as_array().into_iter().flatten() {
        p.stages.push((
            s["stage"].as_str().unwrap_or("?").to_string(),
            s["seconds"].as_f64().unwrap_or(f64::NAN),
            s["skipped"].as_bool().unwrap_or(false),
        ));
    }
    p
}

/// Render the section.
pub fn section(inp: &Inputs, ctx: &Context) -> Markup {
    let items: Vec<(String, Provenance)> = inp
        .manifests
        .iter()
        .map(|m| (m.path.display().to_string(), read(&m.value)))
        .collect();
    html! {
        p {
            "This report: probecast " (env!("CARGO_PKG_VERSION"))
            @if !ctx.command_line.is_empty() { ", made by " code { (ctx.command_line.join(" ")) } }
            ", from " (ctx.inputs.len()) " input(s): "
            @for (i, p) in ctx.inputs.iter().enumerate() {
                @if i > 0 { ", " }
                code { (p.display().to_string()) }
            }
            "."
        }
        @if items.is_empty() {
            p.muted { "No manifest.json was found beside the inputs." }
        }
        @for (path, p) in &items {
            h3 { code { (path) } }
            table {
                tbody {
                    tr { td { "command" } td.name { (p.command) } }
                    tr { td { "probecast version" } td.name { (p.version) } }
                    @if !p.command_line.is_empty() { tr { td { "command line" } td.name { code { (p.command_line) } } } }
                    @if !p.created.is_empty() { tr { td { "created" } td.name { (p.created) } } }
                    @if let Some(s) = p.seconds { tr { td { "time" } td.name { (format!("{s:.1} s")) } } }
                    @for (stage, s, skipped) in &p.stages {
                        tr { td { "stage " (stage) } td.name { (format!("{s:.1} s")) @if *skipped { " (skipped: done earlier)" } } }
                    }
                }
            }
            @if !p.hashes.is_empty() {
                details {
                    summary { (p.hashes.len()) " input hash(es)" }
                    table {
                        tbody { @for (what, h) in &p.hashes { tr { td.name { (what) } td.name { span.mono { (h) } } } } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unix_times_convert_to_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_601_600 + 3661), "2026-12-07 01:01:01 UTC");
    }

    #[test]
    fn old_fit_manifests_and_the_typed_header_both_show_command_line_time_and_hashes() {
        let old = json!({
            "probecast_version": "0.1.0", "command": "fit",
            "argv": ["probecast", "fit", "--data", "f.csv"],
            "inputs": ["f.csv", "t.csv"], "input_sha256": "abc",
            "seconds": 1.5, "created_unix": 0
        });
        let p = read(&old);
        assert_eq!(p.command_line, "probecast fit --data f.csv");
        assert_eq!(p.seconds, Some(1.5));
        assert_eq!(
            p.hashes,
            vec![("f.csv + t.csv".to_string(), "abc".to_string())]
        );
        let new = json!({
            "probecast_version": "0.2.0", "command": "probe",
            "command_line": ["probecast", "probe"],
            "created_unix": 0,
            "inputs": [{"role": "model", "path": "m/", "sha256": "h1"}],
            "timing": {"seconds": 2.0}
        });
        let p = read(&new);
        assert_eq!(p.command_line, "probecast probe");
        assert_eq!(p.seconds, Some(2.0));
        assert_eq!(p.hashes, vec![("m/".to_string(), "h1".to_string())]);
        let probe_old = json!({"timing": {"total_seconds": 3.0},
            "inputs": {"tasks": [{"task": "bs", "path": "bs.txt", "sha256": "h2"}]}});
        let p = read(&probe_old);
        assert_eq!(p.seconds, Some(3.0));
        assert_eq!(p.hashes, vec![("bs.txt".to_string(), "h2".to_string())]);
    }
}
