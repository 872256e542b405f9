//! single-kv: one node holding the state machine in memory behind a mutex. Every request is
//! applied atomically at one point in time between its arrival and its reply, so it is
//! linearizable by construction: the control case that must always pass. It has no peers
//! and is its own leader.

use crate::config::{NodeConfig, NodeError, wall_clock_ms};
use crate::kv::{Command, KvStore, Outcome};
use crate::protocol::ApiError;
use crate::routes::Replica;
use crate::spec::{
    Capabilities, HealthProbe, LeaderProbe, Program, Protocol, Shutdown, StopPolicy, SystemSpec,
};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
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
    options: &crate::kv::BANK_OPTIONS,
    program: Program::Builtin(|cfg, shutdown| Box::pin(serve(cfg, shutdown))),
    ports: &["client"],
    health: HealthProbe::HttpGet("/status"),
    // One node orders every request: it is its own leader, and says so in /status.
    leader: LeaderProbe::SunderStatus,
    protocol: Protocol::SunderHttp,
    stop: StopPolicy::term(3000),
    capabilities: Capabilities {
        workloads: &["register", "set", "counter", "bank", "list-append", "rw-register"],
        cas: true,
        cas_when: None,
        backends: &["netns", "local"],
        clock_faults: true,
        faults: None,
        limits: None,
        leader_hints: false,
        status_timeline: false,
    },
    // In memory only: a restart starts empty by design.
    data_files: &[],
};

struct Node {
    id: String,
    kv: Mutex<KvStore>,
}

impl Replica for Node {
    async fn write(&self, command: Command) -> Result<Outcome, ApiError> {
        Ok(self.kv.lock().expect("kv lock").apply(&command))
    }

    async fn read(&self, query: Command) -> Result<Value, ApiError> {
        Ok(self.kv.lock().expect("kv lock").read(&query).unwrap_or_default())
    }
}

/// The HTTP routes of a single-kv node holding `kv`.
pub fn router(id: &str, kv: KvStore) -> Router {
    let node = Arc::new(Node { id: id.to_string(), kv: Mutex::new(kv) });
    crate::routes::router(node.clone()).merge(Router::new().route("/status", get(status)).with_state(node))
}

/// Serves until `shutdown` resolves.
pub async fn serve(cfg: NodeConfig, shutdown: Shutdown) -> Result<(), NodeError> {
    let kv = crate::kv::initial_store(&cfg, &crate::kv::BANK_OPTIONS)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    axum::serve(listener, router(&cfg.id, kv)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

async fn status(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!({
        "id": node.id,
        "role": "leader",
        "term": 0,
        "leader": node.id,
        "wall_clock_ms": wall_clock_ms() as u64,
    }))
}
