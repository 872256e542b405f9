//! Recovery after a harness dies by SIGKILL in the middle of a partition: a child process
//! (this test binary, re-run as a "harness") builds a netns network, starts fake node
//! processes whose command line reads `sunder node <run id> ...` inside the namespaces,
//! cuts the network and waits; the test kills it, then `cleanup` must remove exactly
//! that run's namespaces, chains and node processes, and nothing of a live bystander run.

mod support;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use sunder_nemesis::cleanup::{self, DeadRun};
use sunder_nemesis::grudge::Grudge;
use sunder_nemesis::net::{NetKind, Network, NetworkConfig};
use sunder_nemesis::process::proc_state;
use support::*;

const CHILD_RUN: &str = "SUNDER_CLEANUP_CHILD_RUN";
const CHILD_DIR: &str = "SUNDER_CLEANUP_CHILD_DIR";
const FAKE_NODE: &str = "SUNDER_FAKE_NODE";

/// Entry point of the fake node processes: sleeps until killed. A no-op in normal runs.
#[test]
fn fake_node_process() {
    if std::env::var(FAKE_NODE).is_ok() {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Entry point of the doomed "harness": builds the run and waits to be killed. A no-op in
/// normal runs.
#[test]
fn doomed_harness_process() {
    let (Ok(run_id), Ok(dir)) = (std::env::var(CHILD_RUN), std::env::var(CHILD_DIR)) else { return };
    let dir = PathBuf::from(dir);
    let net = Network::create(&NetworkConfig {
        kind: NetKind::Netns,
        run_id: run_id.clone(),
        nodes: nodes(3),
        port: 7000,
        seed: 1,
    })
    .unwrap();
    for n in net.nodes() {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg0("sunder").args(["node", &run_id, "--exact", "fake_node_process"]).env(FAKE_NODE, "1");
        net.prepare_node_command(n, &mut cmd).unwrap();
        let child = cmd.spawn().unwrap();
        std::fs::write(dir.join(format!("{n}.pid")), format!("{}\n", child.id())).unwrap();
        std::mem::forget(child);
    }
    net.partition(&Grudge::isolate(net.nodes(), "n1")).unwrap();
    std::fs::write(dir.join("ready"), "").unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn alive(pid: u32) -> bool {
    !matches!(proc_state(pid), None | Some('Z'))
}

#[test]
fn cleanup_after_sigkilled_harness_removes_exactly_the_dead_runs_leftovers() {
    if !netns_allowed("cleanup_after_sigkilled_harness_removes_exactly_the_dead_runs_leftovers") {
        return;
    }
    let dir = TempDir::new("cleanup");
    let dead_run = run_id("dead");

    // A live bystander run with a partition and a process inside one of its namespaces.
    let bystander = Network::create(&NetworkConfig {
        kind: NetKind::Netns,
        run_id: run_id("alive"),
        nodes: nodes(2),
        port: 7000,
        seed: 1,
    })
    .unwrap();
    bystander.partition(&Grudge::isolate(bystander.nodes(), "n1")).unwrap();
    let mut bystander_cmd = Command::new("sleep");
    bystander_cmd.arg("600");
    bystander.prepare_node_command("n2", &mut bystander_cmd).unwrap();
    let mut bystander_proc = bystander_cmd.spawn().unwrap();

    let mut harness = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "doomed_harness_process", "--nocapture"])
        .env(CHILD_RUN, &dead_run)
        .env(CHILD_DIR, &dir.0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.0.join("ready").exists() {
        assert!(Instant::now() < deadline, "doomed harness never got ready");
        assert!(harness.try_wait().unwrap().is_none(), "doomed harness exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.kill().unwrap(); // SIGKILL, by the pid we started
    harness.wait().unwrap();

    let pid_files: Vec<PathBuf> = nodes(3).iter().map(|n| dir.0.join(format!("{n}.pid"))).collect();
    let node_pids: Vec<u32> =
        pid_files.iter().map(|f| std::fs::read_to_string(f).unwrap().trim().parse().unwrap()).collect();
    assert!(node_pids.iter().all(|p| alive(*p)), "fake nodes should outlive the harness");
    let before = cleanup::sunder_namespaces().unwrap();
    assert_eq!(before.get(&dead_run).map(Vec::len), Some(5), "{before:?}");

    let leftovers = cleanup::find_leftovers(&[DeadRun { run_id: dead_run.clone(), pid_files }]).unwrap();
    let mut found: Vec<u32> = leftovers.processes.iter().map(|p| p.pid).collect();
    found.sort();
    let mut expected = node_pids.clone();
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(leftovers.namespaces.len(), 1);

    let report = cleanup::remove(&leftovers);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.namespaces.len(), 5);
    for pid in &node_pids {
        assert!(!alive(*pid), "node {pid} survived cleanup");
    }
    let after = cleanup::sunder_namespaces().unwrap();
    assert!(!after.contains_key(&dead_run), "{after:?}");

    // The bystander is untouched: namespaces, rules, process.
    let by = bystander.as_netns().unwrap();
    by.verify_safety().unwrap();
    assert!(by.listed_rules("n2").unwrap().contains("-j DROP"));
    assert!(alive(bystander_proc.id()));
    assert!(cleanup::find_leftovers(&[]).unwrap().is_empty());

    bystander_proc.kill().unwrap();
    bystander_proc.wait().unwrap();
    bystander.teardown().unwrap();
}
