//! The HTTP face of a quorum-kv node, on the one port DESIGN.md gives each node: the
//! client routes for registers (`/kv/{key}`, `/kv/{key}/cas`), sets (`/set/{key}`),
//! counters (`/counter/{key}`) and `/status`, and the peer route
//! `POST /quorum/messages`, which takes a batch of [`Envelope`]s one way. One sender
//! task per peer batches whatever the driver queued into one request over a reused
//! connection. Any node serves any client: each is replica and coordinator.

use crate::config::{NodeConfig, NodeError, wall_clock_ms};
use crate::protocol::{
    ApiError, CasRequest, CounterAddRequest, CounterReadReply, SetAddRequest, SetReadReply,
};
use crate::quorum::coordinator::{ClientOp, ClientReply, Core, CoreConfig, Failure};
use crate::quorum::driver::{self, Driver, Event};
use crate::quorum::message::Envelope;
use crate::quorum::options::QuorumOptions;
use crate::quorum::ring::fnv64;
use crate::quorum::store::Store;
use crate::quorum::version::VersionVector;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Messages a sender keeps for a peer it cannot reach; older ones are dropped, which the
/// protocol tolerates like any lost message (quorums, hints and anti-entropy retry).
const MAX_QUEUED: usize = 4096;
/// Messages per peer request.
const MESSAGES_PER_REQUEST: usize = 256;
/// Largest request body a node accepts (an anti-entropy range can be large).
const MAX_BODY: usize = 64 << 20;
/// How much longer than the core's own deadline a handler waits before giving up.
const HANDLER_SLACK_MS: u64 = 1000;

/// Body of `PUT /kv/{key}`: DESIGN.md's `{"value": v}`, plus the `context` a
/// version-vector read returned, so the write supersedes the siblings it saw.
#[derive(Debug, Clone, Deserialize)]
pub struct PutRequest {
    /// The value to store.
    pub value: Value,
    /// The context of the read this write follows (optional).
    #[serde(default)]
    pub context: Option<VersionVector>,
}

struct Node {
    id: String,
    events: Sender<Event>,
    handler_timeout: Duration,
}

type Shared = Arc<Node>;

/// Serves a quorum-kv node on `cfg.listen` until `shutdown` resolves.
pub async fn serve(
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    serve_on(listener, cfg, shutdown).await
}

/// Serves a quorum-kv node on an already bound listener (tests bind ports first so
/// every node knows its peers' addresses before any starts).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let opts = QuorumOptions::from_config(&cfg)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(1000))
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
    let handler_timeout = Duration::from_millis(opts.timeout_ms + HANDLER_SLACK_MS);
    let mut nodes: Vec<String> = cfg.peers.keys().cloned().collect();
    nodes.push(cfg.id.clone());
    // std's randomly keyed hasher is the one source of randomness that needs no crate.
    let incarnation =
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), &cfg.id);
    let core_cfg =
        CoreConfig { id: cfg.id.clone(), nodes, opts, seed: fnv64(cfg.id.as_bytes()), incarnation };
    let data = cfg.data.clone();
    let id = cfg.id.clone();
    let (store, recovered) = tokio::task::spawn_blocking(move || Store::open(&data))
        .await
        .map_err(|e| NodeError::Io(std::io::Error::other(e)))?
        .map_err(|e| NodeError::Io(std::io::Error::other(e)))?;
    if recovered.truncated_bytes > 0 {
        eprintln!("quorum-kv {id}: cut a torn or corrupt log tail of {} bytes", recovered.truncated_bytes);
    }
    let core = Core::new(core_cfg, recovered);
    let (events, thread) = driver::spawn(Driver::new(core, store, peers), &id);
    let node = Arc::new(Node { id: cfg.id.clone(), events: events.clone(), handler_timeout });
    let app = Router::new()
        .route("/kv/{key}", get(kv_get).put(kv_put))
        .route("/kv/{key}/cas", post(kv_cas))
        .route("/set/{key}", get(set_read).post(set_add))
        .route("/counter/{key}", get(counter_read).post(counter_add))
        .route("/status", get(status))
        .route("/quorum/messages", post(inbound))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(node);
    crate::serving::serve_with_driver(
        listener,
        app,
        thread,
        shutdown,
        move || {
            let _ = events.send(Event::Shutdown);
        },
        "quorum-kv",
    )
    .await
}

async fn send_to_peer(client: reqwest::Client, addr: SocketAddr, rx: mpsc::UnboundedReceiver<Envelope>) {
    let url = format!("http://{addr}/quorum/messages");
    crate::serving::send_batches(client, url, rx, MAX_QUEUED, MESSAGES_PER_REQUEST).await
}

