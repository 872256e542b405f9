//! Causal memory's per-process views, grown while the history is written, so that the
//! offline check of a run that needs one (any run whose linearizability fails) has almost
//! none of causal memory left to do. A process's CM view ([`crate::causal::memory`]) is a
//! fixpoint over its own causal past and nothing else, and that past is final once the
//! process retires (Sunder's runner retires a process at every `info`): the view of a
//! retired process is decided then, during the run. What this module hands on is the set
//! of client processes whose views hold neither WriteHBInitRead nor CyclicHB
//! ([`CleanViews`]); the offline check skips those and checks every other process itself,
//! so every anomaly it reports is still found, and worded, by the offline code.
//!
//! Events are numbered in arrival order, which is a topological order of CO: a write is
//! taken at its invocation, a read at its completion, and a read can only return a value
//! whose write was already invoked. Each event's CO clock is built on arrival in a
//! [`ClockStore`], as [`crate::causal::order`] builds it offline. Each live process keeps its
//! view as entries above CO (as the offline check does) for the events that grew; when its
//! past reaches further (its next event's clock), growth waiting at the edge of the past
//! is carried in, and the process's reads are examined and re-examined until the fixpoint,
//! exactly the rule of the offline check, in another order (any order reaches the same
//! fixpoint). A write is taken before its outcome is known: a failed one that nobody read
//! is taken back (nothing refers to it), and a crashed one that nobody reads is in no
//! past, as the offline view drops it.
//!
//! Anything the offline view would judge differently, or that this module does not follow
//! (cas, sibling reads, values written twice or read before being written, reads of failed
//! writes, ops the ladder ignores, a history that breaks the pairing rules), gives up:
//! [`MemoryViews::finish`] then says nothing and the offline check does all of causal
//! memory, as before.

use crate::causal::clocks::{Clock, ClockStore, FLAT_WIDTH, Grown};
pub use crate::causal::memory::CleanViews;
use crate::causal::memory::merge_entries;
use crate::history::{Op, OpType, Process};
use crate::ladder::register::ValueKey;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Views with an index below this are found through [`MemoryViews::touched_in`].
const MASKED_VIEWS: u32 = 64;

/// Processes beyond this many give up (the clocks' tries are built this wide up front).
const MAX_PROCESSES: usize = 1 << 16;

const NONE: u32 = u32::MAX;
/// [`Ev::source`] of a read of the initial value.
const INIT: u32 = u32::MAX - 1;

/// One event, in arrival order.
#[derive(Debug, Clone, Copy)]
struct Ev {
    process: u32,
    pos: u32,
    key: u32,
    /// The write read ([`INIT`] for the initial value), [`NONE`] for a write.
    source: u32,
}

impl Ev {
    fn is_read(&self) -> bool {
        self.source != NONE
    }
}

/// A call open at a process.
struct Open {
    /// The key, as the invocation names it.
    key: u32,
    /// The write event taken at the invocation, with the value it writes; `None` for a
    /// read.
    write: Option<(u32, ValueKey)>,
}

/// What the module keeps of a client process.
struct Proc {
    client: u64,
    /// Its events in program order.
    events: Vec<u32>,
    open: Option<Open>,
    /// Index into [`MemoryViews::views`] while the process is live and has an event.
    view: u32,
    retired: bool,
}

/// The views of every live process, and what they are grown from.
pub struct MemoryViews {
    given_up: Option<String>,
    store: ClockStore,
    events: Vec<Ev>,
    clocks: Vec<Clock>,
    /// The next event of the same process, [`NONE`] until it arrives.
    next_in_process: Vec<u32>,
    /// Readers of each write as a list through `next_reader`.
    first_reader: Vec<u32>,
    next_reader: Vec<u32>,
    procs: Vec<Proc>,
    proc_of: FxHashMap<u64, u32>,
    keys: FxHashMap<String, u32>,
    write_of: FxHashMap<(u32, ValueKey), u32>,
    failed_values: FxHashSet<(u32, ValueKey)>,
    /// Each (key, process)'s writes in program order.
    writes: FxHashMap<(u32, u32), Vec<u32>>,
    /// Each key's writing processes.
    key_writers: Vec<Vec<u32>>,
    views: Vec<Option<View>>,
    free_views: Vec<u32>,
    /// The views in which each event's view grew beyond CO.
    /// As a mask of view indices below [`MASKED_VIEWS`]; views past them (more live
    /// processes than that) are asked directly.
    touched_in: FxHashMap<u32, u64>,
    clean: CleanViews,
    /// Scratch: entries a join or carry brings, carries that waited, successors.
    brought: Vec<(u32, u32)>,
    ready: Vec<(u32, u32)>,
    successors: Vec<u32>,
}

