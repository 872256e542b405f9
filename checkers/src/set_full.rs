//! Set invariants with Jepsen's semantics. Clients `add` single elements and `read` the
//! whole set.
//!
//! [`check`] is set-full: for every element, its *known* time is when its add was
//! acknowledged or a read first showed it, whichever came first. It is *stable* when some
//! read shows it and every read invoked after the last read that missed it shows it; *lost*
//! when it was known, and a read invoked after both the last read that showed it and the
//! point it became known missed it; otherwise *never read*. A stable element is *stale*
//! when a read that began after it was known still missed it. The set is invalid with a
//! lost element, an element read but never added, or an element read twice in one read;
//! `unknown` when no element is stable; stale elements make it invalid only when the set is
//! expected to be linearizable.
//!
//! [`check_set`] is the plain set: only the last `ok` read counts; every acknowledged add
//! must be in it, and nothing that no add attempted.

use crate::history::{History, Op, OpType};
use crate::ladder::register::ValueKey;
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashMap;
use serde_json::{Value, json};

/// At most this many anomalies are listed per kind; details count them all.
pub const MAX_PER_KIND: usize = 5;

/// What the set-full checker expects.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetFullSettings {
    /// When true, a stale element (a read that began after the element was known missed
    /// it) is a violation.
    pub linearizable: bool,
}

/// A point of the history: its index and time.
#[derive(Debug, Clone, Copy)]
struct At {
    index: u64,
    time: u64,
}

struct Element {
    value: Value,
    add: u64,
    known: Option<At>,
    last_present: Option<At>,
    last_absent: Option<At>,
    first_seen: Option<At>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stable,
    Lost,
    NeverRead,
}

/// The elements a set read returned, or why its value is not a list of them.
fn elements_of(read: &Op) -> Result<&[Value], String> {
    read.value.as_array().map(Vec::as_slice).ok_or_else(|| {
        format!("op {}: a set read must return a list of elements, got {}", read.index, read.value)
    })
}

/// The anomalies of one kind: the first [`MAX_PER_KIND`] listed, all of them counted.
#[derive(Default)]
struct Capped {
    listed: Vec<Anomaly>,
    count: usize,
}

impl Capped {
    /// Counts one more anomaly, building it only while the list has room.
    fn note(&mut self, anomaly: impl FnOnce() -> Anomaly) {
        self.count += 1;
        if self.listed.len() < MAX_PER_KIND {
            self.listed.push(anomaly());
        }
    }
}

/// The set function an op's `f` names: Maelstrom's broadcast workload calls its adds
/// `broadcast`, which is the same thing.
fn set_function(f: &str) -> &str {
    match f {
        "broadcast" => "add",
        other => other,
    }
}

/// Checks a set history with set-full semantics.
pub fn check(history: &History, settings: &SetFullSettings) -> CheckerResult {
    let ops = history.ops();
    let mut check = SetFullCheck::new(settings);
    for (pos, op) in ops.iter().enumerate() {
        let invoked = history.partner(pos).map(|j| (ops[j].index, ops[j].time));
        check.op(op, invoked);
    }
    check.finish()
}

/// The set-full checker fed op by op, in history order: what [`check`] runs, and what a
/// run's streaming judge (`crate::live`) runs as the history is written. It keeps one entry
/// per element added, never the ops.
pub struct SetFullCheck {
    settings: SetFullSettings,
    elements: Vec<Element>,
    by_value: FxHashMap<ValueKey, usize>,
    unexpected: Capped,
    duplicated: Capped,
    read_count: usize,
    /// A read whose value is not a list: the verdict is unknown, and nothing more is looked at.
    malformed: Option<String>,
}

impl SetFullCheck {
    /// A check under `settings`, before any op.
    pub fn new(settings: &SetFullSettings) -> SetFullCheck {
        SetFullCheck {
            settings: *settings,
            elements: Vec::new(),
            by_value: FxHashMap::default(),
            unexpected: Capped::default(),
            duplicated: Capped::default(),
            read_count: 0,
            malformed: None,
        }
    }

