//! The client for Sunder's own HTTP protocol (DESIGN.md): registers, sets, counters,
//! transactions and bank accounts. It reuses connections, bounds every operation by a
//! timeout, and classifies the reply: `ok` on success, `fail` only for a definite refusal
//! (`definite: true`, a 412 cas mismatch, a 409 abort or refusal) or a connection that
//! could not be established (the request never left the client), and `info` for everything
//! else, timeouts and connections broken mid-request included, because the request may
//! have been applied. A definite refusal that names the leader is retried once at that
//! leader. A leader-aware client ([`SunderHttp::leader_aware`]) also remembers that name
//! and sends every later operation there first, whichever node its worker is bound to,
//! until that node stops answering or names another leader.

use crate::client::{Client, ClientError, Pending};
use crate::invocation::{Completion, Invocation, Object, Outcome};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sunder_systems::protocol::{
    CasRequest, CounterAddRequest, ErrorReply, MicroOp, SetAddRequest, TransferRequest, TxnBody, WriteRequest,
};

/// An HTTP client for every node of one cluster.
#[derive(Debug, Clone)]
pub struct SunderHttp {
    http: reqwest::Client,
    nodes: BTreeMap<String, SocketAddr>,
    /// The leader a node last named, shared by every worker; None when not leader-aware.
    leader: Option<Arc<Mutex<Option<String>>>>,
}

enum Reply {
    Done(Completion),
    /// Definitely not applied, and the node named a leader to try instead.
    Redirect(Completion, String),
}

/// Which field of a `200` reply holds what an op returned, for the ops that return something.
fn result_field(inv: &Invocation) -> Option<&'static str> {
    match (inv.object, inv.f) {
        (Object::Register | Object::Counter, "read") => Some("value"),
        (Object::Set, "read") => Some("elements"),
        (Object::Bank, "read") => Some("balances"),
        (Object::Txn, _) => Some("ops"),
        _ => None,
    }
}

