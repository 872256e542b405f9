//! Issue 5: a harness killed with SIGKILL in the middle of a partition runs no teardown at
//! all, so its namespaces, their iptables rules and possibly its nodes outlive it. `sunder
//! cleanup` must then remove everything of that run and nothing else: no namespace or
//! process of the run remains, the root namespace's iptables are exactly as before, and a
//! namespace that is not Sunder's is left alone.
//!
//! Needs root (network namespaces). Without root the test prints a loud SKIP line, unless
//! `SUNDER_REQUIRE_NETNS` is set, in which case it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{root_or_skip, sunder};

/// Everything this test creates, undone on drop so a failing assertion leaves nothing:
/// the harness (if still alive), whatever its run left (through `sunder cleanup`), the
/// bystander namespace and the store folder.
struct Leftovers {
    store: PathBuf,
    harness: Option<Child>,
    bystander: Option<String>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if let Some(mut h) = self.harness.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        if self.store.exists() {
            let _ = sunder().args(["cleanup", "--store"]).arg(&self.store).output();
            let _ = std::fs::remove_dir_all(&self.store);
        }
        if let Some(ns) = self.bystander.take() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

fn output_of(program: &str, args: &[&str]) -> String {
    let out =
        Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The root namespace's iptables rules. `iptables-save` comment lines carry the time of
/// the dump, so they are left out; everything else must match byte for byte.
fn root_iptables() -> String {
    output_of("iptables-save", &[])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn namespaces() -> Vec<String> {
    output_of("ip", &["netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn namespaces_of_run(run_id: &str) -> Vec<String> {
    let prefix = format!("sunder-{run_id}-");
    namespaces().into_iter().filter(|n| n.starts_with(&prefix)).collect()
}

/// Pids of live processes whose command line mentions `needle` (zombies have none).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

fn run_id_of(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("test.json")).ok()?;
    let test: serde_json::Value = serde_json::from_str(&text).ok()?;
    test["run_id"].as_str().map(str::to_string)
}

/// Nemesis partition ops (`start-partition`/`stop-partition`) in the history so far.
fn partition_ops(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap_or_default();
    text.lines()
        .filter(|l| l.ends_with('}')) // the line being written may be incomplete
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|op| op["process"] == "nemesis")
        .filter_map(|op| op["f"].as_str().map(str::to_string))
        .filter(|f| f.ends_with("-partition"))
        .collect()
}

#[test]
fn sigkill_of_the_harness_during_a_partition_then_cleanup_leaves_nothing() {
    const TEST: &str = "sigkill_of_the_harness_during_a_partition_then_cleanup_leaves_nothing";
    if !root_or_skip(TEST) {
        return;
    }
    let store = std::env::temp_dir().join(format!("sunder-test-nemesis-sigkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let mut left = Leftovers { store: store.clone(), harness: None, bystander: None };

    let iptables_before = root_iptables();
    // Named so that no run id pattern (`sunder-<run_id>-*`) can ever match it.
    let bystander = format!("test-bystander-{}", std::process::id());
    output_of("ip", &["netns", "add", &bystander]);
    left.bystander = Some(bystander.clone());

    let harness = sunder()
        .args(["run", "--system", "raft-kv", "--net", "netns", "--nemesis", "partition"])
        .args(["--nemesis-interval", "1", "--time-limit", "60", "--seed", "21", "--quiet", "--store"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start the sunder binary");
    let harness_pid = harness.id();
    left.harness = Some(harness);

    let run = store.join("latest");
    let deadline = Instant::now() + Duration::from_secs(60);
    let run_id = loop {
        if let Some(id) = run_id_of(&run)
            && partition_ops(&run).iter().any(|f| f == "start-partition")
        {
            break id;
        }
        let exited = left.harness.as_mut().and_then(|h| h.try_wait().ok().flatten());
        assert!(exited.is_none(), "the run ended before its first partition: {exited:?}");
        assert!(Instant::now() < deadline, "no start-partition in the history within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let run_namespaces = namespaces_of_run(&run_id);
    assert!(run_namespaces.len() >= 4, "the run's namespaces exist while it runs: {run_namespaces:?}");
    assert!(!processes_mentioning(&run_id).is_empty(), "the run's nodes carry its run id");

    // SIGKILL, by the pid we started: no handler and no teardown code of the harness runs.
    let mut harness = left.harness.take().expect("harness started above");
    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");
    assert!(!Path::new(&format!("/proc/{harness_pid}")).exists(), "the harness is gone");

    // Nothing removed the namespaces: if the last partition op is a start, its DROP rules
    // are still in force in the node namespaces, and cleanup must take them away too.
    let ops = partition_ops(&run);
    if ops.last().map(String::as_str) == Some("start-partition") {
        let rules: String = run_namespaces
            .iter()
            .map(|ns| output_of("ip", &["netns", "exec", ns, "iptables-save"]))
            .collect();
        assert!(rules.contains("DROP"), "a partition was in force when the harness died:\n{rules}");
        eprintln!("partition rules in force when the harness died: checked");
    }
    assert!(!namespaces_of_run(&run_id).is_empty(), "SIGKILL ran no teardown");

    let out = sunder().args(["cleanup", "--store"]).arg(&store).output().expect("run sunder cleanup");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cleanup failed: {said}");
    assert!(said.contains("1 dead run(s)"), "{said}");

    assert_eq!(namespaces_of_run(&run_id), Vec::<String>::new(), "namespaces of the run remain; {said}");
    // Nodes die with their harness (parent-death signal) or by cleanup; allow the kernel a
    // moment to deliver either.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&run_id).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_mentioning(&run_id), Vec::<u32>::new(), "processes of the run remain; {said}");
    assert_eq!(root_iptables(), iptables_before, "the root namespace's iptables changed");
    assert!(namespaces().contains(&bystander), "cleanup touched a namespace that is not Sunder's");
    assert!(!run.join("harness.pid").exists(), "cleanup marks the run as cleaned");

    output_of("ip", &["netns", "del", &bystander]);
    left.bystander = None;
    drop(left);
    assert!(!store.exists());
}
