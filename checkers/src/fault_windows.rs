//! Fault windows and run phases, read from a history's `:nemesis` ops: a `start-X` op opens
//! a window of fault `X` and the next `stop-X` closes it; `phase` ops mark where heal and
//! final begin. Both sides need them: the checkers' composition ties each anomaly to the
//! windows its ops overlap, and the reports shade plots and judge availability per window.

use crate::history::{Op, OpType};
use serde_json::Value;

/// A nemesis op's value as compact text: a string as itself, anything else as JSON.
fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

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
        FaultMap::from_ops_until(ops, ops.iter().map(|o| o.time).max().unwrap_or(0))
    }

    /// [`FaultMap::from_ops`] for a history whose last op is at `end_time` (ns), given only
    /// some of its ops (the streaming judge keeps the nemesis's alone).
    pub fn from_ops_until(ops: &[Op], end_time: u64) -> FaultMap {
        let mut map = FaultMap::default();
        let mut open: Vec<usize> = vec![];
        let mut phase_starts: Vec<(String, u64, u64)> = vec![("main".to_string(), 0, 0)];
        for op in ops.iter().filter(|o| o.is_nemesis()) {
            // Jepsen-style histories log an invoke and a completion per nemesis action:
            // only the completion says what was done.
            if op.kind == OpType::Invoke {
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
                    detail: compact(&op.value),
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
                phase_starts.push((compact(&op.value), op.time, op.index));
            } else {
                map.events.push((op.index, op.f.to_string(), compact(&op.value)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nem(index: u64, time: u64, f: &str, value: Value) -> Op {
        Op::nemesis(index, time, f, value)
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
}
