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
//!   observed (it took effect). The view keeps every sibling
//!   ([`RegisterHistory::siblings`]): the sequential search accepts the read wherever the
//!   key holds one of them, and the session checks call it stale only when every sibling
//!   is. For what the read makes visible afterwards, the polynomial checkers (the causal
//!   family, PRAM, the session frontiers) follow one sibling, [`Event::read`]: the one the
//!   view's `pick_sibling` chooses.

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

/// One operation that took effect, in its process's program order. Its values stay in
/// the history ([`RegisterHistory::read_value`], [`RegisterHistory::write_value`]): the
/// checks compare sources, and only an anomaly's words need a value, so a view of millions
/// of events copies none.
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
    /// Where the value it read is; nowhere when it is not a read.
    read_at: ValueAt,
    /// Where the value it wrote is; nowhere when it is not a write.
    write_at: ValueAt,
    /// For a read with more than one sibling, its set in the view's sibling sets
    /// ([`RegisterHistory::siblings`]); [`NO_SIBLINGS`] for any other event.
    sibling_set: u32,
    /// True for writes and cas: the event wrote [`RegisterHistory::write_value`].
    pub writes: bool,
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

impl Event {
    /// True for a read with more than one distinct sibling ([`RegisterHistory::siblings`]).
    pub fn is_sibling_read(&self) -> bool {
        self.sibling_set != NO_SIBLINGS
    }
}

/// The [`Event::sibling_set`] of an event that is not a sibling read.
const NO_SIBLINGS: u32 = u32::MAX;

/// Where one of an event's values is in the history: op `op`'s value (`part` 0), element
/// `part - 1` of its array value (a cas's `from` and `to`), or sibling `part - 3` of its
/// [`Op::read_values`]. Eight bytes instead of a copied [`Value`]'s thirty-two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValueAt {
    op: u32,
    part: u32,
}

impl ValueAt {
    /// No value: the event does not read (or write).
    const NOWHERE: ValueAt = ValueAt { op: u32::MAX, part: 0 };
    const WHOLE: u32 = 0;
    const FIRST_ELEMENT: u32 = 1;
    const FIRST_SIBLING: u32 = 3;

    fn whole(op: usize) -> ValueAt {
        ValueAt { op: op as u32, part: ValueAt::WHOLE }
    }

    fn element(op: usize, i: u32) -> ValueAt {
        ValueAt { op: op as u32, part: ValueAt::FIRST_ELEMENT + i }
    }

    fn sibling(op: usize, i: usize) -> ValueAt {
        ValueAt { op: op as u32, part: ValueAt::FIRST_SIBLING + i as u32 }
    }

    /// The value in `ops`; `null` for [`ValueAt::NOWHERE`].
    fn value(self, ops: &[Op]) -> &Value {
        if self == ValueAt::NOWHERE {
            return &NULL;
        }
        let op = &ops[self.op as usize];
        match self.part {
            ValueAt::WHOLE => &op.value,
            p if p < ValueAt::FIRST_SIBLING => op
                .value
                .as_array()
                .and_then(|a| a.get((p - ValueAt::FIRST_ELEMENT) as usize))
                .unwrap_or(&NULL),
            p => op.read_values().get((p - ValueAt::FIRST_SIBLING) as usize).unwrap_or(&NULL),
        }
    }
}

/// A register/kv history as the ladder checkers see it, borrowing the history's ops for
/// the values it names.
#[derive(Debug, Clone, Default)]
pub struct RegisterHistory<'h> {
    /// The ops of the history the view was extracted from.
    ops: &'h [Op],
    /// Events, grouped by process: process `p` owns `starts[p]..starts[p + 1]`.
    pub events: Vec<Event>,
    /// First event id of each process, plus the total at the end.
    pub starts: Vec<u32>,
    /// The client process number of each dense process.
    pub processes: Vec<u64>,
    /// Key names by dense key number.
    pub keys: Vec<String>,
    /// Every sibling read's sources, one per distinct sibling value, in the order the read
    /// listed them (its `read` is one of them).
    sibling_sets: Vec<Box<[Source]>>,
    /// The numbers of the values written that are not integers, by their JSON text.
    texts: FxHashMap<String, u32>,
    /// History indices of failed writes, by (key, value), to explain reads of them.
    failed_writes: FxHashMap<(u32, Written), u64>,
    /// Write events by (key, value).
    write_of: FxHashMap<(u32, Written), u32>,
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

