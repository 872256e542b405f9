//! The search for one partition: Wing & Gong's depth-first search in Lowe's form. Calls and
//! returns sit in one doubly linked list in history order; the search linearizes a pending
//! call (lifting it and its return out of the list) whenever the model accepts it and the
//! resulting configuration is new to the memo, and backtracks when it meets a return whose
//! call it could not linearize. An `info` op's return sits at the very end, so it may take
//! effect anywhere after its invoke or, linearized last, in effect never.
//!
//! Crashed ops that are equal (the same compiled op, both never returning) are
//! interchangeable: in any linearization the one invoked first can stand where the later
//! one stands. So the search only ever linearizes a crashed op after its earlier equal
//! twin, which keeps every answer and cuts the configurations of histories full of
//! timed-out writes of a few values (Jepsen's etcd histories) by the orders of their twins.
//!
//! A crashed op that would leave the state as it is (a timed-out cas whose `from` is not
//! held, a write of the value held) is never linearized there: linearized now it is the
//! same as never happening, which leaving it pending still allows, along with taking effect
//! later. So the search is done once every completed op is linearized; crashed ops still
//! pending then never took effect. An op left pending is a hole in the set of linearized
//! ops, and the memo stores each set from its first hole on, so in a long partition such a
//! hole would make every later entry span the rest of the history: the rule applies only
//! to partitions of at most [`SKIP_IDLE_CRASHED_UP_TO`] ops (their sets are a few words
//! anyway), and longer ones linearize such an op as any other.

use super::memo::{LinearizedSet, Memo};
use super::model::Model;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

/// One op of a partition: the compiled model op and its interval in history positions.
#[derive(Debug, Clone)]
pub struct Entry<O> {
    /// The compiled op.
    pub op: O,
    /// History position of the invocation.
    pub call: usize,
    /// History position of the completion; `usize::MAX` when the op may never complete.
    pub ret: usize,
}

/// Why a search stopped before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Another partition was found not linearizable first; this one was no longer needed.
    Cancelled,
    /// The time budget ran out.
    Time,
    /// The memory budget ran out.
    Memory,
}

const RUNNING: u8 = 0;

/// What all partitions of one check share: the budgets and the stop signal.
#[derive(Debug)]
pub struct Control {
    deadline: Option<Instant>,
    memory_limit: Option<u64>,
    memory_used: AtomicU64,
    stop: AtomicU8,
}

impl Control {
    /// A control with an optional deadline and memory limit (bytes of memo).
    pub fn new(deadline: Option<Instant>, memory_limit: Option<u64>) -> Control {
        Control { deadline, memory_limit, memory_used: AtomicU64::new(0), stop: AtomicU8::new(RUNNING) }
    }

    /// Asks every search sharing this control to stop: a budget ran out.
    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => return,
            StopReason::Time => 2,
            StopReason::Memory => 3,
        };
        let _ = self.stop.compare_exchange(RUNNING, code, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The budget that ran out, if any.
    pub fn stopped(&self) -> Option<StopReason> {
        match self.stop.load(Ordering::Relaxed) {
            2 => Some(StopReason::Time),
            3 => Some(StopReason::Memory),
            _ => None,
        }
    }
}

/// How a partition's search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A linearization exists.
    Linearizable,
    /// None exists.
    Nonlinearizable,
    /// Stopped before deciding.
    Stopped(StopReason),
}

/// The deepest configuration of a failed search, captured on a second pass.
#[derive(Debug, Clone)]
pub struct Capture<S> {
    /// Entries linearized, in order.
    pub prefix: Vec<usize>,
    /// Model state after each prefix entry.
    pub states: Vec<S>,
    /// The pending entry whose return came first and which could not be linearized.
    pub failed: usize,
    /// Other entries pending when `failed` returned.
    pub concurrent: Vec<usize>,
}

/// What a partition's search found.
#[derive(Debug, Clone)]
pub struct Searched<S> {
    /// The decision.
    pub decision: Decision,
    /// Most ops linearized at once.
    pub best_depth: usize,
    /// Configurations memoized.
    pub memo_entries: usize,
    /// The witness, when asked for with `capture_at`.
    pub capture: Option<Capture<S>>,
}

