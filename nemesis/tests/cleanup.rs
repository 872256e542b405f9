//! Recovery after a harness dies by SIGKILL in the middle of a partition: a child process
//! (the `sunder-nemesis-doomed-harness` helper binary) builds a netns network, starts fake
//! node processes whose command line reads `sunder node <run id>` inside the namespaces,
//! cuts the network and waits; the test kills it, then `cleanup` must remove exactly
//! that run's namespaces, chains and node processes, and nothing of a live bystander run.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use sunder_nemesis::cleanup::{self, DeadRun};
use sunder_nemesis::grudge::Grudge;
use sunder_nemesis::net::{NetKind, Network, NetworkConfig, names};
use sunder_nemesis::process::proc_state;
use support::*;

const CHILD_RUN: &str = "SUNDER_CLEANUP_CHILD_RUN";
const CHILD_DIR: &str = "SUNDER_CLEANUP_CHILD_DIR";
const FAKE_NODE_EXE: &str = "SUNDER_FAKE_NODE_EXE";

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
    // Its "harness", living in its control namespace as a real harness does.
    let bystander_ctl = sunder_nemesis::net::namespace::netns_path(&names::control_ns(&run_id("alive")));
    let mut bystander_harness = Command::new("nsenter")
        .arg(format!("--net={}", bystander_ctl.display()))
        .args(["sleep", "600"])
        .spawn()
        .unwrap();

    let mut harness = Command::new(env!("CARGO_BIN_EXE_sunder-nemesis-doomed-harness"))
        .env(FAKE_NODE_EXE, env!("CARGO_BIN_EXE_sunder-nemesis-fake-node"))
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

    // With its run folder gone, the dead run is still found: nothing lives in its control
    // namespace. The bystander's harness does, and a run under a minute old never counts.
    let deadline = Instant::now() + Duration::from_secs(10);
    let orphans = loop {
        let orphans: Vec<String> = cleanup::orphaned_runs_older_than(Duration::ZERO)
            .unwrap()
            .into_iter()
            .map(|d| d.run_id)
            .collect();
        if !orphans.contains(&run_id("alive")) || Instant::now() > deadline {
            break orphans;
        }
        std::thread::sleep(Duration::from_millis(20)); // nsenter is still entering
    };
    assert!(orphans.contains(&dead_run), "{orphans:?}");
    assert!(!orphans.contains(&run_id("alive")), "{orphans:?}");
    assert!(
        cleanup::orphaned_runs().unwrap().iter().all(|d| d.run_id != dead_run),
        "a young run was orphaned"
    );
    let by_namespace =
        cleanup::find_leftovers(&[DeadRun { run_id: dead_run.clone(), pid_files: vec![] }]).unwrap();
    let mut via_ns: Vec<u32> = by_namespace.processes.iter().map(|p| p.pid).collect();
    via_ns.sort();
    let mut expected_pids = node_pids.clone();
    expected_pids.sort();
    assert_eq!(via_ns, expected_pids, "nodes found through the namespaces alone");

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
    bystander_harness.kill().unwrap();
    bystander_harness.wait().unwrap();
    bystander.teardown().unwrap();
}
