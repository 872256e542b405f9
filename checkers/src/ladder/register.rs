//! The ladder's view of a register or kv history: every client `read`, `write` and `cas`
//! that took effect, as events in each process's program order, with every read resolved
//! to the one write it observed. Sunder's workloads write each value at most once per key,
//! so a read's value names its write; a history where that does not hold is rejected
//! here, before any model is judged.
//!
//! How outcomes become events (the rules `docs/consistency-models.md` states):
//! - `ok` write: a write. `fail` write: dropped, it did not happen.
//! - `info` (or never completed) write: it may or may not have happened. It becomes a
//!   write only when some read observed its value; an unobserved one is dropped, which no
//!   model can object to, since nobody saw it.
//! - `ok` read: a read of the value it returned; `fail` or `info` reads are dropped.
//! - `ok` cas `[from, to]`: one event that reads `from` and writes `to`; `fail` cas:
//!   dropped; `info` cas: like an `info` write of `to` that, when observed, also read `from`.
//! - A `null` value is the initial value of every key; an op without `key` works on the
//!   single register `""`.
//! - A read with siblings ([`Op::read_values`](crate::history::Op::read_values)) returned
//!   one of them. Every sibling is a value the store held, so each one's `info` write is
//!   observed (it took effect). The event keeps every sibling in [`Event::siblings`]: the
//!   sequential search accepts the read wherever the key holds one of them, and the
//!   session checks call it stale only when every sibling is. For what the read makes
//!   visible afterwards, the polynomial checkers (the causal family, PRAM, the session
//!   frontiers) follow one sibling, [`Event::read`]: the one [`pick_sibling`] chooses.

use crate::history::{History, Op, OpType, Process};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// What a read observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The initial value (`null`).
    Init,
    /// The write event with this id.
    Write(u32),
    /// A value no write (that took effect) produced: never written, or only by a failed op.
    Nowhere,
}

/// One operation that took effect, in its process's program order.
#[derive(Debug, Clone)]
pub struct Event {
    /// Dense process number (index into [`RegisterHistory::processes`]).
    pub process: u32,
    /// Position in the process's program order, from 0.
    pub pos: u32,
    /// Dense key number (index into [`RegisterHistory::keys`]).
    pub key: u32,
    /// What the event read, for reads and cas.
    pub read: Option<Source>,
    /// The value it read (for display), `null` when it is not a read.
    pub read_value: Value,
    /// For a read with more than one sibling: every sibling's source with its value, in
    /// the order the read listed them (`read` is one of them). Empty for any other event.
    pub siblings: Vec<(Source, Value)>,
    /// True for writes and cas: the event wrote `write_value`.
    pub writes: bool,
    /// The value it wrote, `null` when it is not a write.
    pub write_value: Value,
    /// The history index that stands for the event in anomalies: the completion when there
    /// is one, else the invocation.
    pub index: u64,
    /// Invocation time (ns).
    pub invoke_time: u64,
    /// Completion time (ns), `u64::MAX` when the outcome is unknown.
    pub complete_time: u64,
    /// True when the op was acknowledged (`ok`), false for an observed `info` write.
    pub acknowledged: bool,
}

/// A register/kv history as the ladder checkers see it.
#[derive(Debug, Clone, Default)]
pub struct RegisterHistory {
    /// Events, grouped by process: process `p` owns `starts[p]..starts[p + 1]`.
    pub events: Vec<Event>,
    /// First event id of each process, plus the total at the end.
    pub starts: Vec<u32>,
    /// The client process number of each dense process.
    pub processes: Vec<u64>,
    /// Key names by dense key number.
    pub keys: Vec<String>,
    /// History indices of failed writes, by (key, value), to explain reads of them.
    pub failed_writes: FxHashMap<(u32, ValueKey), u64>,
    /// Write events by (key, value).
    pub write_of: FxHashMap<(u32, ValueKey), u32>,
    /// Client ops the ladder ignored (other functions than read, write and cas).
    pub ignored: usize,
}

/// A hashable identity for a JSON value: integers directly, anything else by its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueKey {
    /// An integer value.
    Int(i64),
    /// Any other value, by its JSON text.
    Text(String),
}

impl ValueKey {
    /// The identity of `v`.
    pub fn of(v: &Value) -> ValueKey {
        match v.as_i64() {
            Some(i) => ValueKey::Int(i),
            None => ValueKey::Text(v.to_string()),
        }
    }
}