fn mix(e: usize) -> u64 {
    // splitmix64: every op gets an independent 64-bit tag; a set's hash is their xor.
    let mut z = (e as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn state_hash<S: Hash>(s: &S) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The call/return list: node 0 is the head, node `2n+1` the tail.
struct Links {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Entry of each event node; the top bit marks a return.
    event: Vec<u32>,
    call_node: Vec<u32>,
    ret_node: Vec<u32>,
}

const RETURN: u32 = 1 << 31;

/// Largest partition (in ops) whose search leaves a crashed op that would change nothing
/// pending rather than linearizing it: 16 words of bitset at most per memo entry.
pub const SKIP_IDLE_CRASHED_UP_TO: usize = 1024;

impl Links {
    fn new<O>(entries: &[Entry<O>]) -> Links {
        let n = entries.len();
        let mut events: Vec<(usize, u32)> = Vec::with_capacity(2 * n);
        for (e, entry) in entries.iter().enumerate() {
            events.push((entry.call, e as u32));
            events.push((entry.ret, e as u32 | RETURN));
        }
        // Returns at usize::MAX tie; the entry id orders them.
        events.sort_unstable_by_key(|&(pos, ev)| (pos, ev & !RETURN));
        let nodes = 2 * n + 2;
        let mut links = Links {
            next: (1..=nodes as u32).collect(),
            prev: (0..nodes as u32).map(|i| i.wrapping_sub(1)).collect(),
            event: vec![0; nodes],
            call_node: vec![0; n],
            ret_node: vec![0; n],
        };
        for (k, &(_, ev)) in events.iter().enumerate() {
            let node = k + 1;
            links.event[node] = ev;
            if ev & RETURN == 0 {
                links.call_node[ev as usize] = node as u32;
            } else {
                links.ret_node[(ev & !RETURN) as usize] = node as u32;
            }
        }
        links
    }

    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        self.prev[n as usize] = node;
    }

    fn lift(&mut self, e: usize) {
        self.unlink(self.call_node[e]);
        self.unlink(self.ret_node[e]);
    }

    fn unlift(&mut self, e: usize) {
        self.relink(self.ret_node[e]);
        self.relink(self.call_node[e]);
    }
}

/// For each crashed entry, the latest crashed entry invoked no later than it with an equal
/// op; chains of twins are then linearized in invocation order only.
fn twins<O: PartialEq>(entries: &[Entry<O>]) -> Vec<Option<u32>> {
    let mut crashed: Vec<usize> = (0..entries.len()).filter(|&e| entries[e].ret == usize::MAX).collect();
    crashed.sort_by_key(|&e| (entries[e].call, e));
    let mut twin = vec![None; entries.len()];
    // Quadratic in the crashed ops of one partition only, which are few.
    for (k, &e) in crashed.iter().enumerate() {
        twin[e] = crashed[..k].iter().rev().find(|&&p| entries[p].op == entries[e].op).map(|&p| p as u32);
    }
    twin
}

/// Searches one partition to the end. With `capture_at`, stops at the first configuration
/// of that depth that meets an unlinearizable return and reports it (the witness pass).
pub fn search<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    control: &Control,
    capture_at: Option<usize>,
) -> Searched<M::State> {
    let mut search = Search::new(model, entries, control, capture_at);
    search.run(u64::MAX);
    search.finish()
}

/// One partition's search, resumable: [`Search::run`] advances it by a number of steps, so
/// a caller can give every partition the same effort in rounds and decide which result to
/// report independently of thread timing.
pub struct Search<'a, M: Model> {
    model: &'a M,
    entries: &'a [Entry<M::Op>],
    control: &'a Control,
    capture_at: Option<usize>,
    links: Links,
    /// Entries that completed and are not linearized yet; none left means a linearization:
    /// crashed ops still pending are the ones that never took effect.
    completed_left: usize,
    /// Whether crashed ops that would change nothing are left pending (see the module docs).
    skip_idle_crashed: bool,
    /// Per entry: the crashed entry equal to it that must be linearized before it may be.
    twin_before: Vec<Option<u32>>,
    linearized: LinearizedSet,
    bits_hash: u64,
    memo: Memo<M::State>,
    /// Linearized entries, the state before each, and whether each is read-only.
    stack: Vec<(usize, M::State, bool)>,
    state: M::State,
    best_depth: usize,
    cur: u32,
    steps: u64,
    unflushed: u64,
    flushed: u64,
    decision: Option<Decision>,
    capture: Option<Capture<M::State>>,
}

