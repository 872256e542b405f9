//! The remote backend against real sshd daemons: each test builds its own hosts (network
//! namespaces with an sshd each, see `support/sshd.rs`) and runs the real `sunder` binary
//! inside the fixture's control namespace with `--hosts`, so every SSH connection, client
//! request and peer link stays on the fixture's private /24. Root only: without root they
//! skip loudly, and fail when `SUNDER_REQUIRE_NETNS` is set (CI).
//!
//! The hosts share this machine's process table and file system, which is what lets the
//! tests look for leftovers (a process carrying the run's `SUNDER_RUN_ID`, a chain, a file
//! under a host's work dir) directly.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use support::sshd::{SSH_PORT, SshdHosts, carries_run_id};
use support::{Finished, TempDir};

/// One test at a time: each builds hosts and runs a cluster, and two at once on a small CI
/// machine would only measure the machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `cmd` (a `sunder` inside the control namespace) to the end.
fn output(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("cannot start sunder")
}

/// `sunder run --hosts FILE` with `args`, in the control namespace, into a fresh store.
fn remote_run(hosts: &SshdHosts, tag: &str, file: &Path, args: &[&str]) -> Finished {
    let store = TempDir::new(tag);
    let mut cmd = hosts.in_control(Path::new(env!("CARGO_BIN_EXE_sunder")));
    cmd.args(["run", "--quiet", "--hosts"]).arg(file).args(args).arg("--store").arg(store.path());
    support::finished(&output(cmd), store)
}

/// raft-kv on `hosts` under `nemesis`, with the given time limit, nemesis interval,
/// recovery and seed (seconds as the CLI takes them).
fn raft_on_hosts(hosts: &SshdHosts, tag: &str, nemesis: &str, timing: [&str; 3], seed: &str) -> Finished {
    let [time_limit, interval, recovery] = timing;
    let args = [
        "--system",
        "raft-kv",
        "--nemesis",
        nemesis,
        "--time-limit",
        time_limit,
        "--nemesis-interval",
        interval,
        "--recovery",
        recovery,
        "--seed",
        seed,
    ];
    remote_run(hosts, tag, &hosts.hosts_file(), &args)
}

/// Everything of run `run_id` still on the hosts: processes carrying its id, its chain in
/// any host's iptables, entries under any host's work dir.
fn leftovers(hosts: &SshdHosts, run_id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, h) in hosts.hosts().iter().enumerate() {
        for pid in hosts.processes_on(i) {
            if carries_run_id(pid, run_id) {
                found.push(format!("{}: process {pid} of the run", h.node));
            }
        }
        let rules = hosts.iptables_rules(i);
        if rules.contains(&format!("SUNDER-{run_id}")) {
            found.push(format!("{}: chain SUNDER-{run_id} in\n{rules}", h.node));
        }
        for e in std::fs::read_dir(&h.workdir).into_iter().flatten().flatten() {
            found.push(format!("{}: {} is left", h.node, e.path().display()));
        }
    }
    found
}

/// Asserts that no process, chain or file of `run` is left on any host.
fn assert_nothing_left(hosts: &SshdHosts, run: &Finished) {
    let run_id = run.test["run_id"].as_str().expect("run_id");
    let left = leftovers(hosts, run_id);
    assert!(left.is_empty(), "the run left {left:#?}");
}

/// The run's `sunder.log` (empty when it is missing).
fn sunder_log(run: &Finished) -> String {
    std::fs::read_to_string(run.store.path().join("latest").join("sunder.log")).unwrap_or_default()
}

