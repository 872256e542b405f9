//! Distinct anomalies: what [`crate::verdict::Results`] does with the anomalies checkers
//! report before they reach `results.json` and the reports. An anomaly's identity is its
//! model (the checker that reported it), its kind and its ops: repeats merge into one with a
//! `count`. Look-alikes (same model, kind and shape: the same processes, functions and keys
//! in its ops, other values) are folded under one representative with `similar: N` and a few
//! example op lists, and at most [`LISTED_PER_KIND`] representatives of one model and kind
//! are listed, so `results.json` stays bounded however many ops violate a model; the counts
//! ([`crate::verdict::AnomalyCounts`]) still cover every one. Given the history, each anomaly
//! is also tied to the fault windows active while its ops ran and the nodes that served them.

use crate::anomaly_names;
use crate::fault_windows::{FaultMap, Window};
use crate::history::{History, Op};
use crate::verdict::{Anomaly, AnomalyCounts, FaultWindow, KindCount, LabelCount};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Representatives of one model and kind listed at most; the rest are counted.
pub const LISTED_PER_KIND: usize = 10;

/// Example op lists kept per representative for its look-alikes.
pub const EXAMPLES_PER_GROUP: usize = 3;

/// The label of anomalies whose ops all completed before the first fault began.
pub const BEFORE_ANY_FAULT: &str = "before any fault";

/// The label of anomalies that overlap no fault window but are not before the first.
pub const NO_FAULT_ACTIVE: &str = "no fault active";

/// The label of anomalies of a run that injected no fault.
pub const NO_FAULT_INJECTED: &str = "no fault injected";

/// Per op of an anomaly: its process, function and key, the values left out.
type Shape = Vec<(String, String, Option<String>)>;

/// What anomalies are tied to in a judged history: its ops by index and its fault windows.
pub struct HistoryContext<'a> {
    history: &'a History,
    /// Positions by index, built on first need: Sunder's own histories number ops by
    /// position, so a long valid run never pays for the map.
    position: std::sync::OnceLock<HashMap<u64, usize>>,
    windows: Vec<Window>,
    end_time: u64,
}