/// Which sibling of a sibling read the polynomial checkers follow (an index into
/// `siblings`): a sibling some write produced, the one whose write was invoked last (ties:
/// the later call). The latest write is the one least likely to have been overwritten by
/// anything the reader already saw, so following it claims no staleness that another
/// pick would avoid in the common case; the checks that can afford it look at every
/// sibling instead (see the module doc).
fn pick_sibling(
    ops: &[Op],
    calls: &[Call],
    event_of_call: &[u32],
    writer_of: &FxHashMap<(u32, ValueKey), usize>,
    key: u32,
    siblings: &[(Source, Value)],
) -> usize {
    let writer =
        |v: &Value| writer_of.get(&(key, ValueKey::of(v))).copied().filter(|&w| event_of_call[w] != u32::MAX);
    let by_write = siblings
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| writer(v).map(|w| (calls[w].invoke_time(ops), w, i)))
        .max();
    match by_write {
        Some((_, _, i)) => i,
        None => siblings.iter().position(|(s, _)| *s == Source::Init).unwrap_or(0),
    }
}

/// Why a history cannot be judged by the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDifferentiated(pub String);

/// A client call as the history holds it: the positions of its ops, whose values, indices
/// and times are read from there. Building the view copies a value only into the events
/// that keep it, and a history of millions of calls keeps this list (40 bytes a call, not
/// the 88 of the values and times copied out) while the view is built.
struct Call {
    process: u64,
    f: Kind,
    key: u32,
    outcome: OpType,
    /// The invocation's position in the history's ops.
    inv: usize,
    /// The completion's position, if the call completed.
    done: Option<usize>,
}

impl Call {
    /// The invocation's value: what a write writes, a cas's `[from, to]`.
    fn arg<'h>(&self, ops: &'h [Op]) -> &'h Value {
        &ops[self.inv].value
    }

    /// The completion's value (`null` for a call that never completed).
    fn result<'h>(&self, ops: &'h [Op]) -> &'h Value {
        self.done.map_or(&NULL, |d| &ops[d].value)
    }

    /// A sibling read's values ([`Op::read_values`]), when it has more than one; `None`
    /// for every other call, which read `result`.
    fn siblings<'h>(&self, ops: &'h [Op]) -> Option<&'h [Value]> {
        let d = self.done.filter(|_| self.f == Kind::Read)?;
        let values = ops[d].read_values();
        (values.len() > 1).then_some(values)
    }

    fn invoke_index(&self, ops: &[Op]) -> u64 {
        ops[self.inv].index
    }

    fn invoke_time(&self, ops: &[Op]) -> u64 {
        ops[self.inv].time
    }

    /// When an acknowledged call completed; never, for any other.
    fn complete_time(&self, ops: &[Op]) -> u64 {
        match self.done {
            Some(d) if self.outcome == OpType::Ok => ops[d].time,
            _ => u64::MAX,
        }
    }

    /// The op an event of this call stands at: the completion of an acknowledged call,
    /// else the invocation.
    fn index(&self, ops: &[Op]) -> u64 {
        match self.done {
            Some(d) if self.outcome == OpType::Ok => ops[d].index,
            _ => ops[self.inv].index,
        }
    }
}

/// What a call without a completion returned, and what a write reads.
static NULL: Value = Value::Null;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
}