impl Default for MemoryViews {
    fn default() -> MemoryViews {
        MemoryViews::new()
    }
}

/// One live process's view: entries above CO for the events that grew, and what waits to
/// be carried in once the past reaches it.
struct View {
    process: u32,
    /// CO clock of the process's latest event counted in: its causal past.
    past: Clock,
    /// `past`'s entries as a plain row (by process, 0 past its end): whether an event is
    /// in the past is asked for every carry, and a trie walk each time cost most of the
    /// streaming.
    bound: Vec<u32>,
    slot: FxHashMap<u32, (u32, u32)>,
    runs: Vec<(u32, u32)>,
    live: usize,
    /// Growth that reached the edge of the past: by target process and position, the
    /// (target, source) pairs to carry once the past covers the target.
    waiting: FxHashMap<u32, BTreeMap<u32, Vec<(u32, u32)>>>,
    /// Derived edges that added something: (earlier write, later write).
    derived: Vec<(u32, u32)>,
    derived_out: FxHashMap<u32, Vec<u32>>,
    heap: BinaryHeap<Reverse<u32>>,
    queued: FxHashSet<u32>,
    dirty: Vec<u32>,
}

impl View {
    fn new(process: u32) -> View {
        View {
            process,
            past: ClockStore::ZERO,
            bound: Vec::new(),
            slot: FxHashMap::default(),
            runs: Vec::new(),
            live: 0,
            waiting: FxHashMap::default(),
            derived: Vec::new(),
            derived_out: FxHashMap::default(),
            heap: BinaryHeap::new(),
            queued: FxHashSet::default(),
            dirty: Vec::new(),
        }
    }

    fn above(&self, e: u32) -> &[(u32, u32)] {
        match self.slot.get(&e) {
            Some(&(start, len)) => &self.runs[start as usize..(start + len) as usize],
            None => &[],
        }
    }

    fn covers(&self, ev: &Ev) -> bool {
        self.bound.get(ev.process as usize).is_some_and(|&b| ev.pos < b)
    }

    fn push(&mut self, e: u32) {
        if self.queued.insert(e) {
            self.heap.push(Reverse(e));
        }
    }

    fn wait(&mut self, ev: &Ev, target: u32, source: u32) {
        let list = self.waiting.entry(ev.process).or_default().entry(ev.pos).or_default();
        if !list.contains(&(target, source)) {
            list.push((target, source));
        }
    }
}

impl MemoryViews {
    /// Views of a history about to be written.
    pub fn new() -> MemoryViews {
        MemoryViews {
            given_up: None,
            store: ClockStore::new(MAX_PROCESSES, FLAT_WIDTH),
            events: Vec::new(),
            clocks: Vec::new(),
            next_in_process: Vec::new(),
            first_reader: Vec::new(),
            next_reader: Vec::new(),
            procs: Vec::new(),
            proc_of: FxHashMap::default(),
            keys: FxHashMap::default(),
            write_of: FxHashMap::default(),
            failed_values: FxHashSet::default(),
            writes: FxHashMap::default(),
            key_writers: Vec::new(),
            views: Vec::new(),
            free_views: Vec::new(),
            touched_in: FxHashMap::default(),
            clean: CleanViews::default(),
            brought: Vec::new(),
            ready: Vec::new(),
            successors: Vec::new(),
        }
    }

    /// Why the views gave up, if they have.
    pub fn given_up(&self) -> Option<&str> {
        self.given_up.as_deref()
    }

    /// Takes the next op of the history.
    pub fn feed(&mut self, op: &Op) {
        if self.given_up.is_some() {
            return;
        }
        if let Err(why) = self.take(op) {
            self.give_up(format!("op {}: {why}", op.index));
        }
    }

    /// The processes whose views were decided clean, once every op is in; `None` when the
    /// views gave up (the offline check then grows every view itself).
    pub fn finish(mut self) -> Option<CleanViews> {
        if self.given_up.is_some() {
            return None;
        }
        // Calls still open crashed: their processes are done.
        for p in 0..self.procs.len() {
            if !self.procs[p].retired {
                self.procs[p].open = None;
                self.retire(p as u32);
            }
        }
        Some(self.clean)
    }

