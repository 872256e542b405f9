//! A run folder's history read for its report without holding it: the file is parsed a
//! chunk at a time ([`sunder_check::history::stream_jsonl`]), each chunk digested
//! ([`crate::digest`]) on two threads and then forgotten, except the few calls the
//! anomalies' witnesses draw (the ops `results.json` names, each with its invocation or
//! completion), which are all [`crate::witness`] looks at. `sunder report RUN_FOLDER` and
//! the suite's comparison page read a history this way, so a long run is reported in the
//! memory of its digest.
//!
//! The history must keep every rule the whole read checks (the pairing included, with
//! [`sunder_check::live::calls::Calls`]'s strict rules); at the first problem the stream
//! gives up, and [`crate::run_folder`] reads the file whole, so a broken history's problems
//! are named and its ops salvaged exactly as before.

use crate::digest::{CallDigest, Digested};
use crate::timeline::TimelineBuilder;
use rustc_hash::FxHashSet;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use sunder_check::history::{Op, stream_jsonl};
use sunder_check::live::calls::Calls;
use sunder_check::verdict::Anomaly;

/// The indices of the ops the witnesses of `anomalies` name, the ones
/// [`crate::witness::render`] places.
pub fn witness_indices<'a>(anomalies: impl IntoIterator<Item = &'a Anomaly>) -> FxHashSet<u64> {
    anomalies.into_iter().flat_map(crate::witness::named_indices).collect()
}

/// The digest of a history already held, and the ops among `wanted` with the other half
/// of each one's call, as [`digest_file`] gives them: the report of a history read whole
/// to be judged is then drawn like a streamed one, without a call table and an index of
/// every op for the few the witnesses place. `None` when the ops break a rule of the
/// whole read (the caller then analyses them all).
pub fn digest_ops(ops: &[Op], wanted: &FxHashSet<u64>) -> Option<(Vec<Op>, Digested)> {
    let mut kept = Kept::new(wanted);
    let digested = crate::digest::Digest::of_ops_with(ops, |op| kept.push(op).ok())?;
    Some((kept.finish(), digested))
}

