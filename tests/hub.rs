//! Checkpoints by model id: downloading into the Hugging Face cache from a local HTTP server
//! started in the test, which serves the tiny BERT fixture under the hub's routes with the
//! headers the hub sends (`/api/models/{id}/revision/{rev}`; `/{id}/resolve/{rev}/{file}` with
//! `ETag`, `X-Repo-Commit`, and for LFS files a 302 to a store with `X-Linked-Etag` = SHA-256
//! and `X-Linked-Size`; the store honours `Range`). No network beyond localhost.

mod common;
use common::*;
use probecast::hub::{snapshot_download, HubSettings};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const FILES: [&str; 4] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "vocab.txt",
];

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    range: Option<String>,
    auth: Option<String>,
}

#[derive(Default)]
struct Behaviour {
    /// Serve only the first half of the next LFS body, then close the connection.
    break_next_lfs: bool,
    /// Flip a byte of every LFS body.
    corrupt_lfs: bool,
}

struct Hub {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

use probecast::util::sha256_hex as sha256;

fn respond(s: &mut TcpStream, status: &str, headers: &[(String, String)], body: &[u8], full: bool) {
    let mut h = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    let _ = s.write_all(h.as_bytes());
    if full {
        let _ = s.write_all(body);
    }
    let _ = s.flush();
}

fn handle(mut s: TcpStream, seen: &Mutex<Vec<Seen>>, b: &Mutex<Behaviour>, store: &str) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let (mut range, mut auth) = (None, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(v.trim().to_string()),
            "authorization" => auth = Some(v.trim().to_string()),
            _ => {}
        }
    }
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
        auth,
    });
    let dir = fixture("encoder/tiny-bert");
    let file = |name: &str| std::fs::read(dir.join(name)).ok();
    let is_lfs = |name: &str| name.ends_with(".safetensors");
    let head = method == "HEAD";
    let h = |k: &str, v: String| (k.to_string(), v);
    let not_found = |s: &mut TcpStream| {
        let body = b"{\"error\":\"Repository not found\"}";
        respond(
            s,
            "404 Not Found",
            &[
                h("X-Error-Code", "RepoNotFound".into()),
                h("Content-Length", body.len().to_string()),
            ],
            body,
            !head,
        );
    };
    if let Some(rest) = path.strip_prefix("/api/models/org/tiny-bert/revision/") {
        if rest != "main" && rest != COMMIT {
            return not_found(&mut s);
        }
        let sib: Vec<String> = FILES
            .iter()
            .chain(["README.md", "onnx/model.onnx"].iter())
            .map(|f| format!("{{\"rfilename\":\"{f}\"}}"))
            .collect();
        let body = format!(
            "{{\"id\":\"org/tiny-bert\",\"sha\":\"{COMMIT}\",\"siblings\":[{}]}}",
            sib.join(",")
        );
        return respond(
            &mut s,
            "200 OK",
            &[h("Content-Length", body.len().to_string())],
            body.as_bytes(),
            true,
        );
    }
    if let Some(name) = path
        .strip_prefix("/org/tiny-bert/resolve/main/")
        .or_else(|| path.strip_prefix(&format!("/org/tiny-bert/resolve/{COMMIT}/")))
    {
        let Some(bytes) = file(name) else {
            return not_found(&mut s);
        };
        let sha = sha256(&bytes);
        let mut hs = vec![h("X-Repo-Commit", COMMIT.into())];
        if is_lfs(name) {
            hs.push(h("X-Linked-Etag", format!("\"{sha}\"")));
            hs.push(h("X-Linked-Size", bytes.len().to_string()));
            hs.push(h("ETag", "\"not-the-file\"".into()));
            // LFS files live on another host (the hub's CDN): an absolute redirect
            hs.push(h("Location", format!("{store}/lfs-store/{sha}")));
            hs.push(h("Content-Length", "0".into()));
            return respond(&mut s, "302 Found", &hs, b"", false);
        }
        // a git blob id stands in for the ETag of a small file (40 hex digits)
        hs.push(h("ETag", format!("\"{}\"", &sha[..40])));
        hs.push(h("Content-Length", bytes.len().to_string()));
        return respond(&mut s, "200 OK", &hs, &bytes, !head);
    }
    if let Some(sha) = path.strip_prefix("/lfs-store/") {
        let Some(mut bytes) = FILES
            .iter()
            .filter_map(|f| file(f))
            .find(|b| sha256(b) == sha)
        else {
            return not_found(&mut s);
        };
        let mut beh = b.lock().unwrap();
        if beh.corrupt_lfs {
            bytes[100] ^= 0xff;
        }
        let from: usize = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse().ok())
            .unwrap_or(0);
        let n = bytes.len();
        let (status, mut hs) = if from > 0 {
            (
                "206 Partial Content",
                vec![h("Content-Range", format!("bytes {from}-{}/{n}", n - 1))],
            )
        } else {
            ("200 OK", vec![])
        };
        hs.push(h("Content-Length", (n - from).to_string()));
        if beh.break_next_lfs {
            beh.break_next_lfs = false;
            respond(&mut s, status, &hs, b"", false);
            let _ = s.write_all(&bytes[from..from + (n - from) / 2]);
            let _ = s.flush();
            let _ = s.shutdown(std::net::Shutdown::Both);
            return;
        }
        return respond(&mut s, status, &hs, &bytes[from..], !head);
    }
    not_found(&mut s)
}

