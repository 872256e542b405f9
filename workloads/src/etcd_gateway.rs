//! The client for etcd's v3 JSON gateway (`POST /v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`):
//! registers, sets and counters on a real etcd. The gateway writes keys and values in
//! base64, 64-bit integers as strings, and leaves out fields that are false, zero or empty
//! (a transaction whose compare failed has no `succeeded`); values are stored as their JSON
//! text, so a read gives back exactly what was written.
//!
//! Layout of the key space: a register `k` is the etcd key `register/k`; a set `k` is one
//! key `set/k/<element>` per element, read back by a prefix range; a counter `k` is the key
//! `counter/k`, its adds compare-and-set loops on the key's `mod_revision`.
//!
//! How each outcome is recorded (docs/etcd.md has the evidence for each): a `200` is `ok`,
//! except a transaction without `succeeded`, which is a definite `fail`; a connection that
//! could not be made is `fail` (no byte left the client); a read that got no answer is
//! `fail` (a read changes nothing, so nothing is lost by calling it failed); a write that got
//! a timeout or an error the gateway does not make definite (`500 context deadline
//! exceeded`, `503`) is `info`, because etcd may have committed it; only errors etcd raises
//! before it proposes anything (`InvalidArgument`, `ResourceExhausted`) are `fail`.

use crate::base64;
use crate::client::{Client, ClientError, Pending};
use crate::invocation::{Completion, Invocation, Object, Outcome};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Compare-and-set attempts a counter add makes before it gives up (each lost to another
/// writer, so nothing of this add was applied).
const COUNTER_ATTEMPTS: usize = 10;

/// gRPC codes etcd returns only before it proposes anything: the request certainly did not
/// take effect. 3 InvalidArgument (a malformed request), 8 ResourceExhausted ("too many
/// requests", refused when the apply index lags).
const DEFINITE_CODES: &[i64] = &[3, 8];

/// Which read etcd is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// A quorum read: linearizable.
    Linearizable,
    /// The answering member's local state (`"serializable": true`): possibly stale.
    Serializable,
}

impl std::str::FromStr for ReadMode {
    type Err = String;

    fn from_str(s: &str) -> Result<ReadMode, String> {
        match s {
            "linearizable" => Ok(ReadMode::Linearizable),
            "serializable" => Ok(ReadMode::Serializable),
            other => Err(format!("reads={other:?}: expected linearizable or serializable")),
        }
    }
}

/// A JSON-gateway client for every member of one etcd cluster.
#[derive(Debug, Clone)]
pub struct EtcdGateway {
    http: reqwest::Client,
    nodes: BTreeMap<String, SocketAddr>,
    reads: ReadMode,
}

/// How one gateway call ended, before it is read as an operation's outcome.
enum Call {
    /// A `200` and its body.
    Answered(Value),
    /// Certainly not applied: no connection was made, or etcd refused before proposing.
    Refused { error: String, unavailable: bool },
    /// Maybe applied: a timeout, a broken connection, or an error that is not definite.
    Unknown { error: String, unavailable: bool },
}

