//! `probecast report`: the report of the quick demo's outputs (committed under
//! tests/fixtures/report/demo, made by scripts/report-fixture.sh) opens in headless Chromium
//! with every section heading and one <svg> per expected figure, and its screenshot is not
//! blank; names with markup stay escaped and narrow accuracy ranges get narrow axes; `fit --out`
//! writes a report; bad inputs exit 2 with one line.

mod common;
use common::read_csv;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn demo_fixture() -> PathBuf {
    common::fixture("report/demo")
}

/// The Chromium binary, if one is installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Run headless Chromium with the flags that work offline as root, a fresh profile each time.
fn browse(bin: &str, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("run chromium")
}

/// Share of pixels that differ from the top-left (background) pixel by more than 24 in some
/// channel.
fn ink_share(png_path: &Path) -> f64 {
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    assert!(ch >= 3, "unexpected PNG colour type {:?}", info.color_type);
    let px = &buf[..info.buffer_size()];
    let bg = &px[..3];
    let n = px.len() / ch;
    let inked = px
        .chunks(ch)
        .filter(|p| (0..3).any(|c| (p[c] as i32 - bg[c] as i32).abs() > 24))
        .count();
    inked as f64 / n as f64
}

/// Figures the demo fixture calls for, counted from the fixture files themselves.
fn expected_figures(dir: &Path) -> usize {
    let (_, probes) = read_csv(&dir.join("probe/probes.csv"));
    let task_pool: BTreeSet<(String, String)> = probes
        .iter()
        .map(|r| (r[1].clone(), r[3].clone()))
        .collect();
    let (_, ckpts) = read_csv(&dir.join("zoo/checkpoints.csv"));
    let families: BTreeSet<&str> = ckpts.iter().map(|r| r[1].as_str()).collect();
    let (th, _) = read_csv(&dir.join("finetune/targets.csv"));
    let targets = th.len() - 1;
    // fits with out-of-fold predictions (loo, family): one scatter per target; the paper fit
    // has none. Ranking: one forest plot per target.
    let fits_with_cv = ["loo", "family"]
        .iter()
        .filter(|f| dir.join("fit").join(f).join("cv_predictions.csv").is_file())
        .count();
    task_pool.len() + families.len() + targets + fits_with_cv * targets + targets
}

const HEADINGS: [&str; 5] = [
    "<h2>Probing</h2>",
    "<h2>Fine-tuning</h2>",
    "<h2>Prediction</h2>",
    "<h2>Ranking</h2>",
    "<h2>Provenance</h2>",
];

