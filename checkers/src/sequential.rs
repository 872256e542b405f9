//! Sequential consistency: is there one total order of every operation that took effect,
//! respecting each process's program order (but not real time), in which every read
//! returns the latest write of its key? Deciding it is NP-complete in general, so this is
//! a depth-first search with memoized states and a budget; over budget the verdict is
//! `unknown` with the reason.
//!
//! The search only branches on writes. A read whose write is the key's current value is
//! taken at once: with unique writes a key never returns to a value, so delaying the read
//! can only lose. A write is allowed only once every pending reader of the value it
//! overwrites has read it. Writes are tried in invocation-time order.
//!
//! The search runs twice. First over the orders that keep each key's writes in real time
//! (a write never goes before another write of its key that completed before it was
//! invoked), reads and the order across keys left free: any order found there is
//! sequential, and it is where the orders of a history that is linearizable, or nearly
//! (a stale read, a process that lags), lie. Without that rule the search, which sees every
//! process's next op at once, also tries writes issued long after the one that should go
//! next, and on a history with crashed ops (each retiring its process, so thousands of
//! processes) it backtracks through every order of those and never finishes. Only when the
//! first search has tried every order it allows does the second, over every order, run in
//! what is left of the budget, so the verdict stays exact.
//!
//! A state costs what can change in it, not the processes: a read can become possible only
//! when it becomes its process's next event or when the write it read goes, so the reads
//! to take are found from the event just applied (each write's readers are listed once),
//! and in the first search the writes that may go next lie in each key's window (the write
//! that completed first and those invoked before it completed), kept ordered as writes are
//! placed and undone. Histories with crashed ops have thousands of processes, and looking
//! at each one's next event in every state made the search's cost grow with their number.
//! The second search still looks at every process's next event for its writes.
//!
//! Before any search, [`refute`] looks for a cycle among the orders every sequential order
//! must have (a process that saw one value of a key and then another orders them, and the
//! first one's readers before the second): linear in the history, it settles the store
//! buffering a weakly replicated store shows under faults, which the search, exponential
//! in the processes that overlap, cannot refute within any budget.
//!
//! A read with siblings returned one of them: it may run whenever its key holds one of
//! its siblings, and it holds back no write (it counts as a pending reader of none of
//! them), so the search stays exact for it.

pub mod refute;

use crate::causal::order::csr;
use crate::history::History;
use crate::ladder::register::{Event, RegisterHistory, Source};
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashSet;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Limits of the sequential search.
#[derive(Debug, Clone, Copy)]
pub struct SearchBudget {
    /// Distinct search states to visit before giving up.
    pub max_states: u64,
    /// Wall-clock time to spend before giving up.
    pub max_time: Duration,
}

impl Default for SearchBudget {
    fn default() -> SearchBudget {
        SearchBudget { max_states: 5_000_000, max_time: Duration::from_secs(60) }
    }
}

/// Checks sequential consistency of a register/kv history.
pub fn check(history: &History, budget: &SearchBudget) -> CheckerResult {
    match RegisterHistory::from_history(history) {
        Ok(rh) => check_register(&rh, budget),
        Err(e) => CheckerResult::unknown(e.0),
    }
}

const NONE: u32 = u32::MAX;

/// Checks sequential consistency of an extracted register history.
pub fn check_register(rh: &RegisterHistory, budget: &SearchBudget) -> CheckerResult {
    check_register_unless(rh, budget, &AtomicBool::new(false))
        .expect("a search nobody cancels ends with a verdict")
}

