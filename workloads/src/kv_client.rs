//! The client for DESIGN.md's key-value protocol. It reuses connections, bounds every
//! operation by a timeout, and classifies the reply: `ok` on success, `fail` only for a
//! definite refusal (`definite: true`, or 412 for a cas mismatch) or a connection that could
//! not be established (the request never left the client), and `info` for everything else,
//! timeouts and connections broken mid-request included, because the request may have been
//! applied. A definite refusal that names the leader is retried once at that leader.

use crate::invocation::{Completion, Invocation, Outcome};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// An HTTP client for every node of one cluster.
#[derive(Debug, Clone)]
pub struct KvClient {
    http: reqwest::Client,
    nodes: BTreeMap<String, SocketAddr>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    #[serde(default)]
    definite: bool,
    leader: Option<String>,
}

enum Reply {
    Done(Completion),
    /// Definitely not applied, and the node named a leader to try instead.
    Redirect(Completion, String),
}

impl KvClient {
    /// A client for `nodes` (id to client address) with a per-operation `timeout`.
    pub fn new(nodes: BTreeMap<String, SocketAddr>, timeout: Duration) -> Result<KvClient, ClientError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(KvClient { http, nodes })
    }

    /// The node ids, in order.
    pub fn node_ids(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// Performs `inv` at `node`, following one leader redirect.
    pub async fn invoke(&self, node: &str, inv: &Invocation) -> Completion {
        match self.attempt(node, inv).await {
            Reply::Done(c) => c,
            Reply::Redirect(_, leader) if leader != node && self.nodes.contains_key(&leader) => {
                match self.attempt(&leader, inv).await {
                    Reply::Done(c) | Reply::Redirect(c, _) => c,
                }
            }
            Reply::Redirect(c, _) => c,
        }
    }

    async fn attempt(&self, node: &str, inv: &Invocation) -> Reply {
        let completion = |outcome, value, error: Option<String>, unavailable| Completion {
            outcome,
            value,
            node: node.to_string(),
            error,
            unavailable,
        };
        let done = |outcome, value, error| Reply::Done(completion(outcome, value, error, false));
        let Some(addr) = self.nodes.get(node) else {
            return done(Outcome::Fail, inv.value.clone(), Some(format!("no such node {node}")));
        };
        let url = format!("http://{addr}/kv/{}", inv.key);
        let req = match inv.f {
            "read" => self.http.get(url),
            "write" => self.http.put(url).json(&json!({ "value": inv.value })),
            "cas" => self
                .http
                .post(format!("{url}/cas"))
                .json(&json!({ "from": inv.value[0], "to": inv.value[1] })),
            other => {
                return done(Outcome::Fail, inv.value.clone(), Some(format!("unknown function {other}")));
            }
        };
        let resp = match req.send().await {
            Ok(r) => r,
            // No connection was made, so no byte of the request was sent: certainly not applied.
            Err(e) if e.is_connect() => {
                return Reply::Done(completion(Outcome::Fail, inv.value.clone(), Some(describe(&e)), true));
            }
            Err(e) => return done(Outcome::Info, inv.value.clone(), Some(describe(&e))),
        };
        let status = resp.status();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return done(Outcome::Info, inv.value.clone(), Some(describe(&e))),
        };
        if status.is_success() {
            let value = if inv.f == "read" {
                match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("value").cloned()) {
                    Some(v) => v,
                    // A read that returned garbage tells us nothing; it changed nothing either.
                    None => return done(Outcome::Fail, Value::Null, Some("unparseable read reply".into())),
                }
            } else {
                inv.value.clone()
            };
            return done(Outcome::Ok, value, None);
        }
        if status.as_u16() == 412 && inv.f == "cas" {
            return done(Outcome::Fail, inv.value.clone(), Some("cas mismatch".into()));
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) if e.definite => {
                let msg = format!("{status}: {}", e.error.unwrap_or_default());
                let unavailable = status.as_u16() == 503 || status.as_u16() == 421;
                let c = completion(Outcome::Fail, inv.value.clone(), Some(msg), unavailable);
                match e.leader {
                    Some(l) => Reply::Redirect(c, l),
                    None => Reply::Done(c),
                }
            }
            Ok(e) => done(
                Outcome::Info,
                inv.value.clone(),
                Some(format!("{status}: {}", e.error.unwrap_or_default())),
            ),
            Err(_) => done(Outcome::Info, inv.value.clone(), Some(format!("{status} with no error body"))),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s = format!("{s}: {inner}");
            src = inner.source();
        }
        s
    }
}
