//! Integration tests of bank-2pc: three real nodes in this process, each on its own
//! tokio runtime and thread, talking real HTTP on 127.0.0.1 with real files in temp data
//! dirs. Clients use DESIGN.md's protocol; concurrent transfers must keep the bank's
//! total; a coordinator stopped between logging a commit and sending it leaves its
//! participants in doubt, locks held and visible in `/status`, until it restarts and
//! finishes the transfer.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use sunder_systems::NodeConfig;
use sunder_systems::bank2pc::shard::Shards;

mod support;

use support::{Cluster, ServeOn, client};

const BANK_2PC: ServeOn = |l, cfg, stop| Box::pin(sunder_systems::bank2pc::serve_on(l, cfg, stop));

/// The shard map the nodes compute for themselves.
fn shards(cluster: &Cluster) -> Shards {
    Shards::new(cluster.addrs.keys().cloned().collect())
}

async fn call(c: &reqwest::Client, req: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = c;
    let r = req.send().await.expect("request");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, cluster: &Cluster, id: &str, path: &str) -> (u16, Value) {
    call(c, c.get(cluster.url(id, path))).await
}

async fn post(c: &reqwest::Client, cluster: &Cluster, id: &str, path: &str, body: Value) -> (u16, Value) {
    call(c, c.post(cluster.url(id, path)).json(&body)).await
}