impl RegisterHistory {
    /// Extracts the register view of `history`; fails when a key's writes are not unique
    /// (or write `null`), since then a read no longer names the write it saw.
    pub fn from_history(history: &History) -> Result<RegisterHistory, NotDifferentiated> {
        let ops = history.ops();
        let mut rh = RegisterHistory::default();
        let mut key_ids: FxHashMap<&str, u32> = FxHashMap::default();
        // A call is at least one op: sized once, so millions of calls are never moved.
        let mut calls = Vec::with_capacity(ops.len().div_ceil(2));
        for (inv, done) in history.client_calls() {
            let op = &ops[inv];
            let f = match op.f.as_str() {
                "read" => Kind::Read,
                "write" => Kind::Write,
                "cas" => Kind::Cas,
                _ => {
                    rh.ignored += 1;
                    continue;
                }
            };
            let Process::Client(process) = op.process else { continue };
            let name = op.key.as_deref().unwrap_or("");
            let next = key_ids.len() as u32;
            let key = *key_ids.entry(name).or_insert_with(|| {
                rh.keys.push(name.to_string());
                next
            });
            let outcome = done.map_or(OpType::Info, |c| ops[c].kind);
            calls.push(Call { process, f, key, outcome, inv, done });
        }

        // Which values each call wrote, and unique-write validation.
        // Sized once: growing a map of a million writes rehashes it twenty times.
        let writes = calls.iter().filter(|c| c.f != Kind::Read).count();
        let mut writer_of: FxHashMap<(u32, ValueKey), usize> =
            FxHashMap::with_capacity_and_hasher(writes, Default::default());
        let mut written: Vec<&Value> = vec![&NULL; calls.len()];
        let mut cas_from: Vec<&Value> = vec![&NULL; calls.len()];
        for (i, c) in calls.iter().enumerate() {
            let value = match c.f {
                Kind::Read => continue,
                Kind::Write => c.arg(ops),
                Kind::Cas => match c.arg(ops).as_array().map(|a| a.as_slice()) {
                    Some([from, to]) => {
                        cas_from[i] = from;
                        to
                    }
                    _ => {
                        return Err(NotDifferentiated(format!(
                            "op {}: cas value must be [from, to], got {}",
                            c.invoke_index(ops),
                            c.arg(ops)
                        )));
                    }
                },
            };
            if value.is_null() {
                return Err(NotDifferentiated(format!(
                    "op {} writes null to key {:?}, which cannot be told apart from the initial value",
                    c.invoke_index(ops),
                    rh.keys[c.key as usize]
                )));
            }
            let slot = (c.key, ValueKey::of(value));
            if c.outcome == OpType::Fail {
                rh.failed_writes.insert(slot, c.invoke_index(ops));
                written[i] = value;
                continue;
            }
            if let Some(&j) = writer_of.get(&slot) {
                return Err(NotDifferentiated(format!(
                    "ops {} and {} both write {} to key {:?}; the ladder needs unique writes per key",
                    calls[j].invoke_index(ops),
                    c.invoke_index(ops),
                    value,
                    rh.keys[c.key as usize]
                )));
            }
            writer_of.insert(slot, i);
            written[i] = value;
        }
        // A failed write sharing a value with a write that took effect makes reads ambiguous.
        for (k, &idx) in &rh.failed_writes {
            if let Some(&j) = writer_of.get(k) {
                return Err(NotDifferentiated(format!(
                    "ops {} (failed) and {} both write {} to key {:?}; the ladder needs unique writes per key",
                    idx,
                    calls[j].invoke_index(ops),
                    written[j],
                    rh.keys[k.0 as usize]
                )));
            }
        }

        // Which calls took effect: ok ones, plus indeterminate writes someone observed.
        let mut effective: Vec<bool> = calls.iter().map(|c| c.outcome == OpType::Ok).collect();
        let mut work: Vec<usize> = (0..calls.len()).filter(|&i| effective[i]).collect();
        while let Some(i) = work.pop() {
            let c = &calls[i];
            let seen = match c.f {
                Kind::Read => c.siblings(ops).unwrap_or(std::slice::from_ref(c.result(ops))),
                Kind::Cas => std::slice::from_ref(cas_from[i]),
                Kind::Write => continue,
            };
            for v in seen.iter().filter(|v| !v.is_null()) {
                if let Some(&w) = writer_of.get(&(c.key, ValueKey::of(v)))
                    && !effective[w]
                {
                    effective[w] = true;
                    work.push(w);
                }
            }
        }

        // Dense processes in order of first appearance; events grouped by process.
        let mut proc_ids: FxHashMap<u64, u32> = FxHashMap::default();
        let mut per_proc: Vec<Vec<usize>> = Vec::new();
        for (i, c) in calls.iter().enumerate() {
            if !effective[i] {
                continue;
            }
            let next = proc_ids.len() as u32;
            let p = *proc_ids.entry(c.process).or_insert_with(|| {
                rh.processes.push(c.process);
                per_proc.push(Vec::new());
                next
            });
            per_proc[p as usize].push(i);
        }
        let mut event_of_call = vec![u32::MAX; calls.len()];
        let mut n = 0u32;
        for list in &per_proc {
            for &i in list {
                event_of_call[i] = n;
                n += 1;
            }
        }
        rh.write_of.reserve(writer_of.len());
        rh.events.reserve_exact(n as usize);
        for (k, &i) in &writer_of {
            if effective[i] {
                rh.write_of.insert(k.clone(), event_of_call[i]);
            }
        }
        for (p, list) in per_proc.iter().enumerate() {
            rh.starts.push(rh.events.len() as u32);
            for (pos, &i) in list.iter().enumerate() {
                let c = &calls[i];
                let source_of = |v: &Value| {
                    if v.is_null() {
                        Source::Init
                    } else {
                        match rh.write_of.get(&(c.key, ValueKey::of(v))) {
                            Some(&w) => Source::Write(w),
                            None => Source::Nowhere,
                        }
                    }
                };
                let mut siblings: Vec<(Source, Value)> = Vec::new();
                if let Some(values) = c.siblings(ops) {
                    for v in values {
                        if !siblings.iter().any(|(_, seen)| seen == v) {
                            siblings.push((source_of(v), v.clone()));
                        }
                    }
                }
                if siblings.len() < 2 {
                    siblings.clear();
                }
                let read_value = match c.f {
                    Kind::Read if !siblings.is_empty() => siblings
                        [pick_sibling(ops, &calls, &event_of_call, &writer_of, c.key, &siblings)]
                    .1
                    .clone(),
                    Kind::Read => c.result(ops).clone(),
                    Kind::Cas => (*cas_from[i]).clone(),
                    Kind::Write => Value::Null,
                };
                let read = (c.f != Kind::Write).then(|| source_of(&read_value));
                rh.events.push(Event {
                    process: p as u32,
                    pos: pos as u32,
                    key: c.key,
                    read,
                    read_value,
                    siblings,
                    writes: c.f != Kind::Read,
                    write_value: (*written[i]).clone(),
                    index: c.index(ops),
                    invoke_time: c.invoke_time(ops),
                    complete_time: c.complete_time(ops),
                    acknowledged: c.outcome == OpType::Ok,
                });
            }
        }
        rh.starts.push(rh.events.len() as u32);
        Ok(rh)
    }