#[test]
fn raft_kv_on_sshd_hosts_stays_linearizable_under_partitions_and_kills_and_leaves_nothing() {
    if !support::root_or_skip("raft_kv_on_sshd_hosts") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("raft", 3);
    let run = raft_on_hosts(&hosts, "remote-raft", "partition,kill", ["15", "2", "5"], "21");
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.test["net"], "remote", "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());

    // The history has what a netns run's has: client ops on every node and the nemesis's.
    let folder = run.store.path().join("latest");
    let history = std::fs::read_to_string(folder.join("history.jsonl")).expect("history.jsonl");
    let ops: Vec<Value> = history.lines().map(|l| serde_json::from_str(l).expect("a JSON op")).collect();
    let nemesis_fs: std::collections::BTreeSet<&str> =
        ops.iter().filter(|o| o["process"] == "nemesis").filter_map(|o| o["f"].as_str()).collect();
    for f in ["start-partition", "stop-partition", "start-kill", "stop-kill"] {
        assert!(nemesis_fs.contains(f), "no {f} op; nemesis ops {nemesis_fs:?}\n{}", run.summary());
    }
    let ok = ops.iter().filter(|o| o["type"] == "ok" && o["process"] != "nemesis").count();
    assert!(ok > 50, "only {ok} ok client ops\n{}", run.summary());
    for h in hosts.hosts() {
        let dir = folder.join("nodes").join(&h.node);
        assert!(dir.join("log").is_file(), "node {}'s log was not collected\n{}", h.node, run.summary());
        let data = std::fs::read_dir(dir.join("data")).map(|d| d.count()).unwrap_or(0);
        assert!(data > 0, "node {}'s data dir was not collected\n{}", h.node, run.summary());
    }
    let log = std::fs::read_to_string(folder.join("sunder.log")).unwrap_or_default();
    assert!(log.contains("iptables-restore --noflush"), "remote commands are not in sunder.log:\n{log}");

    assert_nothing_left(&hosts, &run);

    // A netns run of the same system and workload reports the same models.
    let twin = support::run(
        "remote-raft-netns-twin",
        &["--system", "raft-kv", "--net", "netns", "--nemesis", "none", "--time-limit", "3", "--seed", "21"],
    );
    let keys = |r: &Finished| -> Vec<String> {
        r.results["models"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    assert_eq!(keys(&run), keys(&twin), "remote:\n{}\nnetns:\n{}", run.summary(), twin.summary());
}

/// The nemesis ops of a run's history.
fn nemesis_ops(run: &Finished) -> Vec<Value> {
    let history = std::fs::read_to_string(run.store.path().join("latest").join("history.jsonl"))
        .expect("history.jsonl");
    history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON op"))
        .filter(|o| o["process"] == "nemesis")
        .collect()
}

#[test]
fn raft_kv_on_sshd_hosts_stays_linearizable_under_pauses_and_leaves_no_process_stopped_or_alive() {
    if !support::root_or_skip("raft_kv_pauses_on_sshd_hosts") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("pause", 3);
    let run = raft_on_hosts(&hosts, "remote-pause", "partition,kill,pause", ["15", "1.5", "5"], "23");
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());

    let ops = nemesis_ops(&run);
    for op in &ops {
        assert!(op["value"].get("error").is_none(), "a fault failed: {op}\n{}", run.summary());
    }
    // Every pause stopped some node on its host, and every one was ended.
    let starts: Vec<&Value> = ops.iter().filter(|o| o["f"] == "start-pause").collect();
    let stops = ops.iter().filter(|o| o["f"] == "stop-pause").count();
    assert!(!starts.is_empty(), "no start-pause op; nemesis ops {ops:#?}\n{}", run.summary());
    assert_eq!(starts.len(), stops, "a pause was never ended: {ops:#?}");
    let paused_some = starts.iter().any(|o| o["value"]["nodes"].as_array().is_some_and(|n| !n.is_empty()));
    assert!(paused_some, "no pause hit a node: {starts:#?}\n{}", run.summary());
    let log = sunder_log(&run);
    assert!(log.contains("pause node"), "the remote pause is not in sunder.log:\n{log}");

    // Nothing of the run is left on any host, stopped or running.
    assert_nothing_left(&hosts, &run);
}

#[test]
fn raft_kv_on_sshd_hosts_stays_linearizable_under_corrupt_faults_and_names_the_damaged_files() {
    if !support::root_or_skip("raft_kv_corrupt_on_sshd_hosts") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("corrupt", 3);
    let run = raft_on_hosts(&hosts, "remote-corrupt", "corrupt", ["15", "2", "5"], "29");
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());

    let ops = nemesis_ops(&run);
    for op in &ops {
        assert!(op["value"].get("error").is_none(), "a fault failed: {op}\n{}", run.summary());
    }
    // A corrupt fault that found a data file names it and what was done to it.
    let damaged: Vec<&Value> =
        ops.iter().filter(|o| o["f"] == "start-corrupt" && o["value"]["file"].is_string()).collect();
    assert!(!damaged.is_empty(), "no corrupt fault damaged a file: {ops:#?}\n{}", run.summary());
    for op in &damaged {
        assert!(op["value"]["node"].is_string(), "no node named: {op}");
        assert!(op["value"]["size"].as_u64().is_some_and(|s| s > 0), "no file size: {op}");
    }
    for stop in ops.iter().filter(|o| o["f"] == "stop-corrupt") {
        assert_eq!(stop["value"]["came-back"], true, "every damaged node is running again: {stop}");
    }
    // The damage reached the file on the host: raft-kv reports every flipped bit (a broken
    // checksum) in its log, which was written on the host and collected at teardown.
    let flips: Vec<&&Value> = damaged.iter().filter(|o| o["value"]["fault"] == "bitflip").collect();
    assert!(!flips.is_empty(), "this seed draws a bit flip: {damaged:#?}");
    for h in hosts.hosts() {
        let must_detect = flips.iter().filter(|o| o["value"]["node"] == h.node.as_str()).count();
        let node_log =
            std::fs::read_to_string(run.store.path().join("latest").join("nodes").join(&h.node).join("log"))
                .unwrap_or_default();
        let detected =
            node_log.lines().filter(|l| l.contains("cut a torn") || l.contains("sunder: error:")).count();
        assert!(
            detected >= must_detect,
            "{} should have reported {must_detect} damaged file(s):\n{node_log}",
            h.node
        );
    }
    let log = sunder_log(&run);
    assert!(log.contains("data file"), "the remote file copies are not in sunder.log:\n{log}");

    assert_nothing_left(&hosts, &run);
}

