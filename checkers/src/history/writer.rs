//! The history as it is recorded: an append-only list of ops shared by every recording
//! thread, and a background thread that appends each new batch to `history.jsonl`.
//!
//! Recording stays cheap on the hot path: a push under a mutex, no clone, no channel, no
//! wake-up of the writer per op. Every [`BATCH_WINDOW`] the writer serializes what was added
//! since its last batch and writes it with one call, whole lines only, so a harness that is
//! SIGKILLed still leaves a readable history at most one window (well under 100 ms) behind.
//!
//! A writer either keeps every op for the caller ([`HistoryWriter::create`]) or, streaming
//! ([`HistoryWriter::streaming`]), hands each batch on once it is in the file and keeps
//! nothing: then the recorder's memory does not grow with the run, and the file is the
//! only copy of the history.
//!
//! Each batch also goes, encoded, to the binary mirror beside the file (`history.mirror`,
//! [`super::mirror`]), which readers take instead of the JSONL while the two agree. The
//! mirror is a convenience: if it cannot be written it is removed, and the run goes on.

use super::Op;
use super::mirror::MirrorWriter;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the writer appends what was recorded since its last batch.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// What a streaming writer hands each batch to, after the batch is in the file.
pub type BatchSink = Box<dyn FnMut(Vec<Op>) + Send>;

/// The ops recorded and not yet taken by a streaming writer.
#[derive(Default)]
struct Recorded {
    ops: Vec<Op>,
    /// Index of `ops[0]`: ops before it were handed on.
    first: u64,
}

/// An append-only history, optionally mirrored to a JSONL file as it grows.
pub struct HistoryWriter {
    recorded: Arc<Mutex<Recorded>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl HistoryWriter {
    /// A history mirrored to `path` (created or truncated), kept in memory as well.
    pub fn create(path: &Path) -> io::Result<HistoryWriter> {
        HistoryWriter::start(path, None)
    }

    /// A history written to `path` (created or truncated) and not kept: each batch goes to
    /// `sink` once it is in the file, in history order, and the last one before the file is
    /// fsynced. [`HistoryWriter::finish`] then returns no ops.
    pub fn streaming(path: &Path, sink: BatchSink) -> io::Result<HistoryWriter> {
        HistoryWriter::start(path, Some(sink))
    }

    fn start(path: &Path, sink: Option<BatchSink>) -> io::Result<HistoryWriter> {
        let file = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        let mirror = MirrorWriter::create(path);
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (recorded, done) = (recorded.clone(), done.clone());
            std::thread::Builder::new()
                .name("history-writer".into())
                .spawn(move || write_loop(file, mirror, &recorded, &done, sink))?
        };
        Ok(HistoryWriter { recorded, done, thread: Some(thread) })
    }

    /// A history kept in memory only (to measure what mirroring costs).
    pub fn in_memory() -> HistoryWriter {
        HistoryWriter {
            recorded: Arc::new(Mutex::new(Recorded::default())),
            done: Arc::new(AtomicBool::new(true)),
            thread: None,
        }
    }

    /// Appends the op `build` makes from the next index, atomically with taking that index,
    /// so indices (and anything `build` stamps, such as time) grow in history order.
    pub fn push_with(&self, build: impl FnOnce(u64) -> Op) -> u64 {
        let mut r = self.recorded.lock().expect("history lock");
        let index = r.first + r.ops.len() as u64;
        r.ops.push(build(index));
        index
    }

    /// Appends `op` as it is.
    pub fn append(&self, op: Op) {
        self.recorded.lock().expect("history lock").ops.push(op);
    }

    /// Ops recorded so far.
    pub fn len(&self) -> u64 {
        let r = self.recorded.lock().expect("history lock");
        r.first + r.ops.len() as u64
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops recording: writes the last batch, fsyncs the file, and returns every op kept
    /// (none for a streaming writer).
    pub fn finish(mut self) -> io::Result<Vec<Op>> {
        self.stop()?;
        Ok(std::mem::take(&mut self.recorded.lock().expect("history lock").ops))
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

fn write_loop(
    mut file: File,
    mut mirror: Option<MirrorWriter>,
    recorded: &Mutex<Recorded>,
    done: &AtomicBool,
    mut sink: Option<BatchSink>,
) -> io::Result<()> {
    let mut written = 0usize;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    loop {
        // Read `done` before the batch, so the batch after it was set is the last one.
        let last = done.load(Ordering::Acquire);
        let batch = match sink {
            // Taken whole: serialized outside the lock, then handed on.
            Some(_) => {
                let mut r = recorded.lock().expect("history lock");
                r.first += r.ops.len() as u64;
                std::mem::take(&mut r.ops)
            }
            None => {
                let r = recorded.lock().expect("history lock");
                for op in &r.ops[written..] {
                    serde_json::to_writer(&mut buf, op)?;
                    buf.push(b'\n');
                }
                MirrorWriter::append(&mut mirror, &r.ops[written..]);
                written = r.ops.len();
                Vec::new()
            }
        };
        for op in &batch {
            serde_json::to_writer(&mut buf, op)?;
            buf.push(b'\n');
        }
        if !buf.is_empty() {
            file.write_all(&buf)?;
            buf.clear();
        }
        MirrorWriter::append(&mut mirror, &batch);
        if let Some(sink) = sink.as_mut()
            && !batch.is_empty()
        {
            sink(batch);
        }
        if last {
            // The sink goes first: whoever consumes the batches finishes while the file syncs.
            drop(sink);
            file.sync_all()?;
            MirrorWriter::seal(&mut mirror, &file);
            return Ok(());
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

    #[test]
    fn a_streaming_writer_hands_on_every_op_in_order_and_keeps_none() {
        let dir = Scratch::new("streaming");
        let path = dir.0.join("history.jsonl");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            Box::new(move |batch: Vec<Op>| seen.lock().unwrap().extend(batch))
        };
        let w = HistoryWriter::streaming(&path, sink).unwrap();
        for i in 0..1_000u64 {
            w.push_with(|index| Op::client(index, i, i, OpType::Invoke, "read", json!(null)));
            if i % 100 == 0 {
                std::thread::sleep(BATCH_WINDOW);
            }
        }
        assert_eq!(w.len(), 1_000);
        assert!(w.finish().unwrap().is_empty());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().map(|o| o.index).collect::<Vec<_>>(), (0..1_000).collect::<Vec<_>>());
        let in_file: Vec<Op> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(in_file, *seen);
    }
}
