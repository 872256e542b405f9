//! `sunder serve`: an HTTP view of a store of run folders. `/` lists every suite (its
//! outcome, counts and comparison page) and every run (test, system, workload, nemesis,
//! seed, time, verdict colour); `/runs/<path>` serves a run's
//! files and folder listings. Paths are confined to the store: a `..` or absolute path is
//! refused with 403 before touching the disk, and a path that resolves (through symlinks)
//! outside the store is refused with 403 too. The harness binds it to 127.0.0.1.

use crate::escape::{push_href_segment, text};
use crate::page::CONTENT_SECURITY_POLICY;
use crate::test_info::TestInfo;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use sunder_check::verdict::Validity;

/// The router serving `store`. The caller binds it (the harness: 127.0.0.1:8080).
pub fn router(store: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs", get(index))
        .route("/runs/", get(index))
        .route("/runs/{*path}", get(run_file))
        .with_state(Arc::new(store))
}

/// Serves `store` on an already-bound listener (the harness binds 127.0.0.1:8080 unless
/// told otherwise) until an I/O error; callers need no axum dependency of their own.
pub async fn serve_on(listener: tokio::net::TcpListener, store: PathBuf) -> std::io::Result<()> {
    axum::serve(listener, router(store)).await
}

/// One run folder as the index shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// Path relative to the store, e.g. `register/20261126T030000Z-s42`.
    pub rel: String,
    /// Settings read from `test.json`.
    pub test: TestInfo,
    /// `valid`, `invalid`, `unknown`, or `unchecked` without results.
    pub verdict: String,
    /// Whether a `report.html` exists.
    pub has_report: bool,
    /// Whether `store/latest` points here.
    pub latest: bool,
}

/// Lists the run folders of a store (`<test>/<run>/`), newest first.
pub fn list_runs(store: &Path) -> Vec<RunEntry> {
    let latest = std::fs::canonicalize(store.join("latest")).ok();
    let mut runs = vec![];
    let Ok(tests) = std::fs::read_dir(store) else { return runs };
    for t in tests.flatten() {
        // `latest` is a symlink to a run; the run is listed under its test already.
        if t.file_type().map(|ft| !ft.is_dir()).unwrap_or(true) {
            continue;
        }
        let Ok(inner) = std::fs::read_dir(t.path()) else { continue };
        for r in inner.flatten() {
            let dir = r.path();
            if !r.file_type().map(|ft| ft.is_dir()).unwrap_or(false) {
                continue;
            }
            let is_run = ["test.json", "history.jsonl", "results.json"].iter().any(|f| dir.join(f).exists());
            if !is_run {
                continue;
            }
            let read = |f: &str| {
                std::fs::read_to_string(dir.join(f)).ok().and_then(|s| serde_json::from_str::<Value>(&s).ok())
            };
            let test = read("test.json").map(|v| TestInfo::from_value(&v)).unwrap_or_default();
            // The same reading of `valid` as the checkers' own; anything else is unchecked.
            let verdict = read("results.json")
                .and_then(|v| Validity::deserialize(v.get("valid")?).ok())
                .map_or("unchecked", Validity::as_str);
            runs.push(RunEntry {
                rel: format!("{}/{}", t.file_name().to_string_lossy(), r.file_name().to_string_lossy()),
                verdict: verdict.to_string(),
                has_report: dir.join("report.html").exists(),
                latest: latest
                    .as_deref()
                    .is_some_and(|l| std::fs::canonicalize(&dir).ok().as_deref() == Some(l)),
                test,
            });
        }
    }
    runs.sort_by(|a, b| {
        let key = |e: &RunEntry| {
            (
                e.test.started_at.clone().unwrap_or_default(),
                e.rel.rsplit('/').next().unwrap_or("").to_string(),
            )
        };
        key(b).cmp(&key(a))
    });
    runs
}

/// One suite folder (`suites/<name>/<time>/`) as the index shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteEntry {
    /// Path relative to the store, e.g. `suites/ci/20261201T120000.000Z`.
    pub rel: String,
    /// The suite's results, when its `results.json` is there and readable (a suite still
    /// running has none yet).
    pub results: Option<crate::compare::record::SuiteRecord>,
}