#[test]
fn raft_kv_on_sshd_hosts_stays_linearizable_under_clock_skew_written_on_the_hosts() {
    if !support::root_or_skip("raft_kv_clock_on_sshd_hosts") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("clock", 3);
    let run = raft_on_hosts(&hosts, "remote-clock", "clock", ["10", "1.5", "3"], "31");
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.results["models"]["linearizable"], true, "{}", run.summary());
    let ops = nemesis_ops(&run);
    for op in &ops {
        assert!(op["value"].get("error").is_none(), "a fault failed: {op}\n{}", run.summary());
    }
    assert!(ops.iter().any(|o| o["f"] == "start-clock"), "no start-clock op: {ops:#?}");
    let run_id = run.test["run_id"].as_str().expect("run_id").to_string();
    // Offsets other than zero were written into the nodes' control files on their hosts.
    let log = sunder_log(&run);
    let skewed = log.lines().any(|l| l.contains("clock to ") && !l.contains("clock to +0.000"));
    assert!(skewed, "no skew was written on a host:\n{log}");
    // And each node was started preloading libfaketime, reading the control file on its host.
    for h in hosts.hosts() {
        let started =
            log.lines().find(|l| l.contains(&format!("start node {}:", h.node))).unwrap_or_default();
        let file = format!("FAKETIME_TIMESTAMP_FILE={}/{run_id}/{}/faketime", h.workdir.display(), h.node);
        assert!(
            started.contains("LD_PRELOAD=") && started.contains(&file),
            "{} was not started on its clock file:\n{started}",
            h.node
        );
    }
    let left = leftovers(&hosts, &run_id);
    assert!(left.is_empty(), "the run left {left:#?}");
}

#[test]
fn sigkilled_harness_then_cleanup_hosts_leaves_no_node_chain_or_file() {
    if !support::root_or_skip("sigkilled_harness_then_cleanup_hosts") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("sigkill", 3);
    let file = hosts.hosts_file();
    let store = TempDir::new("remote-sigkill");
    let mut cmd = hosts.in_control(Path::new(env!("CARGO_BIN_EXE_sunder")));
    cmd.args(["run", "--quiet", "--system", "raft-kv", "--nemesis", "partition", "--nemesis-interval", "1"])
        .args(["--time-limit", "120", "--seed", "4", "--hosts"])
        .arg(&file)
        .arg("--store")
        .arg(store.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut harness = cmd.spawn().expect("start sunder");
    // Wait until the run is in full swing: its nodes up on every host and a partition
    // written into a chain.
    let deadline = Instant::now() + Duration::from_secs(90);
    let run_id = loop {
        assert!(Instant::now() < deadline, "the run never got going");
        assert!(harness.try_wait().expect("try_wait").is_none(), "the harness ended early");
        std::thread::sleep(Duration::from_millis(200));
        let test = std::fs::read_to_string(store.path().join("latest").join("test.json")).unwrap_or_default();
        let Ok(test) = serde_json::from_str::<Value>(&test) else { continue };
        let run_id = test["run_id"].as_str().unwrap_or_default().to_string();
        let nodes_up = (0..3).all(|i| hosts.processes_on(i).iter().any(|p| carries_run_id(*p, &run_id)));
        let cut = (0..3).any(|i| hosts.iptables_rules(i).contains("-j DROP"));
        if nodes_up && cut {
            break run_id;
        }
    };
    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");

    let mut cleanup = hosts.in_control(Path::new(env!("CARGO_BIN_EXE_sunder")));
    cleanup.args(["cleanup", "--hosts"]).arg(&file).arg("--store").arg(store.path());
    let out = output(cleanup);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("1 dead run(s) removed"), "{said}");
    let left = leftovers(&hosts, &run_id);
    assert!(left.is_empty(), "after cleanup the run still left {left:#?}\n{said}");
    let sockets = std::env::temp_dir().join(format!("sunder-ssh-{run_id}"));
    assert!(!sockets.exists(), "cleanup left {}", sockets.display());
}

