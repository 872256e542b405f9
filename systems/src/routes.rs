//! The client routes of DESIGN.md's protocol (registers, sets, counters, transactions and
//! the bank) written once for
//! every system that applies [`Command`]s to a [`crate::kv::KvStore`]: single-kv applies them
//! under a lock, raft-kv through its log. A system implements [`Replica`] (how a write and a
//! read reach its state machine) and merges [`router`] with its own `/status` and peer routes.

use crate::kv::{Command, Outcome};
use crate::protocol::{
    ApiError, BalancesReply, CasRequest, CounterAddRequest, CounterReadReply, ReadReply, SetAddRequest,
    SetReadReply, TransferRequest, TxnBody, WriteRequest,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;

/// How a system carries commands to its state machine.
pub trait Replica: Send + Sync + 'static {
    /// Applies a state-changing command; an error says whether it certainly did not apply.
    fn write(&self, command: Command) -> impl Future<Output = Result<Outcome, ApiError>> + Send;

    /// Serves a read command (`Get`, `SetRead`, `CounterRead`) by the system's read path.
    fn read(&self, query: Command) -> impl Future<Output = Result<Value, ApiError>> + Send;
}

/// `/kv/{key}`, `/kv/{key}/cas`, `/set/{key}` and `/counter/{key}` over `replica`.
pub fn router<R: Replica>(replica: Arc<R>) -> Router {
    Router::new()
        .route("/kv/{key}", get(kv_read::<R>).put(kv_write::<R>))
        .route("/kv/{key}/cas", post(kv_cas::<R>))
        .route("/set/{key}", get(set_read::<R>).post(set_add::<R>))
        .route("/counter/{key}", get(counter_read::<R>).post(counter_add::<R>))
        .route("/txn", post(txn::<R>))
        .route("/transfer", post(transfer::<R>))
        .route("/accounts", get(accounts::<R>))
        .with_state(replica)
}

async fn kv_read<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
) -> Result<Json<ReadReply>, ApiError> {
    Ok(Json(ReadReply { value: r.read(Command::Get { key }).await? }))
}

async fn kv_write<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
    Json(req): Json<WriteRequest>,
) -> Result<Json<Value>, ApiError> {
    r.write(Command::Put { key, value: req.value }).await?;
    Ok(Json(json!({})))
}

async fn kv_cas<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
    Json(req): Json<CasRequest>,
) -> Result<Json<Value>, ApiError> {
    match r.write(Command::Cas { key, from: req.from, to: req.to }).await? {
        Outcome::Done => Ok(Json(json!({}))),
        _ => Err(ApiError::definite(StatusCode::PRECONDITION_FAILED, "value did not match")),
    }
}

async fn set_add<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
    Json(req): Json<SetAddRequest>,
) -> Result<Json<Value>, ApiError> {
    r.write(Command::SetAdd { key, element: req.element }).await?;
    Ok(Json(json!({})))
}

async fn set_read<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
) -> Result<Json<SetReadReply>, ApiError> {
    match r.read(Command::SetRead { key }).await? {
        Value::Array(elements) => Ok(Json(SetReadReply { elements })),
        other => Err(ApiError::definite(StatusCode::INTERNAL_SERVER_ERROR, format!("set holds {other}"))),
    }
}

async fn counter_add<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
    Json(req): Json<CounterAddRequest>,
) -> Result<Json<Value>, ApiError> {
    match r.write(Command::CounterAdd { key, delta: req.delta }).await? {
        Outcome::Done => Ok(Json(json!({}))),
        _ => Err(ApiError::definite(StatusCode::CONFLICT, "the counter would overflow")),
    }
}

async fn counter_read<R: Replica>(
    State(r): State<Arc<R>>,
    Path(key): Path<String>,
) -> Result<Json<CounterReadReply>, ApiError> {
    match r.read(Command::CounterRead { key }).await?.as_i64() {
        Some(value) => Ok(Json(CounterReadReply { value })),
        None => Err(ApiError::definite(StatusCode::INTERNAL_SERVER_ERROR, "counter is not an integer")),
    }
}

/// A refusal of the state machine: certainly not applied.
fn refused(why: String) -> ApiError {
    ApiError::definite(StatusCode::UNPROCESSABLE_ENTITY, why)
}

async fn txn<R: Replica>(State(r): State<Arc<R>>, Json(req): Json<TxnBody>) -> Result<Json<Value>, ApiError> {
    let command = Command::Txn { ops: req.ops };
    let done = if command.is_read() {
        r.read(command).await?
    } else {
        match r.write(command).await? {
            Outcome::Value(v) => v,
            Outcome::Refused(why) => return Err(refused(why)),
            other => return Err(refused(format!("unexpected outcome {other:?}"))),
        }
    };
    Ok(Json(json!({ "ops": done })))
}

async fn transfer<R: Replica>(
    State(r): State<Arc<R>>,
    Json(req): Json<TransferRequest>,
) -> Result<Json<Value>, ApiError> {
    match r.write(Command::Transfer { from: req.from, to: req.to, amount: req.amount }).await? {
        Outcome::Done => Ok(Json(json!({}))),
        Outcome::Refused(why) => Err(refused(why)),
        _ => Err(ApiError::definite(StatusCode::CONFLICT, "insufficient funds")),
    }
}

async fn accounts<R: Replica>(State(r): State<Arc<R>>) -> Result<Json<BalancesReply>, ApiError> {
    let balances = serde_json::from_value(r.read(Command::ReadAccounts).await?)
        .map_err(|e| ApiError::definite(StatusCode::INTERNAL_SERVER_ERROR, format!("balances: {e}")))?;
    Ok(Json(BalancesReply { balances }))
}
