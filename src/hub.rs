//! Download a checkpoint from the Hugging Face Hub into the standard Hugging Face cache, so
//! that `--model org/name` works on a connected machine and transformers finds the same files.
//!
//! The hub's routes, as `huggingface_hub` uses them:
//! - `GET {endpoint}/api/models/{id}/revision/{rev}`: JSON with `sha` (the commit) and
//!   `siblings` (`[{"rfilename": ...}]`, the files);
//! - `HEAD {endpoint}/{id}/resolve/{commit}/{file}` (redirects not followed): `X-Repo-Commit`,
//!   `X-Linked-Etag` (the SHA-256 of an LFS file) or `ETag` (the git blob id of a small file),
//!   `X-Linked-Size` or `Content-Length`, and `Location` when the file lives elsewhere (a CDN);
//! - `GET` of that location (or the resolve URL), with `Range: bytes={n}-` to resume.
//!
//! The cache layout (`models--org--name/`): `blobs/{etag}` holds each file once,
//! `snapshots/{commit}/{file}` links to it (a relative symlink, as `huggingface_hub` makes; a
//! copy where symlinks are not available), `refs/{revision}` names the commit. A download goes
//! to `blobs/{etag}.incomplete` first: an interrupted download, in this run (up to
//! [`RETRIES`] times) or a later one, continues from where it stopped with a `Range` request,
//! and an LFS file is checked against its SHA-256 before it is renamed into place (a mismatch
//! deletes it). `config.json` is fetched last, so a snapshot with a config.json is complete.
//!
//! Environment, as `huggingface_hub`: `HF_ENDPOINT` (default `https://huggingface.co`),
//! `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`; `HF_TOKEN` (else the
//! token file `HF_HOME/token`) sent as `Authorization: Bearer`; `HF_HUB_OFFLINE=1` forbids any
//! request. Only the files probecast reads are fetched: config, tokenizer files, and the
//! safetensors weights (the `pytorch_model*.bin` ones only when there are no safetensors).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How many times a broken transfer is resumed within one run.
pub const RETRIES: usize = 3;

/// The default hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A download failure, as one line naming the model id.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HubError(pub String);

/// Where and how to download: read from the environment by [`HubSettings::from_env`].
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The hub's base URL, without a trailing slash.
    pub endpoint: String,
    /// The hub cache directory (holding `models--org--name/`).
    pub cache: PathBuf,
    /// The access token, if any.
    pub token: Option<String>,
    /// No network at all.
    pub offline: bool,
    /// Draw a progress bar per file (on a terminal).
    pub progress: bool,
}

fn env_nonempty(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Whether an environment flag is on (`1`, `true`, `yes`, `on`, as `huggingface_hub`).
pub fn env_flag(k: &str) -> bool {
    env_nonempty(k)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// `HF_HOME`, else `~/.cache/huggingface`.
fn hf_home() -> PathBuf {
    env_nonempty("HF_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/huggingface")
        })
}

