//! The search for one partition: Wing & Gong's depth-first search in Lowe's form. Calls and
//! returns sit in one doubly linked list in history order; the search linearizes a pending
//! call (lifting it and its return out of the list) whenever the model accepts it and the
//! resulting configuration is new to the memo, and backtracks when it meets a return whose
//! call it could not linearize. An `info` op's return sits at the very end, so it may take
//! effect anywhere after its invoke or, linearized last, in effect never.

use super::memo::Memo;
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
    /// Another partition was found not linearizable; this one was no longer needed.
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

    /// Asks every search sharing this control to stop.
    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => 1,
            StopReason::Time => 2,
            StopReason::Memory => 3,
        };
        let _ = self.stop.compare_exchange(RUNNING, code, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The reason a stop was asked for, if any.
    pub fn stopped(&self) -> Option<StopReason> {
        match self.stop.load(Ordering::Relaxed) {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::Time),
            3 => Some(StopReason::Memory),
            _ => None,
        }
    }

    /// Peak memo bytes accounted so far.
    pub fn memory_used(&self) -> u64 {
        self.memory_used.load(Ordering::Relaxed)
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

/// Searches one partition. With `capture_at`, stops at the first configuration of that
/// depth that meets an unlinearizable return and reports it (the witness pass).
pub fn search<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    control: &Control,
    capture_at: Option<usize>,
) -> Searched<M::State> {
    let n = entries.len();
    let mut links = Links::new(entries);
    let tail = (2 * n + 1) as u32;
    let words = n.div_ceil(64).max(1);
    let mut bits = vec![0u64; words];
    let mut bits_hash = 0u64;
    let mut memo: Memo<M::State> = Memo::new(words);
    let mut stack: Vec<(usize, M::State, bool)> = Vec::with_capacity(n);
    let mut state = model.init();
    let mut best_depth = 0;
    let mut steps: u64 = 0;
    let mut unflushed: u64 = 0;
    let mut flushed: u64 = 0;
    let entry_bytes = memo.entry_bytes() as u64;
    let mut cur = links.next[0];

    let finish = |decision, memo: &Memo<M::State>, best_depth, capture, flushed: u64| {
        control.memory_used.fetch_sub(flushed, Ordering::Relaxed);
        Searched { decision, best_depth, memo_entries: memo.len(), capture }
    };

    while links.next[0] != tail {
        steps += 1;
        if steps & 0x3FF == 0 {
            if let Some(reason) = control.stopped() {
                return finish(Decision::Stopped(reason), &memo, best_depth, None, flushed);
            }
            if control.deadline.is_some_and(|d| Instant::now() >= d) {
                control.stop(StopReason::Time);
                return finish(Decision::Stopped(StopReason::Time), &memo, best_depth, None, flushed);
            }
        }
        let ev = links.event[cur as usize];
        if ev & RETURN == 0 {
            let e = ev as usize;
            let Some(next_state) = model.step(&state, &entries[e].op) else {
                cur = links.next[cur as usize];
                continue;
            };
            let read_only = model.read_only(&entries[e].op);
            bits[e / 64] |= 1 << (e % 64);
            let tag = mix(e);
            if memo.insert(bits_hash ^ tag ^ state_hash(&next_state), &bits, &next_state) {
                unflushed += entry_bytes + model.heap_bytes(&next_state) as u64;
                if unflushed > 1 << 16 {
                    let total = control.memory_used.fetch_add(unflushed, Ordering::Relaxed) + unflushed;
                    flushed += unflushed;
                    unflushed = 0;
                    if control.memory_limit.is_some_and(|limit| total > limit) {
                        control.stop(StopReason::Memory);
                        return finish(
                            Decision::Stopped(StopReason::Memory),
                            &memo,
                            best_depth,
                            None,
                            flushed,
                        );
                    }
                }
                bits_hash ^= tag;
                stack.push((e, std::mem::replace(&mut state, next_state), read_only));
                best_depth = best_depth.max(stack.len());
                links.lift(e);
                cur = links.next[0];
                continue;
            }
            bits[e / 64] &= !(1 << (e % 64));
            if !read_only {
                cur = links.next[cur as usize];
                continue;
            }
            // A read-only op that could go now leads to an explored, failed configuration;
            // since going now dominates going later, this configuration fails too.
        } else if capture_at == Some(stack.len()) {
            let capture = capture(&links, &stack, &state, (ev & !RETURN) as usize);
            return finish(Decision::Nonlinearizable, &memo, best_depth, Some(capture), flushed);
        }
        // Backtrack, past every read-only op: leaving it for later cannot do better.
        loop {
            let Some((e, previous, read_only)) = stack.pop() else {
                return finish(Decision::Nonlinearizable, &memo, best_depth, None, flushed);
            };
            state = previous;
            bits[e / 64] &= !(1 << (e % 64));
            bits_hash ^= mix(e);
            links.unlift(e);
            if !read_only {
                cur = links.next[links.call_node[e] as usize];
                break;
            }
        }
    }
    finish(Decision::Linearizable, &memo, best_depth, None, flushed)
}

fn capture<S: Clone>(links: &Links, stack: &[(usize, S, bool)], state: &S, failed: usize) -> Capture<S> {
    let prefix: Vec<usize> = stack.iter().map(|(e, _, _)| *e).collect();
    let mut states: Vec<S> = stack.iter().skip(1).map(|(_, s, _)| s.clone()).collect();
    if !stack.is_empty() {
        states.push(state.clone());
    }
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
