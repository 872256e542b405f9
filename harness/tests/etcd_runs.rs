//! etcd (Debian's `etcd-server` 3.4) through the whole pipeline: real etcd members in their
//! own network namespaces, driven through the v3 JSON gateway. Its linearizable reads must
//! come out linearizable under partitions and kills; its serializable reads must be caught
//! stale, with the stale read as the witness; the set and counter workloads must run on it;
//! and no etcd process may outlive a run, nor a SIGKILLed harness followed by `sunder
//! cleanup`.
//!
//! Needs root (etcd runs on netns only) and the etcd binary. Without them each test prints
//! a loud SKIP line, unless `SUNDER_REQUIRE_NETNS` is set (CI), where it fails instead.
//! Seeds are fixed; every setting was chosen so the verdict does not hinge on timing (see
//! each test).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Finished, assert_backend, root_or_skip, sunder};

/// True when an etcd test may go on: root, and an `etcd` on PATH (else SKIP, or a failure
/// in CI where `SUNDER_REQUIRE_NETNS` is set).
fn etcd_or_skip(test: &str) -> bool {
    if !root_or_skip(test) {
        return false;
    }
    let found =
        Command::new("etcd").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if found {
        return true;
    }
    assert!(
        std::env::var_os("SUNDER_REQUIRE_NETNS").is_none(),
        "{test} needs the etcd binary (apt-get install etcd-server), and SUNDER_REQUIRE_NETNS is set"
    );
    let _ = writeln!(std::io::stderr(), "SKIP (needs etcd): {test}: apt-get install etcd-server");
    false
}

/// Pids of live processes whose environment carries `SUNDER_RUN_ID=<run_id>` (how the
/// launcher marks every node, an external binary's included).
fn processes_of_run(run_id: &str) -> Vec<u32> {
    let marker = format!("SUNDER_RUN_ID={run_id}");
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
                .unwrap_or(true);
            !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .collect()
}

/// Runs `sunder run --system etcd` with `args` and checks that no etcd member outlived it.
pub fn etcd_run(tag: &str, args: &[&str]) -> Finished {
    let mut all = vec!["--system", "etcd", "--net", "netns"];
    all.extend_from_slice(args);
    let run = support::run(&format!("etcd-{tag}"), &all);
    let run_id = run.test["run_id"].as_str().expect("test.json names its run id").to_string();
    assert_eq!(processes_of_run(&run_id), Vec::<u32>::new(), "etcd members outlived the run");
    assert_backend(&run, "netns");
    run
}

// Kills of any member (the leader included) and every partition shape: etcd answers a
// linearizable read only with a quorum's word, so the verdict cannot depend on timing.
#[test]
fn etcd_linearizable_reads_stay_linearizable_under_partitions_and_kills() {
    const TEST: &str = "etcd_linearizable_reads_stay_linearizable_under_partitions_and_kills";
    if !etcd_or_skip(TEST) {
        return;
    }
    let run = etcd_run("linearizable", support::ETCD_LINEARIZABLE);
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["nemesis_ops"].as_u64().unwrap_or(0) >= 4, "{}", run.summary());
    assert!(run.results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 500, "{}", run.summary());
}

// Every partition of three members leaves one of them alone, leader or follower, for about
// three seconds (interval 3): a follower cut off keeps its last state while the majority
// goes on writing, and a leader cut off is replaced within about a second (election 1 s);
// either way the lone member answers serializable reads from a state the majority has left
// behind, and clients read at every member. Twenty seconds give several such windows.
#[test]
fn etcd_serializable_reads_are_caught_stale_when_partitions_cut_a_member_off() {
    const TEST: &str = "etcd_serializable_reads_are_caught_stale_when_partitions_cut_a_member_off";
    if !etcd_or_skip(TEST) {
        return;
    }
    let run = etcd_run("serializable", support::ETCD_SERIALIZABLE);
    assert_eq!(run.code, Some(1), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], false, "{}", run.summary());
    let anomaly = run.results["anomalies"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["kind"] == "nonlinearizable"))
        .unwrap_or_else(|| panic!("no nonlinearizable anomaly: {}", run.summary()));
    // The witness is a read that returned a value the register no longer held.
    let history = std::fs::read_to_string(run.store.path().join("latest/history.jsonl")).unwrap();
    let ops: Vec<serde_json::Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let witness_reads: Vec<&serde_json::Value> = anomaly["ops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| ops.iter().find(|op| op["index"] == *i))
        .filter(|op| op["f"] == "read" && op["type"] == "ok")
        .collect();
    assert!(!witness_reads.is_empty(), "the witness names no successful read: {anomaly}\n{}", run.summary());
    assert!(anomaly["explanation"].as_str().unwrap_or("").contains("read"), "{anomaly}");
}

