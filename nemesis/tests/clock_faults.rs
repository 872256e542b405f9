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
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let out = Command::new("bash").args(["-c", "sleep 0.2; date +%s"]).envs(env).output().unwrap();
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
