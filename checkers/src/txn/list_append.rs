//! list-append inference (Elle's): every read of a key returns the whole list, so the
//! longest read fixes the key's version order and every other read must be a prefix of it;
//! a committed append that no read shows comes after all of it. From that order come the
//! write-write, write-read and read-write dependencies, and the anomalies that need no
//! cycle: aborted and intermediate reads, dirty updates, lost updates, duplicate elements,
//! incompatible orders and transactions that contradict themselves.

use super::anomaly::{Found, Narrator};
use super::budget::{Exhausted, Meter};
use super::graph::{Edge, RW, WR, WW};
use super::micro::{INITIAL, MopKind};
use super::transactions::{Outcome, Transactions};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

/// What the inference produced: dependency edges and the anomalies seen on the way.
#[derive(Debug, Default)]
pub(crate) struct Inference {
    /// ww, wr and rw edges.
    pub edges: Vec<Edge>,
    /// Anomalies found without a cycle.
    pub found: Vec<Found>,
    /// Keys whose version order was inferred.
    pub keys: usize,
}

/// Who appended a value to a key, and whether it was that transaction's last append there.
#[derive(Debug, Clone, Copy)]
struct Writer {
    txn: u32,
    last_in_txn: bool,
    /// Position in the key's version order; `u32::MAX` when no read shows it.
    pos: u32,
}

fn pair(k: u32, v: u32) -> u64 {
    (u64::from(k) << 32) | u64::from(v)
}

/// Bytes one edge record costs while edges are built and sorted.
pub(crate) const EDGE_BYTES: u64 = 2 * std::mem::size_of::<Edge>() as u64;

