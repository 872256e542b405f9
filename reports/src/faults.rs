//! Fault windows and run phases, read from the nemesis's ops: a `start-X` op opens a window
//! of fault `X` and the next `stop-X` closes it; `phase` ops mark where heal and final
//! begin. Plots shade the windows; the availability table judges clients inside each.

use crate::calls::{Calls, Outcome};
use crate::test_info::display_value;
use sunder_check::history::Op;

/// One interval during which a fault was active (or a phase ran).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The fault kind (`partition` for `start-partition`) or the phase name.
    pub name: String,
    /// Start time, ns since the run began.
    pub start: u64,
    /// End time; the end of the history when no stop was recorded.
    pub end: u64,
    /// History index of the start op.
    pub start_index: u64,
    /// History index of the stop op, when there was one.
    pub end_index: Option<u64>,
    /// What the start op said was done, compact JSON (untrusted: escape before showing).
    pub detail: String,
}

/// Fault windows, phases and the nemesis ops that fit neither.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultMap {
    /// Fault windows in start order.
    pub faults: Vec<Window>,
    /// Phases: `main` (from 0), then `heal` and `final` when recorded.
    pub phases: Vec<Window>,
    /// Nemesis ops that are neither start, stop nor phase (e.g. a one-shot clock bump).
    pub events: Vec<(u64, String, String)>,
    /// Stops with no open start, as (index, fault name).
    pub unmatched_stops: Vec<(u64, String)>,
}

impl FaultMap {
    /// Reads fault windows and phases from `ops`.
    pub fn from_ops(ops: &[Op]) -> FaultMap {
        let end_time = ops.iter().map(|o| o.time).max().unwrap_or(0);
        let mut map = FaultMap::default();
        let mut open: Vec<usize> = vec![];
        let mut phase_starts: Vec<(String, u64, u64)> = vec![("main".to_string(), 0, 0)];
        for op in ops.iter().filter(|o| o.is_nemesis()) {
            // Jepsen-style histories log an invoke and a completion per nemesis action:
            // only the completion says what was done.
            if op.kind == sunder_check::history::OpType::Invoke {
                continue;
            }
            if let Some(kind) = op.f.strip_prefix("start-") {
                open.push(map.faults.len());
                map.faults.push(Window {
                    name: kind.to_string(),
                    start: op.time,
                    end: end_time,
                    start_index: op.index,
                    end_index: None,
                    detail: display_value(&op.value),
                });
            } else if let Some(kind) = op.f.strip_prefix("stop-") {
                match open.iter().position(|&w| map.faults[w].name == kind) {
                    Some(at) => {
                        let w = open.remove(at);
                        map.faults[w].end = op.time;
                        map.faults[w].end_index = Some(op.index);
                    }
                    None => map.unmatched_stops.push((op.index, kind.to_string())),
                }
            } else if op.f == "phase" {
                phase_starts.push((display_value(&op.value), op.time, op.index));
            } else {
                map.events.push((op.index, op.f.clone(), display_value(&op.value)));
            }
        }
        for (i, (name, start, index)) in phase_starts.iter().enumerate() {
            let end = phase_starts.get(i + 1).map(|p| p.1).unwrap_or(end_time);
            map.phases.push(Window {
                name: name.clone(),
                start: *start,
                end,
                start_index: *index,
                end_index: None,
                detail: String::new(),
            });
        }
        map
    }
}

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
    use sunder_check::history::{OpType, Process};

    fn nem(index: u64, time: u64, f: &str, value: serde_json::Value) -> Op {
        Op {
            index,
            time,
            process: Process::Nemesis,
            kind: OpType::Info,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
        }
    }

    #[test]
    fn pairs_start_and_stop_by_fault_kind_and_reads_phases() {
        let ops = vec![
            nem(0, 10, "start-partition", json!({"grudge": {}})),
            nem(1, 20, "start-kill", json!(["n1"])),
            nem(2, 30, "stop-partition", json!(null)),
            nem(3, 40, "phase", json!("heal")),
            nem(4, 50, "stop-pause", json!(null)),
            nem(5, 60, "phase", json!("final")),
            Op::client(6, 70, 0, OpType::Invoke, "read", json!(null)),
        ];
        let m = FaultMap::from_ops(&ops);
        assert_eq!(m.faults.len(), 2);
        assert_eq!((m.faults[0].name.as_str(), m.faults[0].start, m.faults[0].end), ("partition", 10, 30));
        assert_eq!((m.faults[1].name.as_str(), m.faults[1].end, m.faults[1].end_index), ("kill", 70, None));
        assert_eq!(m.unmatched_stops, vec![(4, "pause".to_string())]);
        let phases: Vec<_> = m.phases.iter().map(|p| (p.name.as_str(), p.start, p.end)).collect();
        assert_eq!(phases, vec![("main", 0, 40), ("heal", 40, 60), ("final", 60, 70)]);
    }

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