/// Runs with `file` and returns (exit code, stderr).
fn refused_run(hosts: &SshdHosts, tag: &str, file: &Path) -> (Option<i32>, String) {
    let store = TempDir::new(tag);
    let mut cmd = hosts.in_control(Path::new(env!("CARGO_BIN_EXE_sunder")));
    cmd.args(["run", "--quiet", "--system", "raft-kv", "--time-limit", "5", "--hosts"])
        .arg(file)
        .arg("--store")
        .arg(store.path());
    let out = output(cmd);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_host_that_refuses_the_connection_is_named_before_anything_starts() {
    if !support::root_or_skip("a_host_that_refuses_the_connection") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("refused", 3);
    // Nothing listens on n2's port + 1.
    let file = hosts.write_hosts_file(
        "refusing.toml",
        |i| if i == 1 { SSH_PORT + 1 } else { SSH_PORT },
        |_| String::new(),
    );
    let (code, stderr) = refused_run(&hosts, "remote-refused", &file);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("host n2 (root@"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    for (i, h) in hosts.hosts().iter().enumerate() {
        assert!(std::fs::read_dir(&h.workdir).expect("work dir").next().is_none(), "{} got files", h.node);
        assert!(!hosts.iptables_rules(i).contains("SUNDER-"), "{} got a chain", h.node);
    }
}

#[test]
fn a_host_without_iptables_is_named_before_anything_starts() {
    if !support::root_or_skip("a_host_without_iptables") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("noiptables", 3);
    // /usr/sbin, where iptables lives, is not on n3's PATH.
    let file = hosts.write_hosts_file(
        "no-iptables.toml",
        |_| SSH_PORT,
        |i| if i == 2 { "path = \"/usr/bin:/bin\"\n".to_string() } else { String::new() },
    );
    let (code, stderr) = refused_run(&hosts, "remote-noiptables", &file);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("host n3 (root@"), "{stderr}");
    assert!(stderr.contains("iptables is not on the PATH"), "{stderr}");
    for (i, h) in hosts.hosts().iter().enumerate() {
        assert!(std::fs::read_dir(&h.workdir).expect("work dir").next().is_none(), "{} got files", h.node);
        assert!(!hosts.iptables_rules(i).contains("SUNDER-"), "{} got a chain", h.node);
    }
}

/// Seconds from the start of the run to "cluster healthy" in a run's sunder.log text.
fn seconds_to_healthy(log: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains("cluster healthy"))?;
    line.trim_start_matches('[').split(']').next()?.trim().parse().ok()
}

fn percentiles(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("min {:.1}, median {:.1}, p90 {:.1}, max {:.1}", at(0.0), at(0.5), at(0.9), at(1.0))
}