/// Infers dependencies of a list-append history. `garbage` also reports elements no
/// transaction appended.
pub(crate) fn infer(tx: &Transactions, meter: &Meter, garbage: bool) -> Result<Inference, Exhausted> {
    let say = Narrator { tx };
    let mut out = Inference::default();
    let committed = |t: u32| tx.txns[t as usize].outcome == Outcome::Committed;
    let aborted = |t: u32| tx.txns[t as usize].outcome == Outcome::Aborted;

    // Writers of every (key, value); the last append of a transaction to a key is the
    // first one met walking its micro-ops backwards.
    let mut writers: FxHashMap<u64, Writer> = FxHashMap::default();
    let mut seen_keys: FxHashSet<u32> = FxHashSet::default();
    for t in 0..tx.txns.len() as u32 {
        seen_keys.clear();
        for m in tx.mops(t).iter().rev() {
            if m.kind == MopKind::Append {
                let last_in_txn = seen_keys.insert(m.key);
                writers.entry(pair(m.key, m.value)).or_insert(Writer { txn: t, last_in_txn, pos: u32::MAX });
            }
        }
    }
    meter.time("indexing appends")?;

    internal_consistency(tx, &say, &mut out.found);

    // Every committed read, grouped by key, longest first.
    let mut reads: Vec<(u32, u32, u32, u32)> = vec![]; // key, len, mop, txn
    for t in 0..tx.txns.len() as u32 {
        if !committed(t) {
            continue;
        }
        let (s, _) = tx.txns[t as usize].mops;
        for (i, m) in tx.mops(t).iter().enumerate() {
            if m.kind == MopKind::ReadList {
                reads.push((m.key, m.list.1, s + i as u32, t));
            }
        }
    }
    reads.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    meter.time("sorting reads")?;

    // Version order per key: the longest read, checked against every other read.
    let mut order: FxHashMap<u32, (u32, bool)> = FxHashMap::default(); // key -> (mop of longest, reliable)
    let mut dup_check: FxHashSet<u32> = FxHashSet::default();
    let mut i = 0;
    while i < reads.len() {
        let key = reads[i].0;
        let mut j = i;
        while j < reads.len() && reads[j].0 == key {
            j += 1;
        }
        let longest = &tx.table.mops[reads[i].2 as usize];
        let l = tx.table.list(longest);
        let mut reliable = true;
        dup_check.clear();
        if let Some(&d) = l.iter().find(|&&v| !dup_check.insert(v)) {
            reliable = false;
            let t = reads[i].3;
            out.found.push(Found {
                kind: "duplicate-elements".into(),
                txns: vec![t],
                explanation: format!(
                    "{} {}, in which {} appears more than once; each append happens once, so no list can hold it twice.",
                    say.name(t),
                    say.read(t, key),
                    say.value(d)
                ),
                witness: json!({ "key": say.key(key), "element": say.value(d) }),
            });
        }
        for r in &reads[i + 1..j] {
            let other = tx.table.list(&tx.table.mops[r.2 as usize]);
            if other != &l[..other.len()] {
                if reliable {
                    let (a, b) = (reads[i].3, r.3);
                    out.found.push(Found {
                        kind: "incompatible-order".into(),
                        txns: vec![b, a],
                        explanation: format!(
                            "{} read {}={} and {} read {}={}: the shorter is not a prefix of the longer, so the two disagree on the order of {}'s elements.",
                            say.name(b), say.key(key), say.list(other), say.name(a), say.key(key), say.list(l), say.key(key)
                        ),
                        witness: json!({ "key": say.key(key), "reads": [say.list(other), say.list(l)] }),
                    });
                }
                reliable = false;
            }
        }
        if reliable {
            for (p, &v) in l.iter().enumerate() {
                if let Some(w) = writers.get_mut(&pair(key, v)) {
                    w.pos = p as u32;
                }
            }
        }
        order.insert(key, (reads[i].2, reliable));
        i = j;
    }
    out.keys = order.len();
    meter.time("inferring version orders")?;

    // Committed appends no read shows: they follow the whole longest read.
    let mut unseen: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for t in 0..tx.txns.len() as u32 {
        if !committed(t) {
            continue;
        }
        for m in tx.mops(t) {
            if m.kind == MopKind::Append
                && let Some(w) = writers.get(&pair(m.key, m.value))
                && w.txn == t
                && w.pos == u32::MAX
                && w.last_in_txn
            {
                unseen.entry(m.key).or_default().push(t);
            }
        }
    }

    // ww edges along each reliable order, and dirty updates.
    for (&key, &(mop, reliable)) in &order {
        if !reliable {
            continue;
        }
        let l = tx.table.list(&tx.table.mops[mop as usize]);
        let mut prev: Option<u32> = None;
        let mut aborted_at: Option<u32> = None;
        let mut dirty_reported = false;
        for &v in l {
            let Some(w) = writers.get(&pair(key, v)) else {
                prev = None;
                continue;
            };
            if aborted(w.txn) {
                aborted_at.get_or_insert(w.txn);
            } else if let Some(a) = aborted_at
                && !dirty_reported
            {
                dirty_reported = true;
                out.found.push(Found {
                    kind: "dirty-update".into(),
                    txns: vec![a, w.txn],
                    explanation: format!(
                        "{} aborted after it {}, yet {} {} on top of that aborted element: the final list of {} builds on a write that never committed.",
                        say.name(a), say.wrote(a, key), say.name(w.txn), say.wrote(w.txn, key), say.key(key)
                    ),
                    witness: json!({ "key": say.key(key), "version": say.list(l) }),
                });
            }
            if let Some(p) = prev
                && p != w.txn
                && !aborted(p)
                && !aborted(w.txn)
            {
                out.edges.push(Edge { from: p, to: w.txn, kind: WW, key });
            }
            prev = Some(w.txn);
        }
        if let (Some(p), Some(later)) = (prev, unseen.get(&key))
            && !aborted(p)
        {
            for &t in later {
                out.edges.push(Edge { from: p, to: t, kind: WW, key });
            }
        }
    }
    meter.memory(out.edges.len() as u64 * EDGE_BYTES, "the ww edges")?;
    meter.time("building ww edges")?;

    // wr and rw edges from each committed read; aborted, intermediate and lost-update reads.
    let mut lost: Vec<(u32, u32, u32)> = vec![]; // key, version read, txn
    let mut g1a_seen: FxHashSet<u32> = FxHashSet::default();
    for t in 0..tx.txns.len() as u32 {
        if !committed(t) {
            continue;
        }
        let mops = tx.mops(t);
        for (i, m) in mops.iter().enumerate() {
            if m.kind != MopKind::ReadList {
                continue;
            }
            let key = m.key;
            let mut l = tx.table.list(m);
            if let Some(&bad) =
                l.iter().find(|&&v| writers.get(&pair(key, v)).is_some_and(|w| aborted(w.txn)))
                && g1a_seen.insert(t)
            {
                let w = writers[&pair(key, bad)].txn;
                out.found.push(Found {
                    kind: "G1a".into(),
                    txns: vec![w, t],
                    explanation: format!(
                        "{} {}, but {} aborted: it read the append of {} that never committed (aborted read).",
                        say.name(t), say.read(t, key), say.name(w), say.value(bad)
                    ),
                    witness: json!({ "key": say.key(key), "element": say.value(bad) }),
                });
            }
            if garbage && let Some(&g) = l.iter().find(|&&v| !writers.contains_key(&pair(key, v))) {
                out.found.push(Found {
                    kind: "garbage-read".into(),
                    txns: vec![t],
                    explanation: format!(
                        "{} {}, but no transaction ever appended {} to {} (a read out of thin air).",
                        say.name(t),
                        say.read(t, key),
                        say.value(g),
                        say.key(key)
                    ),
                    witness: json!({ "key": say.key(key), "element": say.value(g) }),
                });
            }
            // The transaction's own appends at the end are its own business (checked by
            // internal consistency); what it saw of others ends just before them.
            while let Some((&last, rest)) = l.split_last() {
                if writers.get(&pair(key, last)).is_some_and(|w| w.txn == t) {
                    l = rest;
                } else {
                    break;
                }
            }
            let seen = l.last().copied();
            if let Some(e) = seen
                && let Some(w) = writers.get(&pair(key, e))
                && w.txn != t
                && !aborted(w.txn)
            {
                out.edges.push(Edge { from: w.txn, to: t, kind: WR, key });
                if !w.last_in_txn {
                    out.found.push(Found {
                        kind: "G1b".into(),
                        txns: vec![w.txn, t],
                        explanation: format!(
                            "{} {}, ending at {}, but {} appended more to {} after {}: it saw a state {} never committed (intermediate read).",
                            say.name(t), say.read(t, key), say.value(e), say.name(w.txn), say.key(key), say.value(e), say.name(w.txn)
                        ),
                        witness: json!({ "key": say.key(key), "element": say.value(e) }),
                    });
                }
            }
            let appends_later = mops[i + 1..].iter().any(|n| n.kind == MopKind::Append && n.key == key);
            let appended_before = mops[..i].iter().any(|n| n.kind == MopKind::Append && n.key == key);
            if appends_later && !appended_before {
                lost.push((key, seen.unwrap_or(INITIAL), t));
            }
            let Some(&(mop, reliable)) = order.get(&key) else { continue };
            if !reliable {
                continue;
            }
            let full = tx.table.list(&tx.table.mops[mop as usize]);
            match full.get(l.len()) {
                Some(&next) => {
                    if let Some(w) = writers.get(&pair(key, next))
                        && w.txn != t
                        && !aborted(w.txn)
                    {
                        out.edges.push(Edge { from: t, to: w.txn, kind: RW, key });
                    }
                }
                None => {
                    for &w in unseen.get(&key).map_or(&[][..], |v| v.as_slice()) {
                        if w != t {
                            out.edges.push(Edge { from: t, to: w, kind: RW, key });
                        }
                    }
                }
            }
        }
        if t % 65_536 == 0 {
            meter.time("building wr and rw edges")?;
            meter.memory(out.edges.len() as u64 * EDGE_BYTES, "the dependency edges")?;
        }
    }
    meter.memory(out.edges.len() as u64 * EDGE_BYTES, "the dependency edges")?;
    lost_updates(&mut lost, &say, &mut out.found);
    Ok(out)
}