/// Like [`check_register`], but the search gives up, returning `None`, once `cancelled` is
/// set: the ladder runs it beside the polynomial checks and calls it off when one of them
/// disproves sequential consistency, so the search costs no wall time it would not have
/// been needed for. A search that is never cancelled returns what [`check_register`] does.
pub fn check_register_unless(
    rh: &RegisterHistory,
    budget: &SearchBudget,
    cancelled: &AtomicBool,
) -> Option<CheckerResult> {
    if let Some((id, _)) = rh.events.iter().enumerate().find(|(_, e)| e.read == Some(Source::Nowhere)) {
        let id = id as u32;
        return Some(CheckerResult::invalid(vec![Anomaly {
            kind: "not-sequential".into(),
            explanation: format!("{}, a value no write that took effect produced.", rh.describe_read(id)),
            ops: rh.indices(&[id]),
            witness: Value::Null,
            ..Anomaly::default()
        }]));
    }
    // A cycle among the orders every sequential order has settles it in linear time; the
    // search could only refute it by trying every interleaving of the processes.
    if let Some(cycle) = refute::refute(rh) {
        let details = json!({ "states": 0, "events": rh.events.len(), "proof": "cycle" });
        return Some(CheckerResult::invalid(vec![cycle]).with_details(details));
    }
    // First the orders that keep each key's writes in real time (sound: any order found is
    // sequential), then, if there is none, every order, in what is left of the budget.
    let started = Instant::now();
    let mut first = Search::new(rh).keeping_real_time_of_writes();
    if cancelled.load(Ordering::Relaxed) {
        return None;
    }
    let outcome = first.run(budget, cancelled);
    let first_states = first.visited.len();
    let (s, outcome) = match outcome {
        Outcome::Exhausted => {
            let rest = SearchBudget {
                max_states: budget.max_states.saturating_sub(first_states as u64),
                max_time: budget.max_time.saturating_sub(started.elapsed()),
            };
            let mut every = Search::new(rh);
            let outcome = every.run(&rest, cancelled);
            (every, outcome)
        }
        other => (first, other),
    };
    let states = if s.real_time_writes.is_some() { first_states } else { first_states + s.visited.len() };
    let details = json!({
        "states": states,
        "events": rh.events.len(),
        "writes_in_real_time": s.real_time_writes.is_some(),
    });
    Some(match outcome {
        Outcome::Cancelled => return None,
        Outcome::Found => CheckerResult::valid().with_details(details),
        Outcome::Exhausted => CheckerResult::invalid(vec![s.witness()]).with_details(details),
        Outcome::OverBudget(why) => {
            // Where the search got stuck, for whoever wants to see why it did not finish:
            // the first operations that could not follow its deepest order.
            let mut details = details;
            details["stuck"] = json!(s.stuck().iter().take(8).map(|&e| s.describe(e)).collect::<Vec<_>>());
            let within = if s.real_time_writes.is_some() {
                " among the orders that keep each key's writes in real-time order"
            } else {
                ""
            };
            CheckerResult::unknown(format!(
                "sequential search stopped after {states} states ({why}); the deepest order{within} placed {} of {} operations",
                s.deepest.len(),
                rh.events.len()
            ))
            .with_details(details)
        }
    })
}

enum Outcome {
    Found,
    Exhausted,
    OverBudget(String),
    /// Called off from outside; no verdict.
    Cancelled,
}

struct Frame {
    trail_len: usize,
    choices: Vec<u32>,
    next: usize,
}

struct Search<'a> {
    rh: &'a RegisterHistory<'a>,
    frontier: Vec<u32>,
    current: Vec<u32>,
    /// Unexecuted readers of each write, and of each key's initial value.
    readers_left: Vec<u32>,
    init_readers_left: Vec<u32>,
    /// (event, the key's value before it) for undo.
    trail: Vec<(u32, u32)>,
    hash: (u64, u64),
    visited: FxHashSet<(u64, u64)>,
    deepest: Vec<u32>,
    deepest_frontier: Vec<u32>,
    /// When set, only orders that keep each key's writes in real time are searched.
    real_time_writes: Option<RealTimeWrites>,
    /// The reads of each write (every sibling's source counted): when a write goes, these
    /// are the only reads it can enable.
    readers: Vec<u32>,
    /// Where each write's readers start in `readers`; one more entry than events.
    reader_start: Vec<u32>,
    /// Events to look at for a read that can now run: each process's new next event, and
    /// the readers of each write applied since the reads were last taken.
    pending: Vec<u32>,
}

/// Each key's unplaced writes, in the two orders the first search needs: a write may go
/// only when no other write of its key completed before it was invoked.
struct RealTimeWrites {
    /// By (completion time, event): the first one's completion bounds the window.
    by_completion: Vec<BTreeSet<(u64, u32)>>,
    /// By (invocation time, event): the window itself, the writes invoked before that
    /// completion, so the writes that may go next are found there instead of among every
    /// process's next event.
    by_invoke: Vec<BTreeSet<(u64, u32)>>,
}