impl<'a> HistoryContext<'a> {
    /// Indexes `history`'s ops and reads its fault windows.
    pub fn new(history: &'a History) -> HistoryContext<'a> {
        let ops = history.ops();
        HistoryContext {
            history,
            position: std::sync::OnceLock::new(),
            windows: FaultMap::from_ops(ops).faults,
            end_time: ops.iter().map(|o| o.time).max().unwrap_or(0),
        }
    }

    /// The context of a history of which `nemesis` holds the nemesis ops alone, and whose
    /// last op was at `end_time` (ns): what the streaming judge keeps of a valid history,
    /// whose verdict has no anomaly to tie to client ops.
    pub fn of_nemesis(nemesis: &'a History, end_time: u64) -> HistoryContext<'a> {
        HistoryContext {
            history: nemesis,
            position: std::sync::OnceLock::new(),
            windows: FaultMap::from_ops_until(nemesis.ops(), end_time).faults,
            end_time,
        }
    }

    /// The history's fault windows as `results.json` names them.
    pub fn fault_windows(&self) -> Vec<FaultWindow> {
        named_windows(&self.windows)
    }

    fn op(&self, index: u64) -> Option<(&Op, Option<&Op>)> {
        let ops = self.history.ops();
        let p = match usize::try_from(index).ok().filter(|&p| ops.get(p).is_some_and(|o| o.index == index)) {
            Some(p) => p,
            None => *self
                .position
                .get_or_init(|| ops.iter().enumerate().map(|(p, o)| (o.index, p)).collect())
                .get(&index)?,
        };
        let partner = self.history.partner(p).map(|q| &self.history.ops()[q]);
        Some((&self.history.ops()[p], partner))
    }

    /// From invocation to completion (the end of the history when it never completed).
    fn span(&self, index: u64) -> Option<(u64, u64)> {
        let (op, partner) = self.op(index)?;
        let other = partner.map(|o| o.time);
        Some(if op.kind.is_completion() {
            (other.unwrap_or(op.time).min(op.time), op.time)
        } else {
            (op.time, other.unwrap_or(self.end_time))
        })
    }

    /// Processes, functions and keys of the ops, in the anomaly's order: what stays the same
    /// between two anomalies that differ only in values.
    fn shape(&self, a: &Anomaly) -> Shape {
        a.ops
            .iter()
            .map(|&i| match self.op(i) {
                Some((op, _)) => {
                    (op.process.to_string(), op.f.to_string(), op.key.as_deref().map(str::to_string))
                }
                None => (format!("?{i}"), String::new(), None),
            })
            .collect()
    }

    /// Fills in the windows and nodes of `a`'s ops.
    fn tie(&self, a: &mut Anomaly) {
        let spans: Vec<(u64, u64)> = a.ops.iter().filter_map(|&i| self.span(i)).collect();
        a.faults = self
            .windows
            .iter()
            .enumerate()
            .filter(|(_, w)| spans.iter().any(|&(s, e)| s < w.end.max(w.start + 1) && e >= w.start))
            .map(|(i, _)| window_id(i))
            .collect();
        let first_fault = self.windows.iter().map(|w| w.start).min();
        a.before_any_fault = match first_fault {
            Some(t) => !spans.is_empty() && spans.iter().all(|&(_, e)| e < t),
            None => false,
        };
        let mut nodes: Vec<String> = a
            .ops
            .iter()
            .filter_map(|&i| {
                let (op, partner) = self.op(i)?;
                op.node.as_deref().or_else(|| partner.and_then(|p| p.node.as_deref())).map(str::to_string)
            })
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        a.nodes = nodes;
    }

    fn fault_labels(&self, a: &Anomaly) -> Vec<String> {
        if self.windows.is_empty() {
            vec![NO_FAULT_INJECTED.to_string()]
        } else if !a.faults.is_empty() {
            a.faults.clone()
        } else if a.before_any_fault {
            vec![BEFORE_ANY_FAULT.to_string()]
        } else {
            vec![NO_FAULT_ACTIVE.to_string()]
        }
    }
}

fn named_windows(windows: &[Window]) -> Vec<FaultWindow> {
    windows
        .iter()
        .enumerate()
        .map(|(i, w)| FaultWindow {
            id: window_id(i),
            name: w.name.clone(),
            start_s: w.start as f64 / 1e9,
            end_s: w.end as f64 / 1e9,
        })
        .collect()
}

fn window_id(i: usize) -> String {
    format!("F{}", i + 1)
}

/// Counts gathered while anomalies are made distinct, over every anomaly reported.
#[derive(Debug, Default)]
pub struct Tally {
    found: u64,
    by_kind: BTreeMap<(String, String), (u64, u64, u64)>,
    by_fault: BTreeMap<String, u64>,
    by_node: BTreeMap<String, u64>,
}

impl Tally {
    /// The counts for `results.json`, `listed` being the composed list.
    pub fn counts(&self, listed: &[Anomaly], context: Option<&HistoryContext>) -> AnomalyCounts {
        let mut by_kind: Vec<KindCount> = self
            .by_kind
            .iter()
            .map(|((checker, kind), &(found, distinct, listed))| KindCount {
                checker: checker.clone(),
                kind: kind.clone(),
                name: anomaly_names::describe(kind).name,
                found,
                distinct,
                listed,
            })
            .collect();
        by_kind.sort_by_key(|k| ladder_rank(&k.checker));
        let mut by_fault = vec![];
        if let Some(c) = context {
            let labels = (0..c.windows.len())
                .map(window_id)
                .chain([BEFORE_ANY_FAULT, NO_FAULT_ACTIVE, NO_FAULT_INJECTED].map(String::from));
            for label in labels {
                if let Some(&n) = self.by_fault.get(&label) {
                    by_fault.push(LabelCount { label, anomalies: n });
                } else if label.starts_with('F') || (label == BEFORE_ANY_FAULT && !c.windows.is_empty()) {
                    // Every window and "before any fault" get a row, zero included: a zero
                    // is what says "these did not begin before the faults".
                    by_fault.push(LabelCount { label, anomalies: 0 });
                }
            }
        }
        AnomalyCounts {
            found: self.found,
            distinct: self.by_kind.values().map(|v| v.1).sum(),
            listed: listed.len() as u64,
            by_kind,
            by_fault,
            by_node: self
                .by_node
                .iter()
                .map(|(n, &c)| LabelCount { label: n.clone(), anomalies: c })
                .collect(),
        }
    }
}

/// Makes `checker`'s anomalies distinct: tags each with its checker and plain name (and,
/// given the history, its faults and nodes), merges repeats, folds look-alikes and lists at
/// most [`LISTED_PER_KIND`] of each kind; `tally` counts every one.
pub fn distinct(
    checker: &str,
    found: Vec<Anomaly>,
    context: Option<&HistoryContext>,
    tally: &mut Tally,
) -> Vec<Anomaly> {
    let mut merged: Vec<Anomaly> = vec![];
    let mut by_identity: HashMap<(String, Vec<u64>), usize> = HashMap::new();
    for mut a in found {
        set_checker(&mut a, checker);
        if a.name.is_empty() {
            a.name = anomaly_names::describe(&a.kind).name;
        }
        if let Some(c) = context {
            c.tie(&mut a);
        }
        let weight = a.count.max(1) + a.similar;
        tally.found += weight;
        tally.by_kind.entry((checker.to_string(), a.kind.clone())).or_default().0 += weight;
        if let Some(c) = context {
            for label in c.fault_labels(&a) {
                *tally.by_fault.entry(label).or_default() += weight;
            }
        }
        for n in &a.nodes {
            *tally.by_node.entry(n.clone()).or_default() += weight;
        }
        let mut ops = a.ops.clone();
        ops.sort_unstable();
        match by_identity.get(&(a.kind.clone(), ops.clone())) {
            Some(&i) => {
                merged[i].count += a.count.max(1);
                merged[i].similar += a.similar;
            }
            None => {
                by_identity.insert((a.kind.clone(), ops), merged.len());
                merged.push(a);
            }
        }
    }
    let mut grouped: Vec<Anomaly> = vec![];
    let mut by_shape: HashMap<(String, Shape), usize> = HashMap::new();
    let mut listed: HashMap<String, usize> = HashMap::new();
    for a in merged {
        tally.by_kind.entry((checker.to_string(), a.kind.clone())).or_default().1 += 1;
        let Some(c) = context else {
            grouped.push(a);
            continue;
        };
        let key = (a.kind.clone(), c.shape(&a));
        match by_shape.get(&key) {
            Some(&i) => {
                let rep = &mut grouped[i];
                rep.similar += 1 + a.similar;
                if rep.examples.len() < EXAMPLES_PER_GROUP {
                    rep.examples.push(a.ops);
                }
            }
            None => {
                by_shape.insert(key, grouped.len());
                grouped.push(a);
            }
        }
    }
    grouped.retain(|a| {
        let n = listed.entry(a.kind.clone()).or_default();
        *n += 1;
        *n <= LISTED_PER_KIND
    });
    for a in &grouped {
        tally.by_kind.entry((checker.to_string(), a.kind.clone())).or_default().2 += 1;
    }
    grouped
}

fn set_checker(a: &mut Anomaly, checker: &str) {
    match &mut a.witness {
        Value::Object(m) => {
            m.insert("checker".into(), Value::String(checker.to_string()));
        }
        w => *w = serde_json::json!({ "checker": checker }),
    }
}

/// Where a checker's anomalies come in the story: linearizability first, then the register
/// ladder strongest first, then the transactional checkers, then the invariants.
pub fn ladder_rank(checker: &str) -> (usize, String) {
    let ladder = std::iter::once("linearizable").chain(crate::ladder::MODELS);
    if let Some(i) = ladder.clone().position(|m| m == checker) {
        return (i, String::new());
    }
    let after = ladder.count();
    match checker {
        "list-append" | "rw-register" => (after, checker.to_string()),
        _ => (after + 1, checker.to_string()),
    }
}

/// Orders anomalies by [`ladder_rank`] of their checker, keeping each checker's own order.
pub fn order_by_ladder(anomalies: &mut [Anomaly]) {
    anomalies.sort_by_cached_key(|a| ladder_rank(a.checker()));
}

/// Notes on each anomaly the other models that report the same kind with the same ops.
pub fn note_also_in(anomalies: &mut [Anomaly]) {
    let mut models: HashMap<(String, Vec<u64>), Vec<String>> = HashMap::new();
    let key = |a: &Anomaly| {
        let mut ops = a.ops.clone();
        ops.sort_unstable();
        (a.kind.clone(), ops)
    };
    for a in anomalies.iter() {
        models.entry(key(a)).or_default().push(a.checker().to_string());
    }
    for a in anomalies.iter_mut() {
        let me = a.checker().to_string();
        a.also_in = models[&key(a)].iter().filter(|m| **m != me).cloned().collect();
    }
}