    fn give_up(&mut self, why: String) {
        // Nothing more is needed: free the memory now, the run goes on.
        *self = MemoryViews { given_up: Some(why), ..MemoryViews::new() };
    }

    fn take(&mut self, op: &Op) -> Result<(), String> {
        let Process::Client(client) = op.process else { return Ok(()) };
        let p = match self.proc_of.get(&client) {
            Some(&p) => p,
            None => {
                if self.procs.len() >= MAX_PROCESSES {
                    return Err(format!("more than {MAX_PROCESSES} processes"));
                }
                let p = self.procs.len() as u32;
                self.procs.push(Proc { client, events: Vec::new(), open: None, view: NONE, retired: false });
                self.proc_of.insert(client, p);
                p
            }
        };
        if self.procs[p as usize].retired {
            return Err(format!("process {client} issued an op after its info"));
        }
        let read = match op.f.as_str() {
            "read" => true,
            "write" => false,
            other => return Err(format!("{other:?} is not followed by the streamed causal-memory views")),
        };
        match op.kind {
            OpType::Invoke => {
                let key = self.key(op.key.as_deref().unwrap_or(""));
                if self.procs[p as usize].open.is_some() {
                    return Err(format!("process {client} invoked while another invocation is open"));
                }
                let write = if read { None } else { Some(self.invoke_write(p, key, &op.value)?) };
                self.procs[p as usize].open = Some(Open { key, write });
            }
            kind => {
                let Some(open) = self.procs[p as usize].open.take() else {
                    return Err(format!("process {client} completed without an invocation"));
                };
                let key = open.key;
                match (open.write, kind) {
                    (None, OpType::Ok) if read => self.read_done(p, key, op)?,
                    (Some((w, value)), OpType::Fail) if !read => self.write_failed(w, key, value)?,
                    (write, _) if write.is_some() == read => {
                        return Err(format!("process {client} completed another function than it invoked"));
                    }
                    _ => {}
                }
                if kind == OpType::Info {
                    self.retire(p);
                }
            }
        }
        Ok(())
    }

    fn key(&mut self, name: &str) -> u32 {
        if let Some(&k) = self.keys.get(name) {
            return k;
        }
        let k = self.keys.len() as u32;
        self.keys.insert(name.to_string(), k);
        self.key_writers.push(Vec::new());
        k
    }

    fn invoke_write(&mut self, p: u32, key: u32, value: &Value) -> Result<(u32, ValueKey), String> {
        if value.is_null() {
            return Err("a write of null".into());
        }
        let identity = (key, ValueKey::of(value));
        if self.write_of.contains_key(&identity) || self.failed_values.contains(&identity) {
            return Err(format!("{value} written twice to one key"));
        }
        let e = self.arrive(p, key, NONE);
        self.write_of.insert(identity.clone(), e);
        let list = self.writes.entry((key, p)).or_default();
        if list.is_empty() {
            self.key_writers[key as usize].push(p);
        }
        list.push(e);
        Ok((e, identity.1))
    }

    fn write_failed(&mut self, w: u32, key: u32, value: ValueKey) -> Result<(), String> {
        if self.first_reader[w as usize] != NONE {
            return Err("a read returned the value of a write that failed".into());
        }
        let ev = self.events[w as usize];
        // Nothing refers to it: no reader, no later event of its process.
        let proc = &mut self.procs[ev.process as usize];
        proc.events.pop();
        if let Some(&prev) = proc.events.last() {
            self.next_in_process[prev as usize] = NONE;
        }
        let list = self.writes.get_mut(&(key, ev.process)).expect("a write is listed");
        list.pop();
        if list.is_empty() {
            self.writes.remove(&(key, ev.process));
            self.key_writers[key as usize].retain(|&q| q != ev.process);
        }
        self.write_of.remove(&(key, value.clone()));
        self.failed_values.insert((key, value));
        for view in self.views.iter_mut().flatten() {
            if let Some(at) = view.waiting.get_mut(&ev.process) {
                at.remove(&ev.pos);
            }
        }
        Ok(())
    }