impl EtcdGateway {
    /// A client for `nodes` (id to client address) with a per-request `timeout`, asking for
    /// `reads`.
    pub fn new(
        nodes: BTreeMap<String, SocketAddr>,
        timeout: Duration,
        reads: ReadMode,
    ) -> Result<EtcdGateway, ClientError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(EtcdGateway { http, nodes, reads })
    }

    /// Performs `inv` at `node`.
    pub async fn perform(&self, node: &str, inv: &Invocation) -> Completion {
        let done = |outcome, value, error: Option<String>, unavailable| Completion {
            outcome,
            value,
            siblings: None,
            node: node.to_string(),
            error,
            unavailable,
        };
        let Some(&addr) = self.nodes.get(node) else {
            return done(Outcome::Fail, inv.value.clone(), Some(format!("no such node {node}")), false);
        };
        let Some(key) = inv.key.as_deref() else {
            return done(Outcome::Fail, inv.value.clone(), Some(format!("{} needs a key", inv.f)), false);
        };
        let at = Member { gateway: self, addr };
        let (outcome, value, error, unavailable) = match (inv.object, inv.f) {
            (Object::Register, "read") => at.read_one(&format!("register/{key}"), Value::Null).await,
            (Object::Register, "write") => at.put(&format!("register/{key}"), &inv.value).await,
            (Object::Register, "cas") => match inv.value.as_array().map(Vec::as_slice) {
                Some([from, to]) => at.cas_value(&format!("register/{key}"), from, to).await,
                _ => (Outcome::Fail, Value::Null, Some("cas needs [from, to]".into()), false),
            },
            (Object::Set, "add") => {
                at.put(
                    &format!("set/{key}/{}", serde_json::to_string(&inv.value).unwrap_or_default()),
                    &inv.value,
                )
                .await
            }
            (Object::Set, "read") => at.read_prefix(&format!("set/{key}/")).await,
            (Object::Counter, "read") => at.read_one(&format!("counter/{key}"), json!(0)).await,
            (Object::Counter, "add") => match inv.value.as_i64() {
                Some(delta) => at.counter_add(&format!("counter/{key}"), delta).await,
                None => (Outcome::Fail, Value::Null, Some("add needs an integer delta".into()), false),
            },
            (object, f) => {
                (Outcome::Fail, Value::Null, Some(format!("etcd has no {f} on a {object:?}")), false)
            }
        };
        let value = if value.is_null() && !matches!(inv.f, "read") { inv.value.clone() } else { value };
        done(outcome, value, error, unavailable)
    }
}

/// What an operation's parts come back as: outcome, value to record, error, unavailable.
type Parts = (Outcome, Value, Option<String>, bool);

/// One member, as the operations address it.
struct Member<'a> {
    gateway: &'a EtcdGateway,
    addr: SocketAddr,
}

