//! The wire types of DESIGN.md's protocol, shared by every Sunder system: JSON bodies for
//! the key-value routes and the error shape whose `definite` flag tells a client whether
//! it may record `fail` (certainly not applied) or must record `info`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Body of `GET /kv/{key}` replies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadReply {
    /// The current value, `null` when the key was never written.
    pub value: Value,
}

/// Body of `PUT /kv/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteRequest {
    /// The value to store.
    pub value: Value,
}

/// Body of `POST /kv/{key}/cas`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CasRequest {
    /// The value expected.
    pub from: Value,
    /// The value to set when the expectation holds.
    pub to: Value,
}

/// Body of `POST /set/{key}`: add one element to the set under `key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetAddRequest {
    /// The element to add; unique per run, so a read names the add it saw.
    pub element: Value,
}

/// Body of `GET /set/{key}` replies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetReadReply {
    /// Every element the set holds, in no particular order.
    pub elements: Vec<Value>,
}

/// Body of `POST /counter/{key}`: add `delta` (negative to decrement).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterAddRequest {
    /// The amount to add.
    pub delta: i64,
}

/// Body of `GET /counter/{key}` replies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterReadReply {
    /// The counter's value, `0` when never added to.
    pub value: i64,
}

/// One micro-operation of a transaction: `["r", key, null]` (the reply fills in what was
/// read), `["append", key, value]` or `["w", key, value]`.
pub type MicroOp = (String, Value, Value);

/// Body of `POST /txn` requests and of its `200` replies (reads filled in).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxnBody {
    /// The micro-operations, applied in order as one transaction.
    pub ops: Vec<MicroOp>,
}

/// Body of `GET /accounts` replies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BalancesReply {
    /// Balance by account, all read in one consistent snapshot.
    pub balances: std::collections::BTreeMap<String, i64>,
}

/// Body of `POST /transfer`: move `amount` from one account to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRequest {
    /// The account debited.
    pub from: String,
    /// The account credited.
    pub to: String,
    /// How much; positive.
    pub amount: i64,
}

/// Body of every error reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong.
    #[serde(default)]
    pub error: String,
    /// True only when the operation certainly did not take effect; absent means false.
    #[serde(default)]
    pub definite: bool,
    /// The leader to retry at, when a follower refuses a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

/// An error reply with its status code.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: ErrorReply,
}

impl ApiError {
    /// The operation certainly did not happen (e.g. refused before being proposed).
    pub fn definite(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorReply { error: error.into(), definite: true, leader: None } }
    }

    /// The operation may or may not have happened (e.g. proposed, then timed out).
    pub fn indefinite(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorReply { error: error.into(), definite: false, leader: None } }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