/// The identity of a value some op wrote, as the view's maps hold it: an integer as
/// itself, any other value by its number in [`RegisterHistory::texts`] (sixteen bytes where
/// a [`ValueKey`] takes thirty-two, for maps of a million writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Written {
    Int(i64),
    Text(u32),
}

/// Why a history cannot be judged by the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDifferentiated(pub String);

/// A client call as the history holds it: the positions of its ops, whose values, indices
/// and times are read from there (20 bytes a call, for a list of millions kept while the
/// view is built).
struct Call {
    /// The process's number in order of first call (not yet the view's dense number,
    /// which counts only processes with an event).
    process: u32,
    key: u32,
    /// The invocation's position in the history's ops.
    inv: u32,
    /// The completion's position, [`NO_COMPLETION`] if the call never completed.
    done: u32,
    f: Kind,
    outcome: OpType,
}

/// [`Call::done`] of a call that never completed.
const NO_COMPLETION: u32 = u32::MAX;

impl Call {
    fn done(&self) -> Option<usize> {
        (self.done != NO_COMPLETION).then_some(self.done as usize)
    }

    /// The invocation's value: what a write writes, a cas's `[from, to]`.
    fn arg<'h>(&self, ops: &'h [Op]) -> &'h Value {
        &ops[self.inv as usize].value
    }

    /// The completion's value (`null` for a call that never completed).
    fn result<'h>(&self, ops: &'h [Op]) -> &'h Value {
        self.done().map_or(&NULL, |d| &ops[d].value)
    }

    /// A sibling read's values ([`Op::read_values`]), when it has more than one; `None`
    /// for every other call, which read `result`.
    fn siblings<'h>(&self, ops: &'h [Op]) -> Option<&'h [Value]> {
        let d = self.done().filter(|_| self.f == Kind::Read)?;
        let values = ops[d].read_values();
        (values.len() > 1).then_some(values)
    }

    /// A cas's `[from, to]`, when its value is that.
    fn cas_pair<'h>(&self, ops: &'h [Op]) -> Option<(&'h Value, &'h Value)> {
        match self.arg(ops).as_array().map(|a| a.as_slice()) {
            Some([from, to]) => Some((from, to)),
            _ => None,
        }
    }

    /// Where the value the call wrote is: a write's argument, a cas's `to`.
    fn written_at(&self) -> ValueAt {
        match self.f {
            Kind::Read => ValueAt::NOWHERE,
            Kind::Write => ValueAt::whole(self.inv as usize),
            Kind::Cas => ValueAt::element(self.inv as usize, 1),
        }
    }

    fn invoke_index(&self, ops: &[Op]) -> u64 {
        ops[self.inv as usize].index
    }

    fn invoke_time(&self, ops: &[Op]) -> u64 {
        ops[self.inv as usize].time
    }

    /// The completion of an acknowledged call; `None` for any other.
    fn acknowledgement(&self) -> Option<usize> {
        self.done().filter(|_| self.outcome == OpType::Ok)
    }

    /// When an acknowledged call completed; never, for any other.
    fn complete_time(&self, ops: &[Op]) -> u64 {
        self.acknowledgement().map_or(u64::MAX, |d| ops[d].time)
    }

    /// The op an event of this call stands at: the completion of an acknowledged call,
    /// else the invocation.
    fn index(&self, ops: &[Op]) -> u64 {
        ops[self.acknowledgement().unwrap_or(self.inv as usize)].index
    }
}