    fn read_done(&mut self, p: u32, key: u32, op: &Op) -> Result<(), String> {
        if op.read_values().len() > 1 {
            return Err("a read with siblings".into());
        }
        let source = if op.value.is_null() {
            INIT
        } else {
            match self.write_of.get(&(key, ValueKey::of(&op.value))) {
                Some(&w) => w,
                None => return Err(format!("a read of {}, which no write had written yet", op.value)),
            }
        };
        let e = self.arrive(p, key, source);
        if source != INIT {
            self.next_reader[e as usize] = self.first_reader[source as usize];
            self.first_reader[source as usize] = e;
        }
        self.extend(p, e);
        Ok(())
    }

    /// Numbers a new event of `p`, builds its clock and tells the views in which its
    /// program-order or read-from predecessor grew that growth waits for it.
    fn arrive(&mut self, p: u32, key: u32, source: u32) -> u32 {
        let e = self.events.len() as u32;
        let proc = &mut self.procs[p as usize];
        let pos = proc.events.len() as u32;
        let prev = proc.events.last().copied();
        proc.events.push(e);
        let ev = Ev { process: p, pos, key, source };
        let before = prev.map_or(ClockStore::ZERO, |x| self.clocks[x as usize]);
        let read_from = if source < INIT { self.clocks[source as usize] } else { ClockStore::ZERO };
        let clock = self.store.join_set(before, read_from, p, pos + 1);
        self.events.push(ev);
        self.clocks.push(clock);
        self.next_in_process.push(NONE);
        self.first_reader.push(NONE);
        self.next_reader.push(NONE);
        if let Some(x) = prev {
            self.next_in_process[x as usize] = e;
        }
        for pred in prev.into_iter().chain((source < INIT).then_some(source)) {
            let mut mask = self.touched_in.get(&pred).copied().unwrap_or(0);
            while mask != 0 {
                let v = mask.trailing_zeros();
                mask &= mask - 1;
                if let Some(view) = self.views[v as usize].as_mut() {
                    view.wait(&ev, e, pred);
                }
            }
            for view in self.views.iter_mut().skip(MASKED_VIEWS as usize).flatten() {
                if view.slot.contains_key(&pred) {
                    view.wait(&ev, e, pred);
                }
            }
        }
        e
    }

    /// `p`'s past now reaches its event `e`: carries in what waited, examines `e` (a read)
    /// and grows the view to its fixpoint.
    fn extend(&mut self, p: u32, e: u32) {
        let mut v = self.procs[p as usize].view;
        if v == NONE {
            v = match self.free_views.pop() {
                Some(v) => v,
                None => {
                    self.views.push(None);
                    (self.views.len() - 1) as u32
                }
            };
            self.views[v as usize] = Some(View::new(p));
            self.procs[p as usize].view = v;
        }
        let mut view = self.views[v as usize].take().expect("a live process has a view");
        let old_past = std::mem::replace(&mut view.past, self.clocks[e as usize]);
        // What waited at the edge of the past and is inside it now: only processes whose
        // entry grew can have any (a handful per event, where a few dozen wait).
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        {
            let (waiting, row) = (&mut view.waiting, &mut view.bound);
            self.store.for_each_greater(view.past, old_past, |q, bound, _| {
                if row.len() <= q as usize {
                    row.resize(q as usize + 1, 0);
                }
                row[q as usize] = bound;
                if let Some(at) = waiting.get_mut(&q) {
                    let rest = at.split_off(&bound);
                    ready.extend(std::mem::replace(at, rest).into_values().flatten());
                    if at.is_empty() {
                        waiting.remove(&q);
                    }
                }
            });
        }
        for &(target, source) in &ready {
            if self.carry(v, &mut view, source, target) {
                view.push(target);
            }
        }
        self.ready = ready;
        view.dirty.push(e);
        self.settle(v, &mut view);
        self.views[v as usize] = Some(view);
    }

    /// Examines the dirty reads and carries growth until nothing changes.
    fn settle(&mut self, v: u32, view: &mut View) {
        loop {
            while let Some(r) = view.dirty.pop() {
                self.examine(v, view, r);
            }
            let Some(Reverse(e)) = view.heap.pop() else { break };
            view.queued.remove(&e);
            let ev = self.events[e as usize];
            if ev.process == view.process && ev.is_read() {
                view.dirty.push(e);
            }
            let mut successors = std::mem::take(&mut self.successors);
            successors.clear();
            if self.next_in_process[e as usize] != NONE {
                successors.push(self.next_in_process[e as usize]);
            }
            let mut r = self.first_reader[e as usize];
            while r != NONE {
                successors.push(r);
                r = self.next_reader[r as usize];
            }
            for &s in &successors {
                let sev = self.events[s as usize];
                if !view.covers(&sev) {
                    view.wait(&sev, s, e);
                } else if self.carry(v, view, e, s) {
                    view.push(s);
                }
            }
            successors.clear();
            successors.extend(view.derived_out.get(&e).into_iter().flatten());
            for &t in &successors {
                if self.carry(v, view, e, t) {
                    view.push(t);
                }
            }
            self.successors = successors;
        }
    }

