//! The launcher's promises: nodes are real processes that become healthy, and teardown
//! (or the harness's death, even by SIGKILL) leaves none of them behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sunder::launcher::{Cluster, NodeSpec, free_local_addr};

mod support;

use support::{TempDir, sunder};

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes: it runs nothing and holds no port.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_dead(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

#[test]
fn three_node_cluster_starts_healthy_and_teardown_leaves_no_process() {
    let tmp = TempDir::new("launch3");
    let dir = tmp.path();
    let specs: Vec<NodeSpec> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| {
            let addr = free_local_addr().unwrap();
            NodeSpec {
                id: id.to_string(),
                listen: addr,
                client_addr: addr,
                peers: BTreeMap::new(),
                dir: dir.join(id),
                env: vec![],
            }
        })
        .collect();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sunder"));
    let cluster =
        Cluster::with_executable(exe, &sunder_systems::single_kv::SPEC, BTreeMap::new(), specs).unwrap();
    cluster.start_all().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    rt.block_on(cluster.wait_healthy(&http, Duration::from_secs(20))).unwrap();
    let pids: Vec<u32> = cluster.ids().iter().map(|id| cluster.pid(id).unwrap()).collect();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|p| alive(*p)));
    for id in cluster.ids() {
        assert!(dir.join(&id).join("pid").exists(), "pid file of {id}");
    }
    cluster.stop_all(Duration::from_secs(3));
    for p in &pids {
        assert!(!alive(*p), "node pid {p} survived teardown");
    }
    drop(cluster);
}