fn to_api_error(f: Failure) -> ApiError {
    match f {
        Failure::Definite(m) => ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, m),
        Failure::Indefinite(m) => ApiError::indefinite(StatusCode::SERVICE_UNAVAILABLE, m),
        Failure::Unsupported(m) => ApiError::definite(StatusCode::NOT_FOUND, m),
    }
}

/// Runs one client operation; `read` says a timeout certainly had no effect.
async fn ask(node: &Node, op: ClientOp, read: bool) -> Result<ClientReply, ApiError> {
    let (tx, rx) = oneshot::channel();
    if node.events.send(Event::Client { op, reply: tx }).is_err() {
        return Err(ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"));
    }
    match tokio::time::timeout(node.handler_timeout, rx).await {
        Ok(Ok(result)) => result.map_err(to_api_error),
        Ok(Err(_)) if read => Err(ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node stopped")),
        Err(_) if read => Err(ApiError::definite(StatusCode::GATEWAY_TIMEOUT, "timed out")),
        Ok(Err(_)) => Err(ApiError::indefinite(StatusCode::SERVICE_UNAVAILABLE, "node stopped mid-write")),
        Err(_) => Err(ApiError::indefinite(StatusCode::GATEWAY_TIMEOUT, "timed out mid-write")),
    }
}

fn unexpected(reply: ClientReply) -> ApiError {
    ApiError::indefinite(StatusCode::INTERNAL_SERVER_ERROR, format!("unexpected core reply {reply:?}"))
}

async fn kv_get(State(node): State<Shared>, Path(key): Path<String>) -> Result<Json<Value>, ApiError> {
    match ask(&node, ClientOp::KvGet { key }, true).await? {
        ClientReply::Register { value, siblings, context } => {
            let mut body = json!({ "value": value });
            if let Some(s) = siblings {
                body["siblings"] = Value::Array(s);
            }
            if let Some(c) = context {
                body["context"] = serde_json::to_value(c).expect("contexts serialize");
            }
            Ok(Json(body))
        }
        other => Err(unexpected(other)),
    }
}

async fn kv_put(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<PutRequest>,
) -> Result<Json<Value>, ApiError> {
    ask(&node, ClientOp::KvPut { key, value: req.value, context: req.context }, false).await?;
    Ok(Json(json!({})))
}

async fn kv_cas(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<CasRequest>,
) -> Result<Json<Value>, ApiError> {
    match ask(&node, ClientOp::KvCas { key, from: req.from, to: req.to }, false).await? {
        ClientReply::Done => Ok(Json(json!({}))),
        ClientReply::Mismatch => {
            Err(ApiError::definite(StatusCode::PRECONDITION_FAILED, "value did not match"))
        }
        other => Err(unexpected(other)),
    }
}

async fn set_add(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<SetAddRequest>,
) -> Result<Json<Value>, ApiError> {
    ask(&node, ClientOp::SetAdd { key, element: req.element }, false).await?;
    Ok(Json(json!({})))
}

async fn set_read(
    State(node): State<Shared>,
    Path(key): Path<String>,
) -> Result<Json<SetReadReply>, ApiError> {
    match ask(&node, ClientOp::SetRead { key }, true).await? {
        ClientReply::Set(elements) => Ok(Json(SetReadReply { elements })),
        other => Err(unexpected(other)),
    }
}

async fn counter_add(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<CounterAddRequest>,
) -> Result<Json<Value>, ApiError> {
    ask(&node, ClientOp::CounterAdd { key, delta: req.delta }, false).await?;
    Ok(Json(json!({})))
}

async fn counter_read(
    State(node): State<Shared>,
    Path(key): Path<String>,
) -> Result<Json<CounterReadReply>, ApiError> {
    match ask(&node, ClientOp::CounterRead { key }, true).await? {
        ClientReply::Counter(value) => Ok(Json(CounterReadReply { value })),
        other => Err(unexpected(other)),
    }
}

async fn status(State(node): State<Shared>) -> Result<Json<Value>, ApiError> {
    let (tx, rx) = oneshot::channel();
    node.events
        .send(Event::Status(tx))
        .map_err(|_| ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"))?;
    let s = tokio::time::timeout(node.handler_timeout, rx)
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node did not answer"))?;
    Ok(Json(json!({
        "id": node.id,
        "role": "replica",
        "term": 0,
        "leader": null,
        "wall_clock_ms": wall_clock_ms() as u64,
        "hints_pending": s.hints_pending,
        "last_anti_entropy_ms": s.last_anti_entropy_ms,
        "keys": s.keys,
    })))
}

async fn inbound(State(node): State<Shared>, Json(batch): Json<Vec<Envelope>>) -> StatusCode {
    match node.events.send(Event::Inbound(batch)) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
