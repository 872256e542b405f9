//! rw-register inference (Elle's): writes are unique per key, so a read names the write it
//! saw (write-read edges, aborted and intermediate reads). Version orders are not visible in
//! a register's reads; they come from what always holds (nil is first, a transaction's later
//! write follows its earlier one) and from what the user states: `wfr_keys` (a write follows
//! the read before it in the same transaction), `sequential_keys` (each process sees a key's
//! versions in order) and `linearizable_keys` (real-time order on each key). A cycle among
//! one key's versions is `cyclic-versions`; otherwise each order step gives ww and rw edges.

use super::anomaly::{Found, Narrator};
use super::budget::{Exhausted, Meter};
use super::graph::{Bfs, Edge, Graph, RW, Restricted, WR, WW, tarjan};
use super::list_append::{EDGE_BYTES, Inference, lost_updates};
use super::micro::{INITIAL, MopKind};
use super::read_atomic::{Read, fractured_reads};
use super::transactions::{Outcome, Transactions};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

/// Which version-order assumptions the user states.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Assumptions {
    /// A transaction's write of a key follows its read of that key.
    pub wfr: bool,
    /// Each process observes a key's versions in order.
    pub sequential: bool,
    /// Each key is linearizable: real-time order orders its versions.
    pub linearizable: bool,
}

fn pair(k: u32, v: u32) -> u64 {
    (u64::from(k) << 32) | u64::from(v)
}

/// How one transaction touched one key: the version it started from, whether that start
/// was a read (`<=`) or its own write (`<`), and the version it left.
#[derive(Debug, Clone, Copy)]
struct Touch {
    key: u32,
    first: u32,
    first_is_read: bool,
    last: u32,
    wrote: bool,
    /// The transaction's latest micro-op on the key was a read.
    last_is_read: bool,
}

