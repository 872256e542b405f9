//! A proof against sequential consistency found in linear time, tried before the search.
//!
//! In any sequential order of a history with unique writes, a read comes after the write
//! it read and before every later write of its key. So whenever a process saw value `a`
//! of a key (wrote it, or read it) and then saw `b` of that key (read it, or wrote it),
//! every sequential order puts `a` before `b`, and every reader of `a` before `b`; and the
//! initial value, with its readers, goes before every write. These orders, with program
//! order and read-from, form a graph; a cycle in it is an order no sequential history can
//! have, so the history is not sequential. The readers of `a` before each write after `a`
//! would be a pair per reader and write; instead each value has one point, after its
//! readers and before its successors, so the graph stays linear in the history.
//!
//! This is the anomaly a faulty run of a weakly replicated store shows and the search
//! cannot refute (its budget is exponential in the processes that overlap): two processes
//! each write a key and read the other key's older value (store buffering). The causal
//! models allow it; the search would have to try every interleaving to rule it out, while
//! here it is a cycle of four edges. No cycle proves nothing: the search still decides.

use crate::causal::order::csr;
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::Anomaly;
use serde_json::json;

/// No event: an order every sequential history has (the initial value goes first), or
/// no cas read a value.
const NONE: u32 = u32::MAX;

/// A cycle among the orders every sequential order of `rh` must have, as an anomaly
/// naming its operations and saying why each comes before the next; `None` when there is
/// none (which proves nothing). Linear in the events; reads with siblings are left out
/// (which of their values they read is not known), which only weakens the proof.
pub fn refute(rh: &RegisterHistory) -> Option<Anomaly> {
    let graph = Orders::of(rh);
    if let Some(anomaly) = graph.early {
        return Some(anomaly);
    }
    let cycle = graph.find_cycle()?;
    Some(graph.explain(&graph.shortest_cycle_through(cycle)))
}

/// The graph of orders every sequential order of a history has. Nodes: events
/// `0..n`, then one point per value `n + v`: value `v` is write event `v`, or key `k`'s
/// initial value `n + k`. Program order, read-from and each event's edge to its value's
/// point are implied by the view; only a point's successors are stored.
struct Orders<'a> {
    rh: &'a RegisterHistory<'a>,
    /// The events.
    n: u32,
    /// The readers of each write (sibling reads left out), as compressed rows.
    reader_start: Vec<u32>,
    readers: Vec<u32>,
    /// The writes each value's point goes before, as compressed rows over values.
    after_start: Vec<u32>,
    after: Vec<u32>,
    /// For each stored successor, the event whose process saw the value before it
    /// ([`NONE`] for the initial value, which every write follows).
    because: Vec<u32>,
    /// A contradiction seen while building, needing no cycle search.
    early: Option<Anomaly>,
}

/// The next successor of a node, in the order [`Orders::successor`] numbers them.
enum Step {
    /// The node has no more successors.
    Done,
    /// This slot holds no edge; try the next.
    Skip,
    /// An edge to this node.
    To(u32),
}