    /// Number of dense processes.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// Event ids of process `p`, in program order.
    pub fn process_events(&self, p: usize) -> std::ops::Range<usize> {
        self.starts[p] as usize..self.starts[p + 1] as usize
    }

    /// The client process number of event `e`.
    pub fn client_of(&self, e: u32) -> u64 {
        self.processes[self.events[e as usize].process as usize]
    }

    /// The key name of event `e`.
    pub fn key_name(&self, e: u32) -> &str {
        &self.keys[self.events[e as usize].key as usize]
    }

    /// "process 3 wrote x=5" style description of a write event.
    pub fn describe_write(&self, w: u32) -> String {
        format!("process {} {}", self.client_of(w), self.write_phrase(w))
    }

    /// "wrote x=5" (or "cas'd x=5"): a write event without its process.
    pub fn write_phrase(&self, w: u32) -> String {
        let ev = &self.events[w as usize];
        let verb = if ev.read.is_some() { "cas'd" } else { "wrote" };
        format!("{verb} {}={}", self.key_name(w), ev.write_value)
    }

    /// "process 3 read x=5" style description of a read event.
    pub fn describe_read(&self, r: u32) -> String {
        format!("process {} {}", self.client_of(r), self.read_phrase(r))
    }

    /// "read x=5" (or "cas read x=5", or "read x=one of [5, 7]" for a sibling read): a
    /// read event without its process.
    pub fn read_phrase(&self, r: u32) -> String {
        let ev = &self.events[r as usize];
        let what = if ev.writes { "cas read" } else { "read" };
        if !ev.siblings.is_empty() {
            let all: Vec<String> = ev.siblings.iter().map(|(_, v)| v.to_string()).collect();
            return format!("{what} {}=one of the siblings [{}]", self.key_name(r), all.join(", "));
        }
        format!("{what} {}={}", self.key_name(r), ev.read_value)
    }

    /// For every key, the processes that write it with their write event ids in program
    /// order: `writers[key] = [(process, [event ids])]`.
    pub fn writers_by_key(&self) -> Vec<Vec<(u32, Vec<u32>)>> {
        let mut out: Vec<Vec<(u32, Vec<u32>)>> = vec![Vec::new(); self.keys.len()];
        for (id, ev) in self.events.iter().enumerate() {
            if !ev.writes {
                continue;
            }
            // Events are grouped by process, so this process's entry, if any, is the last.
            let list = &mut out[ev.key as usize];
            match list.last_mut() {
                Some((p, writes)) if *p == ev.process => writes.push(id as u32),
                _ => list.push((ev.process, vec![id as u32])),
            }
        }
        out
    }

    /// History indices of the events, for an anomaly's `ops`.
    pub fn indices(&self, events: &[u32]) -> Vec<u64> {
        let mut v: Vec<u64> = events.iter().map(|&e| self.events[e as usize].index).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
