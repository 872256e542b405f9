//! What the harness's integration tests share: the built `sunder` binary, temp folders that
//! go away when their test ends (passed or failed), the gate of tests that need root, and
//! one whole `sunder run` with what it left behind.
#![allow(dead_code)] // each test binary uses its own subset

pub mod sshd;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The settings of the linearizable etcd run (`etcd_runs.rs`), which the etcd system file
/// (`system_files.rs`) repeats to show it gives the built-in's verdict.
pub const ETCD_LINEARIZABLE: &[&str] =
    &["--time-limit", "15", "--nemesis", "partition,kill", "--nemesis-interval", "2", "--seed", "3"];

/// The settings of the serializable etcd run that must be caught stale: each partition of
/// three members cuts one off for about three seconds.
pub const ETCD_SERIALIZABLE: &[&str] = &[
    "-o",
    "reads=serializable",
    "--time-limit",
    "20",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "3",
    "--seed",
    "5",
];

/// The `sunder` binary this build produced.
pub fn sunder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sunder"))
}

/// A fresh, empty folder `sunder-test-<tag>-<pid>` in the temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates the folder, emptying what an earlier run of the same test left.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("sunder-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when a test that needs root may go on. Not root: a loud SKIP line and false, or a
/// failure when `SUNDER_REQUIRE_NETNS` is set (CI, where skipping would hide a gap).
pub fn root_or_skip(test: &str) -> bool {
    if running_as_root() {
        return true;
    }
    assert!(
        std::env::var_os("SUNDER_REQUIRE_NETNS").is_none(),
        "{test} needs root, and SUNDER_REQUIRE_NETNS is set"
    );
    // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
    let _ =
        writeln!(std::io::stderr(), "SKIP (needs root): {test}: network namespaces and iptables need root");
    false
}

/// One run at a time in a test binary: each is a cluster with clients and a checker, and
/// two at once on a small CI machine would only measure the machine.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a finished run left behind.
pub struct Finished {
    /// The exit code.
    pub code: Option<i32>,
    /// `results.json`.
    pub results: Value,
    /// `test.json`.
    pub test: Value,
    /// stderr and `sunder.log`, for failure messages (the store is gone by then).
    pub context: String,
    /// The store, kept until the run is dropped (so a test may re-check the run folder).
    pub store: TempDir,
}

impl Finished {
    pub fn anomaly_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.results["anomalies"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["kind"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Why each checker that did not say valid said so, and the first anomaly in full.
    pub fn reasons(&self) -> String {
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

    pub fn summary(&self) -> String {
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

/// Runs `sunder run` with `args`, quietly, in a fresh store, one run at a time. When
/// `SUNDER_REQUIRE_NETNS` is set the network backend is forced to netns, so a machine
/// that should isolate nodes in namespaces cannot silently fall back to the proxies.
pub fn run(tag: &str, args: &[&str]) -> Finished {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let store = TempDir::new(tag);
    let mut cmd = sunder();
    cmd.args(["run", "--quiet"]).args(args).arg("--store").arg(store.path());
    if std::env::var_os("SUNDER_REQUIRE_NETNS").is_some() && !args.contains(&"--net") {
        cmd.args(["--net", "netns"]);
    }
    let out = cmd.output().expect("cannot start the sunder binary");
    finished(&out, store)
}

/// What `sunder run` (ended with `out`) left in `store/latest`.
pub fn finished(out: &std::process::Output, store: TempDir) -> Finished {
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
    Finished { code: out.status.code(), results, test, context, store }
}

/// On a root machine the run must have used namespaces (that is what these tests are for).
pub fn assert_backend(run: &Finished, expected_when_root: &str) {
    if running_as_root() {
        assert_eq!(run.test["net"], expected_when_root, "{}", run.summary());
    }
}

/// shared/data beside the repository (or `SUNDER_DATA`): the external histories.
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os("SUNDER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    assert!(
        dir.join("MANIFEST.tsv").exists(),
        "the external histories are missing at {}: put shared/ beside the repository or set SUNDER_DATA",
        dir.display()
    );
    dir
}
