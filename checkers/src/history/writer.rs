//! Appends ops to `history.jsonl` while a run goes. A background thread owns the file and
//! flushes whenever its queue runs dry and at least every 100 ms, so a harness that is
//! SIGKILLed still leaves a readable history up to the last flush, and recording costs the
//! client path no more than a channel send.

use super::Op;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest time an op may sit in the buffer before it reaches the file.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// A handle that appends ops to a history file from any thread.
pub struct HistoryWriter {
    tx: Option<Sender<Op>>,
    thread: Option<JoinHandle<io::Result<u64>>>,
}

impl HistoryWriter {
    /// Creates (or truncates) `path` and starts the writer thread.
    pub fn create(path: &Path) -> io::Result<HistoryWriter> {
        let file = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        let (tx, rx) = mpsc::channel::<Op>();
        let thread =
            std::thread::Builder::new().name("history-writer".into()).spawn(move || write_loop(file, rx))?;
        Ok(HistoryWriter { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues one op for writing. Never blocks on disk.
    pub fn append(&self, op: &Op) {
        if let Some(tx) = &self.tx {
            // The thread only ends after `finish`, so a send cannot fail before then.
            let _ = tx.send(op.clone());
        }
    }

    /// A cheap clone of the sending side, for recorders on other threads.
    pub fn sender(&self) -> Option<Sender<Op>> {
        self.tx.clone()
    }

    /// Writes everything queued, fsyncs, and returns how many ops the file holds.
    pub fn finish(mut self) -> io::Result<u64> {
        self.close()
    }

    fn close(&mut self) -> io::Result<u64> {
        self.tx.take();
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(io::Error::other("history writer panicked"))),
            None => Ok(0),
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn write_loop(mut file: File, rx: mpsc::Receiver<Op>) -> io::Result<u64> {
    // Our own buffer, written whole: a kill between flushes leaves only complete lines.
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut written = 0u64;
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok(op) => {
                serde_json::to_writer(&mut buf, &op)?;
                buf.push(b'\n');
                written += 1;
                // Under load the queue rarely runs dry: bound the delay regardless.
                if last_flush.elapsed() >= FLUSH_INTERVAL || buf.len() >= 1 << 20 {
                    file.write_all(&buf)?;
                    buf.clear();
                    last_flush = Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if !buf.is_empty() {
                    file.write_all(&buf)?;
                    buf.clear();
                }
                last_flush = Instant::now();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    file.write_all(&buf)?;
    file.sync_all()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, read_jsonl};
    use serde_json::json;

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
            w.append(op);
        }
        assert_eq!(w.finish().unwrap(), 4);
        let h = read_jsonl(&path).unwrap();
        assert_eq!(h.ops(), &ops[..]);
    }

    #[test]
    fn flushes_without_being_finished() {
        let dir = Scratch::new("flush");
        let path = dir.0.join("history.jsonl");
        let w = HistoryWriter::create(&path).unwrap();
        w.append(&Op::client(0, 1, 0, OpType::Invoke, "read", json!(null)));
        // Wait on the observable outcome rather than a fixed sleep.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap().lines().count() < 1 {
            assert!(Instant::now() < deadline, "op never reached the file");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(w);
    }
}
