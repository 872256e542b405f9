//! `serve` lists the runs of a store and serves their files, and refuses every path that
//! could leave the store: `..` (plain or percent-encoded), absolute paths, and symlinks
//! that point outside. Requests go through the router directly and over a real loopback
//! socket, since hyper's own URI handling is part of what keeps paths in.

mod scratch_dir;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use scratch_dir::ScratchDir;
use std::io::{Read, Write};
use tower::ServiceExt;

/// A store with one valid and one invalid run (rendered), `latest` pointing at the second,
/// and a symlink inside a run that leads out of the store.
fn store() -> (ScratchDir, ScratchDir) {
    let store = ScratchDir::new("store");
    let outside = ScratchDir::new("outside");
    std::fs::write(outside.path().join("secret.txt"), "do not serve").unwrap();
    for (kind, when) in [("valid", "20261126T030000Z-s42"), ("invalid", "20261126T031000Z-s7")] {
        let run = store.path().join("register").join(when);
        let fixture = ScratchDir::fixture(kind);
        std::fs::create_dir_all(run.parent().unwrap()).unwrap();
        std::fs::rename(fixture.path(), &run).unwrap();
        sunder_report::render_run(&run).unwrap();
    }
    let second = store.path().join("register/20261126T031000Z-s7");
    std::os::unix::fs::symlink(&second, store.path().join("latest")).unwrap();
    std::os::unix::fs::symlink(outside.path(), second.join("escape")).unwrap();
    (store, outside)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn index_lists_runs_with_settings_and_verdict_colour() {
    let (store, _outside) = store();
    let app = sunder_report::serve::router(store.path().to_path_buf());
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.matches("<tr class=\"run").count(), 2, "{body}");
    // Newest first, marked latest, coloured by verdict, linking to its report.
    let first = body.split("<tr class=\"run").nth(1).unwrap();
    assert!(first.contains("v-invalid") && first.contains("latest"), "{first}");
    assert!(first.contains("href=\"/runs/register/20261126T031000Z-s7/report.html\""));
    // The fixtures' own settings: raft-kv runs, register workload, their faults and seeds.
    for col in ["raft-kv", "register", "partition, kill", "42"] {
        assert!(body.contains(col), "{col} missing from the index");
    }
    assert!(body.contains("v-valid"));
}

#[tokio::test]
async fn serves_run_files_with_safe_content_types() {
    let (store, _outside) = store();
    let app = sunder_report::serve::router(store.path().to_path_buf());
    let (status, body) = get(&app, "/runs/register/20261126T030000Z-s42/report.html").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("<!DOCTYPE html>"));
    let req = Request::builder().uri("/runs/latest/nodes/n1/log").body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let (status, listing) = get(&app, "/runs/register/20261126T030000Z-s42/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(listing.contains("history.jsonl"));
    let (status, _) = get(&app, "/runs/register/20261126T030000Z-s42").await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(get(&app, "/runs/register/nope/report.html").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refuses_dot_dot_absolute_and_symlink_escapes() {
    let (store, outside) = store();
    let app = sunder_report::serve::router(store.path().to_path_buf());
    let abs = format!("/runs/{}/secret.txt", outside.path().display());
    for uri in [
        "/runs/../outside/secret.txt",
        "/runs/register/../../etc/passwd",
        "/runs/register/%2e%2e/%2e%2e/etc/passwd",
        "/runs/..%2f..%2fetc/passwd",
        "/runs//etc/passwd",
        "/runs/%2fetc%2fpasswd",
        abs.as_str(),
        "/runs/register/./20261126T030000Z-s42/test.json",
        "/runs/latest/escape/secret.txt",
    ] {
        let (status, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri} gave {status}: {body}");
        assert!(!body.contains("do not serve"));
    }
}

#[test]
fn refuses_dot_dot_over_a_real_socket() {
    let (store, _outside) = store();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(sunder_report::serve::serve_on(listener, store.path().to_path_buf()));
    let raw = |path: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(raw("/runs/../../../../etc/passwd").starts_with("HTTP/1.1 403"));
    assert!(raw("/runs/register/..%2F..%2F..%2Fetc%2Fpasswd").starts_with("HTTP/1.1 403"));
    assert!(raw("/").starts_with("HTTP/1.1 200"));
    rt.shutdown_background();
}
