//! The ok/fail/info rule of Sunder's HTTP client, against a real socket that answers with
//! each status and error shape a node can send, a reply that never comes, a connection
//! refused and a reply cut off mid-body. `fail` must mean "certainly did not happen": a
//! definite refusal, a cas mismatch, a read that returned nothing usable, or a connection
//! that was never made. Anything that may have been applied is `info`.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use sunder_workloads::sunder_http::SunderHttp;
use sunder_workloads::{Completion, Invocation, Object, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the fake node does with each request it gets.
#[derive(Clone)]
enum Answer {
    /// A whole HTTP response with this status and body.
    Reply(u16, &'static str),
    /// Accept and never answer.
    Silence,
    /// Send headers promising a longer body, part of it, then close.
    CutOff,
}

/// A node on 127.0.0.1 that answers every request as told.
async fn fake_node(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                // The request's head, then whatever body it announced (small in these tests).
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let response = match answer {
                    Answer::Reply(status, body) => format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Answer::Silence => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    Answer::CutOff => "HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{\"val".to_string(),
                };
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

fn client(nodes: &[(&str, SocketAddr)]) -> SunderHttp {
    let map: BTreeMap<String, SocketAddr> = nodes.iter().map(|(n, a)| (n.to_string(), *a)).collect();
    SunderHttp::new(map, Duration::from_millis(300)).unwrap()
}

fn register(f: &'static str, value: Value) -> Invocation {
    Invocation::keyed(Object::Register, f, "k1", value)
}

async fn outcome_of(answer: Answer, inv: &Invocation) -> Completion {
    let addr = fake_node(answer).await;
    client(&[("n1", addr)]).perform("n1", inv).await
}

#[tokio::test]
async fn successes_are_ok_and_reads_record_what_they_returned() {
    let c = outcome_of(Answer::Reply(200, r#"{"value":7}"#), &register("read", Value::Null)).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!(7)));
    let c = outcome_of(Answer::Reply(200, "{}"), &register("write", json!(3))).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!(3)));
    let set_read = Invocation::keyed(Object::Set, "read", "s", Value::Null);
    let c = outcome_of(Answer::Reply(200, r#"{"elements":[1,2]}"#), &set_read).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!([1, 2])));
    let counter_read = Invocation::keyed(Object::Counter, "read", "c", Value::Null);
    let c = outcome_of(Answer::Reply(200, r#"{"value":-4}"#), &counter_read).await;
    assert_eq!((c.outcome, c.value), (Outcome::Ok, json!(-4)));
}

#[tokio::test]
async fn a_register_read_with_siblings_records_every_sibling_and_keeps_value() {
    let reply = r#"{"value":3,"siblings":[3,8],"context":{"n1":2,"n2":1}}"#;
    let c = outcome_of(Answer::Reply(200, reply), &register("read", Value::Null)).await;
    assert_eq!((c.outcome, &c.value, &c.siblings), (Outcome::Ok, &json!(3), &Some(vec![json!(3), json!(8)])));
    // One version is no sibling read: nothing extra is recorded.
    let c =
        outcome_of(Answer::Reply(200, r#"{"value":3,"siblings":[3]}"#), &register("read", Value::Null)).await;
    assert_eq!((&c.value, &c.siblings), (&json!(3), &None));
    let c = outcome_of(Answer::Reply(200, r#"{"value":3}"#), &register("read", Value::Null)).await;
    assert_eq!(c.siblings, None);
}

#[tokio::test]
async fn definite_refusals_and_cas_mismatches_are_fail() {
    let cas = register("cas", json!([1, 2]));
    assert_eq!(outcome_of(Answer::Reply(412, "{}"), &cas).await.outcome, Outcome::Fail);
    let c = outcome_of(
        Answer::Reply(503, r#"{"error":"no leader","definite":true}"#),
        &register("write", json!(1)),
    )
    .await;
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.unavailable, "a 503 refusal should make the worker back off");
    let txn = Invocation { object: Object::Txn, f: "txn", key: None, value: json!([["r", "x", null]]) };
    let c = outcome_of(Answer::Reply(409, r#"{"error":"aborted","definite":true}"#), &txn).await;
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(!c.unavailable);
}

#[tokio::test]
async fn anything_that_may_have_applied_is_info() {
    let write = register("write", json!(1));
    let cases = [
        Answer::Reply(500, r#"{"error":"timed out before commit","definite":false}"#),
        Answer::Reply(504, r#"{"error":"timed out"}"#),
        Answer::Reply(500, "<html>oops</html>"),
        Answer::Reply(502, ""),
        Answer::Silence,
        Answer::CutOff,
    ];
    for answer in cases {
        let c = outcome_of(answer, &write).await;
        assert_eq!(c.outcome, Outcome::Info, "{c:?}");
        assert!(c.error.is_some());
        assert_eq!(c.value, json!(1), "an indeterminate write records what it tried to write");
    }
    assert_eq!(outcome_of(Answer::Silence, &write).await.error.as_deref(), Some("timeout"));
}

#[tokio::test]
async fn a_read_that_returned_garbage_is_fail_but_a_transaction_that_did_is_info() {
    let c = outcome_of(Answer::Reply(200, "not json"), &register("read", Value::Null)).await;
    assert_eq!(c.outcome, Outcome::Fail);
    let txn = Invocation { object: Object::Txn, f: "txn", key: None, value: json!([["append", "x", 1]]) };
    assert_eq!(outcome_of(Answer::Reply(200, "{}"), &txn).await.outcome, Outcome::Info);
}

#[tokio::test]
async fn a_connection_never_made_is_fail_and_unavailable() {
    // A port that was just free: nothing listens, so the connection is refused.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = client(&[("n1", addr)]).perform("n1", &register("write", json!(1))).await;
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(c.unavailable);
}

#[tokio::test]
async fn a_definite_refusal_naming_the_leader_is_retried_there_once() {
    let leader = fake_node(Answer::Reply(200, "{}")).await;
    let follower =
        fake_node(Answer::Reply(421, r#"{"error":"not the leader","definite":true,"leader":"n2"}"#)).await;
    let c = client(&[("n1", follower), ("n2", leader)]).perform("n1", &register("write", json!(5))).await;
    assert_eq!((c.outcome, c.node.as_str()), (Outcome::Ok, "n2"));
    // A leader that is not in the cluster is not chased.
    let c = client(&[("n1", follower)]).perform("n1", &register("write", json!(5))).await;
    assert_eq!((c.outcome, c.node.as_str()), (Outcome::Fail, "n1"));
}