/// The hub on one port and its LFS file store on another (another host, as the hub's CDN):
/// both answer every route, the store's requests are told apart by their `/lfs-store/` path.
fn start_hub(behaviour: Behaviour) -> Hub {
    let hub = TcpListener::bind("127.0.0.1:0").unwrap();
    let store = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hub.local_addr().unwrap());
    let store_url = format!("http://{}", store.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::new(Mutex::new(behaviour));
    for l in [hub, store] {
        let (s2, b2, su) = (seen.clone(), b.clone(), store_url.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                match c {
                    Ok(c) => handle(c, &s2, &b2, &su),
                    Err(_) => return,
                }
            }
        });
    }
    Hub { url, seen }
}

fn settings(hub: &Hub, cache: &Path) -> HubSettings {
    HubSettings {
        endpoint: hub.url.clone(),
        cache: cache.to_path_buf(),
        token: Some("hf_secret".into()),
        offline: false,
        progress: false,
    }
}

fn model_sha() -> String {
    sha256(&std::fs::read(fixture("encoder/tiny-bert/model.safetensors")).unwrap())
}

/// Run the CLI with the hub environment.
fn embed_cli(
    hub: &Hub,
    tmp: &Path,
    model: &str,
    extra_env: &[(&str, &str)],
    extra: &[&str],
) -> std::process::Output {
    let data = tmp.join("data.txt");
    std::fs::copy(fixture("encoder/tiny_sentences.txt"), &data).unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_probecast"));
    c.args(["embed", "--model", model, "--data"])
        .arg(&data)
        .arg("--out")
        .arg(tmp.join("out"))
        .arg("--cache-dir")
        .arg(tmp.join("features"))
        .args(extra)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HUB_CACHE", tmp.join("hub"))
        .env("HF_HOME", tmp.join("hf-home"))
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn assert_ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn repo(tmp: &Path) -> PathBuf {
    tmp.join("hub/models--org--tiny-bert")
}

#[test]
fn a_model_id_is_downloaded_into_the_standard_cache_layout_and_embedded_then_found_offline() {
    let hub = start_hub(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let out = embed_cli(
        &hub,
        tmp.path(),
        "org/tiny-bert",
        &[("HF_TOKEN", "hf_secret")],
        &[],
    );
    assert_ok(&out);

    // refs/main -> commit; snapshot files are relative symlinks into blobs/, bytes unchanged
    let repo = repo(tmp.path());
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        COMMIT
    );
    let snap = repo.join("snapshots").join(COMMIT);
    for f in FILES {
        let link = std::fs::read_link(snap.join(f)).unwrap();
        assert!(link.starts_with("../../blobs"), "{f}: {link:?}");
        assert_eq!(
            std::fs::read(snap.join(f)).unwrap(),
            std::fs::read(fixture("encoder/tiny-bert").join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(
        repo.join("blobs").join(model_sha()).is_file(),
        "LFS blob named by its SHA-256"
    );
    assert!(!snap.join("README.md").exists() && !snap.join("onnx").exists());
    let seen = hub.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .filter(|s| !s.path.starts_with("/lfs-store"))
            .all(|s| s.auth.as_deref() == Some("Bearer hf_secret")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .filter(|s| s.path.starts_with("/lfs-store"))
            .all(|s| s.auth.is_none()),
        "the token is not sent to the file store"
    );
    assert!(
        seen.iter()
            .filter(|s| s.path.ends_with("/model.safetensors"))
            .all(|s| s.method == "HEAD"),
        "the LFS file's resolve URL is only asked for its headers: {seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|s| s.path.starts_with("/lfs-store") && s.method == "GET")
            .count(),
        1,
        "its bytes come from the store, once: {seen:?}"
    );
    assert!(tmp.path().join("out").read_dir().unwrap().count() > 0);

    // offline, the cached snapshot is used and no request is made
    let n = seen.len();
    std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
    let out = embed_cli(
        &hub,
        tmp.path(),
        "org/tiny-bert",
        &[("HF_HUB_OFFLINE", "1")],
        &[],
    );
    assert_ok(&out);
    assert_eq!(hub.seen.lock().unwrap().len(), n);
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request_and_is_checksummed() {
    let hub = start_hub(Behaviour {
        break_next_lfs: true,
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot_download("org/tiny-bert", "main", &settings(&hub, tmp.path())).unwrap();
    let n = std::fs::metadata(fixture("encoder/tiny-bert/model.safetensors"))
        .unwrap()
        .len();
    let seen = hub.seen.lock().unwrap().clone();
    let lfs: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.starts_with("/lfs-store"))
        .collect();
    assert_eq!(lfs.len(), 2, "{lfs:?}");
    assert_eq!(lfs[0].range, None);
    assert_eq!(
        lfs[1].range.as_deref(),
        Some(format!("bytes={}-", n / 2).as_str())
    );
    assert_eq!(
        sha256(&std::fs::read(snap.join("model.safetensors")).unwrap()),
        model_sha()
    );
    assert!(!tmp
        .path()
        .join("models--org--tiny-bert/blobs")
        .join(format!("{}.incomplete", model_sha()))
        .exists());
}

#[test]
fn a_partial_file_left_by_an_earlier_run_is_continued_not_restarted() {
    let hub = start_hub(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("encoder/tiny-bert/model.safetensors")).unwrap();
    let blobs = tmp.path().join("models--org--tiny-bert/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(
        blobs.join(format!("{}.incomplete", model_sha())),
        &bytes[..1000],
    )
    .unwrap();
    let snap = snapshot_download("org/tiny-bert", COMMIT, &settings(&hub, tmp.path())).unwrap();
    assert_eq!(
        snap,
        tmp.path()
            .join("models--org--tiny-bert/snapshots")
            .join(COMMIT)
    );
    let seen = hub.seen.lock().unwrap().clone();
    let lfs: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.starts_with("/lfs-store"))
        .collect();
    assert_eq!(lfs.len(), 1);
    assert_eq!(lfs[0].range.as_deref(), Some("bytes=1000-"));
    assert_eq!(
        std::fs::read(snap.join("model.safetensors")).unwrap(),
        bytes
    );
    // a commit revision writes no ref
    assert!(!tmp.path().join("models--org--tiny-bert/refs/main").exists());
}

#[test]
fn a_checksum_mismatch_deletes_the_partial_file_and_names_the_file() {
    let hub = start_hub(Behaviour {
        corrupt_lfs: true,
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let e = snapshot_download("org/tiny-bert", "main", &settings(&hub, tmp.path()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("org/tiny-bert")
            && e.contains("model.safetensors")
            && e.contains("checksum mismatch"),
        "{e}"
    );
    let blobs = tmp.path().join("models--org--tiny-bert/blobs");
    assert_eq!(
        std::fs::read_dir(&blobs)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .contains(&model_sha()))
            .count(),
        0
    );
    assert!(!tmp
        .path()
        .join("models--org--tiny-bert/snapshots")
        .join(COMMIT)
        .join("config.json")
        .exists());
}

#[test]
fn a_model_id_the_hub_does_not_have_is_exit_2_naming_the_id() {
    let hub = start_hub(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let out = embed_cli(&hub, tmp.path(), "org/no-such-model", &[], &[]);
    assert_user_error(&out, &["org/no-such-model", "not found"]);
    let out = embed_cli(
        &hub,
        tmp.path(),
        "org/tiny-bert",
        &[],
        &["--revision", "v9"],
    );
    assert_user_error(&out, &["org/tiny-bert", "revision 'v9'", "not found"]);
}

#[test]
fn offline_with_a_model_missing_from_the_cache_is_exit_2_without_a_request() {
    let hub = start_hub(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let out = embed_cli(
        &hub,
        tmp.path(),
        "org/tiny-bert",
        &[("HF_HUB_OFFLINE", "1")],
        &[],
    );
    assert_user_error(&out, &["org/tiny-bert", "HF_HUB_OFFLINE=1"]);
    assert!(hub.seen.lock().unwrap().is_empty());
}

#[test]
fn revision_option_downloads_that_commit_into_its_snapshot() {
    let hub = start_hub(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let out = embed_cli(
        &hub,
        tmp.path(),
        "org/tiny-bert",
        &[],
        &["--revision", COMMIT],
    );
    assert_ok(&out);
    let seen = hub.seen.lock().unwrap().clone();
    assert!(
        seen[0].path.ends_with(&format!("/revision/{COMMIT}")),
        "{seen:?}"
    );
    assert!(repo(tmp.path())
        .join("snapshots")
        .join(COMMIT)
        .join("config.json")
        .is_file());
}

#[test]
fn without_hf_hub_cache_and_hf_token_the_cache_and_token_come_from_hf_home() {
    let hub = start_hub(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("hf-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("token"), "hf_from_file\n").unwrap();
    let out = embed_cli(
        &hub,
        tmp.path(),
        "org/tiny-bert",
        &[("HF_HUB_CACHE", "")],
        &[],
    );
    assert_ok(&out);
    assert!(home
        .join("hub/models--org--tiny-bert/snapshots")
        .join(COMMIT)
        .join("config.json")
        .is_file());
    assert!(!repo(tmp.path()).exists());
    let seen = hub.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .filter(|s| !s.path.starts_with("/lfs-store"))
            .all(|s| s.auth.as_deref() == Some("Bearer hf_from_file")),
        "{seen:?}"
    );
}
