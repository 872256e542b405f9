//! Leader-aware clients (issue 18) against three real raft-kv processes on loopback: a
//! worker that learned the leader from a node's redirect goes there first, so it keeps
//! working while its own node is down, where a worker bound to its node is refused; and
//! when the leader itself dies the client forgets it and finds the new one by itself.

use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use sunder::launcher::{Cluster, NodeSpec, free_local_addr};
use sunder_workloads::invocation::{Invocation, Object, Outcome};
use sunder_workloads::sunder_http::SunderHttp;

mod support;

use support::TempDir;

fn raft_cluster(dir: &std::path::Path) -> Cluster {
    let ids = ["n1", "n2", "n3"];
    let addrs: BTreeMap<String, std::net::SocketAddr> =
        ids.iter().map(|id| (id.to_string(), free_local_addr().unwrap())).collect();
    let specs = ids
        .iter()
        .map(|id| NodeSpec {
            id: id.to_string(),
            listen: addrs[*id],
            client_addr: addrs[*id],
            peers: addrs.iter().filter(|(p, _)| p.as_str() != *id).map(|(p, a)| (p.clone(), *a)).collect(),
            dir: dir.join(id),
            env: vec![],
        })
        .collect();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sunder"));
    Cluster::with_executable(exe, &sunder_systems::raft::SPEC, BTreeMap::new(), specs).unwrap()
}

fn write(key: &str, value: u64) -> Invocation {
    Invocation::keyed(Object::Register, "write", key, json!(value))
}

/// Performs writes bound to `node` until one is acknowledged, or panics after `within`.
async fn until_ok(client: &SunderHttp, node: &str, key: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut value = 1_000_000;
    loop {
        value += 1;
        let done = client.perform(node, &write(key, value)).await;
        if done.outcome == Outcome::Ok {
            return done.node;
        }
        assert!(
            Instant::now() < deadline,
            "no write bound to {node} acknowledged within {within:?}: {done:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_leader_aware_worker_goes_to_the_named_leader_first_and_finds_the_next_one_by_itself() {
    let tmp = TempDir::new("leader-aware");
    let cluster = raft_cluster(tmp.path());
    cluster.start_all().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        cluster.wait_healthy(&http, Duration::from_secs(20)).await.unwrap();
        let timeout = Duration::from_secs(2);
        let aware = SunderHttp::new(cluster.client_addrs(), timeout).unwrap().leader_aware();
        let bound = SunderHttp::new(cluster.client_addrs(), timeout).unwrap();

        // Learn the leader through a follower's redirect.
        let leader = until_ok(&aware, "n1", "k", Duration::from_secs(20)).await;
        let follower = ["n1", "n2", "n3"].into_iter().find(|n| *n != leader).unwrap();
        let third = ["n1", "n2", "n3"].into_iter().find(|n| *n != leader && *n != follower).unwrap();
        assert_eq!(until_ok(&aware, follower, "k", Duration::from_secs(10)).await, leader);

        // The worker's own node dies: the leader-aware worker goes to the leader first and
        // is served; the bound worker reaches nothing.
        cluster.kill(follower).unwrap();
        let mut served = 0;
        for i in 0..20 {
            let done = aware.perform(follower, &write("k", 2_000_000 + i)).await;
            if done.outcome == Outcome::Ok {
                assert_ne!(done.node, follower, "a killed node acknowledged a write");
                served += 1;
            }
            let refused = bound.perform(follower, &write("k", 3_000_000 + i)).await;
            assert!(refused.outcome != Outcome::Ok && refused.unavailable, "{refused:?}");
        }
        // An election on a loaded machine may cost a write or two, never most of them.
        assert!(served >= 18, "the leader-aware worker was served {served} times of 20 with its node down");

        // Bring the follower back and kill the leader: the remembered name stops answering,
        // is forgotten, and the worker learns the new leader from its own node.
        cluster.start(follower).unwrap();
        cluster.wait_node(&http, follower, Duration::from_secs(20)).await.unwrap();
        cluster.kill(&leader).unwrap();
        let next = until_ok(&aware, third, "k", Duration::from_secs(30)).await;
        assert_ne!(next, leader, "a dead leader acknowledged a write");
        let mut at_next = 0;
        for i in 0..10 {
            let done = aware.perform(follower, &write("k", 4_000_000 + i)).await;
            at_next += usize::from(done.outcome == Outcome::Ok && done.node == next);
        }
        assert!(at_next >= 8, "only {at_next} of 10 writes were served by the new leader {next}");
    });
    cluster.stop_all(Duration::from_secs(3));
}