/// The hub cache downloads go to: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`.
pub fn cache_dir() -> PathBuf {
    env_nonempty("HF_HUB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| hf_home().join("hub"))
}

impl HubSettings {
    /// The settings the environment gives (see the module docs).
    pub fn from_env() -> Self {
        let token = env_nonempty("HF_TOKEN").or_else(|| {
            std::fs::read_to_string(hf_home().join("token"))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        HubSettings {
            endpoint: env_nonempty("HF_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
                .trim_end_matches('/')
                .to_string(),
            cache: cache_dir(),
            token,
            offline: env_flag("HF_HUB_OFFLINE"),
            progress: true,
        }
    }

    /// Check the settings: an http(s) endpoint.
    pub fn check(&self) -> Result<(), HubError> {
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err(HubError(format!(
                "HF_ENDPOINT must be an http:// or https:// URL, got '{}'",
                self.endpoint
            )));
        }
        Ok(())
    }
}

/// The cache folder of a model id: `models--org--name`.
pub fn repo_folder(cache: &Path, id: &str) -> PathBuf {
    cache.join(format!("models--{}", id.replace('/', "--")))
}

/// Whether a revision is a full commit hash.
pub fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The snapshot of `id` at `revision` in `cache`, when it is there and complete (has a
/// config.json): `snapshots/{revision}` for a commit, else the commit in `refs/{revision}`.
pub fn cached_snapshot(cache: &Path, id: &str, revision: &str) -> Option<PathBuf> {
    let repo = repo_folder(cache, id);
    let commit = if is_commit(revision) {
        revision.to_string()
    } else {
        std::fs::read_to_string(repo.join("refs").join(revision))
            .ok()?
            .trim()
            .to_string()
    };
    let snap = repo.join("snapshots").join(commit);
    snap.join("config.json").is_file().then_some(snap)
}

/// Percent-encode a path segment (the revision may be `refs/pr/1`).
fn quote(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The files of a repository probecast needs, config.json last.
pub fn wanted_files(siblings: &[String]) -> Vec<String> {
    const NAMED: [&str; 11] = [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spm.model",
        "spiece.model",
        "sentencepiece.bpe.model",
        "model.safetensors.index.json",
    ];
    let top: Vec<&String> = siblings.iter().filter(|f| !f.contains('/')).collect();
    let has_st = top.iter().any(|f| f.ends_with(".safetensors"));
    let mut out: Vec<String> = top
        .iter()
        .filter(|f| {
            NAMED.contains(&f.as_str())
                || f.ends_with(".safetensors")
                || (!has_st
                    && f.starts_with("pytorch_model")
                    && (f.ends_with(".bin") || f.ends_with(".bin.index.json")))
        })
        .map(|f| f.to_string())
        .collect();
    out.sort();
    if top.iter().any(|f| f.as_str() == "config.json") {
        out.push("config.json".into());
    }
    out
}

/// A blocking HTTP client for one download.
struct Client {
    agent: ureq::Agent,
    settings: HubSettings,
    id: String,
}

/// What a HEAD on a resolve URL says about a file.
struct FileMeta {
    etag: String,
    size: Option<u64>,
    url: String,
}

fn header(r: &ureq::http::Response<ureq::Body>, k: &str) -> Option<String> {
    r.headers()
        .get(k)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An ETag without quotes and weak marker.
fn clean_etag(e: &str) -> String {
    e.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

impl Client {
    fn new(settings: &HubSettings, id: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .user_agent(concat!("probecast/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            settings: settings.clone(),
            id: id.to_string(),
        }
    }

    fn err(&self, m: impl std::fmt::Display) -> HubError {
        HubError(format!("{}: {m}", self.id))
    }

    fn auth<B>(&self, rq: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.settings.token {
            Some(t) => rq.header("Authorization", format!("Bearer {t}")),
            None => rq,
        }
    }

    /// Follow redirects by hand (so the first response's headers are kept): up to 10 hops.
    fn send(
        &self,
        method: &str,
        url: &str,
        range: Option<u64>,
    ) -> Result<(ureq::http::Response<ureq::Body>, String), HubError> {
        let mut url = url.to_string();
        for _ in 0..10 {
            let same_host = url.starts_with(&self.settings.endpoint);
            let r = if method == "HEAD" {
                let rq = self.agent.head(&url);
                if same_host { self.auth(rq) } else { rq }.call()
            } else {
                let mut rq = self.agent.get(&url);
                if let Some(n) = range {
                    rq = rq.header("Range", format!("bytes={n}-"));
                }
                if same_host { self.auth(rq) } else { rq }.call()
            }
            .map_err(|e| self.err(format!("cannot reach {url}: {e}")))?;
            if r.status().is_redirection() {
                let loc = header(&r, "location")
                    .ok_or_else(|| self.err(format!("redirect without Location from {url}")))?;
                // a HEAD follows only relative redirects (a renamed repository), as
                // huggingface_hub: an LFS file's redirect to its store is read, not followed
                if method == "GET" || loc.starts_with('/') {
                    url = absolute(&url, &loc);
                    continue;
                }
            }
            return Ok((r, url));
        }
        Err(self.err(format!("too many redirects from {url}")))
    }

    fn status_error(&self, status: u16, what: &str) -> HubError {
        let why = match status {
            401 | 403 => "access denied (a private or gated model: set HF_TOKEN)".to_string(),
            404 => format!("not found on {}", self.settings.endpoint),
            s => format!("the hub answered HTTP {s}"),
        };
        self.err(format!("{what}: {why}"))
    }

    /// The commit of a revision and the repository's files.
    fn revision_info(&self, revision: &str) -> Result<(String, Vec<String>), HubError> {
        let url = format!(
            "{}/api/models/{}/revision/{}",
            self.settings.endpoint,
            self.id,
            quote(revision)
        );
        let (mut r, _) = self.send("GET", &url, None)?;
        if !r.status().is_success() {
            return Err(self.status_error(
                r.status().as_u16(),
                &format!("model id at revision '{revision}'"),
            ));
        }
        let text = r
            .body_mut()
            .read_to_string()
            .map_err(|e| self.err(format!("reading {url}: {e}")))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| self.err(format!("{url} did not return JSON: {e}")))?;
        let sha = v
            .get("sha")
            .and_then(|s| s.as_str())
            .filter(|s| is_commit(s))
            .ok_or_else(|| self.err(format!("{url}: no commit 'sha' in the answer")))?
            .to_string();
        let files = v
            .get("siblings")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("rfilename").and_then(|n| n.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok((sha, files))
    }

    fn file_meta(&self, commit: &str, file: &str) -> Result<FileMeta, HubError> {
        let url = format!(
            "{}/{}/resolve/{commit}/{}",
            self.settings.endpoint,
            self.id,
            file.split('/').map(quote).collect::<Vec<_>>().join("/")
        );
        let (r, url) = self.send("HEAD", &url, None)?;
        let st = r.status();
        if !(st.is_success() || st.is_redirection()) {
            return Err(self.status_error(st.as_u16(), file));
        }
        let etag = header(&r, "x-linked-etag")
            .or_else(|| header(&r, "etag"))
            .map(|e| clean_etag(&e))
            .filter(|e| !e.is_empty() && !e.contains(['/', '\\', '.']))
            .ok_or_else(|| self.err(format!("{file}: the hub sent no usable ETag")))?;
        let size = header(&r, "x-linked-size")
            .or_else(|| header(&r, "content-length"))
            .and_then(|s| s.trim().parse().ok());
        let url = match header(&r, "location") {
            Some(loc) if st.is_redirection() => absolute(&url, &loc),
            _ => url,
        };
        Ok(FileMeta { etag, size, url })
    }

    /// Download one file into `blobs/{etag}` (resuming `{etag}.incomplete`), verified.
    fn fetch_blob(&self, file: &str, meta: &FileMeta, blob: &Path) -> Result<(), HubError> {
        let part = blob.with_extension("incomplete");
        let mut tries = 0;
        loop {
            match self.fetch_once(file, meta, &part) {
                Ok(()) => break,
                Err(Retry::No(e)) => return Err(e),
                Err(Retry::Yes(e)) => {
                    tries += 1;
                    if tries > RETRIES {
                        return Err(self.err(format!(
                            "{file}: download broke off {tries} times, last: {e}; run again to resume from {}",
                            part.display()
                        )));
                    }
                }
            }
        }
        let len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if let Some(n) = meta.size {
            if len != n {
                let _ = std::fs::remove_file(&part);
                return Err(self.err(format!("{file}: got {len} bytes, the hub announced {n}")));
            }
        }
        if meta.etag.len() == 64 && meta.etag.bytes().all(|b| b.is_ascii_hexdigit()) {
            let got = crate::util::sha256_file(&part)
                .map_err(|e| self.err(format!("{}: {e}", part.display())))?;
            if !got.eq_ignore_ascii_case(&meta.etag) {
                let _ = std::fs::remove_file(&part);
                return Err(self.err(format!(
                    "{file}: checksum mismatch (SHA-256 {got}, the hub says {}); the partial file was deleted, run again",
                    meta.etag
                )));
            }
        }
        std::fs::rename(&part, blob).map_err(|e| self.err(format!("{}: {e}", blob.display())))
    }

    fn fetch_once(&self, file: &str, meta: &FileMeta, part: &Path) -> Result<(), Retry> {
        let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if meta.size.is_some_and(|n| have == n) {
            return Ok(());
        }
        let (r, _) = self
            .send("GET", &meta.url, (have > 0).then_some(have))
            .map_err(Retry::Yes)?;
        let status = r.status().as_u16();
        let append = match status {
            206 => true,
            200 => false,
            416 if meta.size.is_some() => {
                // the partial file is longer than the file: start again
                let _ = std::fs::remove_file(part);
                return Err(Retry::Yes(
                    self.err("the partial file did not match; restarting"),
                ));
            }
            s => return Err(Retry::No(self.status_error(s, file))),
        };
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .map_err(|e| Retry::No(self.err(format!("{}: {e}", part.display()))))?;
        let start = if append { have } else { 0 };
        let pb = if self.settings.progress {
            crate::util::progress_bar(
                meta.size.unwrap_or(0),
                "{msg} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} eta {eta}",
            )
        } else {
            indicatif::ProgressBar::hidden()
        };
        pb.set_message(file.to_string());
        pb.set_position(start);
        let mut body = r.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = out.flush();
                    pb.abandon();
                    return Err(Retry::Yes(self.err(format!("{file}: {e}"))));
                }
            };
            out.write_all(&buf[..n])
                .map_err(|e| Retry::No(self.err(format!("{}: {e}", part.display()))))?;
            pb.inc(n as u64);
        }
        out.flush()
            .map_err(|e| Retry::No(self.err(format!("{}: {e}", part.display()))))?;
        pb.finish_and_clear();
        Ok(())
    }
}

enum Retry {
    Yes(HubError),
    No(HubError),
}

/// A redirect target made absolute against the URL it came from.
fn absolute(from: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let scheme_end = from.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = from[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(from.len());
    if loc.starts_with('/') {
        format!("{}{loc}", &from[..host_end])
    } else {
        let dir = from.rfind('/').map(|i| &from[..=i]).unwrap_or(from);
        format!("{dir}{loc}")
    }
}

/// Link `snapshots/{commit}/{file}` to `blobs/{etag}` (relative symlink; a copy elsewhere).
fn link(blob: &Path, target: &Path, depth: usize) -> std::io::Result<()> {
    if let Some(p) = target.parent() {
        std::fs::create_dir_all(p)?;
    }
    let _ = std::fs::remove_file(target);
    #[cfg(unix)]
    {
        let mut rel = PathBuf::new();
        for _ in 0..depth + 2 {
            rel.push("..");
        }
        rel.push("blobs");
        rel.push(blob.file_name().unwrap_or_default());
        std::os::unix::fs::symlink(rel, target)
    }
    #[cfg(not(unix))]
    {
        let _ = depth;
        std::fs::copy(blob, target).map(|_| ())
    }
}

/// The snapshot directory of `id` at `revision`: from the cache when complete there, else
/// downloaded into [`HubSettings::cache`] (an error under `HF_HUB_OFFLINE=1`).
pub fn snapshot_download(id: &str, revision: &str, s: &HubSettings) -> Result<PathBuf, HubError> {
    if let Some(d) = cached_snapshot(&s.cache, id, revision) {
        return Ok(d);
    }
    if s.offline {
        return Err(HubError(format!(
            "{id}: not in the Hugging Face cache {} (revision '{revision}'), and HF_HUB_OFFLINE=1 forbids downloading it",
            s.cache.display()
        )));
    }
    s.check()?;
    let c = Client::new(s, id);
    let (commit, siblings) = c.revision_info(revision)?;
    let files = wanted_files(&siblings);
    if !files.iter().any(|f| f == "config.json") {
        return Err(c.err(format!(
            "the repository has no config.json at revision '{revision}' (is it a model?)"
        )));
    }
    let repo = repo_folder(&s.cache, id);
    let blobs = repo.join("blobs");
    let snap = repo.join("snapshots").join(&commit);
    std::fs::create_dir_all(&blobs)
        .map_err(|e| c.err(format!("cannot create {}: {e}", blobs.display())))?;
    for file in &files {
        let target = snap.join(file);
        if target.is_file() {
            continue;
        }
        let meta = c.file_meta(&commit, file)?;
        let blob = blobs.join(&meta.etag);
        if !blob.is_file() {
            c.fetch_blob(file, &meta, &blob)?;
        }
        link(&blob, &target, file.matches('/').count())
            .map_err(|e| c.err(format!("cannot link {}: {e}", target.display())))?;
    }
    if revision != commit {
        let r = repo.join("refs").join(revision);
        if let Some(p) = r.parent() {
            std::fs::create_dir_all(p).map_err(|e| c.err(format!("{}: {e}", p.display())))?;
        }
        crate::util::write_atomic_str(&r, &commit)
            .map_err(|e| c.err(format!("{}: {e}", r.display())))?;
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_files_prefer_safetensors_and_put_config_last() {
        let s: Vec<String> = [
            "config.json",
            "pytorch_model.bin",
            "model.safetensors",
            "tf_model.h5",
            "onnx/model.onnx",
            "spm.model",
            "README.md",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        assert_eq!(
            wanted_files(&s),
            ["model.safetensors", "spm.model", "config.json"]
        );
        let s: Vec<String> = ["config.json", "pytorch_model.bin", "vocab.txt"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(
            wanted_files(&s),
            ["pytorch_model.bin", "vocab.txt", "config.json"]
        );
    }

    #[test]
    fn redirects_resolve_against_the_original_url() {
        assert_eq!(absolute("http://h:1/a/b/c", "/x/y"), "http://h:1/x/y");
        assert_eq!(absolute("http://h:1/a/b/c", "d"), "http://h:1/a/b/d");
        assert_eq!(absolute("http://h/a", "https://cdn/z"), "https://cdn/z");
        assert_eq!(quote("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(clean_etag("W/\"abc\""), "abc");
    }
}
