//! The report's view of a history, gathered op by op in bounded memory: the counts, the
//! performance data ([`PerfAccumulator`]), availability per fault window and phase
//! ([`WindowTally`]), the nemesis's own ops (few) and the timeline's rows
//! ([`TimelineBuilder`], at most [`crate::timeline::MAX_ROWS`]). `sunder run` feeds it each
//! batch as the history is written, so the report of a run of any length is drawn without
//! reading the history back; a history held whole is fed the same way, its timeline on a
//! second core.

use crate::calls::Outcome;
use crate::faults::{FaultMap, Tallies, WindowTally};
use crate::latency::{PerfAccumulator, PerfData};
use crate::timeline::{TimelineBuilder, TimelineData};
use rustc_hash::FxHashMap;
use sunder_check::history::{Name, Op, OpType, Process};

/// Counts of a history's ops and calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Ops in the history.
    pub ops: u64,
    /// Of which the nemesis's.
    pub nemesis_ops: u64,
    /// Client calls (an invocation with its completion, if any).
    pub calls: u64,
    /// Calls that ended ok, failed, or ended info or never completed.
    pub ok: u64,
    /// See `ok`.
    pub fail: u64,
    /// See `ok`.
    pub info: u64,
    /// Latest op time, ns.
    pub end_time: u64,
}

/// An open call as [`CallDigest`] keeps it.
struct Open {
    epoch: u32,
    time: u64,
    f: Name,
}

/// Everything but the timeline: counts, performance, availability, the nemesis's ops.
#[derive(Default)]
pub struct CallDigest {
    counts: Counts,
    open: FxHashMap<u64, Open>,
    perf: PerfAccumulator,
    tally: WindowTally,
    nemesis: Vec<Op>,
}

impl CallDigest {
    /// Takes the next op of the history. Calls are paired as
    /// [`crate::calls::Calls::pair`] pairs them.
    pub fn feed(&mut self, op: &Op) {
        self.counts.ops += 1;
        self.counts.end_time = self.counts.end_time.max(op.time);
        self.perf.saw_time(op.time);
        let Process::Client(p) = op.process else {
            self.counts.nemesis_ops += 1;
            self.tally.nemesis(op);
            self.nemesis.push(op.clone());
            return;
        };
        if op.kind == OpType::Invoke {
            let open = Open { epoch: self.tally.epoch(), time: op.time, f: op.f.clone() };
            if let Some(older) = self.open.insert(p, open) {
                self.settle(older, Outcome::Info);
            }
        } else if let Some(open) = self.open.remove(&p) {
            let outcome = match op.kind {
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                _ => Outcome::Info,
            };
            self.perf.completed(&open.f, outcome, open.time, op.time);
            self.settle(open, outcome);
        }
    }

    fn settle(&mut self, open: Open, outcome: Outcome) {
        self.counts.calls += 1;
        match outcome {
            Outcome::Ok => self.counts.ok += 1,
            Outcome::Fail => self.counts.fail += 1,
            Outcome::Info => self.counts.info += 1,
        }
        self.tally.settle(open.epoch, outcome);
    }

    /// What was gathered; calls still open never completed.
    pub fn finish(mut self) -> Digested {
        for (_, open) in std::mem::take(&mut self.open) {
            self.settle(open, Outcome::Info);
        }
        let faults = FaultMap::from_ops_until(&self.nemesis, self.counts.end_time);
        Digested {
            counts: self.counts,
            perf: self.perf.finish(),
            faults,
            tallies: self.tally.finish(),
            timeline: TimelineData::default(),
        }
    }
}

/// A history's digest as it is fed.
#[derive(Default)]
pub struct Digest {
    calls: CallDigest,
    timeline: TimelineBuilder,
}

impl Digest {
    /// Takes the next ops of the history.
    pub fn feed(&mut self, ops: &[Op]) {
        for op in ops {
            self.calls.feed(op);
            self.timeline.feed(op);
        }
    }

    /// What was gathered.
    pub fn finish(self) -> Digested {
        let timeline = self.timeline.finish();
        Digested { timeline, ..self.calls.finish() }
    }

    /// The digest of a history held whole, its timeline built on a second core.
    pub fn of_ops(ops: &[Op]) -> Digested {
        Digest::of_ops_with(ops, |_| Some(())).expect("nothing stops the digest")
    }

