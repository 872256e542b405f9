//! Clock faults for real: processes started under libfaketime with the env the Clock
//! gives, whose wall clock is read back while the control file is rewritten.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use sunder_nemesis::clock::Clock;
use support::*;

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A perl process that prints its wall clock (`time`, whole seconds) for each line it
/// reads: one process all along, so it shows a change taking effect without a restart.
/// (bash's `$EPOCHREALTIME` does not see libfaketime's re-read offsets; perl does.)
struct ClockReader {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl ClockReader {
    fn start(env: Vec<(String, String)>) -> ClockReader {
        let mut child = Command::new("perl")
            .args(["-e", "$| = 1; while (<STDIN>) { print time, \"\\n\" }"])
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start perl");
        let out = BufReader::new(child.stdout.take().unwrap());
        ClockReader { child, out }
    }

    fn offset(&mut self) -> f64 {
        writeln!(self.child.stdin.as_mut().unwrap(), "x").unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().parse::<f64>().unwrap_or_else(|_| panic!("bad clock line {line:?}")) - now_secs()
    }
}

impl Drop for ClockReader {
    fn drop(&mut self) {
        // SIGKILL, as teardown's last resort does, then what teardown does after it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        sunder_nemesis::clock::remove_faketime_leftovers([self.child.id()]);
    }
}

#[test]
fn skew_moves_a_running_process_wall_clock_at_once() {
    let dir = TempDir::new("skew");
    let clock = Clock::new(&dir.0, &nodes(2)).unwrap();
    let mut reader = ClockReader::start(clock.faketime_env("n1").unwrap());
    assert!(reader.offset().abs() < 2.0, "clock skewed before any fault");
    clock.skew("n1", 1000.0).unwrap();
    let ahead = reader.offset();
    assert!((ahead - 1000.0).abs() < 2.0, "expected +1000 s, saw {ahead}");
    clock.skew("n1", -250.5).unwrap();
    let behind = reader.offset();
    assert!((behind + 250.5).abs() < 2.0, "expected -250.5 s, saw {behind}");
    assert_eq!(clock.offset("n1").unwrap(), -250.5);
    assert_eq!(clock.offset("n2").unwrap(), 0.0, "skewing n1 touched n2");
    clock.reset().unwrap();
    assert!(reader.offset().abs() < 2.0);
}

#[test]
fn faketime_env_leaves_the_monotonic_clock_alone() {
    let dir = TempDir::new("mono");
    let clock = Clock::new(&dir.0, &nodes(1)).unwrap();
    clock.skew("n1", 5000.0).unwrap();
    let env = clock.faketime_env("n1").unwrap();
    assert!(env.contains(&("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into())));
    // `cat /proc/uptime` is kernel text, but `date` reads CLOCK_REALTIME and must move,
    // while a monotonic-based sleep must still take its real time.
    let t = std::time::Instant::now();
    let child = Command::new("bash")
        .args(["-c", "sleep 0.2; date +%s"])
        .envs(env)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    // bash execs its last command, and the exec'd `date` does not remove the files its
    // pid's libfaketime made: even a clean exit can leave them.
    sunder_nemesis::clock::remove_faketime_leftovers([pid]);
    assert!(sunder_nemesis::clock::faketime_files(pid).iter().all(|f| !f.exists()));
    assert!(t.elapsed() >= Duration::from_millis(200) && t.elapsed() < Duration::from_secs(5));
    let shown: f64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    assert!((shown - now_secs() - 5000.0).abs() < 2.0, "date showed {shown}");
}

#[tokio::test]
async fn strobe_flips_the_clock_until_stopped_then_returns_to_real_time() {
    let dir = TempDir::new("strobe");
    let clock = Clock::new(&dir.0, &nodes(1)).unwrap();
    let env = clock.faketime_env("n1").unwrap();
    let offsets = BTreeMap::from([("n1".to_string(), 300.0)]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let strober = clock.clone();
    let task = tokio::spawn(async move {
        strober
            .strobe(&offsets, Duration::from_millis(40), async {
                let _ = rx.await;
            })
            .await
    });
    let samples = tokio::task::spawn_blocking(move || {
        let mut reader = ClockReader::start(env);
        (0..30)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(15));
                reader.offset()
            })
            .collect::<Vec<f64>>()
    })
    .await
    .unwrap();
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert!(samples.iter().any(|s| (s - 300.0).abs() < 2.0), "never saw +300: {samples:?}");
    assert!(samples.iter().any(|s| s.abs() < 2.0), "never saw real time: {samples:?}");
    assert_eq!(clock.offset("n1").unwrap(), 0.0);
}

#[test]
fn clock_without_libfaketime_says_how_to_install_it() {
    let dir = TempDir::new("nolib");
    let err = Clock::with_library(&dir.0, &nodes(1), std::path::Path::new("/nonexistent/libfaketime.so.1"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("apt-get install -y libfaketime"), "{err}");
}

/// A `sleep` under libfaketime, SIGKILLed once libfaketime has made its files, and reaped:
/// what a node killed with clock faults leaves. Returns its pid.
fn sigkilled_faketime_process(clock: &Clock) -> u32 {
    let mut child = Command::new("sleep").arg("30").envs(clock.faketime_env("n1").unwrap()).spawn().unwrap();
    let pid = child.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sunder_nemesis::clock::faketime_files(pid).iter().all(|f| f.exists()) {
        assert!(std::time::Instant::now() < deadline, "libfaketime never made its files for {pid}");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    pid
}

#[test]
fn removes_what_libfaketime_leaves_in_dev_shm_for_a_sigkilled_node() {
    let dir = TempDir::new("shm");
    let clock = Clock::new(&dir.0, &nodes(1)).unwrap();
    let pid = sigkilled_faketime_process(&clock);
    let files = sunder_nemesis::clock::faketime_files(pid);
    assert!(files.iter().all(|f| f.exists()), "SIGKILL should leave {files:?} behind");
    let removed = sunder_nemesis::clock::remove_faketime_leftovers([pid]);
    assert_eq!(removed, files.to_vec());
    assert!(files.iter().all(|f| !f.exists()), "{files:?} still in /dev/shm after teardown");
}

#[test]
fn keeps_the_faketime_files_of_a_process_still_running() {
    let dir = TempDir::new("shm-alive");
    let clock = Clock::new(&dir.0, &nodes(1)).unwrap();
    let mut child = Command::new("sleep").arg("30").envs(clock.faketime_env("n1").unwrap()).spawn().unwrap();
    let pid = child.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sunder_nemesis::clock::faketime_files(pid)[0].exists() {
        assert!(std::time::Instant::now() < deadline, "libfaketime never made its files");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sunder_nemesis::clock::remove_faketime_leftovers([pid]).is_empty());
    assert!(sunder_nemesis::clock::faketime_files(pid)[0].exists());
    child.kill().unwrap();
    child.wait().unwrap();
    sunder_nemesis::clock::remove_faketime_leftovers([pid]);
}

#[test]
fn cleanup_of_a_dead_run_removes_its_nodes_faketime_files() {
    let dir = TempDir::new("shm-cleanup");
    let clock = Clock::new(&dir.0, &nodes(1)).unwrap();
    let pid = sigkilled_faketime_process(&clock);
    let pid_file = dir.0.join("n1.pid");
    std::fs::write(&pid_file, format!("{pid}\n")).unwrap();
    let dead = sunder_nemesis::cleanup::DeadRun { run_id: run_id("shm"), pid_files: vec![pid_file] };
    let found = sunder_nemesis::cleanup::find_leftovers(&[dead]).unwrap();
    assert_eq!(found.faketime_pids, vec![pid]);
    let report = sunder_nemesis::cleanup::remove(&found);
    assert_eq!(report.faketime_files, sunder_nemesis::clock::faketime_files(pid).to_vec());
    assert!(sunder_nemesis::clock::faketime_files(pid).iter().all(|f| !f.exists()));
}
