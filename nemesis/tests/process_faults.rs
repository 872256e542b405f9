//! Process faults and the nemesis loop for real: `sleep` processes stand in for nodes
//! (started, signalled, killed and reaped by pid), fake `/status` servers name a leader
//! over real HTTP, and the local network and faketime clock carry the other faults.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sunder_nemesis::clock::Clock;
use sunder_nemesis::grudge::Grudge;
use sunder_nemesis::nemesis::Nemesis;
use sunder_nemesis::net::{NetKind, Network, NetworkConfig};
use sunder_nemesis::process::{self, Cluster, ClusterError, Target, proc_state};
use sunder_nemesis::schedule::{FaultKind, NemesisConfig, Plan};
use sunder_nemesis::status::leader_from_status;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sleeper() -> Child {
    Command::new("sleep").arg("600").spawn().expect("spawn sleep")
}

/// Nodes played by `sleep` processes; `/status` served by small HTTP servers.
struct SleepCluster {
    children: Mutex<BTreeMap<String, Child>>,
    status: BTreeMap<String, SocketAddr>,
}

impl SleepCluster {
    async fn start(n: usize, leader: &str) -> SleepCluster {
        let mut children = BTreeMap::new();
        let mut status = BTreeMap::new();
        for node in nodes(n) {
            children.insert(node.clone(), sleeper());
            let role = if node == leader { "leader" } else { "follower" };
            let body = json!({"id": node, "role": role, "term": 2, "leader": leader}).to_string();
            status.insert(node, serve_status(body).await);
        }
        SleepCluster { children: Mutex::new(children), status }
    }
}

/// A one-route HTTP server answering every request with `body`.
async fn serve_status(body: String) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { continue };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

impl Cluster for SleepCluster {
    fn nodes(&self) -> Vec<String> {
        self.children.lock().unwrap().keys().cloned().collect()
    }

    fn pid(&self, node: &str) -> Option<u32> {
        self.children.lock().unwrap().get(node).map(Child::id)
    }

