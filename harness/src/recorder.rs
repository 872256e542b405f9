//! Turns what clients and the nemesis do into ops of the history: assigns each its index and
//! its time since the run started, hands it to the history writer (which appends it to
//! `history.jsonl` as it goes, and either keeps it for the checkers or streams it to the
//! live judge), and counts outcomes for the progress line.

use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use sunder_check::history::{HistoryWriter, Op, OpType, Process};

/// Live outcome counts.
#[derive(Debug, Default)]
pub struct Counters {
    /// Completed `ok`.
    pub ok: AtomicU64,
    /// Completed `fail`.
    pub fail: AtomicU64,
    /// Completed `info`.
    pub info: AtomicU64,
}

impl Counters {
    /// Client ops completed so far, whatever their outcome.
    pub fn completed(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }
}

/// The history being recorded.
pub struct Recorder {
    start: Instant,
    history: HistoryWriter,
    /// Outcome counts of client ops.
    pub counters: Counters,
}

impl Recorder {
    /// A recorder whose clock starts now, recording into `history`.
    pub fn new(history: HistoryWriter) -> Recorder {
        Recorder { start: Instant::now(), history, counters: Counters::default() }
    }

    /// Records one op, stamping its index and time, and returns the index.
    pub fn record(&self, op: Op) -> u64 {
        let counter = match (op.kind, op.process) {
            (_, Process::Nemesis) | (OpType::Invoke, _) => None,
            (OpType::Ok, _) => Some(&self.counters.ok),
            (OpType::Fail, _) => Some(&self.counters.fail),
            (OpType::Info, _) => Some(&self.counters.info),
        };
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // Stamped while the history is locked, so indices and times grow together.
        self.history.push_with(|index| Op { index, time: self.start.elapsed().as_nanos() as u64, ..op })
    }

    /// Records a nemesis event.
    pub fn nemesis(&self, f: &str, value: Value) {
        self.record(Op::nemesis(0, 0, f, value));
    }

    /// Ops recorded so far.
    pub fn recorded(&self) -> u64 {
        self.history.len()
    }

    /// Stops recording: writes and fsyncs the file, returns the ops kept (none when the
    /// history was streamed).
    pub fn finish(self) -> std::io::Result<Vec<Op>> {
        self.history.finish()
    }
}
