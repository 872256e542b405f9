//! Fault windows and run phases ([`FaultMap`], read from the nemesis's ops by
//! `sunder_check::fault_windows`, which the checkers share to tie anomalies to faults), and
//! client availability inside each window ([`WindowTally`]). Plots shade the windows; the availability table
//! judges clients inside each.

use crate::calls::Outcome;
use sunder_check::history::Op;

pub use sunder_check::fault_windows::{FaultMap, Window};

/// Client outcomes for calls invoked inside one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Availability {
    /// Calls invoked in the interval.
    pub calls: u64,
    /// Of which ended ok.
    pub ok: u64,
    /// Of which failed.
    pub fail: u64,
    /// Of which ended info or never completed.
    pub info: u64,
}

impl Availability {
    /// Share of calls that were ok; `None` when there were none.
    pub fn share(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.ok as f64 / self.calls as f64)
    }
}

/// Counts call outcomes per fault window and per phase as a history is read in order. A
/// call counts in every window that was open when it was invoked (its invocation comes after
/// the window's start op and before its stop op) and in the phase it was invoked in; windows
/// and phases follow [`FaultMap`]'s rules and order. It keeps one tally per change of the
/// nemesis's state, not per call, so it works while a run of any length is recorded.
#[derive(Debug, Clone)]
pub struct WindowTally {
    /// Names of the fault windows, in start order.
    names: Vec<String>,
    /// The windows open now.
    open: Vec<u32>,
    /// The phase now (0: main).
    phase: u32,
    /// For each state the nemesis has been in: the windows open, the phase, the tally.
    epochs: Vec<(Vec<u32>, u32, Availability)>,
    /// The state changed since the last epoch began.
    changed: bool,
}

impl Default for WindowTally {
    fn default() -> WindowTally {
        WindowTally { names: vec![], open: vec![], phase: 0, epochs: vec![], changed: true }
    }
}

/// The tallies of a whole history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tallies {
    /// One per fault window, in [`FaultMap::faults`] order.
    pub faults: Vec<Availability>,
    /// The calls invoked while no fault window was open.
    pub outside: Availability,
    /// One per phase, in [`FaultMap::phases`] order.
    pub phases: Vec<Availability>,
}

impl WindowTally {
    /// Notes a nemesis op.
    pub fn nemesis(&mut self, op: &Op) {
        // Only a completion says what was done (as FaultMap reads it).
        if op.kind == sunder_check::history::OpType::Invoke {
            return;
        }
        if let Some(kind) = op.f.strip_prefix("start-") {
            self.open.push(self.names.len() as u32);
            self.names.push(kind.to_string());
        } else if let Some(kind) = op.f.strip_prefix("stop-") {
            let Some(at) = self.open.iter().position(|&w| self.names[w as usize] == kind) else { return };
            self.open.remove(at);
        } else if op.f == "phase" {
            self.phase += 1;
        } else {
            return;
        }
        self.changed = true;
    }

    /// The state a call invoked now is counted in, for [`WindowTally::settle`].
    pub fn epoch(&mut self) -> u32 {
        if self.changed {
            self.epochs.push((self.open.clone(), self.phase, Availability::default()));
            self.changed = false;
        }
        self.epochs.len() as u32 - 1
    }

    /// Counts a call invoked in `epoch` that ended `outcome`.
    pub fn settle(&mut self, epoch: u32, outcome: Outcome) {
        count(&mut self.epochs[epoch as usize].2, outcome);
    }

    /// The tallies per window and phase.
    pub fn finish(self) -> Tallies {
        let mut t = Tallies {
            faults: vec![Availability::default(); self.names.len()],
            outside: Availability::default(),
            phases: vec![Availability::default(); self.phase as usize + 1],
        };
        for (open, phase, a) in &self.epochs {
            for &w in open {
                add(&mut t.faults[w as usize], a);
            }
            if open.is_empty() {
                add(&mut t.outside, a);
            }
            add(&mut t.phases[*phase as usize], a);
        }
        t
    }
}

fn count(a: &mut Availability, o: Outcome) {
    a.calls += 1;
    match o {
        Outcome::Ok => a.ok += 1,
        Outcome::Fail => a.fail += 1,
        Outcome::Info => a.info += 1,
    }
}

fn add(to: &mut Availability, a: &Availability) {
    to.calls += a.calls;
    to.ok += a.ok;
    to.fail += a.fail;
    to.info += a.info;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::Calls;
    use serde_json::json;
    use sunder_check::history::OpType;

    #[test]
    fn counts_calls_in_the_windows_open_at_their_invocation() {
        let ops = vec![
            Op::client(0, 5, 0, OpType::Invoke, "read", json!(null)),
            Op::nemesis(1, 10, "start-partition", json!("a|b")),
            Op::client(2, 11, 1, OpType::Invoke, "read", json!(null)),
            Op::client(3, 12, 0, OpType::Ok, "read", json!(1)),
            Op::nemesis(4, 13, "start-kill", json!("a")),
            Op::client(5, 14, 2, OpType::Invoke, "read", json!(null)),
            Op::client(6, 16, 1, OpType::Fail, "read", json!(null)),
            Op::nemesis(7, 20, "stop-partition", json!(null)),
            Op::nemesis(8, 21, "phase", json!("heal")),
            Op::client(9, 22, 2, OpType::Info, "read", json!(null)),
            Op::client(10, 23, 3, OpType::Invoke, "read", json!(null)),
        ];
        let calls = Calls::pair(&ops);
        let mut tally = WindowTally::default();
        let mut epochs = vec![];
        for (i, op) in ops.iter().enumerate() {
            if op.is_nemesis() {
                tally.nemesis(op);
            } else if op.kind == OpType::Invoke {
                epochs.push((calls.call_of_op[i].unwrap(), tally.epoch()));
            }
        }
        for (call, epoch) in epochs {
            tally.settle(epoch, calls.calls[call as usize].outcome);
        }
        let map = FaultMap::from_ops(&ops);
        let t = tally.finish();
        assert_eq!((t.faults.len(), t.phases.len()), (map.faults.len(), map.phases.len()));
        assert_eq!(t.faults[0], Availability { calls: 2, ok: 0, fail: 1, info: 1 });
        assert_eq!(t.faults[1], Availability { calls: 2, ok: 0, fail: 0, info: 2 });
        assert_eq!(t.outside, Availability { calls: 1, ok: 1, fail: 0, info: 0 });
        assert_eq!(t.phases[0].calls, 3);
        assert_eq!(t.phases[1], Availability { calls: 1, ok: 0, fail: 0, info: 1 });
    }
}