/// The numbers of docs/benchmarks.md's "Real hosts over SSH" section, printed, never
/// asserted: `cargo test -p sunder --release --test remote_runs -- --ignored --nocapture
/// measure_remote`. Start-up of a 5-node raft-kv cluster over SSH and on netns (run start to
/// "cluster healthy" in sunder.log), and how long a partition takes to be in force over SSH
/// (the backend's partition call, which returns once `iptables-restore` has returned on
/// every host) and its heal.
#[test]
#[ignore]
fn measure_remote_startup_and_partition_times() {
    if !support::root_or_skip("measure_remote") {
        return;
    }
    let _one = one_at_a_time();
    let rounds: usize = std::env::var("SUNDER_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let hosts = SshdHosts::start("bench", 5);
    let file = hosts.hosts_file();
    let quick = ["--system", "raft-kv", "--nemesis", "none", "--time-limit", "1", "--seed", "1"];
    let (mut remote, mut netns) = (Vec::new(), Vec::new());
    let startup_rounds: usize =
        std::env::var("SUNDER_BENCH_STARTUP_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(rounds);
    for r in 0..startup_rounds {
        let run = remote_run(&hosts, &format!("bench-remote-{r}"), &file, &quick);
        remote.push(seconds_to_healthy(&run.context).expect("remote: no cluster healthy line") * 1e3);
        let at = |what: &str| {
            run.context
                .lines()
                .find(|l| l.contains(what))
                .and_then(|l| l.trim_start_matches('[').split(']').next()?.trim().parse::<f64>().ok())
        };
        println!(
            "remote start-up, round {r}: hosts connected, checked, leased and chained at {:?} s, binary uploaded at {:?} s, healthy at {:?} s",
            at("network: remote"),
            at("start node n1"),
            at("cluster healthy")
        );
        let mut args = quick.to_vec();
        args.extend(["--nodes", "5", "--net", "netns"]);
        let run = support::run(&format!("bench-netns-{r}"), &args);
        netns.push(seconds_to_healthy(&run.context).expect("netns: no cluster healthy line") * 1e3);
    }
    if startup_rounds > 0 {
        println!("start 5-node raft-kv over SSH (ms): {}", percentiles(remote));
        println!("start 5-node raft-kv on netns (ms): {}", percentiles(netns));
    }

    let ctl = sunder_nemesis::net::namespace::NamespaceFile::open(hosts.control_ns()).expect("control ns");
    let configs = sunder::remote::hosts_file::load(&file).expect("hosts file");
    let sockets = TempDir::new("bench-sockets");
    let nodes_dir = TempDir::new("bench-nodes");
    let (cut, heal) = ctl
        .run_inside(|| {
            let remote = sunder_nemesis::net::remote::Remote::connect(
                "bench1",
                configs,
                sockets.path(),
                nodes_dir.path(),
                std::sync::Arc::new(|_: &str| {}),
            )
            .expect("connect");
            let nodes = remote.nodes().to_vec();
            let halves = sunder_nemesis::Grudge::between(&nodes[..2], &nodes[2..]);
            let mut trivial = Vec::new();
            for _ in 0..rounds * 10 {
                let t = Instant::now();
                remote.listed_rules(&nodes[0]).expect("iptables -S");
                trivial.push(t.elapsed().as_secs_f64() * 1e3);
            }
            println!("one remote command (iptables -S on one host) (ms): {}", percentiles(trivial));
            let (mut cut, mut heal) = (Vec::new(), Vec::new());
            for _ in 0..rounds * 10 {
                let t = Instant::now();
                remote.partition(&halves, sunder_nemesis::CutStyle::Drop).expect("partition");
                cut.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                remote.heal().expect("heal");
                heal.push(t.elapsed().as_secs_f64() * 1e3);
            }
            remote.teardown().expect("teardown");
            (cut, heal)
        })
        .expect("inside the control namespace");
    println!("partition in force over SSH, 5 hosts (ms): {}", percentiles(cut));
    println!("heal in force over SSH, 5 hosts (ms): {}", percentiles(heal));
}

#[test]
fn an_external_program_missing_on_the_hosts_fails_with_its_log_and_nothing_uploaded() {
    if !support::root_or_skip("an_external_program_missing_on_the_hosts") {
        return;
    }
    let _one = one_at_a_time();
    let hosts = SshdHosts::start("external", 3);
    let system = hosts.dir().join("missing.toml");
    std::fs::write(
        &system,
        "name = \"missing-kvd\"\ndoc = \"a program no host has\"\nnodes = 3\nmax_nodes = 5\n\
         protocol = \"sunder-http\"\nports = [\"client\"]\ndefault_nemesis = \"none\"\n\
         [start]\ncommand = \"/nonexistent/sunder-test-kvd\"\nargs = [\"--id\", \"{id}\", \"--listen\", \"{listen:client}\"]\n\
         [health]\nget = \"/status\"\n\
         [supports]\nworkloads = [\"register\"]\nbackends = [\"netns\"]\nfaults = [\"partition\"]\n",
    )
    .expect("write the system file");
    let store = TempDir::new("remote-external");
    let mut cmd = hosts.in_control(Path::new(env!("CARGO_BIN_EXE_sunder")));
    cmd.args(["run", "--quiet", "--time-limit", "2", "--system"])
        .arg(&system)
        .arg("--hosts")
        .arg(hosts.hosts_file())
        .arg("--store")
        .arg(store.path());
    let out = output(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(store.path().join("latest").join("sunder.log")).unwrap_or_default();
    assert_eq!(out.status.code(), Some(3), "{stderr}\n{log}");
    // The node's own log, read on its host, says why.
    assert!(stderr.contains("exited") && stderr.contains("/nonexistent/sunder-test-kvd"), "{stderr}\n{log}");
    assert!(!log.contains(": upload "), "an external system's hosts got an upload:\n{log}");
    for (i, h) in hosts.hosts().iter().enumerate() {
        assert!(std::fs::read_dir(&h.workdir).expect("work dir").next().is_none(), "{} kept files", h.node);
        assert!(!hosts.iptables_rules(i).contains("SUNDER-"), "{} kept a chain", h.node);
    }
}
