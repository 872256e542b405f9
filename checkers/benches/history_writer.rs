//! What recording a history costs per op: the caller's side (clone and push) and the
//! writer thread's side (JSON and the write), measured as CPU time over 1,000,000 ops shaped
//! like the register workload's. Run: `cargo bench -p sunder-check --bench history_writer`.

mod support;

use serde_json::json;
use std::time::Instant;
use sunder_check::history::{HistoryWriter, Op, OpType};
use support::cpu_seconds;

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