/// Lists the suite folders of a store, newest first.
pub fn list_suites(store: &Path) -> Vec<SuiteEntry> {
    let mut out = vec![];
    let Ok(names) = std::fs::read_dir(store.join("suites")) else { return out };
    for name in names.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let Ok(runs) = std::fs::read_dir(name.path()) else { continue };
        for run in runs.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
            let results = std::fs::read_to_string(run.path().join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            out.push(SuiteEntry {
                rel: format!(
                    "suites/{}/{}",
                    name.file_name().to_string_lossy(),
                    run.file_name().to_string_lossy()
                ),
                results,
            });
        }
    }
    // Folder names end in a sortable UTC time.
    out.sort_by(|a, b| b.rel.rsplit('/').next().cmp(&a.rel.rsplit('/').next()));
    out
}

fn suites_table(suites: &[SuiteEntry]) -> String {
    let mut body = String::from(
        "<h2>Suites</h2>\n<table id=\"suites\"><thead><tr><th>outcome</th><th>suite</th><th>cells</th><th>passed</th><th>failed</th><th>started</th><th>files</th></tr></thead><tbody>\n",
    );
    for s in suites {
        let (outcome, name, cells, pass, fail, started) = match &s.results {
            Some(r) => (
                r.outcome.as_str(),
                r.suite.clone(),
                r.counts.cells.to_string(),
                r.counts.pass.to_string(),
                r.counts.fail.to_string(),
                r.started_at.clone(),
            ),
            None => ("unchecked", s.rel.clone(), String::new(), String::new(), String::new(), String::new()),
        };
        let v = match outcome {
            "pass" => "valid",
            "fail" | "error" => "invalid",
            "unknown" => "unknown",
            _ => "unchecked",
        };
        let link = if s.results.is_some() {
            format!("{}/compare.html", href(&s.rel))
        } else {
            format!("{}/", href(&s.rel))
        };
        let _ = writeln!(
            body,
            "<tr class=\"suite\"><td><span class=\"v v-{v}\"></span>{}</td><td class=\"test\"><a href=\"{link}\">{}</a></td><td>{cells}</td><td>{pass}</td><td>{fail}</td><td>{}</td><td><a href=\"{}/\">files</a></td></tr>",
            text(outcome),
            text(&name),
            text(&started),
            href(&s.rel),
        );
    }
    body.push_str("</tbody></table>\n<h2>Runs</h2>\n");
    body
}

/// Percent-encodes each segment of a store-relative path for an `href`.
fn href(rel: &str) -> String {
    let mut out = String::from("/runs/");
    for (i, seg) in rel.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        push_href_segment(&mut out, seg);
    }
    out
}

const PAGE_STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2329}table{border-collapse:collapse}th,td{border-bottom:1px solid #dde1e5;padding:4px 12px 4px 0;text-align:left;white-space:nowrap}td.test{white-space:normal;overflow-wrap:anywhere}th{color:#5d6770}a{color:#2b6cb0}.v{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px;vertical-align:middle}.v-valid{background:#1e8449}.v-invalid{background:#c0392b}.v-unknown{background:#b9770e}.v-unchecked{background:#9aa0a6}.latest{font-size:11px;background:#e8eef7;border-radius:3px;padding:0 5px}";

fn html_page(title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{PAGE_STYLE}</style></head><body>{body}</body></html>\n",
        text(title)
    );
    let mut r = (StatusCode::OK, page).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

async fn index(State(store): State<Arc<PathBuf>>) -> Response {
    let dir = store.as_ref().clone();
    let (runs, suites) = match tokio::task::spawn_blocking(move || (list_runs(&dir), list_suites(&dir))).await
    {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("listing runs failed: {e}")).into_response();
        }
    };
    let mut body = format!(
        "<h1>Sunder runs</h1><p>{} run(s) in <code>{}</code>.</p>\n{}<table id=\"runs\"><thead><tr><th>verdict</th><th>test</th><th>system</th><th>workload</th><th>nemesis</th><th>seed</th><th>started</th><th>files</th></tr></thead><tbody>\n",
        runs.len(),
        text(&store.display().to_string()),
        if suites.is_empty() { String::new() } else { suites_table(&suites) }
    );
    for r in &runs {
        let t = &r.test;
        let o = |v: &Option<String>| text(v.as_deref().unwrap_or(""));
        let name = t.name.clone().unwrap_or_else(|| r.rel.split('/').next().unwrap_or("").to_string());
        let link =
            if r.has_report { format!("{}/report.html", href(&r.rel)) } else { format!("{}/", href(&r.rel)) };
        let _ = writeln!(
            body,
            "<tr class=\"run v-row-{v}\"><td><span class=\"v v-{v}\"></span>{v}</td><td class=\"test\"><a href=\"{link}\">{}</a>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"{}/\">files</a></td></tr>",
            text(&name),
            if r.latest { " <span class=\"latest\">latest</span>" } else { "" },
            o(&t.system),
            o(&t.workload),
            text(&t.nemesis.join(", ")),
            t.seed.map(|s| s.to_string()).unwrap_or_default(),
            text(&t.started_at.clone().unwrap_or_else(|| r.rel.rsplit('/').next().unwrap_or("").to_string())),
            href(&r.rel),
            v = r.verdict,
        );
    }
    body.push_str("</tbody></table>");
    if runs.is_empty() {
        body.push_str("<p>No run yet.</p>");
    }
    html_page("Sunder runs", &body)
}

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `..`, `.`, an absolute path or a NUL: never looked up (403).
    Forbidden,
    /// Resolves outside the store through a symlink (403).
    Escapes,
    /// Nothing there (404).
    Missing,
}