/// Two or more committed transactions that read the same version of a key and each
/// appended to it: one of the updates was made without seeing the other.
pub(crate) fn lost_updates(lost: &mut [(u32, u32, u32)], say: &Narrator<'_>, found: &mut Vec<Found>) {
    lost.sort_unstable();
    let mut i = 0;
    while i < lost.len() {
        let mut j = i + 1;
        while j < lost.len() && lost[j].0 == lost[i].0 && lost[j].1 == lost[i].1 {
            j += 1;
        }
        let mut txns: Vec<u32> = lost[i..j].iter().map(|x| x.2).collect();
        txns.dedup();
        if txns.len() >= 2 {
            let key = lost[i].0;
            let names: Vec<String> =
                txns.iter().map(|&t| format!("{} ({})", say.name(t), say.wrote(t, key))).collect();
            let version =
                if lost[i].1 == INITIAL { "its initial state".to_string() } else { say.value(lost[i].1) };
            found.push(Found {
                kind: "lost-update".into(),
                txns,
                explanation: format!(
                    "{} all read {} at {} and then updated it: each update was made without seeing the others, so all but one are lost (lost update).",
                    names.join(", "),
                    say.key(key),
                    version
                ),
                witness: json!({ "key": say.key(key), "version": version }),
            });
        }
        i = j;
    }
}

/// Reads inside one transaction must agree with what it read and appended before.
fn internal_consistency(tx: &Transactions, say: &Narrator<'_>, found: &mut Vec<Found>) {
    // Per key in this transaction: the list it last read (if any) and its appends since.
    let mut state: Vec<(u32, Option<Vec<u32>>, Vec<u32>)> = vec![];
    for t in 0..tx.txns.len() as u32 {
        if tx.txns[t as usize].outcome != Outcome::Committed {
            continue;
        }
        state.clear();
        for m in tx.mops(t) {
            let slot = match state.iter().position(|s| s.0 == m.key) {
                Some(p) => p,
                None => {
                    state.push((m.key, None, vec![]));
                    state.len() - 1
                }
            };
            let s = &mut state[slot];
            match m.kind {
                MopKind::Append => match &mut s.1 {
                    Some(l) => l.push(m.value),
                    None => s.2.push(m.value),
                },
                MopKind::ReadList => {
                    let r = tx.table.list(m);
                    let ok = match &s.1 {
                        Some(l) => l.as_slice() == r,
                        None => r.ends_with(&s.2),
                    };
                    if !ok {
                        let expected = match &s.1 {
                            Some(l) => say.list(l),
                            None => format!("a list ending in {}", say.list(&s.2)),
                        };
                        found.push(Found {
                            kind: "internal".into(),
                            txns: vec![t],
                            explanation: format!(
                                "{} read {}={} where its own earlier reads and appends imply {}: the transaction contradicts itself.",
                                say.name(t),
                                say.key(m.key),
                                say.list(r),
                                expected
                            ),
                            witness: json!({ "key": say.key(m.key), "read": say.list(r), "expected": expected }),
                        });
                        break;
                    }
                    s.1 = Some(r.to_vec());
                    s.2.clear();
                }
                _ => {}
            }
        }
    }
}