impl Member<'_> {
    /// `POST /v3/<path>` with `body`, classified.
    async fn call(&self, path: &str, body: Value) -> Call {
        let url = format!("http://{}/v3/{path}", self.addr);
        let resp = match self.gateway.http.post(url).json(&body).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Call::Refused { error: describe(&e), unavailable: true },
            Err(e) => return Call::Unknown { error: describe(&e), unavailable: e.is_timeout() },
        };
        let status = resp.status();
        let text = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Call::Unknown { error: describe(&e), unavailable: false },
        };
        let parsed: Option<Value> = serde_json::from_slice(&text).ok();
        if status.is_success() {
            return match parsed {
                Some(v) => Call::Answered(v),
                None => Call::Unknown {
                    error: format!("{status} with a body that is not JSON"),
                    unavailable: false,
                },
            };
        }
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message").or_else(|| v.get("error")))
            .and_then(Value::as_str)
            .unwrap_or("no error body")
            .to_string();
        let error = format!("{status}: {message}");
        let unavailable = status.as_u16() == 503;
        let code = parsed.as_ref().and_then(|v| v.get("code")).and_then(Value::as_i64);
        if code.is_some_and(|c| DEFINITE_CODES.contains(&c)) {
            Call::Refused { error, unavailable }
        } else {
            Call::Unknown { error, unavailable }
        }
    }

    /// A range request over `key` (and up to `range_end`, when given).
    fn range_body(&self, key: &str, range_end: Option<&str>) -> Value {
        let mut body = json!({"key": base64::encode(key.as_bytes())});
        if let Some(end) = range_end {
            body["range_end"] = json!(base64::encode(end.as_bytes()));
        }
        if self.gateway.reads == ReadMode::Serializable {
            body["serializable"] = json!(true);
        }
        body
    }

    /// Reads one key: its value, or `absent` when it does not exist. A read that got no
    /// answer changed nothing, so every failure is `fail`.
    async fn read_one(&self, key: &str, absent: Value) -> Parts {
        match self.call("kv/range", self.range_body(key, None)).await {
            Call::Answered(v) => match first_kv(&v) {
                Ok(None) => (Outcome::Ok, absent, None, false),
                Ok(Some(kv)) => (Outcome::Ok, kv.value, None, false),
                Err(e) => (Outcome::Fail, Value::Null, Some(e), false),
            },
            Call::Refused { error, unavailable } | Call::Unknown { error, unavailable } => {
                (Outcome::Fail, Value::Null, Some(error), unavailable)
            }
        }
    }

    /// Reads every key under `prefix`: the values, sorted as etcd sorts keys.
    async fn read_prefix(&self, prefix: &str) -> Parts {
        let end = prefix_end(prefix);
        match self.call("kv/range", self.range_body(prefix, Some(&end))).await {
            Call::Answered(v) => match kvs(&v) {
                Ok(all) => {
                    (Outcome::Ok, Value::Array(all.into_iter().map(|kv| kv.value).collect()), None, false)
                }
                Err(e) => (Outcome::Fail, Value::Null, Some(e), false),
            },
            Call::Refused { error, unavailable } | Call::Unknown { error, unavailable } => {
                (Outcome::Fail, Value::Null, Some(error), unavailable)
            }
        }
    }

    /// Writes `value` (as its JSON text) at `key`.
    async fn put(&self, key: &str, value: &Value) -> Parts {
        let body = json!({"key": base64::encode(key.as_bytes()), "value": encode_value(value)});
        match self.call("kv/put", body).await {
            Call::Answered(_) => (Outcome::Ok, Value::Null, None, false),
            Call::Refused { error, unavailable } => (Outcome::Fail, Value::Null, Some(error), unavailable),
            Call::Unknown { error, unavailable } => (Outcome::Info, Value::Null, Some(error), unavailable),
        }
    }

    /// A transaction: if `compare` holds, put `value` at `key`. `Some(true)` when it
    /// committed, `Some(false)` when the compare failed (definitely nothing written).
    async fn txn_put(&self, compare: Value, key: &str, value: &Value) -> Result<bool, Parts> {
        let put =
            json!({"request_put": {"key": base64::encode(key.as_bytes()), "value": encode_value(value)}});
        let body = json!({"compare": [compare], "success": [put]});
        match self.call("kv/txn", body).await {
            // `succeeded` is left out when false.
            Call::Answered(v) => Ok(v.get("succeeded").and_then(Value::as_bool).unwrap_or(false)),
            Call::Refused { error, unavailable } => {
                Err((Outcome::Fail, Value::Null, Some(error), unavailable))
            }
            Call::Unknown { error, unavailable } => {
                Err((Outcome::Info, Value::Null, Some(error), unavailable))
            }
        }
    }

    /// Compare-and-set on a register's value. From `null` means from absent (no write ever
    /// stores null), which etcd spells as a create revision of 0: a value compare against
    /// a missing key is always false.
    async fn cas_value(&self, key: &str, from: &Value, to: &Value) -> Parts {
        let compare = if from.is_null() {
            json!({"key": base64::encode(key.as_bytes()), "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
        } else {
            json!({"key": base64::encode(key.as_bytes()), "target": "VALUE", "result": "EQUAL", "value": encode_value(from)})
        };
        match self.txn_put(compare, key, to).await {
            Ok(true) => (Outcome::Ok, Value::Null, None, false),
            Ok(false) => (Outcome::Fail, Value::Null, Some("cas mismatch".into()), false),
            Err(parts) => parts,
        }
    }

    /// Adds `delta` to a counter by compare-and-set on its `mod_revision` (a missing key has
    /// revision 0): read, then write the sum if nobody wrote in between; again when someone
    /// did. An attempt with an unknown outcome ends the loop as `info`, since that attempt
    /// may have added; a loop that only ever lost its compares added nothing and is `fail`.
    async fn counter_add(&self, key: &str, delta: i64) -> Parts {
        let mut lost = 0;
        while lost < COUNTER_ATTEMPTS {
            // The compare is on the revision, so a linearizable read only saves lost rounds.
            let body = json!({"key": base64::encode(key.as_bytes())});
            let (current, revision) = match self.call("kv/range", body).await {
                Call::Answered(v) => match first_kv(&v) {
                    Ok(None) => (0, "0".to_string()),
                    Ok(Some(kv)) => match kv.value.as_i64() {
                        Some(n) => (n, kv.mod_revision),
                        None => {
                            return (
                                Outcome::Fail,
                                Value::Null,
                                Some(format!("counter {key} holds {}", kv.value)),
                                false,
                            );
                        }
                    },
                    Err(e) => return (Outcome::Fail, Value::Null, Some(e), false),
                },
                Call::Refused { error, unavailable } | Call::Unknown { error, unavailable } => {
                    return (
                        Outcome::Fail,
                        Value::Null,
                        Some(format!("reading before the add: {error}")),
                        unavailable,
                    );
                }
            };
            let compare = json!({
                "key": base64::encode(key.as_bytes()),
                "target": "MOD",
                "result": "EQUAL",
                "mod_revision": revision,
            });
            match self.txn_put(compare, key, &json!(current + delta)).await {
                Ok(true) => return (Outcome::Ok, Value::Null, None, false),
                Ok(false) => lost += 1,
                Err(parts) => return parts,
            }
        }
        (
            Outcome::Fail,
            Value::Null,
            Some(format!("lost {COUNTER_ATTEMPTS} compare-and-sets to other writers")),
            false,
        )
    }
}

impl Client for EtcdGateway {
    fn invoke<'a>(&'a self, node: &'a str, inv: &'a Invocation) -> Pending<'a> {
        Box::pin(self.perform(node, inv))
    }
}

