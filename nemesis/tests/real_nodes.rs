//! Faults against real Sunder nodes: this test binary re-runs itself as
//! `sunder node <run id>` processes serving `single-kv` (from `sunder-systems`), each
//! started where the network puts it (inside its namespace on netns) under libfaketime.
//! It is a `harness = false` target: its `main` is the node program when started with a
//! node config, and otherwise runs its one test, so no pseudo-test is counted as passing.
//! The test's own runtime lives in the control namespace on netns, as the harness's
//! does, and observes every fault through the nodes' `GET /status` and `/proc`.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use sunder_nemesis::clock::Clock;
use sunder_nemesis::nemesis::Nemesis;
use sunder_nemesis::net::{NetKind, Network, NetworkConfig, netns_available};
use sunder_nemesis::process::{Cluster, ClusterError, Target, proc_state};
use sunder_nemesis::schedule::{FaultKind, NemesisConfig, Plan};
use sunder_nemesis::status::{fetch_status, leader_from_status};
use support::*;

const NODE_CONFIG: &str = "SUNDER_TEST_NODE_CONFIG";

/// The node program when started with a node config; otherwise the test runner.
fn main() {
    if let Ok(cfg) = std::env::var(NODE_CONFIG) {
        let cfg: sunder_systems::NodeConfig = serde_json::from_str(&cfg).unwrap();
        sunder_systems::run("single-kv", cfg).unwrap();
        std::process::exit(0);
    }
    run_tests(&[(
        "kill_pause_and_clock_faults_show_in_real_nodes_status",
        kill_pause_and_clock_faults_show_in_real_nodes_status,
    )]);
}

/// A minimal libtest: runs the tests whose names match the command line's filters (all
/// without one), prints one line each and a summary, and fails the process when one fails.
/// `--list` lists them, as `cargo test -- --list` expects.
fn run_tests(tests: &[(&str, fn())]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let chosen: Vec<&(&str, fn())> = tests
        .iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| if exact { f == name } else { name.contains(f.as_str()) })
        })
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &chosen {
            println!("{name}: test");
        }
        return;
    }
    println!("\nrunning {} test{}", chosen.len(), if chosen.len() == 1 { "" } else { "s" });
    let mut failed = Vec::new();
    for (name, test) in &chosen {
        let passed = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if passed { "ok" } else { "FAILED" });
        if !passed {
            failed.push(*name);
        }
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out\n",
        chosen.len() - failed.len(),
        failed.len(),
        tests.len() - chosen.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// Node processes started, killed and restarted by pid, as the harness's launcher would.
struct NodeProcesses {
    run_id: String,
    net: Arc<Network>,
    clock: Clock,
    data: std::path::PathBuf,
    children: Mutex<BTreeMap<String, Child>>,
    /// Every pid ever started, restarts included: teardown cleans up after each.
    started: Mutex<Vec<u32>>,
}

impl NodeProcesses {
    /// Teardown as the harness does it: SIGKILL and reap every node, then remove what
    /// libfaketime left in /dev/shm for every pid the run started. Returns those pids.
    fn stop_all(&self) -> Vec<u32> {
        for c in self.children.lock().unwrap().values_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let started = self.started.lock().unwrap().clone();
        sunder_nemesis::clock::remove_faketime_leftovers(started.iter().copied());
        started
    }

    fn spawn(&self, node: &str) -> Child {
        let cfg = sunder_systems::NodeConfig {
            id: node.to_string(),
            listen: self.net.listen_addr(node).unwrap(),
            peers: self.net.peer_addrs(node).unwrap(),
            data: self.data.join(node),
            options: BTreeMap::new(),
        };
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg0("sunder")
            .args(["node", &self.run_id])
            .env(NODE_CONFIG, serde_json::to_string(&cfg).unwrap())
            .envs(self.clock.faketime_env(node).unwrap());
        self.net.prepare_node_command(node, &mut cmd).unwrap();
        let child = cmd.spawn().unwrap();
        self.started.lock().unwrap().push(child.id());
        child
    }

    fn addrs(&self) -> BTreeMap<String, SocketAddr> {
        self.net.nodes().iter().map(|n| (n.clone(), self.net.client_addr(n).unwrap())).collect()
    }
}

impl Cluster for NodeProcesses {
    fn nodes(&self) -> Vec<String> {
        self.net.nodes().to_vec()
    }
    fn pid(&self, node: &str) -> Option<u32> {
        self.children.lock().unwrap().get(node).map(Child::id)
    }
    async fn kill(&self, node: &str) -> Result<(), ClusterError> {
        let mut c = self.children.lock().unwrap();
        let child = c.get_mut(node).ok_or("unknown node")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }
    async fn restart(&self, node: &str) -> Result<(), ClusterError> {
        let child = self.spawn(node);
        self.children.lock().unwrap().insert(node.to_string(), child);
        Ok(())
    }
    async fn leader(&self) -> Option<String> {
        leader_from_status(&self.addrs(), Duration::from_secs(1)).await
    }
}

impl Drop for NodeProcesses {
    fn drop(&mut self) {
        self.stop_all();
    }
}