    /// The derivation rule for read `r` of the view's process: every latest write of its
    /// key by some process, in its view before it, that is not its write `w` and not yet
    /// before `w`, must come before `w`.
    fn examine(&mut self, v: u32, view: &mut View, r: u32) {
        let rev = self.events[r as usize];
        if rev.source >= INIT {
            return;
        }
        let w = rev.source;
        let mut candidates = Vec::new();
        let base_w = self.clocks[w as usize];
        let grown = Grown { base: self.clocks[r as usize], above: view.above(r) };
        grown.for_each_greater(&self.store, base_w, |q, x, _| {
            let limit = if q == rev.process { rev.pos } else { x };
            if let Some(list) = self.writes.get(&(rev.key, q)) {
                let n = list.partition_point(|&x| self.events[x as usize].pos < limit);
                if let Some(&latest) = n.checked_sub(1).map(|i| &list[i])
                    && latest != w
                {
                    candidates.push(latest);
                }
            }
        });
        for before in candidates {
            let bev = self.events[before as usize];
            let in_w = Grown { base: base_w, above: view.above(w) }.get(&self.store, bev.process);
            if in_w > bev.pos {
                continue;
            }
            view.derived.push((before, w));
            view.derived_out.entry(before).or_default().push(w);
            if self.join(v, view, before, w) {
                view.push(w);
            }
        }
    }

    /// Joins `from`'s whole view into `to`'s (a derived edge, the first time).
    fn join(&mut self, v: u32, view: &mut View, from: u32, to: u32) -> bool {
        let mut brought = std::mem::take(&mut self.brought);
        brought.clear();
        let grown = Grown { base: self.clocks[from as usize], above: view.above(from) };
        grown.for_each_greater(&self.store, self.clocks[to as usize], |q, x, _| brought.push((q, x)));
        let grew = self.raise(v, view, to, &brought, false);
        self.brought = brought;
        grew
    }

    /// Carries `from`'s entries above CO into `to`'s view, along an edge whose source's
    /// CO clock `to`'s covers.
    fn carry(&mut self, v: u32, view: &mut View, from: u32, to: u32) -> bool {
        if view.above(from).is_empty() {
            return false;
        }
        let mut brought = std::mem::take(&mut self.brought);
        brought.clear();
        brought.extend_from_slice(view.above(from));
        let grew = self.raise(v, view, to, &brought, true);
        self.brought = brought;
        grew
    }

    fn raise(&mut self, v: u32, view: &mut View, to: u32, brought: &[(u32, u32)], check_co: bool) -> bool {
        let (start, len) = view.slot.get(&to).copied().unwrap_or((0, 0));
        let new_start = view.runs.len();
        let (store, base) = (&self.store, self.clocks[to as usize]);
        let above_co = |q: u32, x: u32| !check_co || x > store.get(base, q);
        if !merge_entries(&mut view.runs, (start, len), brought, above_co) {
            return false;
        }
        if len == 0 && v < MASKED_VIEWS {
            *self.touched_in.entry(to).or_default() |= 1 << v;
        }
        let new_len = view.runs.len() - new_start;
        view.live = view.live + new_len - len as usize;
        view.slot.insert(to, (new_start as u32, new_len as u32));
        if view.runs.len() > 4 * view.live + (1 << 16) {
            let mut kept = Vec::with_capacity(2 * view.live);
            for (start, len) in view.slot.values_mut() {
                let s = kept.len() as u32;
                kept.extend_from_slice(&view.runs[*start as usize..(*start + *len) as usize]);
                *start = s;
            }
            view.runs = kept;
        }
        true
    }