    async fn kill(&self, node: &str) -> Result<(), ClusterError> {
        let mut c = self.children.lock().unwrap();
        let child = c.get_mut(node).ok_or("no such node")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    async fn restart(&self, node: &str) -> Result<(), ClusterError> {
        self.children.lock().unwrap().insert(node.to_string(), sleeper());
        Ok(())
    }

    async fn leader(&self) -> Option<String> {
        leader_from_status(&self.status, Duration::from_secs(2)).await
    }
}

impl Drop for SleepCluster {
    fn drop(&mut self) {
        for c in self.children.lock().unwrap().values_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn local_net(n: usize) -> Arc<Network> {
    Arc::new(
        Network::create(&NetworkConfig {
            kind: NetKind::Local,
            run_id: "proc".into(),
            nodes: nodes(n),
            port: 0,
            seed: 5,
        })
        .unwrap(),
    )
}

type Ops = Arc<Mutex<Vec<(String, Value)>>>;

fn recorder() -> (Ops, impl FnMut(&str, Value) + Send) {
    let ops: Ops = Arc::default();
    let sink = Arc::clone(&ops);
    (ops, move |f: &str, v: Value| sink.lock().unwrap().push((f.to_string(), v)))
}

#[tokio::test]
async fn pause_stops_a_real_process_and_resume_continues_it() {
    let mut child = sleeper();
    let pid = child.id();
    process::pause(pid).await.unwrap();
    assert_eq!(proc_state(pid), Some('T'));
    process::resume(pid).await.unwrap();
    // Resumed means running again: not stopped, and not gone (a resume that killed the
    // process would also leave it "not stopped").
    assert!(matches!(proc_state(pid), Some('S' | 'R')), "after resume: {:?}", proc_state(pid));
    assert!(child.try_wait().unwrap().is_none(), "the resumed process exited");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(proc_state(pid), None, "a reaped process must be gone from /proc");
}

#[tokio::test]
async fn leader_is_found_through_status_over_http() {
    let cluster = SleepCluster::start(3, "n2").await;
    assert_eq!(cluster.leader().await.as_deref(), Some("n2"));
}

#[tokio::test]
async fn kill_of_the_leader_reaps_it_and_stop_restarts_it() {
    let cluster = Arc::new(SleepCluster::start(3, "n3").await);
    let old = cluster.pid("n3").unwrap();
    let cfg = NemesisConfig::new(vec![FaultKind::Kill], Duration::from_secs(1), 1);
    let mut nemesis = Nemesis::new(local_net(3), Arc::clone(&cluster), None, cfg).unwrap();
    let (ops, mut report) = recorder();
    nemesis.start(Plan::Kill { target: Target::Leader, nodes: None }, &mut report).await.unwrap();
    assert_eq!(proc_state(old), None, "killed leader still in /proc");
    nemesis.stop_active(&mut report).await.unwrap();
    let new = cluster.pid("n3").unwrap();
    assert_ne!(new, old);
    assert!(matches!(proc_state(new), Some('S' | 'R')));
    let ops = ops.lock().unwrap().clone();
    assert_eq!(
        ops,
        vec![
            ("start-kill".to_string(), json!({"target": "leader", "nodes": ["n3"]})),
            ("stop-kill".to_string(), json!({"nodes": ["n3"]})),
        ]
    );
}

#[tokio::test]
async fn pause_of_a_majority_stops_those_processes_until_the_fault_ends() {
    let cluster = Arc::new(SleepCluster::start(5, "n1").await);
    let cfg = NemesisConfig::new(vec![FaultKind::Pause], Duration::from_secs(1), 1);
    let mut nemesis = Nemesis::new(local_net(5), Arc::clone(&cluster), None, cfg).unwrap();
    let (ops, mut report) = recorder();
    let picked = vec!["n2".to_string(), "n4".to_string(), "n5".to_string()];
    nemesis
        .start(Plan::Pause { target: Target::Majority, nodes: Some(picked.clone()) }, &mut report)
        .await
        .unwrap();
    for n in nodes(5) {
        let stopped = proc_state(cluster.pid(&n).unwrap()) == Some('T');
        assert_eq!(stopped, picked.contains(&n), "{n}");
    }
    nemesis.heal_all(&mut report).await.unwrap();
    for n in nodes(5) {
        let state = proc_state(cluster.pid(&n).unwrap());
        assert!(matches!(state, Some('S' | 'R')), "{n} not running after heal_all: {state:?}");
    }
    let fs: Vec<String> = ops.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(fs, vec!["start-pause", "stop-pause"]);
}

#[tokio::test]
async fn leader_faults_without_a_leader_are_recorded_as_skipped() {
    let cluster = Arc::new(SleepCluster::start(3, "nobody").await);
    let cfg = NemesisConfig::new(vec![FaultKind::Partition], Duration::from_secs(1), 1);
    let mut nemesis = Nemesis::new(local_net(3), cluster, None, cfg).unwrap();
    let (ops, mut report) = recorder();
    let plan =
        Plan::Partition { shape: sunder_nemesis::PartitionShape::Leader, one_way: false, grudge: None };
    nemesis.start(plan, &mut report).await.unwrap();
    nemesis.heal_all(&mut report).await.unwrap();
    let ops = ops.lock().unwrap().clone();
    assert_eq!(ops[0].0, "start-partition");
    assert_eq!(ops[0].1["skipped"], json!("no node reports itself leader"));
    assert_eq!(ops[0].1["grudge"], json!({}));
    assert_eq!(ops[1].0, "stop-partition");
}

#[tokio::test]
async fn run_alternates_starts_and_ends_and_heal_all_leaves_no_fault() {
    let dir = TempDir::new("run");
    let cluster = Arc::new(SleepCluster::start(5, "n4").await);
    let net = local_net(5);
    let clock = Clock::new(&dir.0, &nodes(5)).unwrap();
    // Corrupt faults need data files, which these sleeping processes do not have.
    let kinds = FaultKind::ALL.into_iter().filter(|k| *k != FaultKind::Corrupt).collect();
    let cfg = NemesisConfig::new(kinds, Duration::from_millis(25), 11);
    let mut nemesis = Nemesis::new(Arc::clone(&net), Arc::clone(&cluster), Some(clock.clone()), cfg).unwrap();
    let (ops, mut report) = recorder();
    nemesis.run(tokio::time::sleep(Duration::from_millis(1500)), &mut report).await.unwrap();
    nemesis.heal_all(&mut report).await.unwrap();
    assert!(!nemesis.is_active());
    let ops = ops.lock().unwrap().clone();
    assert!(ops.len() >= 10, "only {} nemesis ops in 1.5 s at 25 ms", ops.len());
    for pair in ops.chunks(2) {
        let start = pair[0].0.strip_prefix("start-").unwrap_or_else(|| panic!("expected a start: {pair:?}"));
        assert_eq!(pair.get(1).map(|p| p.0.as_str()), Some(format!("stop-{start}").as_str()), "{pair:?}");
        assert!(pair[0].1.get("error").is_none(), "{pair:?}");
    }
    // Nothing left: every node runs and is not stopped, clocks are real, links pass.
    for n in nodes(5) {
        let pid = cluster.pid(&n).unwrap();
        assert!(matches!(proc_state(pid), Some('S' | 'R')), "{n} in state {:?}", proc_state(pid));
        assert_eq!(clock.offset(&n).unwrap(), 0.0, "{n} clock still skewed");
    }
    let _echo = echoes(&net);
    // Loss may leave at most retransmission-style delays; the probe timeout covers one RTO.
    assert!(matrix_mismatches(&net, &Grudge::none()).is_empty(), "links still cut after heal_all");
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::test]
async fn nemesis_run_can_be_spawned_on_a_runtime() {
    let cluster = Arc::new(SleepCluster::start(3, "n1").await);
    let cfg = NemesisConfig::new(vec![FaultKind::Kill], Duration::from_millis(10), 1);
    let mut nemesis = Nemesis::new(local_net(3), cluster, None, cfg).unwrap();
    let (ops, mut report) = recorder();
    let task = tokio::spawn(async move {
        let fut = nemesis.run(tokio::time::sleep(Duration::from_millis(200)), &mut report);
        assert_send(&fut);
        fut.await.unwrap();
        nemesis.heal_all(&mut report).await.unwrap();
    });
    task.await.unwrap();
    assert!(!ops.lock().unwrap().is_empty());
}

#[test]
fn clock_faults_need_a_clock() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cluster = Arc::new(rt.block_on(SleepCluster::start(3, "n1")));
    let cfg = NemesisConfig::new(vec![FaultKind::Clock], Duration::from_secs(1), 1);
    let err = Nemesis::new(local_net(3), cluster, None, cfg).err().expect("must refuse").to_string();
    assert!(err.contains("clock"), "{err}");
}

#[tokio::test]
async fn corrupt_of_the_leader_kills_it_flips_one_bit_of_its_data_file_and_restarts_it() {
    let dir = TempDir::new("corrupt");
    let cluster = Arc::new(SleepCluster::start(3, "n3").await);
    let original: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let mut cfg = NemesisConfig::new(vec![FaultKind::Corrupt], Duration::from_secs(1), 1);
    cfg.data_files = vec!["*.log".into()];
    for n in nodes(3) {
        let data = dir.0.join(&n);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("node.log"), &original).unwrap();
        std::fs::write(data.join("not-fair-game"), &original).unwrap();
        cfg.data_dirs.insert(n, data);
    }
    let old = cluster.pid("n3").unwrap();
    let mut nemesis = Nemesis::new(local_net(3), Arc::clone(&cluster), None, cfg).unwrap();
    let (ops, mut report) = recorder();
    let plan = Plan::Corrupt {
        target: Target::Leader,
        node: None,
        damage: sunder_nemesis::disk::DiskFault::Bitflip,
    };
    nemesis.start(plan, &mut report).await.unwrap();
    assert_eq!(proc_state(old), None, "the node is killed before its file is touched");
    let damaged = std::fs::read(dir.0.join("n3/node.log")).unwrap();
    let changed: Vec<usize> = (0..original.len()).filter(|&i| damaged[i] != original[i]).collect();
    assert_eq!(changed.len(), 1, "one byte, one bit");
    assert_eq!(std::fs::read(dir.0.join("n3/not-fair-game")).unwrap(), original, "only files the globs name");
    nemesis.stop_active(&mut report).await.unwrap();
    assert!(matches!(cluster.pid("n3").and_then(proc_state), Some('S' | 'R')), "restarted");
    let ops = ops.lock().unwrap().clone();
    assert_eq!(ops[0].0, "start-corrupt");
    assert_eq!(ops[0].1["node"], "n3");
    assert_eq!(ops[0].1["file"], "node.log");
    assert_eq!(ops[0].1["offset"], changed[0] as u64);
    assert_eq!(ops[1].0, "stop-corrupt");
    assert_eq!(ops[1].1["came-back"], true);
    assert_eq!(ops[1].1["refused"], false);
}