#[test]
fn killing_a_node_reaps_it_and_restart_reuses_its_data_dir() {
    let tmp = TempDir::new("restart");
    let dir = tmp.path();
    let addr = free_local_addr().unwrap();
    let spec = NodeSpec {
        id: "n1".into(),
        listen: addr,
        client_addr: addr,
        peers: BTreeMap::new(),
        dir: dir.join("n1"),
        env: vec![],
    };
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sunder"));
    let cluster =
        Cluster::with_executable(exe, &sunder_systems::single_kv::SPEC, BTreeMap::new(), vec![spec]).unwrap();
    cluster.start_all().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    rt.block_on(cluster.wait_healthy(&http, Duration::from_secs(20))).unwrap();
    let first = cluster.pid("n1").unwrap();
    cluster.kill("n1").unwrap();
    assert!(!alive(first));
    cluster.start("n1").unwrap();
    rt.block_on(cluster.wait_healthy(&http, Duration::from_secs(20))).unwrap();
    assert_ne!(cluster.pid("n1").unwrap(), first);
    assert!(dir.join("n1/data").is_dir());
    drop(cluster);
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Starts a long single-kv run and waits until it is recording; returns the harness, the
/// run folder and the node's pid.
#[expect(clippy::zombie_processes, reason = "the child is handed to the caller, which waits for it")]
fn start_long_run(store: &Path) -> (std::process::Child, PathBuf, u32) {
    let mut harness = sunder()
        .args(["run", "--system", "single-kv", "--time-limit", "60", "--quiet", "--rate", "500", "--store"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = store.join("latest");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines =
            std::fs::read_to_string(run.join("history.jsonl")).map(|t| t.lines().count()).unwrap_or(0);
        if let (Some(pid), true) = (read_pid(&run.join("nodes/n1/pid")), lines > 200) {
            return (harness, run, pid);
        }
        if Instant::now() >= deadline {
            let _ = harness.kill();
            let _ = harness.wait();
            panic!("the run never got going");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigkill_of_the_harness_leaves_no_node_and_a_readable_history() {
    let tmp = TempDir::new("sigkill");
    let store = tmp.path();
    let (mut harness, run, node_pid) = start_long_run(store);
    harness.kill().unwrap(); // SIGKILL: no handler, no teardown code runs
    harness.wait().unwrap();
    assert!(wait_dead(node_pid, Duration::from_secs(5)), "node {node_pid} outlived its harness");
    let history = sunder_check::history::read_jsonl(&run.join("history.jsonl")).unwrap();
    assert!(history.len() > 200);

    // The dead run's harness.pid is still there; cleanup finds nothing left to end.
    let out = sunder().args(["cleanup", "--store"]).arg(store).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 dead run(s), 0 node process(es) ended"), "{stdout}");
    assert!(!run.join("harness.pid").exists());
}

#[test]
fn cleanup_ends_only_leftover_nodes_of_dead_runs() {
    let tmp = TempDir::new("cleanup");
    let store = tmp.path();
    let run = store.join("t").join("20260101T000000.000Z-s1");
    std::fs::create_dir_all(run.join("nodes/n1")).unwrap();
    std::fs::create_dir_all(run.join("nodes/n2")).unwrap();
    // A harness pid that is certainly dead: a child we started and reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(run.join("harness.pid"), format!("{dead_pid} deadbeef\n")).unwrap();
    // A leftover node of that run, started without a parent-death signal.
    let addr = free_local_addr().unwrap();
    let mut node = sunder()
        .args([
            "node",
            "single-kv",
            "--id",
            "n1",
            "--run-id",
            "deadbeef",
            "--listen",
            &addr.to_string(),
            "--data",
        ])
        .arg(run.join("nodes/n1/data"))
        .spawn()
        .unwrap();
    std::fs::write(run.join("nodes/n1/pid"), format!("{}\n", node.id())).unwrap();
    // A pid file pointing at a process that is not a node of this run: must be spared.
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(run.join("nodes/n2/pid"), format!("{}\n", bystander.id())).unwrap();

    let out = sunder().args(["cleanup", "--store"]).arg(store).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = node.wait().unwrap();
    assert!(!status.success(), "the leftover node was ended");
    assert!(bystander.try_wait().unwrap().is_none(), "a process that is not our node was touched");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn ctrl_c_ends_the_run_early_with_teardown_and_results() {
    let tmp = TempDir::new("sigint");
    let store = tmp.path();
    let (mut harness, run, node_pid) = start_long_run(store);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(harness.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = harness.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the harness ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(matches!(status.code(), Some(0..=2)), "a verdict's exit code, got {status:?}");
    assert!(run.join("results.json").exists(), "results are written after Ctrl-C");
    assert!(!alive(node_pid), "node outlived the run");
}

/// An external program described only by its spec: the `sunder` binary itself, started
/// through an argument template rather than as a built-in node, with a health probe of its
/// own. The template's placeholders must be filled from the node's layout, the node must
/// carry its run id in its environment, and teardown must leave nothing behind.
#[test]
fn an_external_program_starts_from_its_argument_template_and_is_torn_down() {
    use sunder_systems::spec::{Program, SystemSpec};
    let exe: &'static str = Box::leak(env!("CARGO_BIN_EXE_sunder").to_string().into_boxed_str());
    let spec: &'static SystemSpec = Box::leak(Box::new(SystemSpec {
        name: "external-single-kv",
        program: Program::External {
            command: exe,
            args: &["node", "single-kv", "--id", "{id}", "--listen", "{listen:client}", "--data", "{data}"],
        },
        health: sunder_systems::spec::HealthProbe::HttpGet("/kv/health-probe"),
        ..sunder_systems::single_kv::SPEC
    }));
    let tmp = TempDir::new("external");
    let addr = free_local_addr().unwrap();
    let node = NodeSpec {
        id: "n1".into(),
        listen: addr,
        client_addr: addr,
        peers: BTreeMap::new(),
        dir: tmp.path().join("n1"),
        env: vec![],
    };
    let network = std::sync::Arc::new(
        sunder_nemesis::Network::create(&sunder_nemesis::NetworkConfig {
            kind: sunder_nemesis::NetKind::Local,
            run_id: "e0e0e0e0".into(),
            nodes: vec!["n1".into()],
            port: 7000,
            seed: 1,
        })
        .unwrap(),
    );
    let cluster = Cluster::with_executable(PathBuf::from(exe), spec, BTreeMap::new(), vec![node])
        .unwrap()
        .in_network("e0e0e0e0", network);
    cluster.start_all().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    rt.block_on(cluster.wait_healthy(&http, Duration::from_secs(20))).unwrap();
    let pid = cluster.pid("n1").unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into())
        .collect();
    let data = tmp.path().join("n1/data").display().to_string();
    assert_eq!(
        &args[1..],
        ["node", "single-kv", "--id", "n1", "--listen", &addr.to_string(), "--data", &data]
    );
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        environ.split(|b| *b == 0).any(|v| v == b"SUNDER_RUN_ID=e0e0e0e0"),
        "no run id in the environment"
    );
    cluster.stop_all(Duration::from_secs(3));
    assert!(wait_dead(pid, Duration::from_secs(5)), "external node {pid} survived teardown");
}
