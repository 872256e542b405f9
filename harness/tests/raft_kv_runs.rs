//! raft-kv through the whole pipeline: each test is one real `sunder run` (real node
//! processes, real fsync, real network: network namespaces when root, the local proxies
//! otherwise) whose exit code and `results.json` must match what raft-kv is known to
//! guarantee. The default read path must come out linearizable whatever the nemesis does;
//! the stale `local` read path and the planted `unsafe-no-fsync` bug must be caught.
//!
//! The runs are serialized by a lock: each is a 5-node cluster with clients and a checker,
//! and two at once on a small CI machine would only measure the machine.
//! Seeds are fixed, and every setting was chosen so the verdict does not hinge on timing
//! (each was checked over several seeds on a loaded 2-core machine).

use serde_json::Value;
use std::sync::Mutex;

mod support;

use support::{TempDir, running_as_root, sunder};

/// One run at a time in this test binary.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a finished run left behind.
struct Finished {
    code: Option<i32>,
    results: Value,
    test: Value,
    /// stderr and `sunder.log`, for failure messages (the store is gone by then).
    context: String,
}

impl Finished {
    fn anomaly_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.results["anomalies"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["kind"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Why each checker that did not say valid said so, and the first anomaly in full.
    fn reasons(&self) -> String {
        let mut out = String::new();
        if let Some(checkers) = self.results["checkers"].as_object() {
            for (name, c) in checkers.iter().filter(|(_, c)| c["valid"] != true) {
                out.push_str(&format!("  {name}: {} ({})\n", c["valid"], c["reason"]));
            }
        }
        if let Some(first) = self.results["anomalies"].get(0) {
            out.push_str(&format!("  first anomaly: {} {}\n", first["kind"], first["explanation"]));
        }
        out
    }

    fn summary(&self) -> String {
        format!(
            "exit {:?}, valid {}, models {}, anomaly kinds {:?}, stats {}\n{}{}",
            self.code,
            self.results["valid"],
            self.results["models"],
            self.anomaly_kinds(),
            self.results["stats"]["total"],
            self.reasons(),
            self.context
        )
    }
}

/// Runs `sunder run --system raft-kv` with `args`, quietly, in a fresh store. When
/// `SUNDER_REQUIRE_NETNS` is set the network backend is forced to netns, so a machine
/// that should isolate nodes in namespaces cannot silently fall back to the proxies.
fn raft_run(tag: &str, args: &[&str]) -> Finished {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let store = TempDir::new(&format!("raft-{tag}"));
    let mut cmd = sunder();
    cmd.args(["run", "--system", "raft-kv", "--quiet"]).args(args).arg("--store").arg(store.path());
    if std::env::var_os("SUNDER_REQUIRE_NETNS").is_some() && !args.contains(&"--net") {
        cmd.args(["--net", "netns"]);
    }
    let out = cmd.output().expect("cannot start the sunder binary");
    let run = store.path().join("latest");
    let log = std::fs::read_to_string(run.join("sunder.log")).unwrap_or_default();
    let context = format!("stderr:\n{}\nsunder.log:\n{log}", String::from_utf8_lossy(&out.stderr));
    let read_json = |name: &str| -> Value {
        let text = std::fs::read_to_string(run.join(name))
            .unwrap_or_else(|e| panic!("no {name} ({e}); exit {:?}\n{context}", out.status.code()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
    };
    let results = read_json("results.json");
    let test = read_json("test.json");
    Finished { code: out.status.code(), results, test, context }
}

/// On a root machine the run must have used namespaces (that is what these tests are for).
fn assert_backend(run: &Finished, expected_when_root: &str) {
    if running_as_root() {
        assert_eq!(run.test["net"], expected_when_root, "{}", run.summary());
    }
}

#[test]
fn raft_kv_five_nodes_without_faults_is_linearizable() {
    let run =
        raft_run("nofaults", &["--nodes", "5", "--time-limit", "30", "--nemesis", "none", "--seed", "11"]);
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 1000, "{}", run.summary());
    assert_backend(&run, "netns");
}

// Kills and pauses still cost an election after the heal (raft-kv has PreVote, so a node
// that was cut off no longer deposes a healthy leader); `--recovery 8` gives a loaded CI
// machine room before the final reads, which the runner also retries for up to 15 s.
#[test]
fn raft_kv_default_read_path_stays_linearizable_under_partitions_kills_and_pauses() {
    let run = raft_run(
        "faults",
        &[
            "--nodes",
            "5",
            "--time-limit",
            "25",
            "--nemesis",
            "partition,kill,pause",
            "--nemesis-interval",
            "2",
            "--recovery",
            "8",
            "--seed",
            "12",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["nemesis_ops"].as_u64().unwrap_or(0) >= 6, "{}", run.summary());
    assert_backend(&run, "netns");
}

#[test]
fn raft_kv_local_reads_are_caught_stale_under_partitions() {
    let run = raft_run(
        "localreads",
        &[
            "--nodes",
            "5",
            "--time-limit",
            "15",
            "-o",
            "reads=local",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--seed",
            "13",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], false, "{}", run.summary());
    assert!(run.anomaly_kinds().iter().any(|k| k == "nonlinearizable"), "{}", run.summary());
    assert_backend(&run, "netns");
}

#[test]
fn raft_kv_without_fsync_loses_acknowledged_writes_when_every_node_is_killed() {
    let run = raft_run(
        "nofsync",
        &[
            "--nodes",
            "5",
            "--time-limit",
            "20",
            "-o",
            "unsafe-no-fsync=true",
            "--nemesis",
            "kill",
            "--nemesis-targets",
            "all",
            "--nemesis-interval",
            "2",
            "--seed",
            "14",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.summary());
    let kinds = run.anomaly_kinds();
    assert!(
        kinds.iter().any(|k| k == "lost-write" || k == "nonlinearizable"),
        "expected a lost-write or nonlinearizable anomaly; {}",
        run.summary()
    );
    assert_backend(&run, "netns");
}

// The same partitions, through the harness's own link proxies: no privileges needed. The
// same post-heal disruption applies, hence the same recovery time.
#[test]
fn raft_kv_stays_linearizable_under_partitions_over_the_local_backend() {
    let run = raft_run(
        "localnet",
        &[
            "--net",
            "local",
            "--nodes",
            "5",
            "--time-limit",
            "20",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--recovery",
            "8",
            "--seed",
            "15",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    assert!(run.results["stats"]["nemesis_ops"].as_u64().unwrap_or(0) >= 6, "{}", run.summary());
    assert_eq!(run.test["net"], "local", "{}", run.summary());
}