/// Waits until every node answers `/status`.
async fn wait_until_up(c: &reqwest::Client, cluster: &Cluster, ids: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for id in ids {
        loop {
            if let Ok(r) = c.get(cluster.url(id, "/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "{id} did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn total(balances: &Value) -> i64 {
    balances["balances"].as_object().expect("balances").values().map(|v| v.as_i64().expect("i64")).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_the_protocol_and_concurrent_transfers_keep_the_total() {
    let cluster = Cluster::start("protocol", 3, &[], BANK_2PC);
    let c = client();
    let all = ["n1", "n2", "n3"];
    wait_until_up(&c, &cluster, &all).await;

    for id in all {
        let (code, body) = get(&c, &cluster, id, "/accounts").await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["balances"].as_object().map(|m| m.len()), Some(5));
        assert_eq!(total(&body), 500);
    }
    let s = get(&c, &cluster, "n1", "/status").await.1;
    for field in ["id", "role", "term", "leader", "wall_clock_ms", "in_doubt", "locks"] {
        assert!(s.get(field).is_some(), "/status lacks {field}: {s}");
    }
    assert_eq!((s["term"].clone(), s["leader"].clone()), (json!(0), Value::Null));

    // Transactions: list-append, rw registers, reads of the transaction's own writes.
    let ops = json!({"ops": [["append", 1, 10], ["append", "k2", 20], ["w", "r", 5], ["r", 1, null], ["r", "r", null]]});
    let (code, body) = post(&c, &cluster, "n2", "/txn", ops).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["ops"][3], json!(["r", 1, [10]]));
    assert_eq!(body["ops"][4], json!(["r", "r", 5]));
    let (code, body) =
        post(&c, &cluster, "n3", "/txn", json!({"ops": [["append", 1, 11], ["r", 1, null]]})).await;
    assert_eq!((code, body["ops"][1].clone()), (200, json!(["r", 1, [10, 11]])));
    let (code, body) = post(&c, &cluster, "n1", "/txn", json!({"ops": [["cas", 1, 2]]})).await;
    assert_eq!((code, body["definite"].clone()), (400, json!(true)), "{body}");

    // Single-key routes.
    let (code, _) = call(&c, c.put(cluster.url("n1", "/kv/x")).json(&json!({"value": 7}))).await;
    assert_eq!(code, 200);
    assert_eq!(get(&c, &cluster, "n3", "/kv/x").await, (200, json!({"value": 7})));
    assert_eq!(get(&c, &cluster, "n2", "/kv/never").await, (200, json!({"value": null})));
    let (code, body) = post(&c, &cluster, "n2", "/kv/x/cas", json!({"from": 7, "to": 8})).await;
    assert_eq!((code, body["definite"].clone()), (404, json!(true)), "no cas: {body}");

    // Insufficient funds: a definite 409, nothing moved.
    let (code, body) =
        post(&c, &cluster, "n1", "/transfer", json!({"from": "a0", "to": "a1", "amount": 101})).await;
    assert_eq!((code, body["definite"].clone()), (409, json!(true)), "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains("insufficient funds"), "{body}");
    let (code, _) =
        post(&c, &cluster, "n1", "/transfer", json!({"from": "a0", "to": "zz", "amount": 1})).await;
    assert_eq!(code, 404);

    // Ten clients transfer concurrently through every node.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..10u64 {
        let c = c.clone();
        let urls: Vec<String> = all.iter().map(|id| cluster.url(id, "/transfer")).collect();
        tasks.push(tokio::spawn(async move {
            let mut codes = BTreeMap::new();
            for i in 0..20u64 {
                let from = (w + i) % 5;
                let to = (from + 1 + (i % 4)) % 5;
                let body = json!({"from": format!("a{from}"), "to": format!("a{to}"), "amount": 1 + (w * 7 + i) % 30});
                let r = c.post(&urls[((w + i) % 3) as usize]).json(&body).send().await.expect("transfer");
                let code = r.status().as_u16();
                let reply: Value = r.json().await.unwrap_or(Value::Null);
                if code != 200 {
                    assert_eq!(reply["definite"], true, "an abort must be definite: {code} {reply}");
                }
                *codes.entry(code).or_insert(0) += 1;
            }
            codes
        }));
    }
    let mut codes: BTreeMap<u16, u32> = BTreeMap::new();
    for t in tasks {
        for (k, v) in t.await.expect("client task") {
            *codes.entry(k).or_insert(0) += v;
        }
    }
    eprintln!("200 transfers in {:?}: {codes:?}", started.elapsed());
    assert!(codes.keys().all(|k| *k == 200 || *k == 409), "{codes:?}");
    assert!(codes.get(&200).copied().unwrap_or(0) > 50, "{codes:?}");
    for id in all {
        let (code, body) = get(&c, &cluster, id, "/accounts").await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(total(&body), 500, "{body}");
        assert!(body["balances"].as_object().expect("map").values().all(|v| v.as_i64() >= Some(0)));
        let s = get(&c, &cluster, id, "/status").await.1;
        assert_eq!(s["in_doubt"], json!([]), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_coordinator_leaves_participants_in_doubt_until_it_restarts() {
    let mut cluster = Cluster::start("in-doubt", 3, &[("debug-pause-before-commit-ms", "60000")], BANK_2PC);
    let c = client();
    let all = ["n1", "n2", "n3"];
    wait_until_up(&c, &cluster, &all).await;
    let shards = shards(&cluster);
    let accounts: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    let on =
        |node: &str| accounts.iter().find(|a| shards.owner(a) == node).cloned().expect("an account there");
    let (x, y) = (on("n2"), on("n3"));
    let before = get(&c, &cluster, "n2", "/accounts").await.1;

    // n1 logs the commit and answers, then pauses before telling the participants.
    let (code, body) = post(&c, &cluster, "n1", "/transfer", json!({"from": x, "to": y, "amount": 30})).await;
    assert_eq!(code, 200, "{body}");
    cluster.stop("n1");
    for (node, key) in [("n2", &x), ("n3", &y)] {
        let s = get(&c, &cluster, node, "/status").await.1;
        let doubt = s["in_doubt"].as_array().expect("in_doubt");
        assert_eq!(doubt.len(), 1, "{node}: {s}");
        assert_eq!(doubt[0]["coordinator"], "n1");
        assert!(doubt[0]["since_ms"].as_u64().is_some(), "{s}");
        assert_eq!(s["locks"], json!([{"key": key, "txn": doubt[0]["txn"], "mode": "exclusive"}]), "{node}");
    }
    // Blocked: a transfer on the locked accounts waits behind the in-doubt one and aborts.
    let (code, body) = post(&c, &cluster, "n2", "/transfer", json!({"from": x, "to": y, "amount": 1})).await;
    assert_eq!((code, body["definite"].clone()), (409, json!(true)), "{body}");
    assert_eq!(get(&c, &cluster, "n3", "/status").await.1["in_doubt"].as_array().map(Vec::len), Some(1));

    let restarted = Instant::now();
    cluster.restart("n1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut doubts = 0;
        for node in ["n2", "n3"] {
            doubts += get(&c, &cluster, node, "/status").await.1["in_doubt"].as_array().map_or(1, Vec::len);
        }
        if doubts == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "participants still in doubt after the coordinator restarted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("participants learned the outcome {:?} after the coordinator restarted", restarted.elapsed());
    let after = get(&c, &cluster, "n3", "/accounts").await.1;
    let b = |v: &Value, k: &str| v["balances"][k].as_i64().expect("balance");
    assert_eq!((b(&after, &x), b(&after, &y)), (b(&before, &x) - 30, b(&before, &y) + 30), "{after}");
    assert_eq!(total(&after), 500);
    // The read's own shared locks go as soon as its commit (sent after its reply) lands.
    let deadline = Instant::now() + Duration::from_secs(5);
    for node in all {
        while get(&c, &cluster, node, "/status").await.1["locks"] != json!([]) {
            assert!(Instant::now() < deadline, "{node} still holds locks");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pc_participants_finish_alone_while_the_coordinator_is_down() {
    let options = [("protocol", "3pc"), ("debug-pause-before-commit-ms", "60000")];
    let mut cluster = Cluster::start("3pc-alone", 3, &options, BANK_2PC);
    let c = client();
    wait_until_up(&c, &cluster, &["n1", "n2", "n3"]).await;
    let shards = shards(&cluster);
    let accounts: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    let on =
        |node: &str| accounts.iter().find(|a| shards.owner(a) == node).cloned().expect("an account there");
    let (x, y) = (on("n2"), on("n3"));

    // 3PC answers only after its pre-commit round, which the pause holds back.
    let transfer =
        c.post(cluster.url("n1", "/transfer")).json(&json!({"from": x, "to": y, "amount": 30})).send();
    assert!(tokio::time::timeout(Duration::from_millis(200), transfer).await.is_err(), "no early answer");
    let deadline = Instant::now() + Duration::from_secs(2);
    for node in ["n2", "n3"] {
        loop {
            let s = get(&c, &cluster, node, "/status").await.1;
            if s["in_doubt"].as_array().map(Vec::len) == Some(1) {
                assert_eq!(s["in_doubt"][0]["precommitted"], false, "{s}");
                break;
            }
            assert!(Instant::now() < deadline, "{node} never voted: {s}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let stopped = Instant::now();
    cluster.stop("n1");
    let deadline = Instant::now() + Duration::from_secs(10);
    for node in ["n2", "n3"] {
        while get(&c, &cluster, node, "/status").await.1["in_doubt"] != json!([]) {
            assert!(Instant::now() < deadline, "{node} still in doubt without its coordinator");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("3PC participants decided alone {:?} after the coordinator stopped", stopped.elapsed());
    // Never pre-committed, so both aborted: nothing moved, nothing is locked.
    for (node, key) in [("n2", &x), ("n3", &y)] {
        assert_eq!(get(&c, &cluster, node, &format!("/kv/{key}")).await, (200, json!({"value": 100})));
        assert_eq!(get(&c, &cluster, node, "/status").await.1["locks"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_coordinator_is_the_only_node_that_takes_transactions() {
    let cluster = Cluster::start("fixed", 3, &[("coordinator", "n1")], BANK_2PC);
    let c = client();
    wait_until_up(&c, &cluster, &["n1", "n2", "n3"]).await;
    let body = json!({"from": "a0", "to": "a1", "amount": 5});
    let (code, reply) = post(&c, &cluster, "n2", "/transfer", body.clone()).await;
    assert_eq!((code, reply["definite"].clone(), reply["leader"].clone()), (421, json!(true), json!("n1")));
    assert_eq!(get(&c, &cluster, "n3", "/status").await.1["role"], "participant");
    assert_eq!(get(&c, &cluster, "n1", "/status").await.1["role"], "coordinator");
    assert_eq!(post(&c, &cluster, "n1", "/transfer", body).await.0, 200);
    let balances = get(&c, &cluster, "n1", "/accounts").await.1;
    assert_eq!(
        (balances["balances"]["a0"].clone(), balances["balances"]["a1"].clone()),
        (json!(95), json!(105))
    );
}

#[test]
fn bad_options_are_rejected_naming_the_value() {
    for (key, value) in [("protocol", "4pc"), ("coordinator", "n9"), ("accounts", "a,a"), ("timeout-ms", "x")]
    {
        let cfg = NodeConfig {
            id: "n1".into(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            peers: BTreeMap::new(),
            data: std::env::temp_dir().join("sunder-bank2pc-never-created"),
            options: [(key.to_string(), value.to_string())].into(),
        };
        let err = sunder_systems::bank2pc::options::BankOptions::from_config(&cfg).expect_err("bad option");
        assert!(err.to_string().contains(&format!("{key}={value}")), "{err}");
    }
}
