//! The ok/fail/info rule of the etcd JSON-gateway client (docs/etcd.md), against a real
//! socket that answers each route with the replies etcd 3.4 was seen to give on this
//! machine: base64 values, a transaction without `succeeded` when its compare failed,
//! `503` on a read without quorum, `500 context deadline exceeded` on a put without one.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sunder_workloads::base64;
use sunder_workloads::etcd_gateway::{EtcdGateway, ReadMode};
use sunder_workloads::{Completion, Invocation, Object, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the fake member answers a route (`kv/range`, `kv/put`, `kv/txn`): status and body.
type Routes = fn(&str) -> (u16, String);

/// A fake etcd member on 127.0.0.1; every request body it gets is kept in `seen`.
async fn fake_member(routes: Routes, seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = vec![0u8; 4096];
                // Head, then the body its content-length announces.
                let (head_end, length) = loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0usize);
                        break (end + 4, length);
                    }
                };
                while got.len() < head_end + length {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&got).into_owned();
                let path =
                    text.split_whitespace().nth(1).unwrap_or("").trim_start_matches("/v3/").to_string();
                seen.lock().unwrap().push(text[head_end..].to_string());
                let (status, body) = routes(&path);
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

async fn perform(routes: Routes, reads: ReadMode, inv: &Invocation) -> (Completion, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = fake_member(routes, seen.clone()).await;
    let client =
        EtcdGateway::new(BTreeMap::from([("n1".to_string(), addr)]), Duration::from_millis(500), reads)
            .unwrap();
    let c = client.perform("n1", inv).await;
    let bodies = seen.lock().unwrap().clone();
    (c, bodies)
}

fn register(f: &'static str, value: Value) -> Invocation {
    Invocation::keyed(Object::Register, f, "k1", value)
}

fn counter_add(delta: i64) -> Invocation {
    Invocation::keyed(Object::Counter, "add", "k1", json!(delta))
}

/// A range reply holding the JSON value `value` at revision 7.
fn holding(value: &str) -> (u16, String) {
    let v = base64::encode(value.as_bytes());
    (
        200,
        format!(
            r#"{{"header":{{"revision":"7"}},"kvs":[{{"key":"eA==","mod_revision":"7","value":"{v}"}}],"count":"1"}}"#
        ),
    )
}

const EMPTY: &str = r#"{"header":{"revision":"7"}}"#;
const NO_QUORUM_READ: &str =
    r#"{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}"#;
const NO_QUORUM_WRITE: &str =
    r#"{"error":"context deadline exceeded","message":"context deadline exceeded","code":2}"#;

#[tokio::test]
async fn reads_decode_base64_json_values_and_an_absent_key_is_null() {
    let (c, _) = perform(|_| holding("17"), ReadMode::Linearizable, &register("read", Value::Null)).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!(17)));
    let (c, _) =
        perform(|_| (200, EMPTY.into()), ReadMode::Linearizable, &register("read", Value::Null)).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, Value::Null));
}

