//! The history as it is recorded: an append-only list of ops shared by every recording
//! thread, and a background thread that appends each new batch to `history.jsonl`.
//!
//! Recording stays cheap on the hot path: a push under a mutex, no clone, no channel, no
//! wake-up of the writer per op. Every [`BATCH_WINDOW`] the writer serializes what was added
//! since its last batch and writes it with one call, whole lines only, so a harness that is
//! SIGKILLed still leaves a readable history at most one window (well under 100 ms) behind.

use super::Op;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the writer appends what was recorded since its last batch.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// An append-only history, optionally mirrored to a JSONL file as it grows.
pub struct HistoryWriter {
    ops: Arc<Mutex<Vec<Op>>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl HistoryWriter {
    /// A history mirrored to `path` (created or truncated).
    pub fn create(path: &Path) -> io::Result<HistoryWriter> {
        let file = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        let ops = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (ops, done) = (ops.clone(), done.clone());
            std::thread::Builder::new()
                .name("history-writer".into())
                .spawn(move || write_loop(file, &ops, &done))?
        };
        Ok(HistoryWriter { ops, done, thread: Some(thread) })
    }

    /// A history kept in memory only (to measure what mirroring costs).
    pub fn in_memory() -> HistoryWriter {
        HistoryWriter {
            ops: Arc::new(Mutex::new(Vec::new())),
            done: Arc::new(AtomicBool::new(true)),
            thread: None,
        }
    }

    /// Appends the op `build` makes from the next index, atomically with taking that index,
    /// so indices (and anything `build` stamps, such as time) grow in history order.
    pub fn push_with(&self, build: impl FnOnce(u64) -> Op) -> u64 {
        let mut ops = self.ops.lock().expect("history lock");
        let index = ops.len() as u64;
        ops.push(build(index));
        index
    }

    /// Appends `op` as it is.
    pub fn append(&self, op: Op) {
        self.ops.lock().expect("history lock").push(op);
    }

    /// Stops recording: writes the last batch, fsyncs the file, and returns every op.
    pub fn finish(mut self) -> io::Result<Vec<Op>> {
        self.stop()?;
        Ok(std::mem::take(&mut *self.ops.lock().expect("history lock")))
    }

    fn stop(&mut self) -> io::Result<()> {
        self.done.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(io::Error::other("history writer panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn write_loop(mut file: File, ops: &Mutex<Vec<Op>>, done: &AtomicBool) -> io::Result<()> {
    let mut written = 0usize;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    loop {
        // Read `done` before the batch, so the batch after it was set is the last one.
        let last = done.load(Ordering::Acquire);
        {
            let ops = ops.lock().expect("history lock");
            for op in &ops[written..] {
                serde_json::to_writer(&mut buf, op)?;
                buf.push(b'\n');
            }
            written = ops.len();
        }
        if !buf.is_empty() {
            file.write_all(&buf)?;
            buf.clear();
        }
        if last {
            return file.sync_all();
        }
        std::thread::sleep(BATCH_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, read_jsonl};
    use serde_json::json;
    use std::time::Instant;

    /// A scratch folder for one test, removed when the test ends, also when it fails.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("sunder-writer-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn round_trips_ops_through_a_file() {
        let dir = Scratch::new("round-trip");
        let path = dir.0.join("history.jsonl");
        let w = HistoryWriter::create(&path).unwrap();
        let ops = vec![
            Op::client(0, 10, 0, OpType::Invoke, "write", json!(1)).with_key("k1"),
            Op::client(1, 20, 0, OpType::Ok, "write", json!(1)).with_key("k1"),
            Op::client(2, 30, 1, OpType::Invoke, "cas", json!([1, 2])).with_key("k1"),
            Op::client(3, 40, 1, OpType::Fail, "cas", json!([1, 2])).with_key("k1"),
        ];
        for op in &ops {
            assert_eq!(w.push_with(|_| op.clone()), op.index);
        }
        assert_eq!(w.finish().unwrap(), ops);
        let h = read_jsonl(&path).unwrap();
        assert_eq!(h.ops(), &ops[..]);
    }

    #[test]
    fn flushes_without_being_finished() {
        let dir = Scratch::new("flush");
        let path = dir.0.join("history.jsonl");
        let w = HistoryWriter::create(&path).unwrap();
        w.append(Op::client(0, 1, 0, OpType::Invoke, "read", json!(null)));
        // Wait on the observable outcome rather than a fixed sleep.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap().lines().count() < 1 {
            assert!(Instant::now() < deadline, "op never reached the file");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(w);
    }
}
