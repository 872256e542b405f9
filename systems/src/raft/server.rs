//! The HTTP face of a raft-kv node, on the one port DESIGN.md gives each node: the
//! client protocol ([`crate::routes`]: registers, sets and counters, each through the log or
//! the read path; `GET /status`) and the
//! peer route `POST /raft/messages`, which takes a batch of Raft messages one way (the
//! replies travel back as messages of their own). One sender task per peer batches
//! whatever the driver queued into a single request over a reused connection.

use crate::config::{NodeConfig, NodeError, wall_clock_ms};
use crate::kv::{Command, Outcome};
use crate::protocol::ApiError;
use crate::raft::driver::{self, Driver, Event};
use crate::raft::message::Message;
use crate::raft::options::RaftOptions;
use crate::routes::Replica;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Messages a sender keeps for a peer it cannot reach; older ones are dropped, which
/// Raft tolerates like any lost message.
const MAX_QUEUED: usize = 4096;
/// Messages per peer request, so one request stays well under [`MAX_BODY`] even when
/// every message carries a full batch of entries.
const MESSAGES_PER_REQUEST: usize = 64;
/// Largest request body a node accepts.
const MAX_BODY: usize = 64 << 20;

struct Node {
    id: String,
    events: Sender<Event>,
    request_timeout: Duration,
}

type Shared = Arc<Node>;

/// Serves a raft-kv node on `cfg.listen` until `shutdown` resolves.
pub async fn serve(
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    serve_on(listener, cfg, shutdown).await
}

/// Serves a raft-kv node on an already bound listener (tests bind ephemeral ports
/// first so every node knows its peers' addresses before any starts).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let opts = RaftOptions::from_config(&cfg)?;
    let kv = crate::kv::initial_store(&cfg, crate::raft::options::OPTION_SPECS)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(2)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| NodeError::Io(std::io::Error::other(e)))?;
    let mut peers = HashMap::new();
    for (peer, addr) in &cfg.peers {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(send_to_peer(client.clone(), *addr, rx));
        peers.insert(peer.clone(), tx);
    }
    let request_timeout = Duration::from_millis(opts.request_timeout_ms);
    let data = cfg.data.clone();
    let id = cfg.id.clone();
    let driver = tokio::task::spawn_blocking(move || Driver::open(&id, &data, kv, opts, peers))
        .await
        .map_err(|e| NodeError::Io(std::io::Error::other(e)))?
        // A message, not a wrapped error: the chain would print the same text twice.
        .map_err(|e| {
            NodeError::Io(std::io::Error::other(format!("raft-kv {} refuses to start: {e}", cfg.id)))
        })?;
    let (events, thread) = driver::spawn(driver);
    let node = Arc::new(Node { id: cfg.id.clone(), events: events.clone(), request_timeout });
    let app = crate::routes::router(node.clone())
        .merge(
            Router::new()
                .route("/status", get(status))
                .route("/raft/messages", post(inbound))
                .with_state(node),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY));
    crate::serving::serve_with_driver(
        listener,
        app,
        thread,
        shutdown,
        move || {
            let _ = events.send(Event::Shutdown);
        },
        "raft-kv",
    )
    .await
}

async fn send_to_peer(client: reqwest::Client, addr: SocketAddr, rx: mpsc::UnboundedReceiver<Message>) {
    let url = format!("http://{addr}/raft/messages");
    crate::serving::send_batches(client, url, rx, MAX_QUEUED, MESSAGES_PER_REQUEST).await
}

async fn ask<T>(
    node: &Node,
    make: impl FnOnce(oneshot::Sender<Result<T, ApiError>>) -> Event,
    definite_on_timeout: bool,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    if node.events.send(make(tx)).is_err() {
        return Err(ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"));
    }
    match tokio::time::timeout(node.request_timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(ApiError::indefinite(
            StatusCode::SERVICE_UNAVAILABLE,
            "node stopped while the request was pending",
        )),
        Err(_) if definite_on_timeout => Err(ApiError::definite(StatusCode::GATEWAY_TIMEOUT, "timed out")),
        Err(_) => Err(ApiError::indefinite(
            StatusCode::GATEWAY_TIMEOUT,
            "timed out before the write was known to commit",
        )),
    }
}

impl Replica for Node {
    async fn write(&self, command: Command) -> Result<Outcome, ApiError> {
        ask(self, |reply| Event::Write { command, reply }, false).await
    }

    async fn read(&self, query: Command) -> Result<Value, ApiError> {
        // A read changes nothing, so even a timed-out read certainly had no effect.
        ask(self, |reply| Event::Read { query, reply }, true).await
    }
}

async fn status(State(node): State<Shared>) -> Result<Json<Value>, ApiError> {
    let (tx, rx) = oneshot::channel();
    node.events
        .send(Event::Status(tx))
        .map_err(|_| ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"))?;
    let s = tokio::time::timeout(node.request_timeout, rx)
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node did not answer"))?;
    let (core, log_bytes, log_entries) = (s.core, s.log_bytes, s.log_entries);
    Ok(Json(json!({
        "id": node.id,
        "role": core.role.name(),
        "term": core.term,
        "leader": core.leader,
        "commit_index": core.commit_index,
        "last_log_index": core.last_log_index,
        "snapshot_index": core.snapshot_index,
        "snapshots_installed": core.snapshots_installed,
        "log_entries": log_entries,
        "log_bytes": log_bytes,
        "wall_clock_ms": wall_clock_ms() as u64,
    })))
}

async fn inbound(State(node): State<Shared>, Json(batch): Json<Vec<Message>>) -> StatusCode {
    match node.events.send(Event::Inbound(batch)) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