impl RealTimeWrites {
    /// Write `e` (of `ev`) placed in the order.
    fn place(&mut self, e: u32, ev: &Event) {
        self.by_completion[ev.key as usize].remove(&(ev.complete_time, e));
        self.by_invoke[ev.key as usize].remove(&(ev.invoke_time, e));
    }

    /// Write `e` (of `ev`) taken back out of the order.
    fn restore(&mut self, e: u32, ev: &Event) {
        self.by_completion[ev.key as usize].insert((ev.complete_time, e));
        self.by_invoke[ev.key as usize].insert((ev.invoke_time, e));
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Zobrist-style keys for "slot `a` holds `b`", two independent 64-bit halves.
fn zobrist(kind: u64, a: u32, b: u32) -> (u64, u64) {
    let x = (kind << 62) ^ ((a as u64) << 32) ^ b as u64;
    (mix(x), mix(x ^ 0xA5A5_A5A5_5A5A_5A5A))
}

impl<'a> Search<'a> {
    fn new(rh: &'a RegisterHistory<'a>) -> Search<'a> {
        let mut readers_left = vec![0u32; rh.events.len()];
        let mut init_readers_left = vec![0u32; rh.keys.len()];
        for ev in rh.events.iter().filter(|ev| !ev.is_sibling_read()) {
            match ev.read {
                Some(Source::Write(w)) => readers_left[w as usize] += 1,
                Some(Source::Init) => init_readers_left[ev.key as usize] += 1,
                _ => {}
            }
        }
        // The readers of each write, in one array: write `w`'s are
        // `readers[reader_start[w]..reader_start[w + 1]]` (a vector each cost 24 bytes an
        // event, while the search runs beside the causal checks and their clocks). A read
        // counts once among a write's readers, however many of its values that write gave.
        let sources = |ev: &'a Event| {
            let siblings = rh.siblings(ev);
            let source = move |k: usize| if k == 0 { ev.read } else { Some(siblings[k - 1]) };
            (0..=siblings.len()).filter_map(move |k| match source(k) {
                Some(Source::Write(w)) if (0..k).all(|j| source(j) != Some(Source::Write(w))) => Some(w),
                _ => None,
            })
        };
        let (reader_start, readers) = csr(
            rh.events.len(),
            rh.events.iter().enumerate().flat_map(|(r, ev)| sources(ev).map(move |w| (w, r as u32))),
        );
        // Every process's first event may be a read that can run from the start.
        let pending = (0..rh.process_count())
            .filter_map(|p| (rh.starts[p] < rh.starts[p + 1]).then_some(rh.starts[p]))
            .collect();
        Search {
            rh,
            frontier: vec![0; rh.process_count()],
            current: vec![NONE; rh.keys.len()],
            readers_left,
            init_readers_left,
            trail: Vec::new(),
            hash: (0, 0),
            visited: FxHashSet::default(),
            deepest: Vec::new(),
            deepest_frontier: vec![0; rh.process_count()],
            real_time_writes: None,
            readers,
            reader_start,
            pending,
        }
    }