    /// Takes the next op of the history. `invoked` is the (index, time) of the op's
    /// invocation, for a completion; a read with none counts from its own completion.
    pub fn op(&mut self, op: &Op, invoked: Option<(u64, u64)>) {
        if op.is_nemesis() || self.malformed.is_some() {
            return;
        }
        let (elements, by_value) = (&mut self.elements, &mut self.by_value);
        match (set_function(&op.f), op.kind) {
            ("add", OpType::Invoke) => {
                let i = elements.len();
                by_value.insert(ValueKey::of(&op.value), i);
                elements.push(Element {
                    value: op.value.clone(),
                    add: op.index,
                    known: None,
                    last_present: None,
                    last_absent: None,
                    first_seen: None,
                });
            }
            ("add", OpType::Ok) => {
                if let Some(&i) = by_value.get(&ValueKey::of(&op.value)) {
                    let e = &mut elements[i];
                    e.known = e.known.or(Some(At { index: op.index, time: op.time }));
                }
            }
            ("read", OpType::Ok) => {
                let seen = match elements_of(op) {
                    Ok(seen) => seen,
                    Err(problem) => {
                        self.malformed = Some(problem);
                        return;
                    }
                };
                self.read_count += 1;
                let (index, time) = invoked.unwrap_or((op.index, op.time));
                let inv_at = At { index, time };
                let done_at = At { index: op.index, time: op.time };
                // How often the read holds each element: one pass, no map of the read's
                // values (a set read holds the whole set, so that map cost a hash insert
                // per element per read).
                let mut held = vec![0u32; elements.len()];
                let mut strangers: FxHashMap<ValueKey, usize> = FxHashMap::default();
                for v in seen {
                    let k = ValueKey::of(v);
                    match by_value.get(&k) {
                        Some(&i) => held[i] += 1,
                        None => {
                            self.unexpected.note(|| Anomaly {
                                kind: "unexpected".into(),
                                explanation: format!(
                                    "process {} read element {v}, which no add had attempted.",
                                    op.process
                                ),
                                ops: vec![op.index],
                                witness: Value::Null,
                                ..Anomaly::default()
                            });
                            *strangers.entry(k).or_default() += 1;
                        }
                    }
                }
                let repeated = |k: &ValueKey, n: usize| Anomaly {
                    kind: "duplicated".into(),
                    explanation: format!(
                        "process {} read one element {n} times in one read ({k:?}).",
                        op.process
                    ),
                    ops: vec![op.index],
                    witness: Value::Null,
                    ..Anomaly::default()
                };
                for (e, &n) in elements.iter_mut().zip(&held) {
                    if n > 1 {
                        self.duplicated.note(|| repeated(&ValueKey::of(&e.value), n as usize));
                    }
                    if n > 0 {
                        e.known = e.known.or(Some(done_at));
                        e.first_seen = e.first_seen.or(Some(done_at));
                        if e.last_present.is_none_or(|p| p.index < inv_at.index) {
                            e.last_present = Some(inv_at);
                        }
                    } else if e.last_absent.is_none_or(|a| a.index < inv_at.index) {
                        e.last_absent = Some(inv_at);
                    }
                }
                let mut strangers: Vec<(ValueKey, usize)> =
                    strangers.into_iter().filter(|&(_, n)| n > 1).collect();
                strangers.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
                for (k, n) in strangers {
                    self.duplicated.note(|| repeated(&k, n));
                }
            }
            _ => {}
        }
    }

    /// The verdict on the ops taken.
    pub fn finish(self) -> CheckerResult {
        let SetFullCheck { settings, elements, unexpected, duplicated, read_count, malformed, .. } = self;
        if let Some(problem) = malformed {
            return CheckerResult::unknown(problem);
        }
        conclude(&settings, &elements, unexpected, duplicated, read_count)
    }
}

