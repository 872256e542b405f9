//! The HTTP face of a bank-2pc node, on the one port DESIGN.md gives each node: the
//! client protocol (`POST /txn`, `POST /transfer`, `GET /accounts`, `GET`/`PUT
//! /kv/{key}`, `GET /status`) and the peer route `POST /2pc/messages`, which carries a
//! batch of protocol messages one way. Every client route is one transaction coordinated
//! by this node. One sender task per peer batches whatever the driver queued into a
//! single request over a reused connection.

use crate::bank2pc::driver::{self, Driver, DriverStatus, Event};
use crate::bank2pc::message::{Message, NodeId, Op};
use crate::bank2pc::options::{BankOptions, CoordinatorChoice};
use crate::config::{NodeConfig, NodeError, wall_clock_ms};
use crate::protocol::{ApiError, BalancesReply, MicroOp, ReadReply, TransferRequest, TxnBody, WriteRequest};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Messages per peer request.
const MESSAGES_PER_REQUEST: usize = 256;
/// Largest request body a node accepts.
const MAX_BODY: usize = 16 << 20;

/// Body of `POST /2pc/messages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerBatch {
    /// The sending node.
    pub from: NodeId,
    /// Its messages, in order.
    pub messages: Vec<Message>,
}

struct Node {
    id: String,
    opts: BankOptions,
    events: Sender<Event>,
    request_timeout: Duration,
}

type Shared = Arc<Node>;

/// Serves a bank-2pc node on `cfg.listen` until `shutdown` resolves.
pub async fn serve(
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    serve_on(listener, cfg, shutdown).await
}

fn other(e: impl std::fmt::Display) -> NodeError {
    NodeError::Io(std::io::Error::other(e.to_string()))
}

/// Serves a bank-2pc node on an already bound listener (tests bind ports first so every
/// node knows its peers' addresses before any starts).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let opts = BankOptions::from_config(&cfg)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(2)
        .tcp_nodelay(true)
        .build()
        .map_err(other)?;
    let mut peers = HashMap::new();
    for (peer, addr) in &cfg.peers {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(send_to_peer(client.clone(), cfg.id.clone(), *addr, rx));
        peers.insert(peer.clone(), tx);
    }
    let mut nodes: Vec<String> = cfg.peers.keys().cloned().collect();
    nodes.push(cfg.id.clone());
    let core_cfg = opts.core_config(&cfg.id, nodes);
    let data = cfg.data.clone();
    let driver = tokio::task::spawn_blocking(move || Driver::open(core_cfg, &data, peers))
        .await
        .map_err(other)?
        .map_err(other)?;
    let (events, thread) = driver::spawn(driver);
    let request_timeout =
        Duration::from_millis(opts.timeout_ms * 2 + opts.debug_pause_before_commit_ms.min(1000) + 500);
    let node = Arc::new(Node { id: cfg.id.clone(), opts, events: events.clone(), request_timeout });
    let app = Router::new()
        .route("/txn", post(txn))
        .route("/transfer", post(transfer))
        .route("/accounts", get(accounts))
        .route("/kv/{key}", get(read).put(write))
        .route("/status", get(status))
        .route("/2pc/messages", post(inbound))
        .fallback(unknown_route)
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
        "bank-2pc",
    )
    .await
}

async fn send_to_peer(
    client: reqwest::Client,
    me: NodeId,
    addr: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    let url = format!("http://{addr}/2pc/messages");
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        for chunk in batch.chunks(MESSAGES_PER_REQUEST) {
            // A lost batch is a lost message: decisions and queries are resent, and a
            // lost prepare or vote ends in the coordinator's timeout abort.
            let body = PeerBatch { from: me.clone(), messages: chunk.to_vec() };
            let sent = client.post(&url).json(&body).send().await;
            if !sent.is_ok_and(|r| r.status().is_success()) {
                break;
            }
        }
    }
}

/// Runs one transaction coordinated by this node. `read_only` makes a timeout definite:
/// a transaction that writes nothing changes nothing, whatever became of it.
async fn run_txn(node: &Node, ops: Vec<Op>, read_only: bool) -> Result<Vec<(usize, Value)>, ApiError> {
    if let CoordinatorChoice::Fixed(c) = &node.opts.coordinator
        && *c != node.id
    {
        let mut err = ApiError::definite(StatusCode::MISDIRECTED_REQUEST, format!("{c} coordinates"));
        err.body.leader = Some(c.clone());
        return Err(err);
    }
    let (tx, rx) = oneshot::channel();
    if node.events.send(Event::Txn { ops, reply: tx }).is_err() {
        return Err(ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"));
    }
    match tokio::time::timeout(node.request_timeout, rx).await {
        Ok(Ok(Ok(reads))) => Ok(reads),
        Ok(Ok(Err(reason))) => Err(ApiError::definite(StatusCode::CONFLICT, reason)),
        Ok(Err(_)) => {
            Err(ApiError::indefinite(StatusCode::SERVICE_UNAVAILABLE, "node stopped mid-transaction"))
        }
        Err(_) if read_only => Err(ApiError::definite(StatusCode::GATEWAY_TIMEOUT, "read timed out")),
        Err(_) => Err(ApiError::indefinite(
            StatusCode::GATEWAY_TIMEOUT,
            "timed out before the transaction's outcome was known",
        )),
    }
}

/// A micro-op's key as a store key: strings as they are, numbers (Elle's keys) in decimal.
fn key_of(v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(ApiError::definite(
            StatusCode::BAD_REQUEST,
            format!("key {other} is neither string nor number"),
        )),
    }
}