    /// The same search, limited to the orders in which no write of a key goes before a
    /// write of that key that completed before it was invoked.
    fn keeping_real_time_of_writes(mut self) -> Search<'a> {
        let keys = self.rh.keys.len();
        let mut sets = RealTimeWrites {
            by_completion: vec![BTreeSet::new(); keys],
            by_invoke: vec![BTreeSet::new(); keys],
        };
        for (e, ev) in self.rh.events.iter().enumerate().filter(|(_, ev)| ev.writes) {
            sets.restore(e as u32, ev);
        }
        self.real_time_writes = Some(sets);
        self
    }

    fn next_event(&self, p: usize) -> Option<u32> {
        let e = self.rh.starts[p] + self.frontier[p];
        (e < self.rh.starts[p + 1]).then_some(e)
    }

    fn toggle(&mut self, (a, b): (u64, u64)) {
        self.hash.0 ^= a;
        self.hash.1 ^= b;
    }

    /// Whether event `e` (at its process's frontier) can run now.
    fn enabled(&self, e: u32) -> bool {
        let ev = &self.rh.events[e as usize];
        let cur = self.current[ev.key as usize];
        let holds = |source: Source| match source {
            Source::Init => cur == NONE,
            Source::Write(w) => cur == w,
            Source::Nowhere => false,
        };
        let reads_ok = match ev.read {
            None => true,
            Some(_) if ev.is_sibling_read() => self.rh.siblings(ev).iter().any(|&s| holds(s)),
            Some(source) => holds(source),
        };
        if !reads_ok {
            return false;
        }
        if !ev.writes {
            return true;
        }
        // Overwriting is allowed only when nobody else still has to read the current value.
        let own = u32::from(ev.read.is_some());
        let pending = if cur == NONE {
            self.init_readers_left[ev.key as usize]
        } else {
            self.readers_left[cur as usize]
        };
        if let Some(sets) = &self.real_time_writes
            && let Some(&(done, first)) = sets.by_completion[ev.key as usize].first()
            && first != e
            && done < ev.invoke_time
        {
            return false;
        }
        pending == own
    }

    fn apply(&mut self, e: u32) {
        let ev = &self.rh.events[e as usize];
        let p = ev.process as usize;
        let key = ev.key;
        self.toggle(zobrist(0, p as u32, self.frontier[p]));
        self.frontier[p] += 1;
        self.toggle(zobrist(0, p as u32, self.frontier[p]));
        if let Some(next) = self.next_event(p) {
            self.pending.push(next);
        }
        if ev.writes {
            let readers = self.reader_start[e as usize] as usize..self.reader_start[e as usize + 1] as usize;
            self.pending.extend_from_slice(&self.readers[readers]);
        }
        match ev.read {
            _ if ev.is_sibling_read() => {}
            Some(Source::Write(w)) => self.readers_left[w as usize] -= 1,
            Some(Source::Init) => self.init_readers_left[key as usize] -= 1,
            _ => {}
        }
        let prev = self.current[key as usize];
        if ev.writes {
            if let Some(sets) = &mut self.real_time_writes {
                sets.place(e, ev);
            }
            self.toggle(zobrist(1, key, prev));
            self.current[key as usize] = e;
            self.toggle(zobrist(1, key, e));
        }
        self.trail.push((e, prev));
    }

    fn undo_to(&mut self, len: usize) {
        // The state undone to had every read that could run taken: nothing is pending.
        self.pending.clear();
        while self.trail.len() > len {
            let (e, prev) = self.trail.pop().expect("trail longer than len");
            let ev = &self.rh.events[e as usize];
            let p = ev.process as usize;
            let key = ev.key;
            if ev.writes {
                if let Some(sets) = &mut self.real_time_writes {
                    sets.restore(e, ev);
                }
                self.toggle(zobrist(1, key, e));
                self.current[key as usize] = prev;
                self.toggle(zobrist(1, key, prev));
            }
            match ev.read {
                _ if ev.is_sibling_read() => {}
                Some(Source::Write(w)) => self.readers_left[w as usize] += 1,
                Some(Source::Init) => self.init_readers_left[key as usize] += 1,
                _ => {}
            }
            self.toggle(zobrist(0, p as u32, self.frontier[p]));
            self.frontier[p] -= 1;
            self.toggle(zobrist(0, p as u32, self.frontier[p]));
        }
    }

    /// Takes every read that can run now, repeatedly. Only a pending event can be one: a
    /// read becomes possible when it becomes its process's next event or when the write it
    /// read goes, and [`Search::apply`] marks both; every other read was looked at before
    /// and still cannot run, since a read changes no key. (Reads that can run commute, so
    /// the state reached is the same whatever order they are taken in.)
    fn take_reads(&mut self) {
        while let Some(e) = self.pending.pop() {
            let ev = &self.rh.events[e as usize];
            if ev.writes || self.next_event(ev.process as usize) != Some(e) || !self.enabled(e) {
                continue;
            }
            self.apply(e);
        }
    }

    /// The writes that can go next, by invocation time. Keeping writes in real time, they
    /// lie in each key's window: the write that completed first and those invoked before
    /// it completed. Otherwise any process's next event may be one.
    fn write_choices(&self) -> Vec<u32> {
        let can_go = |e: u32| {
            let ev = &self.rh.events[e as usize];
            ev.writes && self.next_event(ev.process as usize) == Some(e) && self.enabled(e)
        };
        let mut c: Vec<u32> = match &self.real_time_writes {
            Some(sets) => {
                let mut c = Vec::new();
                for (by_completion, by_invoke) in sets.by_completion.iter().zip(&sets.by_invoke) {
                    // The first to complete was invoked before it completed: it is in.
                    let Some(&(done, _)) = by_completion.first() else { continue };
                    c.extend(by_invoke.range(..=(done, u32::MAX)).map(|&(_, e)| e).filter(|&e| can_go(e)));
                }
                c
            }
            None => {
                (0..self.frontier.len()).filter_map(|p| self.next_event(p)).filter(|&e| can_go(e)).collect()
            }
        };
        c.sort_by_key(|&e| (self.rh.events[e as usize].invoke_time, e));
        c
    }

    /// Remembers the current order when it is the deepest so far. Called only before the
    /// order shrinks (and at the end), so a search that never backtracks copies nothing.
    fn note_deepest(&mut self) {
        if self.trail.len() > self.deepest.len() {
            self.deepest = self.trail.iter().map(|&(e, _)| e).collect();
            self.deepest_frontier = self.frontier.clone();
        }
    }

    fn run(&mut self, budget: &SearchBudget, cancelled: &AtomicBool) -> Outcome {
        let started = Instant::now();
        let total = self.rh.events.len();
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            self.take_reads();
            if self.trail.len() == total {
                return Outcome::Found;
            }
            if self.visited.insert(self.hash) {
                let over = if self.visited.len() as u64 > budget.max_states {
                    Some(format!("state budget of {} reached", budget.max_states))
                } else if self.visited.len().is_multiple_of(4096) && started.elapsed() > budget.max_time {
                    Some(format!("time budget of {:?} reached", budget.max_time))
                } else {
                    None
                };
                if let Some(why) = over {
                    self.note_deepest();
                    return Outcome::OverBudget(why);
                }
                if self.visited.len().is_multiple_of(1024) && cancelled.load(Ordering::Relaxed) {
                    return Outcome::Cancelled;
                }
                let choices = self.write_choices();
                stack.push(Frame { trail_len: self.trail.len(), choices, next: 0 });
            }
            // Take the next untried choice of the innermost frame that has one.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.note_deepest();
                    return Outcome::Exhausted;
                };
                if frame.next < frame.choices.len() {
                    let e = frame.choices[frame.next];
                    frame.next += 1;
                    let len = frame.trail_len;
                    if len < self.trail.len() {
                        self.note_deepest();
                    }
                    self.undo_to(len);
                    self.apply(e);
                    break;
                }
                stack.pop();
            }
        }
    }

    /// The operations at each process's frontier after the deepest order.
    fn stuck(&self) -> Vec<u32> {
        let rh = self.rh;
        (0..self.deepest_frontier.len())
            .filter_map(|p| {
                let e = rh.starts[p] + self.deepest_frontier[p];
                (e < rh.starts[p + 1]).then_some(e)
            })
            .collect()
    }

    /// One event in words, as a read or as a write.
    fn describe(&self, e: u32) -> String {
        let rh = self.rh;
        if rh.events[e as usize].read.is_some() { rh.describe_read(e) } else { rh.describe_write(e) }
    }

    /// The deepest order found and the operations that could not follow it.
    fn witness(&self) -> Anomaly {
        let rh = self.rh;
        let stuck = self.stuck();
        let mut values = vec![Value::Null; rh.keys.len()];
        let mut states = Vec::new();
        for &e in &self.deepest {
            let ev = &rh.events[e as usize];
            if ev.writes {
                values[ev.key as usize] = rh.write_value(ev).clone();
            }
            states.push(json!({ "key": rh.keys[ev.key as usize], "value": values[ev.key as usize] }));
        }
        let blocked: Vec<String> = stuck.iter().map(|&e| self.describe(e)).collect();
        Anomaly {
            kind: "not-sequential".into(),
            explanation: format!(
                "no single order of all operations respects each process's order and makes every read return the latest write; the longest order found places {} of {} operations, after which none of these can go next: {}.",
                self.deepest.len(),
                rh.events.len(),
                blocked.join("; ")
            ),
            ops: rh.indices(&stuck),
            witness: json!({
                "prefix": self.deepest.iter().map(|&e| rh.events[e as usize].index).collect::<Vec<_>>(),
                "states": states,
                "failed": stuck.first().map(|&e| rh.events[e as usize].index),
                "concurrent": rh.indices(&stuck),
            }),
            ..Anomaly::default()
        }
    }
}
