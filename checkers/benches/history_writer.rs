//! What recording a history costs per op: the caller's side (clone and channel send) and the
//! writer thread's side (JSON and the write), measured as CPU time over 1,000,000 ops shaped
//! like the register workload's. Run: `cargo bench -p sunder-check --bench history_writer`.

use serde_json::json;
use std::time::Instant;
use sunder_check::history::{HistoryWriter, Op, OpType};

fn cpu_seconds() -> f64 {
    let mut ru: libc_rusage::Rusage = Default::default();
    libc_rusage::self_usage(&mut ru);
    ru.seconds()
}

/// Process CPU time from `/proc/self/stat` (utime + stime, in clock ticks of 1/100 s).
mod libc_rusage {
    #[derive(Default)]
    pub struct Rusage(f64);
    pub fn self_usage(out: &mut Rusage) {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        // After the command name: state is field 0, utime field 11, stime field 12.
        out.0 = (ticks(11) + ticks(12)) / 100.0;
    }
    impl Rusage {
        pub fn seconds(&self) -> f64 {
            self.0
        }
    }
}

fn main() {
    const N: u64 = 1_000_000;
    let ops: Vec<Op> = (0..N)
        .map(|i| {
            let kind = if i % 2 == 0 { OpType::Invoke } else { OpType::Ok };
            let mut op =
                Op::client(i, i * 1000, i % 10, kind, "write", json!(i)).with_key(format!("k{}", i % 5));
            op.node = Some("n1".into());
            op
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("sunder-bench-writer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for round in 1..=3 {
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        let w = HistoryWriter::create(&dir.join("history.jsonl")).expect("create");
        for op in &ops {
            w.append(op.clone());
        }
        let sent = wall.elapsed().as_secs_f64();
        let n = w.finish().expect("finish").len() as u64;
        assert_eq!(n, N);
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        let bytes = std::fs::metadata(dir.join("history.jsonl")).map(|m| m.len()).unwrap_or(0);
        println!(
            "round {round}: {N} ops, caller side (clone and push) {:.2} us/op, total CPU {:.2} us/op, wall {:.2} s, {:.0} MB",
            sent / N as f64 * 1e6,
            cpu / N as f64 * 1e6,
            wall,
            bytes as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