    /// As [`Digest::of_ops`], with `also` shown each op beside the calls' digest, in order;
    /// `None` as soon as `also` gives up.
    pub fn of_ops_with(ops: &[Op], mut also: impl FnMut(&Op) -> Option<()>) -> Option<Digested> {
        std::thread::scope(|scope| {
            let timeline = scope.spawn(|| {
                let mut b = TimelineBuilder::default();
                ops.iter().for_each(|op| b.feed(op));
                b.finish()
            });
            let mut calls = CallDigest::default();
            for op in ops {
                calls.feed(op);
                also(op)?;
            }
            let digested = calls.finish();
            Some(Digested { timeline: timeline.join().expect("the timeline's thread panicked"), ..digested })
        })
    }
}

/// What the report draws from a history, however it was read.
#[derive(Debug, Clone, Default)]
pub struct Digested {
    /// Counts of ops and calls.
    pub counts: Counts,
    /// Latency, throughput and quantiles.
    pub perf: PerfData,
    /// Fault windows, phases and other nemesis ops.
    pub faults: FaultMap,
    /// Call outcomes per fault window, outside them, and per phase.
    pub tallies: Tallies,
    /// The timeline's data.
    pub timeline: TimelineData,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::Calls;
    use serde_json::json;

    /// A history with overlapping calls, a replaced invocation, an orphan completion, a
    /// fault window and calls never completed.
    fn history(calls: u64) -> Vec<Op> {
        let mut ops = vec![];
        let push = |ops: &mut Vec<Op>, time: u64, p: Option<u64>, kind: OpType, f: &str| {
            let index = ops.len() as u64;
            ops.push(match p {
                Some(p) => Op::client(index, time, p, kind, f, json!(index)).with_key("k"),
                None => Op::nemesis(index, time, f, json!("x")),
            });
        };
        for i in 0..calls {
            let p = i % 7;
            let t = i * 1_000_000;
            push(&mut ops, t, Some(p), OpType::Invoke, if i % 3 == 0 { "write" } else { "read" });
            if i % 50 == 10 {
                push(&mut ops, t + 1, None, OpType::Info, "start-partition");
            }
            if i % 50 == 30 {
                push(&mut ops, t + 1, None, OpType::Info, "stop-partition");
            }
            if i % 97 == 5 {
                push(&mut ops, t + 2, Some(100 + i), OpType::Ok, "read");
            }
            let kind = [OpType::Ok, OpType::Fail, OpType::Info][(i % 11 % 3) as usize];
            if i % 13 != 0 && i >= 6 {
                push(&mut ops, t + 500_000, Some((i - 6) % 7), kind, "read");
            }
        }
        ops
    }

    #[test]
    fn fed_in_batches_it_gathers_what_the_whole_history_gives() {
        let ops = history(2_000);
        let whole = Digest::of_ops(&ops);
        for batch in [1, 7, 500, ops.len()] {
            let mut d = Digest::default();
            for chunk in ops.chunks(batch) {
                d.feed(chunk);
            }
            let fed = d.finish();
            assert_eq!(fed.counts, whole.counts);
            assert_eq!(fed.timeline.json, whole.timeline.json);
            assert_eq!(fed.tallies, whole.tallies);
            assert_eq!(fed.perf.buckets, whole.perf.buckets);
            assert_eq!(fed.perf.points, whole.perf.points);
        }
        let calls = Calls::pair(&ops);
        assert_eq!(whole.counts.calls, calls.calls.len() as u64);
        assert_eq!(whole.counts.ok, calls.calls.iter().filter(|c| c.outcome == Outcome::Ok).count() as u64);
        assert_eq!(whole.timeline.rows as u64, whole.counts.calls + whole.counts.nemesis_ops);
        assert_eq!(whole.tallies.faults.len(), whole.faults.faults.len());
    }

    #[test]
    fn a_long_timeline_keeps_its_first_and_last_rows() {
        let ops = history(20_000);
        let mut full = TimelineBuilder::default();
        let mut capped = TimelineBuilder::with_max_rows(3 * 4_096);
        for op in &ops {
            full.feed(op);
            capped.feed(op);
        }
        let (full, capped) = (full.finish(), capped.finish());
        assert!(capped.skipped > 0 && capped.rows as u64 + capped.skipped == full.rows as u64);
        let rows = |d: &TimelineData| -> Vec<(i64, i64)> {
            let v: serde_json::Value = serde_json::from_str(&d.json).unwrap();
            let (mut i, mut t) = (0, 0);
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    i += r[0].as_i64().unwrap();
                    t += r[1].as_i64().unwrap();
                    (i, t)
                })
                .collect()
        };
        let (all, kept) = (rows(&full), rows(&capped));
        let head = 3 * 4_096 / 2;
        assert_eq!(kept[..head], all[..head]);
        assert_eq!(kept[head..], all[all.len() - (kept.len() - head)..]);
    }
}