impl<'a> Orders<'a> {
    fn of(rh: &'a RegisterHistory<'a>) -> Orders<'a> {
        let n = rh.events.len() as u32;
        let keys = rh.keys.len() as u32;
        let values = (n + keys) as usize;
        let source = |e: u32| -> Option<u32> {
            let ev = &rh.events[e as usize];
            match ev.read {
                _ if ev.is_sibling_read() => None,
                Some(Source::Write(w)) => Some(w),
                Some(Source::Init) => Some(n + ev.key),
                _ => None,
            }
        };
        let mut early = None;
        // The cas that read each value: two cannot both follow it at once.
        let mut cas_reader = vec![NONE; values];
        for (e, ev) in rh.events.iter().enumerate() {
            let e = e as u32;
            if let (true, Some(v)) = (ev.writes, source(e)) {
                if cas_reader[v as usize] != NONE && early.is_none() {
                    early = Some(two_cas(rh, cas_reader[v as usize], e));
                }
                cas_reader[v as usize] = e;
            }
        }
        let (reader_start, readers) = csr(
            n as usize,
            (0..n).filter_map(|r| match source(r) {
                Some(w) if w < n => Some((w, r)),
                _ => None,
            }),
        );
        // (value, write after it, the event that showed it): from each process's
        // consecutive events on one key, and the initial value before every write.
        let mut orders: Vec<(u32, u32, u32)> = Vec::new();
        let mut last_seen = vec![(NONE, NONE); keys as usize];
        for p in 0..rh.process_count() {
            for e in rh.process_events(p) {
                let e = e as u32;
                let ev = &rh.events[e as usize];
                if ev.is_sibling_read() {
                    continue;
                }
                let k = ev.key as usize;
                let seen = (last_seen[k].0 == p as u32).then_some(last_seen[k].1);
                let read = source(e);
                if let (Some(a), Some(b)) = (seen, read)
                    && a != b
                {
                    if b >= n {
                        // Read the initial value after seeing a write of the key.
                        if early.is_none() {
                            early = Some(init_after_write(rh, a, e));
                        }
                    } else if cas_reader[a as usize] != b {
                        orders.push((a, b, e));
                    }
                }
                if let (Some(a), true) = (seen, ev.writes)
                    && read != Some(a)
                    && cas_reader[a as usize] != e
                {
                    orders.push((a, e, e));
                }
                let now = if ev.writes { e } else { read.unwrap_or(NONE) };
                if now != NONE {
                    last_seen[k] = (p as u32, now);
                }
            }
        }
        for (e, ev) in rh.events.iter().enumerate() {
            let init = n + ev.key;
            if ev.writes && cas_reader[init as usize] != e as u32 {
                orders.push((init, e as u32, NONE));
            }
        }
        let (after_start, after) = csr(values, orders.iter().map(|&(a, b, _)| (a, b)));
        let (_, because) = csr(values, orders.iter().map(|&(a, _, why)| (a, why)));
        Orders { rh, n, reader_start, readers, after_start, after, because, early }
    }

    fn nodes(&self) -> u32 {
        self.n + self.after_start.len() as u32 - 1
    }

    /// Successor `i` of node `u`: for an event, its next in program order, its own
    /// value's point (a write), the point of the value it read, then its readers; for a
    /// point, its stored successors.
    fn successor(&self, u: u32, i: u32) -> Step {
        let rh = self.rh;
        let n = self.n;
        if u >= n {
            let v = (u - n) as usize;
            let at = self.after_start[v] + i;
            return if at < self.after_start[v + 1] { Step::To(self.after[at as usize]) } else { Step::Done };
        }
        let ev = &rh.events[u as usize];
        match i {
            0 => match u + 1 < rh.starts[ev.process as usize + 1] {
                true => Step::To(u + 1),
                false => Step::Skip,
            },
            1 => match ev.writes {
                true => Step::To(n + u),
                false => Step::Skip,
            },
            2 => match ev.read {
                _ if ev.is_sibling_read() => Step::Skip,
                Some(Source::Write(w)) => Step::To(n + w),
                Some(Source::Init) => Step::To(n + n + ev.key),
                _ => Step::Skip,
            },
            _ => {
                let at = self.reader_start[u as usize] + i - 3;
                if at < self.reader_start[u as usize + 1] {
                    Step::To(self.readers[at as usize])
                } else {
                    Step::Done
                }
            }
        }
    }

    /// Some cycle, by a depth-first search without recursion (a history's chains are
    /// millions long), as its nodes in order.
    fn find_cycle(&self) -> Option<Vec<u32>> {
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let mut colour = vec![WHITE; self.nodes() as usize];
        let mut stack: Vec<(u32, u32)> = Vec::new();
        for root in 0..self.nodes() {
            if colour[root as usize] != WHITE {
                continue;
            }
            colour[root as usize] = GREY;
            stack.push((root, 0));
            while let Some(top) = stack.last_mut() {
                let (u, i) = *top;
                top.1 += 1;
                match self.successor(u, i) {
                    Step::Done => {
                        colour[u as usize] = BLACK;
                        stack.pop();
                    }
                    Step::Skip => {}
                    Step::To(v) => match colour[v as usize] {
                        WHITE => {
                            colour[v as usize] = GREY;
                            stack.push((v, 0));
                        }
                        GREY => {
                            let from = stack
                                .iter()
                                .rposition(|&(x, _)| x == v)
                                .expect("a grey node is on the stack");
                            return Some(stack[from..].iter().map(|&(x, _)| x).collect());
                        }
                        _ => {}
                    },
                }
            }
        }
        None
    }

    /// The shortest cycle through the first event of `cycle` (a breadth-first search from
    /// it), so the anomaly names as few operations as the proof needs.
    fn shortest_cycle_through(&self, cycle: Vec<u32>) -> Vec<u32> {
        let Some(&start) = cycle.iter().find(|&&u| u < self.n) else { return cycle };
        let mut parent = vec![NONE; self.nodes() as usize];
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            let mut i = 0;
            loop {
                match self.successor(u, i) {
                    Step::Done => break,
                    Step::Skip => {}
                    Step::To(v) if v == start => {
                        let mut path = vec![u];
                        while *path.last().expect("a path") != start {
                            let back = parent[*path.last().expect("a path") as usize];
                            path.push(back);
                        }
                        path.reverse();
                        return path;
                    }
                    Step::To(v) => {
                        if parent[v as usize] == NONE {
                            parent[v as usize] = u;
                            queue.push_back(v);
                        }
                    }
                }
                i += 1;
            }
        }
        cycle
    }

    /// Why the point of value `v` goes before write `b`, in words.
    fn why_before(&self, v: u32, b: u32) -> String {
        let rh = self.rh;
        let stored = self.after_start[v as usize] as usize..self.after_start[v as usize + 1] as usize;
        let why = stored.clone().find(|&i| self.after[i] == b).map_or(NONE, |i| self.because[i]);
        let value = if v < self.n {
            rh.write_phrase(v).split_once(' ').map_or(String::new(), |(_, kv)| kv.to_string())
        } else {
            format!("{}=null", rh.keys[(v - self.n) as usize])
        };
        if why == NONE {
            format!("every write of the key follows its initial value {value}")
        } else if why == b {
            format!("process {} saw {value} before it {}", rh.client_of(why), rh.write_phrase(b))
        } else {
            format!("process {} saw {value} before it {}", rh.client_of(why), rh.read_phrase(why))
        }
    }

    /// The cycle as an anomaly: its operations, and why each goes before the next.
    fn explain(&self, cycle: &[u32]) -> Anomaly {
        let rh = self.rh;
        let n = self.n;
        let describe = |e: u32| {
            if rh.events[e as usize].read.is_some() { rh.describe_read(e) } else { rh.describe_write(e) }
        };
        let events: Vec<u32> = cycle.iter().copied().filter(|&u| u < n).collect();
        let mut steps = Vec::new();
        for (i, &u) in cycle.iter().enumerate() {
            if u >= n {
                continue;
            }
            let next = cycle[(i + 1) % cycle.len()];
            let (to, why) = if next < n {
                let ev = &rh.events[next as usize];
                let why = if ev.process == rh.events[u as usize].process && next == u + 1 {
                    "it comes next in its process".to_string()
                } else {
                    "the latter read its value".to_string()
                };
                (next, why)
            } else {
                let to = cycle[(i + 2) % cycle.len()];
                let v = next - n;
                let how = if rh.events[u as usize].writes && v == u {
                    "the value it wrote"
                } else {
                    "the value it read"
                };
                (to, format!("the latter overwrote {how}, since {}", self.why_before(v, to)))
            };
            steps.push(format!("{} goes before {} ({why})", describe(u), describe(to)));
        }
        Anomaly {
            kind: "not-sequential".into(),
            explanation: format!(
                "no single order of all operations can respect each process's order and make every read return the latest write: these {} operations would each have to come before the next, round a cycle: {}.",
                events.len(),
                steps.join("; ")
            ),
            ops: rh.indices(&events),
            // The report's table names each operation by why it goes before the next.
            witness: json!({
                "cycle": rh.indices(&events),
                "ops": events.iter().zip(&steps).map(|(&e, step)| json!({
                    "index": rh.events[e as usize].index,
                    "description": step,
                })).collect::<Vec<_>>(),
            }),
            ..Anomaly::default()
        }
    }
}

/// Two cas that swapped from the same value: only one can follow it.
fn two_cas(rh: &RegisterHistory, a: u32, b: u32) -> Anomaly {
    let why = format!(
        "{} and {} both swapped from the same value, but in any single order only one of them can come right after it.",
        rh.describe_read(a),
        rh.describe_read(b)
    );
    refuted_at_once(rh, [a, b], why)
}

/// A process read a key's initial value after it saw write `a` of the key (event `e`).
fn init_after_write(rh: &RegisterHistory, a: u32, e: u32) -> Anomaly {
    let why = format!(
        "{} after it saw the value of {}: no single order can put that write both before the read and after the initial value the read returned.",
        rh.describe_read(e),
        rh.describe_write(a)
    );
    refuted_at_once(rh, [a, e], why)
}

/// The anomaly of two events no sequential order can hold together.
fn refuted_at_once(rh: &RegisterHistory, events: [u32; 2], explanation: String) -> Anomaly {
    Anomaly {
        kind: "not-sequential".into(),
        explanation,
        ops: rh.indices(&events),
        witness: json!({ "cycle": rh.indices(&events) }),
        ..Anomaly::default()
    }
}