/// Reads the history at `path` as a stream: its digest, and the ops among `wanted` with
/// the other half of each one's call, in history order. `None` when the file cannot be
/// read or breaks a rule of the whole read (the caller then reads it whole, which names
/// the problem).
pub fn digest_file(path: &Path, wanted: &FxHashSet<u64>) -> Option<(Vec<Op>, Digested)> {
    // Two batches in flight for each thread: enough to keep the parser and both digests
    // busy, few enough that the history is never held.
    let (calls_tx, calls_rx) = sync_channel::<Arc<Vec<Op>>>(2);
    let (timeline_tx, timeline_rx) = sync_channel::<Arc<Vec<Op>>>(2);
    std::thread::scope(|scope| {
        let timeline = scope.spawn(move || {
            let mut builder = TimelineBuilder::default();
            for batch in timeline_rx {
                batch.iter().for_each(|op| builder.feed(op));
            }
            builder.finish()
        });
        let calls = scope.spawn(move || {
            let mut digest = CallDigest::default();
            let mut kept = Kept::new(wanted);
            for batch in calls_rx {
                for op in batch.iter() {
                    digest.feed(op);
                    // Broken: the receiver's drop stops the read.
                    kept.push(op).ok()?;
                }
            }
            Some((kept.finish(), digest.finish()))
        });
        let read = stream_jsonl(path, |ops| {
            let batch = Arc::new(ops);
            if calls_tx.send(Arc::clone(&batch)).is_err() || timeline_tx.send(batch).is_err() {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        drop((calls_tx, timeline_tx));
        let timeline = timeline.join().expect("the timeline's thread panicked");
        let (ops, digested) = calls.join().expect("the digest's thread panicked")?;
        read.ok()?;
        Some((ops, Digested { timeline, ..digested }))
    })
}

/// The calls a witness draws, gathered as the history goes by.
struct Kept<'w> {
    wanted: &'w FxHashSet<u64>,
    calls: Calls,
    /// Kept ops with their positions, in the order their calls settled.
    ops: Vec<(usize, Op)>,
    seen: usize,
}

impl<'w> Kept<'w> {
    fn new(wanted: &'w FxHashSet<u64>) -> Kept<'w> {
        Kept { wanted, calls: Calls::pairing_only(), ops: Vec::new(), seen: 0 }
    }

    /// Takes the next op; fails where the whole read would.
    fn push(&mut self, op: &Op) -> Result<(), String> {
        let at = self.seen;
        self.seen += 1;
        let (wanted, ops) = (self.wanted, &mut self.ops);
        // Nemesis ops go through too (nothing is settled for them), so positions agree.
        self.calls.push(op, |call| keep(wanted, ops, call, at))?;
        if op.is_nemesis() && wanted.contains(&op.index) {
            ops.push((at, op.clone()));
        }
        Ok(())
    }

    /// The kept ops in history order; calls still open keep their invocation alone.
    fn finish(mut self) -> Vec<Op> {
        let (wanted, ops) = (self.wanted, &mut self.ops);
        self.calls.close(|call| keep(wanted, ops, call, usize::MAX));
        ops.sort_by_key(|(at, _)| *at);
        std::mem::take(ops).into_iter().map(|(_, op)| op).collect()
    }
}

/// Keeps both halves of `call` (its completion at position `completed_at`) if a witness
/// names either.
fn keep(
    wanted: &FxHashSet<u64>,
    ops: &mut Vec<(usize, Op)>,
    call: sunder_check::live::calls::Settled<'_>,
    completed_at: usize,
) {
    let named =
        wanted.contains(&call.invoke.index) || call.completion.is_some_and(|c| wanted.contains(&c.index));
    if named {
        ops.push((call.at, call.invoke.clone()));
        if let Some(c) = call.completion {
            ops.push((completed_at, c.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sunder_check::history::OpType;

    /// A history file for one test, removed when the test ends, also when it fails.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn write_history(name: &str, ops: &[Op]) -> Scratch {
        let path = std::env::temp_dir().join(format!("sunder-stream-{name}-{}.jsonl", std::process::id()));
        let text: String = ops.iter().map(|o| serde_json::to_string(o).unwrap() + "\n").collect();
        std::fs::write(&path, text).unwrap();
        Scratch(path)
    }

    fn numbered(mut ops: Vec<Op>) -> Vec<Op> {
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
            op.time = i as u64 * 10;
        }
        ops
    }

    #[test]
    fn keeps_both_halves_of_every_named_call_and_digests_the_whole_history() {
        let ops = numbered(vec![
            Op::client(0, 0, 1, OpType::Invoke, "write", json!(1)),
            Op::client(0, 0, 2, OpType::Invoke, "read", json!(null)),
            Op::client(0, 0, 1, OpType::Ok, "write", json!(1)),
            Op::client(0, 0, 3, OpType::Invoke, "write", json!(2)),
            Op::client(0, 0, 2, OpType::Ok, "read", json!(2)),
            Op::client(0, 0, 4, OpType::Invoke, "read", json!(null)),
        ]);
        let file = write_history("kept", &ops);
        let path = &file.0;
        // The read's completion (4) and the open write's invocation (3) are named.
        let wanted: FxHashSet<u64> = [4, 3].into_iter().collect();
        let (kept, digested) = digest_file(path, &wanted).unwrap();
        let kept_indices: Vec<u64> = kept.iter().map(|o| o.index).collect();
        assert_eq!(kept_indices, vec![1, 3, 4]);
        let whole = crate::digest::Digest::of_ops(&ops);
        assert_eq!(digested.counts, whole.counts);
        assert_eq!(digested.timeline.json, whole.timeline.json);
        // A history already held keeps and digests the same.
        let (held, held_digest) = digest_ops(&ops, &wanted).unwrap();
        assert_eq!(held, kept);
        assert_eq!(held_digest.counts, whole.counts);
        assert_eq!(held_digest.timeline.json, whole.timeline.json);
    }

    #[test]
    fn gives_up_on_a_history_the_whole_read_refuses() {
        let ops = numbered(vec![
            Op::client(0, 0, 1, OpType::Invoke, "write", json!(1)),
            Op::client(0, 0, 1, OpType::Ok, "read", json!(1)),
        ]);
        let file = write_history("refused", &ops);
        let path = &file.0;
        assert!(digest_file(path, &FxHashSet::default()).is_none());
        assert!(digest_ops(&ops, &FxHashSet::default()).is_none());
        assert!(sunder_check::history::read_jsonl(path).is_err());
        std::fs::write(path, "{not json}\n").unwrap();
        assert!(digest_file(path, &FxHashSet::default()).is_none());
    }
}