/// The first place of each distinct value of `values`, in order: a sibling read's
/// siblings as the view numbers them.
fn distinct_places(values: &[Value]) -> impl Iterator<Item = usize> + '_ {
    (0..values.len()).filter(|&j| !values[..j].contains(&values[j]))
}

/// What a call without a completion returned, and what a write reads.
static NULL: Value = Value::Null;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
}

impl<'h> RegisterHistory<'h> {
    /// Extracts the register view of `history`; fails when a key's writes are not unique
    /// (or write `null`), since then a read no longer names the write it saw.
    pub fn from_history(history: &'h History) -> Result<RegisterHistory<'h>, NotDifferentiated> {
        let ops = history.ops();
        let mut rh = RegisterHistory { ops, ..RegisterHistory::default() };
        let mut key_ids: FxHashMap<&str, u32> = FxHashMap::default();
        let mut first_calls: FxHashMap<u64, u32> = FxHashMap::default();
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
            let Process::Client(client) = op.process else { continue };
            let name = op.key.as_deref().unwrap_or("");
            let next = key_ids.len() as u32;
            let key = *key_ids.entry(name).or_insert_with(|| {
                rh.keys.push(name.to_string());
                next
            });
            let next = first_calls.len() as u32;
            let process = *first_calls.entry(client).or_insert(next);
            let outcome = done.map_or(OpType::Info, |c| ops[c].kind);
            // A history holds fewer ops than u32 numbers (its pairing refuses more).
            let done = done.map_or(NO_COMPLETION, |d| d as u32);
            calls.push(Call { process, key, inv: inv as u32, done, f, outcome });
        }
        let mut clients = vec![0u64; first_calls.len()];
        for (&client, &p) in &first_calls {
            clients[p as usize] = client;
        }
        drop(first_calls);

        // Which call wrote each value, and unique-write validation.
        // Sized once: growing a map of a million writes rehashes it twenty times.
        let writes = calls.iter().filter(|c| c.f != Kind::Read && c.outcome != OpType::Fail).count();
        let mut writer_of: FxHashMap<(u32, Written), u32> =
            FxHashMap::with_capacity_and_hasher(writes, Default::default());
        for (i, c) in calls.iter().enumerate() {
            let value = match c.f {
                Kind::Read => continue,
                Kind::Write => c.arg(ops),
                Kind::Cas => match c.cas_pair(ops) {
                    Some((_, to)) => to,
                    None => {
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
            let slot = (c.key, rh.number(value));
            if c.outcome == OpType::Fail {
                rh.failed_writes.insert(slot, c.invoke_index(ops));
                continue;
            }
            if let Some(&j) = writer_of.get(&slot) {
                return Err(NotDifferentiated(format!(
                    "ops {} and {} both write {} to key {:?}; the ladder needs unique writes per key",
                    calls[j as usize].invoke_index(ops),
                    c.invoke_index(ops),
                    value,
                    rh.keys[c.key as usize]
                )));
            }
            writer_of.insert(slot, i as u32);
        }
        // A failed write sharing a value with a write that took effect makes reads ambiguous.
        for (k, &idx) in &rh.failed_writes {
            if let Some(&j) = writer_of.get(k) {
                let c = &calls[j as usize];
                return Err(NotDifferentiated(format!(
                    "ops {} (failed) and {} both write {} to key {:?}; the ladder needs unique writes per key",
                    idx,
                    c.invoke_index(ops),
                    c.written_at().value(ops),
                    rh.keys[k.0 as usize]
                )));
            }
        }

        // Which calls took effect: ok ones, plus indeterminate writes someone observed.
        let mut effective: Vec<bool> = calls.iter().map(|c| c.outcome == OpType::Ok).collect();
        let mut newly_seen: Vec<u32> = Vec::new();
        let observe = |rh: &RegisterHistory, c: &Call, effective: &mut [bool], found: &mut Vec<u32>| {
            let cas_from;
            let seen = match c.f {
                Kind::Read => c.siblings(ops).unwrap_or(std::slice::from_ref(c.result(ops))),
                Kind::Cas => {
                    cas_from = c.cas_pair(ops).map_or(&NULL, |(from, _)| from);
                    std::slice::from_ref(cas_from)
                }
                Kind::Write => return,
            };
            for v in seen.iter().filter(|v| !v.is_null()) {
                if let Some(&w) = rh.known(v).and_then(|n| writer_of.get(&(c.key, n)))
                    && !effective[w as usize]
                {
                    effective[w as usize] = true;
                    found.push(w);
                }
            }
        };
        for c in calls.iter().filter(|c| c.outcome == OpType::Ok) {
            observe(&rh, c, &mut effective, &mut newly_seen);
            // An info cas seen only now reads its `from` in turn.
            while let Some(w) = newly_seen.pop() {
                observe(&rh, &calls[w as usize], &mut effective, &mut newly_seen);
            }
        }

        // Dense processes in order of first effective call; events grouped by process, in
        // program order within each.
        let mut dense = vec![u32::MAX; clients.len()];
        let mut counts: Vec<u32> = Vec::new();
        for (c, _) in calls.iter().zip(&effective).filter(|(_, e)| **e) {
            let p = &mut dense[c.process as usize];
            if *p == u32::MAX {
                *p = counts.len() as u32;
                counts.push(0);
                rh.processes.push(clients[c.process as usize]);
            }
            counts[*p as usize] += 1;
        }
        let mut next_event = Vec::with_capacity(counts.len());
        let mut n = 0u32;
        for &count in &counts {
            rh.starts.push(n);
            next_event.push(n);
            n += count;
        }
        rh.starts.push(n);
        drop(counts);
        let mut event_of_call = vec![u32::MAX; calls.len()];
        let mut call_of_event = vec![0u32; n as usize];
        for (i, c) in calls.iter().enumerate() {
            if effective[i] {
                let next = &mut next_event[dense[c.process as usize] as usize];
                event_of_call[i] = *next;
                call_of_event[*next as usize] = i as u32;
                *next += 1;
            }
        }
        drop(effective);
        // The writers that took effect, now by event: the map the checks look writes up in.
        writer_of.retain(|_, w| event_of_call[*w as usize] != u32::MAX);
        for w in writer_of.values_mut() {
            *w = event_of_call[*w as usize];
        }
        rh.write_of = writer_of;
        drop(event_of_call);

        rh.events.reserve_exact(n as usize);
        for (e, &i) in call_of_event.iter().enumerate() {
            let c = &calls[i as usize];
            let p = dense[c.process as usize];
            let mut sibling_set = NO_SIBLINGS;
            let read_at = match c.f {
                Kind::Write => ValueAt::NOWHERE,
                Kind::Cas => ValueAt::element(c.inv as usize, 0),
                Kind::Read => match c.siblings(ops) {
                    // The first place of each distinct sibling value, in the read's order.
                    Some(values) => {
                        let distinct: Vec<usize> = distinct_places(values).collect();
                        let done = c.done as usize;
                        if distinct.len() < 2 {
                            // One value however often listed: a plain read of its value.
                            ValueAt::whole(done)
                        } else {
                            let sources: Box<[Source]> =
                                distinct.iter().map(|&j| rh.source_of(c.key, &values[j])).collect();
                            let picked = rh.pick_sibling(&calls, &call_of_event, &sources);
                            sibling_set = rh.sibling_sets.len() as u32;
                            rh.sibling_sets.push(sources);
                            ValueAt::sibling(done, distinct[picked])
                        }
                    }
                    None => c.done().map_or(ValueAt::NOWHERE, ValueAt::whole),
                },
            };
            let read = (c.f != Kind::Write).then(|| rh.source_of(c.key, read_at.value(ops)));
            rh.events.push(Event {
                process: p,
                pos: e as u32 - rh.starts[p as usize],
                key: c.key,
                read,
                read_at,
                write_at: c.written_at(),
                sibling_set,
                writes: c.f != Kind::Read,
                index: c.index(ops),
                invoke_time: c.invoke_time(ops),
                complete_time: c.complete_time(ops),
                acknowledged: c.outcome == OpType::Ok,
            });
        }
        Ok(rh)
    }

    /// The number of value `v` in the view's maps, giving a text its number if it has none.
    fn number(&mut self, v: &Value) -> Written {
        match v.as_i64() {
            Some(i) => Written::Int(i),
            None => {
                let next = self.texts.len() as u32;
                Written::Text(*self.texts.entry(v.to_string()).or_insert(next))
            }
        }
    }

    /// The number of value `v` if some op wrote it (or tried to).
    fn known(&self, v: &Value) -> Option<Written> {
        match v.as_i64() {
            Some(i) => Some(Written::Int(i)),
            None => self.texts.get(&v.to_string()).map(|&t| Written::Text(t)),
        }
    }

    /// What a read of `v` from `key` observed.
    fn source_of(&self, key: u32, v: &Value) -> Source {
        if v.is_null() {
            return Source::Init;
        }
        match self.write_event(key, v) {
            Some(w) => Source::Write(w),
            None => Source::Nowhere,
        }
    }

    /// Which sibling of a sibling read the polynomial checkers follow (an index into
    /// `siblings`): a sibling some write produced, the one whose write was invoked last
    /// (ties: the later call). The latest write is the one least likely to have been
    /// overwritten by anything the reader already saw, so following it claims no
    /// staleness that another pick would avoid in the common case; the checks that can
    /// afford it look at every sibling instead (see the module doc).
    fn pick_sibling(&self, calls: &[Call], call_of_event: &[u32], siblings: &[Source]) -> usize {
        let by_write = siblings
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match *s {
                Source::Write(w) => {
                    let call = call_of_event[w as usize];
                    Some((calls[call as usize].invoke_time(self.ops), call, i))
                }
                _ => None,
            })
            .max();
        match by_write {
            Some((_, _, i)) => i,
            None => siblings.iter().position(|s| *s == Source::Init).unwrap_or(0),
        }
    }

    /// The write event that wrote `v` to `key`, if one that took effect did.
    pub fn write_event(&self, key: u32, v: &Value) -> Option<u32> {
        self.known(v).and_then(|n| self.write_of.get(&(key, n))).copied()
    }

    /// The history index of a failed write of `v` to `key`, if one tried to write it.
    pub fn failed_write(&self, key: u32, v: &Value) -> Option<u64> {
        self.known(v).and_then(|n| self.failed_writes.get(&(key, n))).copied()
    }

    /// The value event `ev` read (for display): the sibling followed, for a sibling read;
    /// `null` when it is not a read.
    pub fn read_value(&self, ev: &Event) -> &'h Value {
        ev.read_at.value(self.ops)
    }

    /// The value event `ev` wrote; `null` when it is not a write.
    pub fn write_value(&self, ev: &Event) -> &'h Value {
        ev.write_at.value(self.ops)
    }

    /// For a read with more than one distinct sibling: every sibling's source, in the order
    /// the read listed them (its [`Event::read`] is one of them). Empty for any other event.
    pub fn siblings(&self, ev: &Event) -> &[Source] {
        match ev.sibling_set {
            NO_SIBLINGS => &[],
            s => &self.sibling_sets[s as usize],
        }
    }

    /// A sibling read's distinct values, in the order of [`RegisterHistory::siblings`].
    fn sibling_values(&self, ev: &Event) -> Vec<&'h Value> {
        let values = self.ops[ev.read_at.op as usize].read_values();
        distinct_places(values).map(|j| &values[j]).collect()
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
        format!("{verb} {}={}", self.key_name(w), self.write_value(ev))
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
        if ev.is_sibling_read() {
            let all: Vec<String> = self.sibling_values(ev).iter().map(|v| v.to_string()).collect();
            return format!("{what} {}=one of the siblings [{}]", self.key_name(r), all.join(", "));
        }
        format!("{what} {}={}", self.key_name(r), self.read_value(ev))
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