#[test]
fn etcd_runs_the_set_workload_as_one_key_per_element_without_losing_any() {
    const TEST: &str = "etcd_runs_the_set_workload_as_one_key_per_element_without_losing_any";
    if !etcd_or_skip(TEST) {
        return;
    }
    let run = etcd_run(
        "set",
        &[
            "--workload",
            "set",
            "--time-limit",
            "10",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--seed",
            "7",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert!(run.results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 200, "{}", run.summary());
}

#[test]
fn etcd_runs_the_counter_workload_by_compare_and_set_loops_within_bounds() {
    const TEST: &str = "etcd_runs_the_counter_workload_by_compare_and_set_loops_within_bounds";
    if !etcd_or_skip(TEST) {
        return;
    }
    let run = etcd_run(
        "counter",
        &[
            "--workload",
            "counter",
            "--time-limit",
            "10",
            "--nemesis",
            "kill",
            "--nemesis-interval",
            "2",
            "--seed",
            "8",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert!(run.results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 200, "{}", run.summary());
}

#[test]
fn etcd_refuses_clock_faults_and_the_local_backend_saying_why() {
    for (args, says) in
        [(&["--nemesis", "clock"][..], "vDSO"), (&["--net", "local", "--nemesis", "none"][..], "netns only")]
    {
        let store = support::TempDir::new("etcd-refusals");
        let out = sunder()
            .args(["run", "--system", "etcd", "--time-limit", "1", "--quiet", "--store"])
            .arg(store.path())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The run folder's `test.json` run id, once the run has written it.
fn run_id_of(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("test.json")).ok()?;
    let test: serde_json::Value = serde_json::from_str(&text).ok()?;
    test["run_id"].as_str().map(str::to_string)
}

#[test]
fn a_sigkilled_harness_then_cleanup_leaves_no_etcd_member_and_no_namespace() {
    const TEST: &str = "a_sigkilled_harness_then_cleanup_leaves_no_etcd_member_and_no_namespace";
    if !etcd_or_skip(TEST) {
        return;
    }
    let store = support::TempDir::new("etcd-sigkill");
    let mut harness = sunder()
        .args([
            "run",
            "--system",
            "etcd",
            "--net",
            "netns",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
        ])
        .args(["--time-limit", "60", "--seed", "9", "--quiet", "--store"])
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start the sunder binary");
    let run = store.path().join("latest");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until the members are up and serving: the history has client ops.
    let run_id = loop {
        let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap_or_default();
        if let Some(id) = run_id_of(&run)
            && history.lines().count() > 50
        {
            break id;
        }
        if let Some(status) = harness.try_wait().unwrap() {
            panic!("the run ended before it served: {status}");
        }
        assert!(Instant::now() < deadline, "no client ops within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(processes_of_run(&run_id).len(), 3, "three etcd members carry the run id");
    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");

    let out = sunder().args(["cleanup", "--store"]).arg(store.path()).output().expect("run sunder cleanup");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cleanup failed: {said}");
    assert!(said.contains("1 dead run(s)"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_of_run(&run_id).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_of_run(&run_id), Vec::<u32>::new(), "etcd members remain; {said}");
    let namespaces =
        String::from_utf8(Command::new("ip").args(["netns", "list"]).output().unwrap().stdout).unwrap();
    assert!(
        !namespaces.contains(&format!("sunder-{run_id}-")),
        "namespaces of the run remain:\n{namespaces}"
    );
}