fn to_op(m: &MicroOp) -> Result<Op, ApiError> {
    let (f, k, v) = m;
    let key = key_of(k)?;
    match f.as_str() {
        "r" => Ok(Op::Read { key }),
        "w" => Ok(Op::Write { key, value: v.clone() }),
        "append" => Ok(Op::Append { key, value: v.clone() }),
        other => Err(ApiError::definite(
            StatusCode::BAD_REQUEST,
            format!("unknown micro-op {other:?}: expected r, w or append"),
        )),
    }
}

async fn txn(State(node): State<Shared>, Json(body): Json<TxnBody>) -> Result<Json<TxnBody>, ApiError> {
    let ops = body.ops.iter().map(to_op).collect::<Result<Vec<_>, _>>()?;
    let read_only = ops.iter().all(|o| !o.writes());
    let reads = run_txn(&node, ops, read_only).await?;
    let mut filled = body.ops;
    for (i, v) in reads {
        if let Some(op) = filled.get_mut(i) {
            op.2 = v;
        }
    }
    Ok(Json(TxnBody { ops: filled }))
}

async fn transfer(
    State(node): State<Shared>,
    Json(req): Json<TransferRequest>,
) -> Result<Json<Value>, ApiError> {
    let bad = |why: String| ApiError::definite(StatusCode::BAD_REQUEST, why);
    for a in [&req.from, &req.to] {
        if !node.opts.accounts.contains(a) {
            return Err(ApiError::definite(StatusCode::NOT_FOUND, format!("no such account {a:?}")));
        }
    }
    if req.from == req.to {
        return Err(bad(format!("transfer from {} to itself", req.from)));
    }
    if req.amount <= 0 {
        return Err(bad(format!("amount {} is not positive", req.amount)));
    }
    let ops = vec![Op::Add { key: req.from, delta: -req.amount }, Op::Add { key: req.to, delta: req.amount }];
    run_txn(&node, ops, false).await?;
    Ok(Json(json!({})))
}

async fn accounts(State(node): State<Shared>) -> Result<Json<BalancesReply>, ApiError> {
    let ops = node.opts.accounts.iter().map(|a| Op::Read { key: a.clone() }).collect();
    let reads = run_txn(&node, ops, true).await?;
    let mut balances = BTreeMap::new();
    for (i, v) in reads {
        let name = &node.opts.accounts[i];
        let balance = v.as_i64().ok_or_else(|| {
            ApiError::definite(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("account {name} holds {v}, not a balance"),
            )
        })?;
        balances.insert(name.clone(), balance);
    }
    Ok(Json(BalancesReply { balances }))
}

async fn read(State(node): State<Shared>, Path(key): Path<String>) -> Result<Json<ReadReply>, ApiError> {
    let reads = run_txn(&node, vec![Op::Read { key }], true).await?;
    let value = reads.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null);
    Ok(Json(ReadReply { value }))
}

async fn write(
    State(node): State<Shared>,
    Path(key): Path<String>,
    Json(req): Json<WriteRequest>,
) -> Result<Json<Value>, ApiError> {
    run_txn(&node, vec![Op::Write { key, value: req.value }], false).await?;
    Ok(Json(json!({})))
}

fn status_json(node: &Node, s: DriverStatus) -> Value {
    let wall = wall_clock_ms() as u64;
    let in_doubt: Vec<Value> = s
        .core
        .in_doubt
        .iter()
        .map(|d| {
            json!({
                "txn": d.txn.to_string(),
                "coordinator": d.coordinator,
                "since_ms": wall.saturating_sub(s.now.saturating_sub(d.since)),
                "precommitted": d.precommitted,
            })
        })
        .collect();
    let locks: Vec<Value> = s
        .core
        .locks
        .iter()
        .map(|(key, txn, mode)| json!({"key": key, "txn": txn.to_string(), "mode": mode.name()}))
        .collect();
    let role = if node.opts.coordinates(&node.id) { "coordinator" } else { "participant" };
    let (prepares, waited) = s.core.lock_waits;
    json!({
        "id": node.id,
        "role": role,
        "term": 0,
        "leader": null,
        "wall_clock_ms": wall,
        "in_doubt": in_doubt,
        "locks": locks,
        "lock_waiters": s.core.lock_waiters,
        "prepares": prepares,
        "prepares_that_waited": waited,
        "coordinating": s.core.coordinating.0,
        "committing": s.core.coordinating.1,
    })
}

async fn status(State(node): State<Shared>) -> Result<Json<Value>, ApiError> {
    let (tx, rx) = oneshot::channel();
    node.events
        .send(Event::Status(tx))
        .map_err(|_| ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"))?;
    let s = tokio::time::timeout(Duration::from_secs(2), rx)
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::definite(StatusCode::SERVICE_UNAVAILABLE, "node did not answer"))?;
    Ok(Json(status_json(&node, s)))
}

async fn unknown_route() -> ApiError {
    ApiError::definite(StatusCode::NOT_FOUND, "bank-2pc does not serve this route")
}

async fn inbound(State(node): State<Shared>, Json(batch): Json<PeerBatch>) -> StatusCode {
    match node.events.send(Event::Inbound { from: batch.from, messages: batch.messages }) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
