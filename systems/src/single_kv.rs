//! single-kv: one node holding the map in memory behind a mutex. Every request is applied
//! atomically at one point in time between its arrival and its reply, so it is
//! linearizable by construction: the control case that must always pass.

use crate::catalog::SystemSpec;
use crate::kv::{Command, KvStore, Outcome};
use crate::node::{NodeConfig, NodeError, wall_clock_ms};
use crate::protocol::{ApiError, CasRequest, ReadReply, WriteRequest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The catalog entry.
pub const SPEC: SystemSpec = SystemSpec {
    name: "single-kv",
    doc: "one in-memory node; linearizable by construction (the control case)",
    min_nodes: 1,
    max_nodes: 1,
    default_nodes: 1,
    // One in-memory node: a partition cuts nothing and a kill loses everything by design.
    default_nemesis: "none",
    options: &[],
};

struct Node {
    id: String,
    kv: Mutex<KvStore>,
}

type Shared = Arc<Node>;

/// The HTTP routes of a single-kv node.
pub fn router(id: &str) -> Router {
    let node = Arc::new(Node { id: id.to_string(), kv: Mutex::new(KvStore::default()) });
    Router::new()
        .route("/kv/{key}", get(read).put(write))
        .route("/kv/{key}/cas", post(cas))
        .route("/status", get(status))
        .with_state(node)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    axum::serve(listener, router(&cfg.id)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

fn apply(node: &Node, cmd: Command) -> Outcome {
    node.kv.lock().expect("kv lock").apply(&cmd)
}

async fn read(State(node): State<Shared>, Path(key): Path<String>) -> Json<ReadReply> {
    Json(ReadReply { value: node.kv.lock().expect("kv lock").get(&key) })
}

async fn write(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<WriteRequest>,
) -> Json<Value> {
    apply(&node, Command::Put { key, value: req.value });
    Json(json!({}))
}

async fn cas(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<CasRequest>,
) -> Result<Json<Value>, ApiError> {
    match apply(&node, Command::Cas { key, from: req.from, to: req.to }) {
        Outcome::Done => Ok(Json(json!({}))),
        _ => Err(ApiError::definite(StatusCode::PRECONDITION_FAILED, "value did not match")),
    }
}

async fn status(State(node): State<Shared>) -> Json<Value> {
    Json(json!({
        "id": node.id,
        "role": "leader",
        "term": 0,
        "leader": node.id,
        "wall_clock_ms": wall_clock_ms() as u64,
    }))
}
