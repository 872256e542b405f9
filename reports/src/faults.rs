//! Fault windows and run phases ([`FaultMap`], read from the nemesis's ops by
//! `sunder_check::fault_windows`, which the checkers share to tie anomalies to faults), and
//! client availability inside each window. Plots shade the windows; the availability table
//! judges clients inside each.

use crate::calls::{Calls, Outcome};
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

/// Outcomes of the calls invoked within each of `windows` (by invocation time), plus the
/// outcomes outside every window. A call counts in every window holding its invocation; a
/// window of zero length still holds the calls invoked at its start.
pub fn availability(ops: &[Op], calls: &Calls, windows: &[Window]) -> (Vec<Availability>, Availability) {
    let mut per = vec![Availability::default(); windows.len()];
    let mut outside = Availability::default();
    // Windows are few, so one pass over the calls tests each against all of them.
    for call in &calls.calls {
        let t = ops[call.invoke].time;
        let mut inside = false;
        for (w, a) in windows.iter().zip(per.iter_mut()) {
            if t >= w.start && t < w.end.max(w.start + 1) {
                count(a, call.outcome);
                inside = true;
            }
        }
        if !inside {
            count(&mut outside, call.outcome);
        }
    }
    (per, outside)
}

fn count(a: &mut Availability, o: Outcome) {
    a.calls += 1;
    match o {
        Outcome::Ok => a.ok += 1,
        Outcome::Fail => a.fail += 1,
        Outcome::Info => a.info += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sunder_check::history::OpType;

    #[test]
    fn availability_counts_calls_by_invocation_time() {
        let ops = vec![
            Op::client(0, 5, 0, OpType::Invoke, "read", json!(null)),
            Op::client(1, 6, 0, OpType::Ok, "read", json!(1)),
            Op::client(2, 15, 1, OpType::Invoke, "read", json!(null)),
            Op::client(3, 16, 1, OpType::Fail, "read", json!(null)),
        ];
        let calls = Calls::pair(&ops);
        let w = Window {
            name: "x".into(),
            start: 10,
            end: 20,
            start_index: 0,
            end_index: None,
            detail: String::new(),
        };
        let (per, outside) = availability(&ops, &calls, &[w]);
        assert_eq!(per[0], Availability { calls: 1, ok: 0, fail: 1, info: 0 });
        assert_eq!(outside.share(), Some(1.0));
    }
}