#[test]
fn the_demo_report_has_every_section_and_figure_and_renders_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("report.html");
    let figs = tmp.path().join("figures");
    let (code, out, err) = common::run(&[
        "report",
        "--out",
        html.to_str().unwrap(),
        "--figures-dir",
        figs.to_str().unwrap(),
        demo_fixture().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote "), "{out}");
    let page = std::fs::read_to_string(&html).unwrap();
    let want = expected_figures(&demo_fixture());
    assert_eq!(page.matches("<svg").count(), want);
    let files = std::fs::read_dir(&figs).unwrap().count();
    assert_eq!(files, want, "one SVG file per figure");
    for h in HEADINGS {
        assert!(page.contains(h), "{h}");
    }
    // self-contained: no script, nothing fetched
    assert!(!page.contains("<script"));
    assert!(!page.contains(" src=") && !page.contains("<link") && !page.contains("url("));
    // the paper protocol's numbers are labelled in-sample
    assert!(page.contains("in-sample"));

    let Some(bin) = chromium() else {
        common::skip("chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let url = format!("file://{}", html.display());
    let o = browse(bin, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for h in HEADINGS {
        assert!(dom.contains(h), "rendered DOM lacks {h}");
    }
    assert_eq!(dom.matches("<svg").count(), want, "svg elements in the DOM");

    let shot = tmp.path().join("shot.png");
    let o = browse(
        bin,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
            &url,
        ],
    );
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let share = ink_share(&shot);
    assert!(
        share > 0.03 && share < 0.9,
        "share of non-background pixels {share}"
    );
    eprintln!("screenshot: {:.1}% non-background pixels", share * 100.0);
}

#[test]
fn markup_in_model_names_is_escaped_and_narrow_accuracies_get_narrow_axes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("probe");
    std::fs::create_dir(&run).unwrap();
    let long = "a-checkpoint-with-a-very-long-name-from-a-sweep-lr-0.0001-warmup-0.06-step-123456";
    let mut csv = String::from("model,task,layer,pooling,probe,seed,metric,value\n");
    for (m, base) in [("<script>alert(1)</script>", 0.50), (long, 0.51)] {
        for l in 0..4 {
            let v = base + 0.003 * l as f64;
            csv.push_str(&format!(
                "\"{m}\",bshift,{l},cls,logreg,0,test_acc,{v}\n\"{m}\",bshift,{l},cls,logreg,mean,test_acc,{v}\n"
            ));
        }
    }
    std::fs::write(run.join("probes.csv"), csv).unwrap();
    let html = tmp.path().join("r.html");
    let figs = tmp.path().join("f");
    let (code, _, err) = common::run(&[
        "report",
        "--out",
        html.to_str().unwrap(),
        "--figures-dir",
        figs.to_str().unwrap(),
        run.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "unescaped markup");
    assert!(page.contains("&lt;script&gt;"));
    // the long name is shortened inside figures (the HTML text around them wraps it)
    for f in std::fs::read_dir(&figs).unwrap() {
        let svg = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!svg.contains(long), "a figure holds the whole long name");
        assert!(!svg.contains("<script"));
    }
    let svg = std::fs::read_to_string(figs.join("probing-probe-cls-bshift.svg")).unwrap();
    // values 0.500 .. 0.519: ticks inside that range, none at 0 or 1
    assert!(svg.contains(">\n0.510\n"), "no 0.510 tick");
    assert!(
        !svg.contains(">\n1.000\n") && !svg.contains(">\n0.000\n") && !svg.contains(">\n0.400\n")
    );
    if let Some(bin) = chromium() {
        let o = browse(bin, &["--dump-dom", &format!("file://{}", html.display())]);
        let dom = String::from_utf8_lossy(&o.stdout);
        assert!(!dom.contains("<script"), "a script element in the DOM");
        assert!(dom.contains("&lt;script&gt;"));
    }
}

#[test]
fn fit_with_out_writes_its_report_and_prints_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fit");
    let (code, stdout, err) = common::run(&[
        "fit",
        "--data",
        common::fixture("predict/small_features.csv")
            .to_str()
            .unwrap(),
        "--targets-file",
        common::fixture("predict/small_targets.csv")
            .to_str()
            .unwrap(),
        "--permutations",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let html = out.join("report.html");
    assert!(
        stdout.contains(&format!("report: {}", html.display())),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Prediction</h2>") && page.contains("<h2>Provenance</h2>"));
    assert!(!page.contains("<h2>Probing</h2>"));
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.html");
    let o = out.to_str().unwrap();
    // a directory with none of the known files
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "x").unwrap();
    let e = common::probecast(&["report", "--out", o, empty.to_str().unwrap()]);
    common::assert_user_error(&e, &["empty", "no probecast outputs"]);
    // a probes.csv with a missing column
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("probes.csv"),
        "model,task,pooling,probe,seed,metric,value\nm,t,cls,logreg,0,test_acc,0.5\n",
    )
    .unwrap();
    let e = common::probecast(&["report", "--out", o, bad.to_str().unwrap()]);
    common::assert_user_error(&e, &["probes.csv", "missing column 'layer'"]);
    // a cv_predictions.csv from another fit than the predictor.json beside it
    let fit = tmp.path().join("fit");
    common::copy_dir(&demo_fixture().join("fit/loo"), &fit);
    let (h, rows) = read_csv(&fit.join("cv_predictions.csv"));
    let mut s = h.join(",") + "\n";
    for r in rows.iter().skip(1) {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    std::fs::write(fit.join("cv_predictions.csv"), s).unwrap();
    let e = common::probecast(&["report", "--out", o, fit.to_str().unwrap()]);
    common::assert_user_error(&e, &["cv_predictions.csv", "not from the fit that wrote"]);
    // --out in a missing directory
    let e = common::probecast(&[
        "report",
        "--out",
        tmp.path().join("missing/r.html").to_str().unwrap(),
        demo_fixture().to_str().unwrap(),
    ]);
    common::assert_user_error(&e, &["missing", "does not exist"]);
    assert!(!out.exists());
}

#[test]
fn a_predictor_shrunk_to_the_mean_gets_a_note_in_the_fit_table_and_the_report() {
    // a feature that is constant up to 1e-9: ridge predicts (nearly) the training mean, whose
    // leave-one-out ranking of the held-out rows is backwards by construction
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d.csv");
    let rows = [
        ("m0", 0.1344, 847),
        ("m1", 0.7638, 255),
        ("m2", 0.4954, 449),
        ("m3", 0.6516, 789),
        ("m4", 0.0939, 28),
        ("m5", 0.8358, 433),
        ("m6", 0.7623, 2),
        ("m7", 0.4454, 722),
        ("m8", 0.2288, 945),
        ("m9", 0.9014, 31),
        ("m10", 0.0254, 541),
        ("m11", 0.9391, 381),
    ];
    let mut csv = String::from("model,t,a\n");
    for (m, t, a) in rows {
        csv.push_str(&format!("{m},{t},1.000000000{a:03}\n"));
    }
    std::fs::write(&data, csv).unwrap();
    let out = tmp.path().join("fit");
    let (code, stdout, err) = common::run(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--targets",
        "t",
        "--permutations",
        "0",
        "--noise-draws",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let note = stdout
        .lines()
        .find(|l| l.starts_with("note: t: tau "))
        .unwrap_or_else(|| panic!("no note in\n{stdout}"));
    assert!(note.contains("shrunk to the training mean"), "{note}");
    assert!(note.contains("tau -1.00 by construction"), "{note}");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("Reading aid") && page.contains("shrunk to the training mean"));
}