    /// `p` will issue nothing more: its view is final. Decides it and lets it go.
    fn retire(&mut self, p: u32) {
        let proc = &mut self.procs[p as usize];
        proc.retired = true;
        let v = std::mem::replace(&mut proc.view, NONE);
        let client = proc.client;
        if v == NONE {
            // No read, so no derived edge and no read of the initial value.
            if !proc.events.is_empty() {
                self.clean.clients.insert(client);
            }
            return;
        }
        let view = self.views[v as usize].take().expect("a live process has a view");
        if self.is_clean(&view) {
            self.clean.clients.insert(client);
        }
        if v < MASKED_VIEWS {
            for e in view.slot.keys() {
                if let Some(mask) = self.touched_in.get_mut(e) {
                    *mask &= !(1 << v);
                    if *mask == 0 {
                        self.touched_in.remove(e);
                    }
                }
            }
        }
        self.free_views.push(v);
    }

    /// Neither CyclicHB (a derived edge whose target the source's view already holds) nor
    /// WriteHBInitRead (a read of the initial value with a write of its key in its view).
    fn is_clean(&self, view: &View) -> bool {
        let entry = |e: u32, q: u32| {
            Grown { base: self.clocks[e as usize], above: view.above(e) }.get(&self.store, q)
        };
        for &(before, after) in &view.derived {
            let aev = self.events[after as usize];
            if entry(before, aev.process) > aev.pos {
                return false;
            }
        }
        for &r in &self.procs[view.process as usize].events {
            let rev = self.events[r as usize];
            if rev.source != INIT {
                continue;
            }
            for &q in &self.key_writers[rev.key as usize] {
                let limit = if q == rev.process { rev.pos } else { entry(r, q) };
                let first = self.writes[&(rev.key, q)][0];
                if self.events[first as usize].pos < limit {
                    return false;
                }
            }
        }
        true
    }
}

/// [`MemoryViews`] grown on a thread of their own, fed without waiting and run at the
/// lowest priority: the views' work comes in bursts (a read that derives many edges carries
/// growth across much of the past), and neither a judge that waited for them (which holds
/// up the history writer, and with it the clients) nor a thread that competed with the
/// cluster for the cores should change what the run measures. Batches queue while the
/// views catch up; at the end, views too far behind are dropped, and the offline check
/// grows every view itself, which is then quicker.
pub struct GrowingViews {
    tx: Option<std::sync::mpsc::Sender<Vec<Op>>>,
    thread: Option<std::thread::JoinHandle<Option<CleanViews>>>,
    sent: usize,
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Ops still queued at the end past which the views are dropped rather than waited for:
/// about half a second of their work, what the offline check takes for all of causal
/// memory on a long faulty run.
pub const MAX_BACKLOG: usize = 1 << 16;

impl GrowingViews {
    /// Starts the views on `first`, the ops of the history so far. Without a thread (the
    /// system refused one) they decide nothing, and the offline check does all of causal
    /// memory.
    pub fn start(first: Vec<Op>) -> GrowingViews {
        use std::sync::atomic::Ordering;
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Op>>();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (done_here, stop_here) = (done.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("memory-views".into())
            .spawn(move || {
                lowest_priority();
                let mut views = MemoryViews::new();
                for batch in rx {
                    if stop_here.load(Ordering::Relaxed) {
                        return None;
                    }
                    for op in &batch {
                        views.feed(op);
                    }
                    done_here.fetch_add(batch.len(), Ordering::Relaxed);
                }
                views.finish()
            })
            .ok();
        let tx = thread.is_some().then_some(tx);
        let mut growing = GrowingViews { tx, thread, sent: 0, done, stop };
        growing.send(first);
        growing
    }

    /// Takes the next ops of the history.
    pub fn feed(&mut self, ops: &[Op]) {
        if !ops.is_empty() {
            self.send(ops.to_vec());
        }
    }

    fn send(&mut self, batch: Vec<Op>) {
        self.sent += batch.len();
        if let Some(tx) = &self.tx
            && tx.send(batch).is_err()
        {
            self.tx = None;
        }
    }

    /// The processes decided clean, once every op is in; waits for the views to catch up
    /// unless more than [`MAX_BACKLOG`] ops are still queued. `None` when they gave up,
    /// were too far behind, or their thread failed.
    pub fn finish(mut self) -> Option<CleanViews> {
        use std::sync::atomic::Ordering;
        drop(self.tx.take());
        let thread = self.thread.take()?;
        if self.sent.saturating_sub(self.done.load(Ordering::Relaxed)) > MAX_BACKLOG {
            self.stop.store(true, Ordering::Relaxed);
        }
        thread.join().ok().flatten()
    }
}

/// Lowers the calling thread to the lowest priority, where the system lets it (it only
/// takes cores the cluster leaves idle).
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; a refusal is ignored.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}