/// Infers dependencies of an rw-register history.
pub(crate) fn infer(
    tx: &Transactions,
    meter: &Meter,
    assume: Assumptions,
    garbage: bool,
) -> Result<Inference, Exhausted> {
    let say = Narrator { tx };
    let mut out = Inference::default();
    let outcome = |t: u32| tx.txns[t as usize].outcome;

    // Writers, and whether each write was its transaction's last to the key.
    let mut writers: FxHashMap<u64, (u32, bool)> = FxHashMap::default();
    let mut seen: FxHashSet<u32> = FxHashSet::default();
    for t in 0..tx.txns.len() as u32 {
        seen.clear();
        for m in tx.mops(t).iter().rev() {
            if m.kind == MopKind::Write {
                let last = seen.insert(m.key);
                writers.entry(pair(m.key, m.value)).or_insert((t, last));
            }
        }
    }

    // Per committed transaction: internal consistency, external reads, touches.
    let mut touches: Vec<Vec<Touch>> = vec![vec![]; tx.txns.len()];
    let mut readers: Vec<(u32, u32, u32)> = vec![]; // key, version, reader
    let mut version_edges: Vec<(u32, u32, u32)> = vec![]; // key, earlier, later
    let mut lost: Vec<(u32, u32, u32)> = vec![];
    for t in 0..tx.txns.len() as u32 {
        let committed = outcome(t) == Outcome::Committed;
        if outcome(t) == Outcome::Aborted {
            continue;
        }
        let mut local: Vec<Touch> = vec![];
        let mut bad = false;
        for m in tx.mops(t) {
            let known = matches!(m.kind, MopKind::ReadValue | MopKind::Write);
            if !known {
                continue;
            }
            let is_read = m.kind == MopKind::ReadValue;
            match local.iter_mut().find(|x| x.key == m.key) {
                None => {
                    local.push(Touch {
                        key: m.key,
                        first: m.value,
                        first_is_read: is_read,
                        last: m.value,
                        wrote: !is_read,
                        last_is_read: is_read,
                    });
                    if is_read && committed {
                        readers.push((m.key, m.value, t));
                        if writers.get(&pair(m.key, m.value)).is_some_and(|w| w.0 == t) && !bad {
                            bad = true;
                            out.found.push(internal(&say, t, m.key, m.value, "a value it writes only later"));
                        }
                    }
                }
                Some(x) => {
                    if is_read {
                        if committed && m.value != x.last && !bad {
                            bad = true;
                            let expected = format!("{}={}", say.key(m.key), say.value(x.last));
                            let mut f = internal(&say, t, m.key, m.value, &expected);
                            if x.last_is_read {
                                // Read committed lets a transaction read a key twice and see
                                // two committed values; only a contradiction of its own
                                // write is below it (Plume's TAP-j against TAP-d and e).
                                f.kind = "non-repeatable-read".into();
                                f.explanation = format!(
                                    "{} read {}={} and then {}={}: its second read of the key saw another version (a non-repeatable read).",
                                    say.name(t),
                                    say.key(m.key),
                                    say.value(x.last),
                                    say.key(m.key),
                                    say.value(m.value)
                                );
                            }
                            out.found.push(f);
                        }
                        x.last_is_read = true;
                    } else {
                        // A later write of one transaction follows its earlier one; one
                        // that follows a read does only when the user says so.
                        if x.wrote || assume.wfr {
                            version_edges.push((m.key, x.last, m.value));
                        }
                        if !x.wrote && committed {
                            lost.push((m.key, x.last, t));
                        }
                        x.wrote = true;
                        x.last = m.value;
                        x.last_is_read = false;
                    }
                }
            }
        }
        touches[t as usize] = local;
    }
    meter.time("reading registers")?;

    // Order within the same process, and in real time, when the user says keys allow it.
    let link = |edges: &mut Vec<(u32, u32, u32)>, before: &Touch, after: &Touch| {
        if before.last != after.first || !after.first_is_read {
            edges.push((after.key, before.last, after.first));
        }
    };
    if assume.sequential {
        let mut last: FxHashMap<(u64, u32), Touch> = FxHashMap::default();
        for (txn, mine) in tx.txns.iter().zip(&touches) {
            if txn.outcome != Outcome::Committed {
                continue;
            }
            for x in mine {
                if let Some(b) = last.get(&(txn.process, x.key)) {
                    link(&mut version_edges, b, x);
                }
                last.insert((txn.process, x.key), *x);
            }
        }
    }
    if assume.linearizable {
        let mut events: Vec<(u64, bool, u32)> = vec![];
        for (t, txn) in tx.txns.iter().enumerate() {
            if txn.outcome == Outcome::Committed {
                events.push((txn.start, false, t as u32));
                events.push((txn.end.unwrap_or(u64::MAX), true, t as u32));
            }
        }
        events.sort_unstable();
        let mut frontier: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut preds: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
        for &(_, done, t) in &events {
            for x in &touches[t as usize] {
                let f = frontier.entry(x.key).or_default();
                if !done {
                    for &p in f.iter() {
                        if let Some(b) = touches[p as usize].iter().find(|y| y.key == x.key) {
                            link(&mut version_edges, b, x);
                        }
                    }
                    preds.insert((t, x.key), f.clone());
                } else {
                    let before = preds.remove(&(t, x.key)).unwrap_or_default();
                    f.retain(|p| !before.contains(p));
                    f.push(t);
                }
            }
        }
    }
    version_edges.retain(|e| e.1 != e.2);
    // nil is every key's first version: a version ordered before nil closes a cycle.
    let before_nil: Vec<(u32, u32, u32)> =
        version_edges.iter().filter(|e| e.2 == INITIAL).map(|&(k, a, _)| (k, INITIAL, a)).collect();
    version_edges.extend(before_nil);
    version_edges.sort_unstable();
    version_edges.dedup();
    meter.memory(version_edges.len() as u64 * 24, "the version orders")?;
    meter.time("ordering versions")?;

    // Cycles among versions make a key's order unusable.
    let mut node_of: FxHashMap<u64, u32> = FxHashMap::default();
    let mut names: Vec<(u32, u32)> = vec![];
    let mut id = |k: u32, v: u32, names: &mut Vec<(u32, u32)>| {
        *node_of.entry(pair(k, v)).or_insert_with(|| {
            names.push((k, v));
            names.len() as u32 - 1
        })
    };
    let vedges: Vec<Edge> = version_edges
        .iter()
        .map(|&(k, a, b)| Edge { from: id(k, a, &mut names), to: id(k, b, &mut names), kind: WW, key: k })
        .collect();
    let vgraph = Graph::build(names.len(), vedges);
    let comps = tarjan(&Restricted { graph: &vgraph, allowed: WW });
    let mut cyclic: FxHashSet<u32> = FxHashSet::default();
    let mut bfs = Bfs::new(names.len());
    for members in comps.nontrivial() {
        let key = names[members[0] as usize].0;
        if !cyclic.insert(key) {
            continue;
        }
        let c = comps.comp[members[0] as usize];
        let start = members[0];
        let next = vgraph.out(start).map(|(w, _)| w).find(|&w| comps.comp[w as usize] == c);
        let Some(next) = next else { continue };
        let r = Restricted { graph: &vgraph, allowed: WW };
        let path = bfs.path(&r, next, start, |w| comps.comp[w as usize] == c).unwrap_or_default();
        let mut cycle = vec![start];
        cycle.extend(path);
        let words: Vec<String> = cycle.iter().map(|&n| say.value(names[n as usize].1)).collect();
        let txns: Vec<u32> =
            cycle.iter().filter_map(|&n| writers.get(&pair(key, names[n as usize].1)).map(|w| w.0)).collect();
        out.found.push(Found {
            kind: "cyclic-versions".into(),
            txns,
            explanation: format!(
                "the versions of {} must be ordered {} by what the transactions saw and the stated assumptions ({}), which is a cycle: no order of {}'s writes fits.",
                say.key(key),
                words.join(" < "),
                stated(assume),
                say.key(key)
            ),
            witness: json!({ "key": say.key(key), "versions": words }),
        });
    }
    meter.time("checking version orders")?;

    // Dependencies from each usable order step.
    readers.sort_unstable();
    let readers_of = |k: u32, v: u32| {
        let a = readers.partition_point(|r| (r.0, r.1) < (k, v));
        let b = readers.partition_point(|r| (r.0, r.1) <= (k, v));
        &readers[a..b]
    };
    let live = |t: u32| outcome(t) != Outcome::Aborted;
    let mut has_pred: FxHashSet<u64> = FxHashSet::default();
    for &(k, a, b) in &version_edges {
        if cyclic.contains(&k) {
            continue;
        }
        if a != INITIAL {
            has_pred.insert(pair(k, b));
        }
        let Some(&(wb, _)) = writers.get(&pair(k, b)) else { continue };
        if !live(wb) {
            continue;
        }
        if let Some(&(wa, _)) = writers.get(&pair(k, a))
            && live(wa)
        {
            out.edges.push(Edge { from: wa, to: wb, kind: WW, key: k });
        }
        for r in readers_of(k, a) {
            out.edges.push(Edge { from: r.2, to: wb, kind: RW, key: k });
        }
        if out.edges.len() % 65_536 == 0 {
            meter.memory(out.edges.len() as u64 * EDGE_BYTES, "the dependency edges")?;
        }
    }
    // nil comes before every written version: readers of nil precede the writers of the
    // versions nothing else is known to precede.
    let mut firsts: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for (&p, &(w, _)) in &writers {
        let k = (p >> 32) as u32;
        if !cyclic.contains(&k) && live(w) && outcome(w) == Outcome::Committed && !has_pred.contains(&p) {
            firsts.entry(k).or_default().push(w);
        }
    }
    for (&k, ws) in &firsts {
        for r in readers_of(k, INITIAL) {
            for &w in ws {
                out.edges.push(Edge { from: r.2, to: w, kind: RW, key: k });
            }
        }
        meter.memory(out.edges.len() as u64 * EDGE_BYTES, "the dependency edges")?;
    }

    // Write-read edges; aborted, intermediate and thin-air reads.
    let mut keys: FxHashSet<u32> = FxHashSet::default();
    for &(k, v, t) in &readers {
        keys.insert(k);
        if v == INITIAL {
            continue;
        }
        match writers.get(&pair(k, v)) {
            Some(&(w, _)) if w == t => {}
            Some(&(w, last)) => {
                if outcome(w) == Outcome::Aborted {
                    out.found.push(Found {
                        kind: "G1a".into(),
                        txns: vec![w, t],
                        explanation: format!(
                            "{} read {}={}, but {} wrote it and aborted (aborted read).",
                            say.name(t),
                            say.key(k),
                            say.value(v),
                            say.name(w)
                        ),
                        witness: json!({ "key": say.key(k), "value": say.value(v) }),
                    });
                    continue;
                }
                if !last {
                    out.found.push(Found {
                        kind: "G1b".into(),
                        txns: vec![w, t],
                        explanation: format!(
                            "{} read {}={}, which {} overwrote later in the same transaction: it saw a state {} never committed (intermediate read).",
                            say.name(t), say.key(k), say.value(v), say.name(w), say.name(w)
                        ),
                        witness: json!({ "key": say.key(k), "value": say.value(v) }),
                    });
                }
                out.edges.push(Edge { from: w, to: t, kind: WR, key: k });
            }
            None if garbage => out.found.push(Found {
                kind: "garbage-read".into(),
                txns: vec![t],
                explanation: format!(
                    "{} read {}={}, but no transaction ever wrote that value (a read out of thin air).",
                    say.name(t),
                    say.key(k),
                    say.value(v)
                ),
                witness: json!({ "key": say.key(k), "value": say.value(v) }),
            }),
            None => {}
        }
    }
    out.keys = keys.len().max(firsts.len());
    meter.memory(out.edges.len() as u64 * EDGE_BYTES, "the dependency edges")?;
    lost_updates(&mut lost, &say, &mut out.found);

    // What the reads reveal once transactions are assumed to be seen whole.
    let reads: Vec<Read> = readers
        .iter()
        .map(|&(key, value, reader)| Read {
            reader,
            key,
            value,
            writer: writers.get(&pair(key, value)).map(|w| w.0).filter(|&w| live(w)),
        })
        .collect();
    let last_writes: Vec<Vec<(u32, u32)>> =
        touches.iter().map(|ts| ts.iter().filter(|x| x.wrote).map(|x| (x.key, x.last)).collect()).collect();
    out.found.extend(fractured_reads(&say, &reads, &last_writes, &out.edges, meter)?);
    Ok(out)
}

fn internal(say: &Narrator<'_>, t: u32, k: u32, v: u32, expected: &str) -> Found {
    Found {
        kind: "internal".into(),
        txns: vec![t],
        explanation: format!(
            "{} read {}={} where its own earlier reads and writes imply {}: the transaction contradicts itself.",
            say.name(t),
            say.key(k),
            say.value(v),
            expected
        ),
        witness: json!({ "key": say.key(k), "read": say.value(v), "expected": expected }),
    }
}

fn stated(a: Assumptions) -> String {
    let mut s = vec!["nil first", "a transaction's writes in order"];
    if a.wfr {
        s.push("writes follow reads");
    }
    if a.sequential {
        s.push("sequential keys");
    }
    if a.linearizable {
        s.push("linearizable keys");
    }
    s.join(", ")
}