impl SunderHttp {
    /// A client for `nodes` (id to client address) with a per-operation `timeout`.
    pub fn new(nodes: BTreeMap<String, SocketAddr>, timeout: Duration) -> Result<SunderHttp, ClientError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(SunderHttp { http, nodes, leader: None })
    }

    /// The same client, but remembering the leader nodes name and going there first.
    pub fn leader_aware(mut self) -> SunderHttp {
        self.leader = Some(Arc::new(Mutex::new(None)));
        self
    }

    fn known_leader(&self) -> Option<String> {
        self.leader.as_ref().and_then(|l| l.lock().map(|g| g.clone()).unwrap_or(None))
    }

    fn remember_leader(&self, leader: Option<String>) {
        if let Some(l) = &self.leader
            && let Ok(mut g) = l.lock()
        {
            *g = leader;
        }
    }

    /// Performs `inv` at `node` (or at the remembered leader), following one redirect.
    pub async fn perform(&self, node: &str, inv: &Invocation) -> Completion {
        let first =
            self.known_leader().filter(|l| self.nodes.contains_key(l)).unwrap_or_else(|| node.to_string());
        let reply = self.attempt(&first, inv).await;
        if let Reply::Done(c) = &reply
            && c.unavailable
            && first != node
        {
            // The remembered leader is down or no longer leads and names nobody: forget
            // it, and let the worker's own node answer (or name the new leader) next time.
            self.remember_leader(None);
        }
        match reply {
            Reply::Done(c) => c,
            Reply::Redirect(_, leader) if leader != first && self.nodes.contains_key(&leader) => {
                self.remember_leader(Some(leader.clone()));
                match self.attempt(&leader, inv).await {
                    Reply::Done(c) | Reply::Redirect(c, _) => c,
                }
            }
            Reply::Redirect(c, _) => c,
        }
    }

    /// The HTTP request for `inv`, its body built from the protocol's own wire types.
    fn request(&self, addr: SocketAddr, inv: &Invocation) -> Result<reqwest::RequestBuilder, String> {
        let key = || inv.key.as_deref().ok_or_else(|| format!("{} needs a key", inv.f));
        let base = format!("http://{addr}");
        let body = |what: &str| format!("{} of a {:?} needs {what}, got {}", inv.f, inv.object, inv.value);
        Ok(match (inv.object, inv.f) {
            (Object::Register, "read") => self.http.get(format!("{base}/kv/{}", key()?)),
            (Object::Register, "write") => self
                .http
                .put(format!("{base}/kv/{}", key()?))
                .json(&WriteRequest { value: inv.value.clone() }),
            (Object::Register, "cas") => self
                .http
                .post(format!("{base}/kv/{}/cas", key()?))
                .json(&CasRequest { from: inv.value[0].clone(), to: inv.value[1].clone() }),
            (Object::Set, "read") => self.http.get(format!("{base}/set/{}", key()?)),
            (Object::Set, "add") => self
                .http
                .post(format!("{base}/set/{}", key()?))
                .json(&SetAddRequest { element: inv.value.clone() }),
            (Object::Counter, "read") => self.http.get(format!("{base}/counter/{}", key()?)),
            (Object::Counter, "add") => {
                let delta = inv.value.as_i64().ok_or_else(|| body("an integer delta"))?;
                self.http.post(format!("{base}/counter/{}", key()?)).json(&CounterAddRequest { delta })
            }
            (Object::Txn, "txn") => {
                let ops: Vec<MicroOp> =
                    serde_json::from_value(inv.value.clone()).map_err(|_| body("[[f, key, value], ...]"))?;
                self.http.post(format!("{base}/txn")).json(&TxnBody { ops })
            }
            (Object::Bank, "read") => self.http.get(format!("{base}/accounts")),
            (Object::Bank, "transfer") => {
                let t: TransferRequest =
                    serde_json::from_value(inv.value.clone()).map_err(|_| body("{from, to, amount}"))?;
                self.http.post(format!("{base}/transfer")).json(&t)
            }
            (object, f) => return Err(format!("no route for {f} on a {object:?}")),
        })
    }

    async fn attempt(&self, node: &str, inv: &Invocation) -> Reply {
        let completion = |outcome, value, error: Option<String>, unavailable| Completion {
            outcome,
            value,
            siblings: None,
            node: node.to_string(),
            error,
            unavailable,
        };
        let done = |outcome, value, error| Reply::Done(completion(outcome, value, error, false));
        let Some(&addr) = self.nodes.get(node) else {
            return done(Outcome::Fail, inv.value.clone(), Some(format!("no such node {node}")));
        };
        let req = match self.request(addr, inv) {
            Ok(r) => r,
            Err(e) => return done(Outcome::Fail, inv.value.clone(), Some(e)),
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
            let Some(field) = result_field(inv) else { return done(Outcome::Ok, inv.value.clone(), None) };
            let reply = serde_json::from_slice::<Value>(&body).ok();
            return match reply.as_ref().and_then(|r| r.get(field).cloned()) {
                Some(v) => {
                    let mut c = completion(Outcome::Ok, v, None, false);
                    if inv.object == Object::Register {
                        c.siblings = reply.as_ref().and_then(siblings_of);
                    }
                    Reply::Done(c)
                }
                // A read that returned garbage tells us nothing, and changed nothing either; a
                // transaction that did may have committed.
                None if inv.object == Object::Txn => {
                    done(Outcome::Info, inv.value.clone(), Some("unparseable transaction reply".into()))
                }
                None => done(Outcome::Fail, Value::Null, Some("unparseable read reply".into())),
            };
        }
        if status.as_u16() == 412 && inv.f == "cas" {
            return done(Outcome::Fail, inv.value.clone(), Some("cas mismatch".into()));
        }
        match serde_json::from_slice::<ErrorReply>(&body) {
            Ok(e) if e.definite => {
                let msg = format!("{status}: {}", e.error);
                let unavailable = status.as_u16() == 503 || status.as_u16() == 421;
                let c = completion(Outcome::Fail, inv.value.clone(), Some(msg), unavailable);
                match e.leader {
                    Some(l) => Reply::Redirect(c, l),
                    None => Reply::Done(c),
                }
            }
            Ok(e) => done(Outcome::Info, inv.value.clone(), Some(format!("{status}: {}", e.error))),
            Err(_) => done(Outcome::Info, inv.value.clone(), Some(format!("{status} with no error body"))),
        }
    }
}

/// The siblings of a register read's reply, when it holds more than one: a store that
/// keeps concurrent versions (quorum-kv under `resolve=vclock`) lists them all beside
/// `value`, which is one of them and stays what older tools read.
fn siblings_of(reply: &Value) -> Option<Vec<Value>> {
    let list = reply.get("siblings")?.as_array()?;
    (list.len() > 1).then(|| list.clone())
}

impl Client for SunderHttp {
    fn invoke<'a>(&'a self, node: &'a str, inv: &'a Invocation) -> Pending<'a> {
        Box::pin(self.perform(node, inv))
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