/// One key-value pair of a range reply, decoded.
#[derive(Debug)]
struct Kv {
    value: Value,
    mod_revision: String,
}

/// Every pair of a range reply (`kvs` is left out when there are none).
fn kvs(reply: &Value) -> Result<Vec<Kv>, String> {
    let Some(list) = reply.get("kvs") else { return Ok(vec![]) };
    let list = list.as_array().ok_or("range reply: kvs is not a list")?;
    list.iter()
        .map(|kv| {
            // An empty value is left out too.
            let coded = kv.get("value").and_then(Value::as_str).unwrap_or("");
            let bytes =
                base64::decode(coded).ok_or_else(|| format!("range reply: value {coded:?} is not base64"))?;
            let value = serde_json::from_slice(&bytes).map_err(|_| {
                format!("range reply: value {:?} is not JSON", String::from_utf8_lossy(&bytes))
            })?;
            let mod_revision = kv.get("mod_revision").and_then(Value::as_str).unwrap_or("0").to_string();
            Ok(Kv { value, mod_revision })
        })
        .collect()
}

/// The first pair of a range reply, if any.
fn first_kv(reply: &Value) -> Result<Option<Kv>, String> {
    Ok(kvs(reply)?.into_iter().next())
}

/// A value as the gateway carries it: its JSON text, base64.
fn encode_value(value: &Value) -> String {
    base64::encode(value.to_string().as_bytes())
}

/// The key just past every key starting with `prefix` (its last byte plus one), which is
/// how etcd spells a prefix range.
fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_reply_without_kvs_is_an_absent_key_and_values_round_trip_as_json() {
        assert!(first_kv(&json!({"header": {"revision": "1"}})).unwrap().is_none());
        let reply = json!({"kvs": [{"key": "eA==", "mod_revision": "7", "value": encode_value(&json!(17))}]});
        let kv = first_kv(&reply).unwrap().unwrap();
        assert_eq!((kv.value, kv.mod_revision.as_str()), (json!(17), "7"));
    }

    #[test]
    fn a_prefix_range_ends_just_past_the_prefix() {
        assert_eq!(prefix_end("set/k1/"), "set/k10");
    }

    #[test]
    fn a_value_that_is_not_json_is_an_error_not_a_panic() {
        let reply = json!({"kvs": [{"key": "eA==", "value": base64::encode(b"{oops")}]});
        assert!(first_kv(&reply).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn read_mode_names_are_parsed_and_others_refused() {
        assert_eq!("serializable".parse::<ReadMode>(), Ok(ReadMode::Serializable));
        assert!("stale".parse::<ReadMode>().is_err());
    }
}