async fn wait_healthy(addr: SocketAddr) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = fetch_status(addr, Duration::from_millis(500)).await {
            return v;
        }
        assert!(Instant::now() < deadline, "node at {addr} never answered /status");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn skew_ms(status: &serde_json::Value) -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    status["wall_clock_ms"].as_i64().expect("wall_clock_ms in /status") - now
}

fn kill_pause_and_clock_faults_show_in_real_nodes_status() {
    let kind = if netns_available().is_ok() { NetKind::Netns } else { NetKind::Local };
    let run_id = run_id("real");
    let net = Arc::new(
        Network::create(&NetworkConfig {
            kind,
            run_id: run_id.clone(),
            nodes: nodes(3),
            port: 7100,
            seed: 4,
        })
        .unwrap(),
    );
    let dir = TempDir::new("real");
    let clock = Clock::new(&dir.0.join("clock"), &nodes(3)).unwrap();
    // The test body runs where the harness would: in the control namespace on netns.
    let ctl = net.as_netns().map(|n| n.control_namespace().clone());
    let body_net = Arc::clone(&net);
    let body_dir = dir.0.clone();
    std::thread::spawn(move || {
        if let Some(ctl) = ctl {
            ctl.enter_current_thread().unwrap();
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(scenario(body_net, clock, run_id, body_dir));
    })
    .join()
    .expect("scenario failed");
    net.teardown().unwrap();
}

async fn scenario(net: Arc<Network>, clock: Clock, run_id: String, dir: std::path::PathBuf) {
    let cluster = Arc::new(NodeProcesses {
        run_id,
        net: Arc::clone(&net),
        clock: clock.clone(),
        data: dir.join("data"),
        children: Mutex::new(BTreeMap::new()),
        started: Mutex::new(Vec::new()),
    });
    for n in nodes(3) {
        let child = cluster.spawn(&n);
        cluster.children.lock().unwrap().insert(n, child);
    }
    let addrs = cluster.addrs();
    for a in addrs.values() {
        wait_healthy(*a).await;
    }
    let cfg = NemesisConfig::new(
        vec![FaultKind::Kill, FaultKind::Pause, FaultKind::Clock],
        Duration::from_secs(1),
        2,
    );
    let mut nemesis = Nemesis::new(Arc::clone(&net), Arc::clone(&cluster), Some(clock.clone()), cfg).unwrap();
    let mut ops = Vec::new();
    let mut report = |f: &str, v: serde_json::Value| ops.push((f.to_string(), v));

    // Clock: the skewed node's own wall clock moves, the others' do not.
    let offsets = BTreeMap::from([("n2".to_string(), 120.0)]);
    nemesis.start(Plan::Skew { offsets }, &mut report).await.unwrap();
    let seen = skew_ms(&wait_healthy(addrs["n2"]).await);
    assert!((seen - 120_000).abs() < 3_000, "n2 /status shows skew {seen} ms, wanted +120 s");
    assert!(skew_ms(&wait_healthy(addrs["n1"]).await).abs() < 3_000);
    nemesis.stop_active(&mut report).await.unwrap();
    assert!(skew_ms(&wait_healthy(addrs["n2"]).await).abs() < 3_000, "skew did not end");

    // Pause: a stopped node answers nothing until resumed.
    let pid = cluster.pid("n3").unwrap();
    nemesis
        .start(Plan::Pause { target: Target::One, nodes: Some(vec!["n3".into()]) }, &mut report)
        .await
        .unwrap();
    assert_eq!(proc_state(pid), Some('T'));
    assert!(fetch_status(addrs["n3"], Duration::from_millis(500)).await.is_none(), "paused node answered");
    nemesis.stop_active(&mut report).await.unwrap();
    wait_healthy(addrs["n3"]).await;

    // Kill the leader (every single-kv node claims it; the tie goes to n1), then restart it.
    let old = cluster.pid("n1").unwrap();
    nemesis.start(Plan::Kill { target: Target::Leader, nodes: None }, &mut report).await.unwrap();
    assert_eq!(proc_state(old), None);
    assert!(fetch_status(addrs["n1"], Duration::from_millis(500)).await.is_none(), "killed node answered");
    nemesis.stop_active(&mut report).await.unwrap();
    let back = wait_healthy(addrs["n1"]).await;
    assert_eq!(back["id"], "n1");
    assert_ne!(cluster.pid("n1").unwrap(), old);
    nemesis.heal_all(&mut report).await.unwrap();

    let fs: Vec<&str> = ops.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fs, ["start-clock", "stop-clock", "start-pause", "stop-pause", "start-kill", "stop-kill"]);
    assert_eq!(ops[4].1["nodes"], serde_json::json!(["n1"]));

    // Teardown leaves nothing of the run in /dev/shm, the killed node's files included.
    let started = cluster.stop_all();
    assert_eq!(started.len(), 4, "three nodes and one restart: {started:?}");
    for pid in started {
        for file in sunder_nemesis::clock::faketime_files(pid) {
            assert!(!file.exists(), "{} left after teardown", file.display());
        }
    }
}
