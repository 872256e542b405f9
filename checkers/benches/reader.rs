//! How close `read_jsonl` comes to disk speed: the same `history.jsonl` read by the history
//! reader and, as the anchor, read whole with `std::fs::read` and with its lines counted by
//! `memchr`, in one process on one machine, so "reader / disk" compares like with like.
//!
//! Run: `cargo bench -p sunder-check --bench reader -- [FILE]`. Without `FILE` (or
//! `SUNDER_BENCH_HISTORY`), a register-shaped history of 2,000,000 ops is written first with
//! `HistoryWriter`, the shape of a 60 s single-kv run. The file should be in the page cache
//! (the first round warms it), so the anchor is memory speed: the speed the reader is after.
//! `--reader-only` leaves the anchor out, for a profile of the reader alone. Each round also
//! times `stream_jsonl`, the chunk-at-a-time read `sunder check` and `sunder report` use;
//! `--stream-only` times that alone, for its profile. The JSONL rows read the text alone
//! (`read_jsonl_text`); when the file has a binary mirror beside it (`history.mirror`, which
//! a run's writer keeps), each round also times both reads as `sunder check` does them,
//! from the mirror.

mod support;

use serde_json::json;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;
use sunder_check::history::{
    HistoryWriter, Op, OpType, mirror_path, read_jsonl, read_jsonl_text, stream_jsonl, stream_jsonl_text,
};
use support::cpu_seconds;

const ROUNDS: usize = 3;

fn main() {
    let given = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .or_else(|| std::env::var("SUNDER_BENCH_HISTORY").ok())
        .map(PathBuf::from);
    let scratch = std::env::temp_dir().join(format!("sunder-bench-reader-{}", std::process::id()));
    let path = match given {
        Some(p) => p,
        None => write_register_history(&scratch.join("history.jsonl"), 2_000_000),
    };
    let reader_only = std::env::args().any(|a| a == "--reader-only");
    let stream_only = std::env::args().any(|a| a == "--stream-only");
    let bytes = std::fs::metadata(&path).expect("history file").len() as f64;
    println!("{}: {:.0} MB", path.display(), bytes / 1e6);
    // The anchor and the JSONL rows read the text; the mirror's rows, when the file has
    // one, read what `sunder check` reads.
    let mirror = mirror_path(&path).and_then(|m| std::fs::metadata(m).ok());
    let has_mirror = mirror.is_some();
    if let Some(m) = mirror {
        println!("mirror beside it: {:.0} MB", m.len() as f64 / 1e6);
    }
    for round in 1..=ROUNDS {
        if reader_only {
            let t = Instant::now();
            let history = read_jsonl_text(&path).expect("a valid history");
            println!("round {round}: read_jsonl {} ops in {:.3} s", history.len(), t.elapsed().as_secs_f64());
            continue;
        }
        if stream_only {
            let (n, s, c) = time_stream(&path, has_mirror);
            println!("round {round}: stream_jsonl {n} ops in {s:.3} s wall, {c:.2} s CPU");
            continue;
        }
        let t = Instant::now();
        let text = std::fs::read(&path).expect("read");
        let read_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let lines = memchr::memchr_iter(b'\n', &text).count();
        let count_s = t.elapsed().as_secs_f64() + read_s;
        drop(text);

        // The floor of any reader that returns a `History`, a binary mirror's included: a
        // fresh vector of as many ops, each with a key, a node and a number.
        let template = Op::client(0, 1, 2, OpType::Ok, "write", json!(7)).with_key("k1").with_node("n1");
        let t = Instant::now();
        let ops = vec![template; lines];
        let fill_s = t.elapsed().as_secs_f64();
        drop(ops);

        let (read, reader_s, reader_cpu) = time_read(&path, false);
        assert_eq!(read, lines, "one op per line");

        let (streamed, stream_s, stream_cpu) = time_stream(&path, false);
        assert_eq!(streamed as usize, lines, "one op per line, streamed");

        let mbps = |s: f64| bytes / 1e6 / s;
        println!(
            "round {round}: {lines} lines; fs::read {:.0} MB/s, read + memchr line count {:.0} MB/s \
             ({count_s:.3} s); filling a Vec of {lines} ops {fill_s:.3} s; \
             read_jsonl {:.3} s wall, {:.2} s CPU, {:.0} MB/s = {:.2} of the read + count anchor; \
             stream_jsonl {:.3} s wall, {:.2} s CPU, {:.0} MB/s = {:.2} of the anchor",
            mbps(read_s),
            mbps(count_s),
            reader_s,
            reader_cpu,
            mbps(reader_s),
            count_s / reader_s,
            stream_s,
            stream_cpu,
            mbps(stream_s),
            count_s / stream_s,
        );
        if has_mirror {
            let (read, m_s, m_cpu) = time_read(&path, true);
            assert_eq!(read, lines, "one op per line, mirrored");
            let (streamed, ms_s, ms_cpu) = time_stream(&path, true);
            assert_eq!(streamed as usize, lines, "one op per line, mirrored and streamed");
            println!(
                "round {round}, from the mirror: read_jsonl {m_s:.3} s wall, {m_cpu:.2} s CPU = {:.2} of the \
                 anchor; stream_jsonl {ms_s:.3} s wall, {ms_cpu:.2} s CPU = {:.2} of the anchor",
                count_s / m_s,
                count_s / ms_s,
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Times a whole read of the file into a `History` (or, `mirrored`, of its mirror when
/// current). Returns the ops read and the wall and CPU seconds.
fn time_read(path: &Path, mirrored: bool) -> (usize, f64, f64) {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let history = if mirrored { read_jsonl(path) } else { read_jsonl_text(path) }.expect("a valid history");
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    // Dropped once timed: freeing the history is not reading it.
    (history.len(), wall, cpu)
}

/// Times what `sunder check` and `sunder report` of a run folder do: the file parsed (or,
/// `mirrored`, its mirror decoded when current) a chunk at a time, each chunk's ops handed
/// on and dropped. Returns the ops streamed and the wall and CPU seconds.
fn time_stream(path: &Path, mirrored: bool) -> (u64, f64, f64) {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let sink = |ops: Vec<Op>| {
        drop(ops);
        ControlFlow::Continue(())
    };
    let streamed = if mirrored { stream_jsonl(path, sink) } else { stream_jsonl_text(path, sink) };
    let streamed = streamed.expect("a valid history");
    (streamed, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

/// Writes `n` ops shaped like a single-kv register run's (reads, writes and cas on five
/// keys, ten clients, a node each) and returns the file's path.
fn write_register_history(path: &Path, n: u64) -> PathBuf {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("scratch folder");
    let w = HistoryWriter::create(path).expect("create");
    for i in 0..n {
        let call = i / 2;
        let kind = if i % 2 == 0 { OpType::Invoke } else { OpType::Ok };
        let (f, value) = match call % 3 {
            0 => ("read", if kind == OpType::Invoke { json!(null) } else { json!(call / 3) }),
            1 => ("write", json!(call)),
            _ => ("cas", json!([call / 3, call])),
        };
        w.append(
            Op::client(i, i * 29_000, call % 10, kind, f, value)
                .with_key(format!("k{}", call % 5))
                .with_node("n1"),
        );
    }
    w.finish().expect("finish");
    path.to_path_buf()
}