#[tokio::test]
async fn serializable_reads_ask_for_serializable_and_linearizable_ones_do_not() {
    let (_, bodies) = perform(|_| holding("1"), ReadMode::Serializable, &register("read", Value::Null)).await;
    assert!(bodies[0].contains(r#""serializable":true"#), "{bodies:?}");
    let (_, bodies) = perform(|_| holding("1"), ReadMode::Linearizable, &register("read", Value::Null)).await;
    assert!(!bodies[0].contains("serializable"), "{bodies:?}");
}

#[tokio::test]
async fn a_transaction_without_succeeded_is_a_definite_fail_and_with_it_ok() {
    let cas = register("cas", json!([1, 2]));
    let (c, _) = perform(|_| (200, EMPTY.into()), ReadMode::Linearizable, &cas).await;
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    let (c, _) = perform(|_| (200, r#"{"succeeded":true}"#.into()), ReadMode::Linearizable, &cas).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!([1, 2])));
}

#[tokio::test]
async fn a_cas_from_null_compares_the_create_revision_with_zero() {
    let (_, bodies) =
        perform(|_| (200, EMPTY.into()), ReadMode::Linearizable, &register("cas", json!([null, 3]))).await;
    assert!(
        bodies[0].contains(r#""target":"CREATE""#) && bodies[0].contains(r#""create_revision":"0""#),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn a_read_without_quorum_fails_and_a_write_without_quorum_is_unknown() {
    let (c, _) =
        perform(|_| (503, NO_QUORUM_READ.into()), ReadMode::Linearizable, &register("read", Value::Null))
            .await;
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(c.unavailable);
    let (c, _) =
        perform(|_| (500, NO_QUORUM_WRITE.into()), ReadMode::Linearizable, &register("write", json!(5)))
            .await;
    assert_eq!((c.outcome, c.value.clone()), (Outcome::Info, json!(5)), "{c:?}");
    let (c, _) =
        perform(|_| (503, NO_QUORUM_READ.into()), ReadMode::Linearizable, &register("write", json!(5))).await;
    assert_eq!(c.outcome, Outcome::Info, "a 503 on a write is not claimed definite: {c:?}");
}

#[tokio::test]
async fn a_write_etcd_refused_before_proposing_is_a_definite_fail() {
    let routes: Routes = |_| (429, r#"{"message":"etcdserver: too many requests","code":8}"#.into());
    let (c, _) = perform(routes, ReadMode::Linearizable, &register("write", json!(5))).await;
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
}

#[tokio::test]
async fn a_connection_refused_is_a_fail_for_writes_too() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = EtcdGateway::new(
        BTreeMap::from([("n1".to_string(), addr)]),
        Duration::from_millis(500),
        ReadMode::Linearizable,
    )
    .unwrap();
    let c = client.perform("n1", &register("write", json!(5))).await;
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(c.unavailable);
}

#[tokio::test]
async fn a_counter_add_is_a_compare_and_set_on_the_revision_that_is_unknown_when_its_write_is() {
    let routes: Routes =
        |path| if path == "kv/range" { holding("10") } else { (200, r#"{"succeeded":true}"#.into()) };
    let (c, bodies) = perform(routes, ReadMode::Linearizable, &counter_add(3)).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!(3)));
    let txn = bodies.iter().find(|b| b.contains("compare")).expect("a transaction was sent");
    assert!(txn.contains(r#""target":"MOD""#) && txn.contains(r#""mod_revision":"7""#), "{txn}");
    assert!(txn.contains(&base64::encode(b"13")), "the sum 10 + 3 is written: {txn}");

    let routes: Routes =
        |path| if path == "kv/range" { holding("10") } else { (500, NO_QUORUM_WRITE.into()) };
    let (c, _) = perform(routes, ReadMode::Linearizable, &counter_add(3)).await;
    assert_eq!(c.outcome, Outcome::Info, "{c:?}");
}

#[tokio::test]
async fn a_counter_add_that_only_lost_its_compares_added_nothing_and_fails() {
    let routes: Routes = |path| if path == "kv/range" { holding("10") } else { (200, EMPTY.into()) };
    let (c, bodies) = perform(routes, ReadMode::Linearizable, &counter_add(3)).await;
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert_eq!(bodies.iter().filter(|b| b.contains("compare")).count(), 10, "ten attempts");
}

#[tokio::test]
async fn a_set_is_one_key_per_element_read_back_by_a_prefix_range() {
    let set = |f, v| Invocation::keyed(Object::Set, f, "k1", v);
    let (c, bodies) = perform(|_| (200, EMPTY.into()), ReadMode::Linearizable, &set("add", json!(4))).await;
    assert_eq!(c.outcome, Outcome::Ok);
    assert!(bodies[0].contains(&base64::encode(b"set/k1/4")), "{bodies:?}");
    let routes: Routes = |_| {
        let kv = |k: &str, v: &str| {
            format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                base64::encode(k.as_bytes()),
                base64::encode(v.as_bytes())
            )
        };
        (200, format!(r#"{{"kvs":[{},{}],"count":"2"}}"#, kv("set/k1/1", "1"), kv("set/k1/4", "4")))
    };
    let (c, bodies) = perform(routes, ReadMode::Linearizable, &set("read", Value::Null)).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!([1, 4])));
    assert!(bodies[0].contains(&base64::encode(b"set/k10")), "range_end just past the prefix: {bodies:?}");
}