/// The verdict from every element's story.
fn conclude(
    settings: &SetFullSettings,
    elements: &[Element],
    unexpected: Capped,
    duplicated: Capped,
    read_count: usize,
) -> CheckerResult {
    if elements.is_empty() {
        // Without a single add there is nothing to lose: a confident verdict either way
        // (or an "unexpected" anomaly for every element read) would say nothing true.
        return CheckerResult::unknown(
            "the history has no add (nor Maelstrom broadcast), so set-full has nothing to judge; \
             is this a set history?",
        );
    }
    let mut lost = Vec::new();
    let mut stale = Vec::new();
    let mut never_read = 0usize;
    let mut stable = 0usize;
    let mut stable_latencies = Vec::new();
    let mut visibility = Vec::new();
    for e in elements {
        let idx = |a: Option<At>| a.map_or(-1i128, |a| a.index as i128);
        let is_stable = e.last_present.is_some() && idx(e.last_absent) < idx(e.last_present);
        let is_lost = e.known.is_some()
            && e.last_absent.is_some()
            && idx(e.last_present) < idx(e.last_absent)
            && idx(e.known) < idx(e.last_absent);
        let outcome = if is_stable {
            Outcome::Stable
        } else if is_lost {
            Outcome::Lost
        } else {
            Outcome::NeverRead
        };
        let known_time = e.known.map_or(0, |k| k.time);
        if let (Some(k), Some(f)) = (e.known, e.first_seen) {
            visibility.push(f.time.saturating_sub(k.time) / 1_000_000);
        }
        match outcome {
            Outcome::Stable => {
                stable += 1;
                let stable_time = e.last_absent.map_or(0, |a| a.time + 1);
                let latency = stable_time.saturating_sub(known_time) / 1_000_000;
                stable_latencies.push(latency);
                if latency > 0 {
                    stale.push((e, latency));
                }
            }
            Outcome::Lost => lost.push(e),
            Outcome::NeverRead => never_read += 1,
        }
    }
    let mut anomalies: Vec<Anomaly> = lost
        .iter()
        .take(MAX_PER_KIND)
        .map(|e| {
            let absent = e.last_absent.expect("lost elements have an absent read");
            Anomaly {
                kind: "lost".into(),
                explanation: format!(
                    "element {} was added (op {}) and known to be in the set, yet the read invoked at op {} and every later one missed it.",
                    e.value, e.add, absent.index
                ),
                ops: vec![e.add, e.known.expect("lost elements are known").index, absent.index],
                witness: Value::Null,
                ..Anomaly::default()
            }
        })
        .collect();
    anomalies.extend(unexpected.listed);
    anomalies.extend(duplicated.listed);
    if settings.linearizable {
        anomalies.extend(stale.iter().take(MAX_PER_KIND).map(|(e, latency)| Anomaly {
            kind: "stale".into(),
            explanation: format!(
                "element {} was known to be in the set, yet a read invoked afterwards (op {}) missed it; it took {latency} ms to become stable.",
                e.value,
                e.last_absent.expect("stale elements have an absent read").index
            ),
            ops: vec![e.add, e.last_absent.expect("stale").index],
            witness: Value::Null,
            ..Anomaly::default()
        }));
    }
    let quantiles = |mut v: Vec<u64>| -> Value {
        if v.is_empty() {
            return Value::Null;
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
        json!({ "0": at(0.0), "0.5": at(0.5), "0.95": at(0.95), "0.99": at(0.99), "1": at(1.0) })
    };
    let details = json!({
        "attempt-count": elements.len(),
        "read-count": read_count,
        "stable-count": stable,
        "lost-count": lost.len(),
        "lost": lost.iter().map(|e| e.value.clone()).collect::<Vec<_>>(),
        "never-read-count": never_read,
        "stale-count": stale.len(),
        "stale": stale.iter().map(|(e, _)| e.value.clone()).collect::<Vec<_>>(),
        "unexpected-count": unexpected.count,
        "duplicated-count": duplicated.count,
        "stable-latencies-ms": quantiles(stable_latencies),
        "visibility-latencies-ms": quantiles(visibility),
    });
    if !anomalies.is_empty() {
        return CheckerResult::invalid(anomalies).with_details(details);
    }
    if stable == 0 {
        return CheckerResult::unknown(
            "no element was ever stably read (nothing added, or nothing read after adds)",
        )
        .with_details(details);
    }
    CheckerResult::valid().with_details(details)
}

/// Checks a set history with Jepsen's plain set semantics (final read only).
pub fn check_set(history: &History) -> CheckerResult {
    let ops = history.ops();
    let mut attempts: FxHashMap<ValueKey, u64> = FxHashMap::default();
    let mut acknowledged: Vec<(ValueKey, &Value, u64)> = Vec::new();
    let mut final_read = None;
    for op in ops.iter().filter(|op| !op.is_nemesis()) {
        match (set_function(&op.f), op.kind) {
            ("add", OpType::Invoke) => {
                attempts.insert(ValueKey::of(&op.value), op.index);
            }
            ("add", OpType::Ok) => acknowledged.push((ValueKey::of(&op.value), &op.value, op.index)),
            ("read", OpType::Ok) => final_read = Some(op),
            _ => {}
        }
    }
    let Some(read) = final_read else { return CheckerResult::unknown("the set was never read") };
    let seen = match elements_of(read) {
        Ok(seen) => seen,
        Err(problem) => return CheckerResult::unknown(problem),
    };
    let seen_keys: FxHashMap<ValueKey, &Value> = seen.iter().map(|v| (ValueKey::of(v), v)).collect();
    let lost: Vec<&(ValueKey, &Value, u64)> =
        acknowledged.iter().filter(|(k, _, _)| !seen_keys.contains_key(k)).collect();
    let unexpected: Vec<&Value> =
        seen_keys.iter().filter(|(k, _)| !attempts.contains_key(*k)).map(|(_, v)| *v).collect();
    let recovered = seen_keys.len() - unexpected.len();
    let mut anomalies: Vec<Anomaly> = lost
        .iter()
        .take(MAX_PER_KIND)
        .map(|(_, v, at)| Anomaly {
            kind: "lost".into(),
            explanation: format!(
                "element {v} was acknowledged (op {at}) but the final read (op {}) lacks it.",
                read.index
            ),
            ops: vec![*at, read.index],
            witness: Value::Null,
            ..Anomaly::default()
        })
        .collect();
    anomalies.extend(unexpected.iter().take(MAX_PER_KIND).map(|v| Anomaly {
        kind: "unexpected".into(),
        explanation: format!("the final read (op {}) holds element {v}, which no add attempted.", read.index),
        ops: vec![read.index],
        witness: Value::Null,
        ..Anomaly::default()
    }));
    let details = json!({
        "attempt-count": attempts.len(),
        "acknowledged-count": acknowledged.len(),
        "ok-count": recovered,
        "lost-count": lost.len(),
        "unexpected-count": unexpected.len(),
    });
    if anomalies.is_empty() {
        CheckerResult::valid().with_details(details)
    } else {
        CheckerResult::invalid(anomalies).with_details(details)
    }
}