impl<'a, M: Model> Search<'a, M> {
    /// A search of `entries` positioned at its start.
    pub fn new(
        model: &'a M,
        entries: &'a [Entry<M::Op>],
        control: &'a Control,
        capture_at: Option<usize>,
    ) -> Search<'a, M> {
        let n = entries.len();
        let links = Links::new(entries);
        let memo: Memo<M::State> = Memo::new();
        let cur = links.next[0];
        Search {
            model,
            entries,
            control,
            capture_at,
            links,
            completed_left: entries.iter().filter(|e| e.ret != usize::MAX).count(),
            skip_idle_crashed: n <= SKIP_IDLE_CRASHED_UP_TO,
            twin_before: twins(entries),
            linearized: LinearizedSet::new(n),
            bits_hash: 0,
            memo,
            stack: Vec::with_capacity(n),
            state: model.init(),
            best_depth: 0,
            cur,
            steps: 0,
            unflushed: 0,
            flushed: 0,
            decision: None,
            capture: None,
        }
    }

    /// Ends the search (releasing its memory from the shared account) with what it found;
    /// an undecided search reports `Stopped(Cancelled)`.
    pub fn finish(mut self) -> Searched<M::State> {
        Searched {
            decision: self.decision.unwrap_or(Decision::Stopped(StopReason::Cancelled)),
            best_depth: self.best_depth,
            memo_entries: self.memo.len(),
            capture: self.capture.take(),
        }
    }

    /// Advances the search by at most `budget` steps; the decision once there is one.
    pub fn run(&mut self, budget: u64) -> Option<Decision> {
        if self.decision.is_none() {
            self.decision = self.advance(budget);
        }
        self.decision
    }

    fn advance(&mut self, budget: u64) -> Option<Decision> {
        let (model, entries, control) = (self.model, self.entries, self.control);
        let mut left = budget;
        while self.completed_left > 0 {
            if left == 0 {
                return None;
            }
            left -= 1;
            self.steps += 1;
            if self.steps & 0x3FF == 0 {
                if let Some(reason) = control.stopped() {
                    return Some(Decision::Stopped(reason));
                }
                if control.deadline.is_some_and(|d| Instant::now() >= d) {
                    control.stop(StopReason::Time);
                    return Some(Decision::Stopped(StopReason::Time));
                }
            }
            let ev = self.links.event[self.cur as usize];
            if ev & RETURN == 0 {
                let e = ev as usize;
                if self.twin_before[e].is_some_and(|t| !self.linearized.contains(t as usize)) {
                    self.cur = self.links.next[self.cur as usize];
                    continue;
                }
                let Some(next_state) = model.step(&self.state, &entries[e].op) else {
                    self.cur = self.links.next[self.cur as usize];
                    continue;
                };
                let crashed = entries[e].ret == usize::MAX;
                if crashed && self.skip_idle_crashed && next_state == self.state {
                    // A crashed op that changes nothing now is better left pending: it can
                    // still take effect later, or never, which is what it would be now.
                    self.cur = self.links.next[self.cur as usize];
                    continue;
                }
                let read_only = model.read_only(&entries[e].op);
                self.linearized.insert(e);
                let tag = mix(e);
                let (low, window) = self.linearized.window();
                if let Some(bytes) =
                    self.memo.insert(self.bits_hash ^ tag ^ state_hash(&next_state), low, window, &next_state)
                {
                    self.unflushed += bytes as u64 + model.heap_bytes(&next_state) as u64;
                    if self.unflushed > 1 << 16 && self.account() {
                        control.stop(StopReason::Memory);
                        return Some(Decision::Stopped(StopReason::Memory));
                    }
                    self.bits_hash ^= tag;
                    self.stack.push((e, std::mem::replace(&mut self.state, next_state), read_only));
                    self.completed_left -= usize::from(!crashed);
                    self.best_depth = self.best_depth.max(self.stack.len());
                    self.links.lift(e);
                    self.cur = self.links.next[0];
                    continue;
                }
                self.linearized.remove(e);
                if !read_only {
                    self.cur = self.links.next[self.cur as usize];
                    continue;
                }
                // A read-only op that could go now leads to an explored, failed
                // configuration; since going now dominates going later, this one fails too.
            } else if self.capture_at == Some(self.stack.len()) {
                self.capture =
                    Some(capture(model, entries, &self.links, &self.stack, (ev & !RETURN) as usize));
                return Some(Decision::Nonlinearizable);
            }
            // Backtrack, past every read-only op: leaving it for later cannot do better.
            loop {
                let Some((e, previous, read_only)) = self.stack.pop() else {
                    return Some(Decision::Nonlinearizable);
                };
                self.state = previous;
                self.linearized.remove(e);
                self.bits_hash ^= mix(e);
                self.links.unlift(e);
                self.completed_left += usize::from(self.entries[e].ret != usize::MAX);
                if !read_only {
                    self.cur = self.links.next[self.links.call_node[e] as usize];
                    break;
                }
            }
        }
        Some(Decision::Linearizable)
    }

    /// Moves unaccounted memo bytes to the shared account; true when over the limit.
    fn account(&mut self) -> bool {
        let total = self.control.memory_used.fetch_add(self.unflushed, Ordering::Relaxed) + self.unflushed;
        self.flushed += self.unflushed;
        self.unflushed = 0;
        self.control.memory_limit.is_some_and(|limit| total > limit)
    }
}

impl<M: Model> Drop for Search<'_, M> {
    fn drop(&mut self) {
        self.control.memory_used.fetch_sub(self.flushed, Ordering::Relaxed);
    }
}

fn capture<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    links: &Links,
    stack: &[(usize, M::State, bool)],
    failed: usize,
) -> Capture<M::State> {
    let prefix: Vec<usize> = stack.iter().map(|(e, _, _)| *e).collect();
    // Replayed rather than copied from the stack: the witness shows concrete states.
    let mut state = model.init();
    let states: Vec<M::State> = prefix
        .iter()
        .map(|&e| {
            state = model.witness_step(&state, &entries[e].op);
            state.clone()
        })
        .collect();
    let mut concurrent = Vec::new();
    let mut node = links.next[0];
    while node != links.ret_node[failed] {
        let ev = links.event[node as usize];
        if ev & RETURN == 0 && ev as usize != failed {
            concurrent.push(ev as usize);
        }
        node = links.next[node as usize];
    }
    Capture { prefix, states, failed, concurrent }
}
