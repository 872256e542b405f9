//! Convergence after the final phase: once every fault has ended and the system has had
//! time to recover, the runner reads every key on every node (ops after the nemesis op
//! `{"f": "phase", "value": "final"}`, each with `node`). The history converged when, for
//! each key, all those reads agree, and the value they agree on reflects every
//! acknowledged write or a later one: a write acknowledged and begun after the final
//! value's write had ended (or any acknowledged write, when the final value is the
//! initial one) is lost.
//!
//! A final read with siblings returned one of them: nodes agree when they read the same
//! set of siblings, and a write is lost (or the value garbage) only when it is so for
//! every sibling, so under version vectors every sibling counts as surviving.

use crate::history::{History, OpType};
use crate::ladder::register::RegisterHistory;
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashMap;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Why convergence does not apply to a history without a final phase.
pub const NO_FINAL_PHASE: &str = "the history has no final phase (no nemesis op with f \"phase\" and value \"final\"), so convergence cannot be judged";

/// True for the nemesis op that opens the final phase.
pub fn is_final_marker(op: &crate::history::Op) -> bool {
    op.is_nemesis() && op.f == "phase" && op.value == json!("final")
}

/// Checks convergence of a register/kv history.
pub fn check(history: &History) -> CheckerResult {
    match RegisterHistory::from_history(history) {
        Ok(rh) => check_register(history, &rh),
        Err(e) => CheckerResult::unknown(e.0),
    }
}

struct FinalRead {
    node: Option<String>,
    value: Value,
    /// Every value the read may have returned, in its own order.
    values: Vec<Value>,
    index: u64,
}

impl FinalRead {
    /// The read's values as a set, for comparing reads of two nodes.
    fn value_set(&self) -> Vec<String> {
        let mut set: Vec<String> = self.values.iter().map(Value::to_string).collect();
        set.sort_unstable();
        set.dedup();
        set
    }

    /// "[5, 7]" for a sibling read, else its one value.
    fn shown(&self) -> String {
        match &self.values[..] {
            [one] => one.to_string(),
            all => format!(
                "one of the siblings [{}]",
                all.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Checks convergence given the history and its extracted register view.
pub fn check_register(history: &History, rh: &RegisterHistory) -> CheckerResult {
    let ops = history.ops();
    let Some(marker) = ops.iter().position(is_final_marker) else {
        return CheckerResult::not_applicable(NO_FINAL_PHASE);
    };
    let mut finals: BTreeMap<String, Vec<FinalRead>> = BTreeMap::new();
    for (inv, done) in history.client_calls() {
        let Some(c) = done else { continue };
        if inv < marker || ops[inv].f != "read" || ops[c].kind != OpType::Ok {
            continue;
        }
        finals.entry(ops[inv].key.as_deref().unwrap_or_default().to_string()).or_default().push(FinalRead {
            node: ops[c].node.as_deref().or(ops[inv].node.as_deref()).map(str::to_string),
            value: ops[c].value.clone(),
            values: ops[c].read_values().to_vec(),
            index: ops[c].index,
        });
    }
    let key_id: FxHashMap<&str, u32> =
        rh.keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as u32)).collect();
    let mut acked_by_key: Vec<Vec<u32>> = vec![Vec::new(); rh.keys.len()];
    for (id, ev) in rh.events.iter().enumerate() {
        if ev.writes && ev.acknowledged {
            acked_by_key[ev.key as usize].push(id as u32);
        }
    }
    let mut anomalies = Vec::new();
    let mut unread = Vec::new();
    for (k, name) in rh.keys.iter().enumerate() {
        if !acked_by_key[k].is_empty() && !finals.contains_key(name) {
            unread.push(name.clone());
        }
    }
    for (name, reads) in &finals {
        let Some(&key) = key_id.get(name.as_str()) else { continue };
        let mut distinct: Vec<&FinalRead> = Vec::new();
        for r in reads {
            if !distinct.iter().any(|d| d.value_set() == r.value_set()) {
                distinct.push(r);
            }
        }
        if distinct.len() > 1 {
            let parts: Vec<String> = distinct
                .iter()
                .map(|r| format!("{} read {}", r.node.as_deref().unwrap_or("a node"), r.shown()))
                .collect();
            anomalies.push(Anomaly {
                kind: "divergence".into(),
                explanation: format!(
                    "after the final phase the nodes disagree on key {name:?}: {}.",
                    parts.join(", ")
                ),
                ops: distinct.iter().map(|r| r.index).collect(),
                witness: Value::Null,
                ..Anomaly::default()
            });
        }
        for fr in distinct {
            // Judged once per sibling: the read loses a write only if every sibling does.
            let mut per_value = fr.values.iter().map(|v| {
                let one = FinalRead {
                    node: fr.node.clone(),
                    value: v.clone(),
                    values: vec![v.clone()],
                    index: fr.index,
                };
                lost_writes(rh, key, name, &one, &acked_by_key[key as usize])
            });
            let first = per_value.next().unwrap_or_default();
            if !first.is_empty() && per_value.all(|a| !a.is_empty()) {
                anomalies.extend(first);
            }
        }
    }
    let details = json!({ "keys-read": finals.len(), "keys-unread": unread });
    if !anomalies.is_empty() {
        return CheckerResult::invalid(anomalies).with_details(details);
    }
    if !unread.is_empty() {
        return CheckerResult::unknown(format!(
            "{} key(s) with acknowledged writes have no successful final read (e.g. {:?})",
            unread.len(),
            unread[0]
        ))
        .with_details(details);
    }
    CheckerResult::valid().with_details(details)
}

fn lost_writes(rh: &RegisterHistory, key: u32, name: &str, fr: &FinalRead, acked: &[u32]) -> Vec<Anomaly> {
    let node = fr.node.as_deref().unwrap_or("a node");
    let final_write = if fr.value.is_null() {
        None
    } else {
        match rh.write_event(key, &fr.value) {
            Some(w) => Some(w),
            None => {
                return vec![Anomaly {
                    kind: "garbage-final-value".into(),
                    explanation: format!(
                        "{node}'s final read of key {name:?} returned {}, a value no write that took effect produced.",
                        fr.value
                    ),
                    ops: vec![fr.index],
                    witness: Value::Null,
                    ..Anomaly::default()
                }];
            }
        }
    };
    let ended = final_write.map(|w| rh.events[w as usize].complete_time);
    let lost: Vec<u32> = acked
        .iter()
        .copied()
        .filter(|&w| match ended {
            None => true,
            Some(t) => Some(w) != final_write && t < rh.events[w as usize].invoke_time,
        })
        .collect();
    let Some(&latest) = lost.iter().max_by_key(|&&w| rh.events[w as usize].invoke_time) else {
        return vec![];
    };
    let why = match final_write {
        None => "the initial value".to_string(),
        Some(w) => format!("the value of an earlier write ({} ended before it began)", rh.describe_write(w)),
    };
    let mut ops = rh.indices(&[latest]);
    ops.extend(final_write.map(|w| rh.events[w as usize].index));
    ops.push(fr.index);
    ops.sort_unstable();
    vec![Anomaly {
        kind: "lost-write".into(),
        explanation: format!(
            "{} and it was acknowledged, yet {node}'s final read of key {name:?} returned {}, {why}; {} acknowledged write(s) of this key were lost.",
            rh.describe_write(latest),
            fr.value,
            lost.len()
        ),
        ops,
        witness: Value::Null,
        ..Anomaly::default()
    }]
}
