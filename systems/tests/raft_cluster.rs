//! Integration tests of raft-kv: three real nodes in this process, each on its own
//! tokio runtime and thread, talking real HTTP on 127.0.0.1 ephemeral ports with real
//! files in temp data dirs. Clients use DESIGN.md's protocol; the leader is stopped and
//! a new one must take writes; the stopped node restarts from its files and catches up.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use sunder_systems::NodeConfig;

mod support;

use support::{Cluster, ServeOn, client, status};

const RAFT: ServeOn = |l, cfg, stop| Box::pin(sunder_systems::raft::serve_on(l, cfg, stop));

/// Waits until one live node is leader and every other live node names it.
async fn wait_for_leader(c: &reqwest::Client, cluster: &Cluster, live: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut leaders = Vec::new();
        let mut named = Vec::new();
        for id in live {
            if let Some(s) = status(c, cluster, id).await {
                if s["role"] == "leader" {
                    leaders.push(id.to_string());
                }
                named.push(s["leader"].as_str().map(str::to_string));
            }
        }
        if leaders.len() == 1
            && named.len() == live.len()
            && named.iter().all(|n| n.as_deref() == Some(&leaders[0]))
        {
            return leaders.remove(0);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no leader among {live:?} within 10 s");
}

async fn put(c: &reqwest::Client, cluster: &Cluster, id: &str, key: &str, value: Value) -> (u16, Value) {
    let r = c
        .put(cluster.url(id, &format!("/kv/{key}")))
        .json(&json!({ "value": value }))
        .send()
        .await
        .expect("put");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, cluster: &Cluster, id: &str, key: &str) -> (u16, Value) {
    let r = c.get(cluster.url(id, &format!("/kv/{key}"))).send().await.expect("get");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn cas(
    c: &reqwest::Client,
    cluster: &Cluster,
    id: &str,
    key: &str,
    from: Value,
    to: Value,
) -> (u16, Value) {
    let r = c
        .post(cluster.url(id, &format!("/kv/{key}/cas")))
        .json(&json!({ "from": from, "to": to }))
        .send()
        .await
        .expect("cas");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_serve_the_protocol_and_fail_over_when_the_leader_stops() {
    let mut cluster = Cluster::start("failover", 3, &[], RAFT);
    let c = client();
    let all = ["n1", "n2", "n3"];
    let leader = wait_for_leader(&c, &cluster, &all).await;

    assert_eq!(put(&c, &cluster, &leader, "x", json!(1)).await, (200, json!({})));
    assert_eq!(get(&c, &cluster, &leader, "x").await, (200, json!({ "value": 1 })));
    assert_eq!(get(&c, &cluster, &leader, "never").await, (200, json!({ "value": null })));
    assert_eq!(cas(&c, &cluster, &leader, "x", json!(1), json!(2)).await.0, 200);
    let (code, body) = cas(&c, &cluster, &leader, "x", json!(5), json!(3)).await;
    assert_eq!(code, 412);
    assert_eq!(body["definite"], true);
    assert_eq!(get(&c, &cluster, &leader, "x").await.1["value"], 2);

    // A follower refuses with a definite error that names the leader.
    let follower = all.iter().find(|id| **id != leader).expect("a follower");
    let (code, body) = put(&c, &cluster, follower, "x", json!(9)).await;
    assert_eq!(code, 421);
    assert_eq!(body["definite"], true);
    assert_eq!(body["leader"], json!(leader));
    assert_eq!(get(&c, &cluster, follower, "x").await.1["leader"], json!(leader));

    let s = status(&c, &cluster, &leader).await.expect("status");
    for field in ["id", "role", "term", "leader", "commit_index", "last_log_index", "wall_clock_ms"] {
        assert!(s.get(field).is_some(), "/status lacks {field}: {s}");
    }

    // Stop the leader: the other two elect a new one, which takes writes and still
    // holds everything acknowledged before.
    let stopped_at = Instant::now();
    cluster.stop(&leader);
    let live: Vec<&str> = all.iter().copied().filter(|id| *id != leader).collect();
    let new_leader = wait_for_leader(&c, &cluster, &live).await;
    assert_ne!(new_leader, leader);
    assert_eq!(put(&c, &cluster, &new_leader, "y", json!(10)).await.0, 200);
    eprintln!("first write on the new leader {:?} after the leader stopped", stopped_at.elapsed());
    assert_eq!(get(&c, &cluster, &new_leader, "x").await.1["value"], 2);
    assert_eq!(get(&c, &cluster, &new_leader, "y").await.1["value"], 10);

    // The old leader restarts from its files, whose log now ends in a torn record as if
    // it had died mid-write, and catches up as a follower.
    let log = cluster.root.join(&leader).join("data").join(sunder_systems::raft::storage::LOG_FILE);
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).expect("the stopped node's log");
    std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 1, 2, 3, 4, b'{']).expect("torn record");
    drop(f);
    cluster.restart(&leader);
    assert_eq!(wait_for_leader(&c, &cluster, &all).await, new_leader);
    let target =
        status(&c, &cluster, &new_leader).await.expect("status")["commit_index"].as_u64().expect("index");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = status(&c, &cluster, &leader).await.expect("status of the restarted node");
        if s["commit_index"].as_u64() >= Some(target) {
            break;
        }
        assert!(Instant::now() < deadline, "restarted node did not catch up: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `v` at whichever node leads, retrying at a new leader if leadership moves
/// (a loaded machine can cost a leader its term); returns the node that acknowledged.
async fn put_at_leader(c: &reqwest::Client, cluster: &Cluster, live: &[&str], key: &str, v: Value) -> String {
    for _ in 0..10 {
        let leader = wait_for_leader(c, cluster, live).await;
        if put(c, cluster, &leader, key, v.clone()).await.0 == 200 {
            return leader;
        }
    }
    panic!("no leader acknowledged the write of {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_path_returns_the_last_acknowledged_write_on_a_quiet_cluster() {
    let all = ["n1", "n2", "n3"];
    for reads in ["log", "read-index", "lease", "local"] {
        let cluster = Cluster::start(&format!("reads-{reads}"), 3, &[("reads", reads)], RAFT);
        let c = client();
        for v in 1..=20 {
            let mut leader = put_at_leader(&c, &cluster, &all, "r", json!(v)).await;
            // Only a leadership change in between may refuse the read, definitely; it never
            // lies. A refused read is asked again at the leader of the moment (nothing is
            // written meanwhile, so the answer must still be v): every write is read back,
            // and a read path that refuses everything fails here.
            let mut answered = false;
            for _ in 0..10 {
                let (code, body) = get(&c, &cluster, &leader, "r").await;
                if code == 200 {
                    assert_eq!(body, json!({ "value": v }), "reads={reads}");
                    answered = true;
                    break;
                }
                assert_eq!(body["definite"], true, "reads={reads}: {code} {body}");
                leader = wait_for_leader(&c, &cluster, &all).await;
            }
            assert!(answered, "reads={reads}: the read of {v} was refused ten times");
        }
        if reads == "local" {
            // A follower answers from its own state instead of redirecting.
            let leader = wait_for_leader(&c, &cluster, &all).await;
            let follower = all.into_iter().find(|id| *id != leader).expect("follower");
            assert_eq!(get(&c, &cluster, follower, "r").await.0, 200);
        }
    }
}

#[test]
fn unknown_read_path_is_rejected_with_the_accepted_values() {
    let cfg = NodeConfig {
        id: "n1".into(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        peers: BTreeMap::new(),
        data: std::env::temp_dir().join("sunder-raft-never-created"),
        options: [("reads".to_string(), "fast".to_string())].into(),
    };
    let err = sunder_systems::raft::options::RaftOptions::from_config(&cfg).expect_err("bad option");
    assert!(err.to_string().contains("reads=fast"), "{err}");
}

/// Polls `id`'s `/status` until `ready` holds (10 s at most); returns the last status.
async fn wait_status(
    c: &reqwest::Client,
    cluster: &Cluster,
    id: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = status(c, cluster, id).await {
            if ready(&s) || Instant::now() >= deadline {
                return s;
            }
        } else if Instant::now() >= deadline {
            return Value::Null;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_follower_catches_up_by_snapshot_shown_in_status_and_restarts_from_it() {
    let options = [("snapshot-every", "10"), ("snapshot-chunk-bytes", "64")];
    let mut cluster = Cluster::start("snapshot", 3, &options, RAFT);
    let c = client();
    let leader = wait_for_leader(&c, &cluster, &["n1", "n2", "n3"]).await;
    let follower = ["n1", "n2", "n3"].into_iter().find(|n| *n != leader).expect("a follower");
    cluster.stop(follower);
    for i in 0..100 {
        let (code, _) = put(&c, &cluster, &leader, &format!("k{}", i % 7), json!(i)).await;
        assert_eq!(code, 200, "put {i}");
    }
    let s = wait_status(&c, &cluster, &leader, |s| s["snapshot_index"].as_u64() >= Some(90)).await;
    assert!(s["snapshot_index"].as_u64() >= Some(90), "the leader compacted: {s}");
    assert!(s["log_entries"].as_u64() < Some(20), "and dropped the log before its snapshot: {s}");
    let compacted = s["snapshot_index"].as_u64().unwrap_or_default();
    cluster.restart(follower);
    let s = wait_status(&c, &cluster, follower, |s| s["snapshots_installed"].as_u64() >= Some(1)).await;
    assert!(s["snapshots_installed"].as_u64() >= Some(1), "the follower installed a snapshot: {s}");
    assert!(s["snapshot_index"].as_u64() >= Some(compacted), "{s}");
    let (code, body) = get(&c, &cluster, &leader, "k1").await;
    // k1 last got i = 99 (99 % 7 == 1).
    assert_eq!((code, body["value"].clone()), (200, json!(99)));
    // Restarted again, it comes back from its own snapshot file.
    cluster.stop(follower);
    cluster.restart(follower);
    let s = wait_status(&c, &cluster, follower, |s| s["snapshot_index"].as_u64() >= Some(compacted)).await;
    assert!(s["snapshot_index"].as_u64() >= Some(compacted), "restarted from its snapshot: {s}");
    assert_eq!(s["snapshots_installed"], 0, "nothing had to be sent this time: {s}");
}