/// Resolves a store-relative request path to a file or folder inside the store.
pub fn resolve(store: &Path, rel: &str) -> Result<PathBuf, Refusal> {
    let trimmed = rel.trim_end_matches('/');
    if rel.starts_with('/') || rel.contains('\0') || rel.contains('\\') {
        return Err(Refusal::Forbidden);
    }
    let p = Path::new(trimmed);
    // `components()` quietly drops interior `.`; the raw segments are checked too.
    if trimmed.split('/').any(|seg| seg == "." || seg == "..")
        || !p.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(Refusal::Forbidden);
    }
    let root = std::fs::canonicalize(store).map_err(|_| Refusal::Missing)?;
    let full = std::fs::canonicalize(root.join(p)).map_err(|_| Refusal::Missing)?;
    if !full.starts_with(&root) {
        return Err(Refusal::Escapes);
    }
    Ok(full)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        // Logs, histories, Markdown and anything unknown are shown as text, never run.
        _ => "text/plain; charset=utf-8",
    }
}

async fn run_file(State(store): State<Arc<PathBuf>>, UrlPath(rel): UrlPath<String>) -> Response {
    let store = store.as_ref().clone();
    let rel2 = rel.clone();
    let found = tokio::task::spawn_blocking(move || resolve(&store, &rel2).map(|p| (p.is_dir(), p))).await;
    let (is_dir, path) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(Refusal::Forbidden)) => return (StatusCode::FORBIDDEN, "path not allowed\n").into_response(),
        Ok(Err(Refusal::Escapes)) => {
            return (StatusCode::FORBIDDEN, "path leads outside the store\n").into_response();
        }
        Ok(Err(Refusal::Missing)) => {
            return (StatusCode::NOT_FOUND, "no such file in the store\n").into_response();
        }
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    };
    if is_dir {
        if !rel.ends_with('/') {
            let to = format!("{}/", href(&rel));
            return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response();
        }
        return listing(&path, rel.trim_end_matches('/')).await;
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let kind = content_type(&path);
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            if kind.starts_with("text/html") || kind.starts_with("image/svg") {
                h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
            }
            r
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read: {e}\n")).into_response(),
    }
}

async fn listing(dir: &Path, rel: &str) -> Response {
    let dir = dir.to_path_buf();
    let entries = tokio::task::spawn_blocking(move || {
        let mut v: Vec<(String, bool, u64)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let meta = std::fs::metadata(e.path()).ok();
                        let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            is_dir,
                            meta.map(|m| m.len()).unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    })
    .await
    .unwrap_or_default();
    let mut body = format!("<h1>{}</h1><p><a href=\"/\">all runs</a></p><table><tbody>\n", text(rel));
    for (name, is_dir, len) in entries {
        let target = format!("{}{}", href(&format!("{rel}/{name}")), if is_dir { "/" } else { "" });
        let _ = writeln!(
            body,
            "<tr><td><a href=\"{target}\">{}{}</a></td><td>{}</td></tr>",
            text(&name),
            if is_dir { "/" } else { "" },
            if is_dir { String::new() } else { format!("{len} bytes") }
        );
    }
    body.push_str("</tbody></table>");
    html_page(rel, &body)
}
