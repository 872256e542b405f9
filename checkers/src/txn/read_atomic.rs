//! Read-atomic inference for rw-register histories: what a register's reads reveal about
//! version order once a transaction is assumed to see the whole of every transaction it saw
//! any of (monotonic atomic view; Plume's Read Atomic, whose "arbitration order" this
//! derives). If T3 read some key from T2 and read `x` from T1, where T2 also wrote `x`, then
//! T2's `x` must precede T1's; and if T3 read `x` as nil, it saw T2 but missed its `x`
//! outright. Such order steps, with the ww and wr edges, can close a cycle that no
//! read-committed inference sees (Plume's TAP-i and TAP-l): both are reported as
//! `fractured-read`, which rules out monotonic atomic view and everything above it, but
//! not read committed, where a transaction may see one writer before another commits.
//! The edges are never fed to the serializability searches: they hold only under the
//! assumption being tested.

use super::anomaly::{Found, Narrator};
use super::budget::{Exhausted, Meter};
use super::graph::{Bfs, Edge, Graph, Restricted, WR, WW, tarjan};
use super::list_append::EDGE_BYTES;
use super::micro::INITIAL;
use rustc_hash::FxHashMap;
use serde_json::json;

/// Fractured reads reported at most, like every other search.
const WITNESSES: usize = 8;

/// One external read: `reader` read `key` = `value`, written by `writer` (`None` for nil).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Read {
    /// The reading transaction.
    pub reader: u32,
    /// The key.
    pub key: u32,
    /// The value read.
    pub value: u32,
    /// Who wrote it, when someone live did (nil and unknown values have none).
    pub writer: Option<u32>,
}

/// Why `from`'s version of `key` must precede `to`'s: `reader` saw `from` yet read `to`'s.
#[derive(Debug, Clone, Copy)]
struct Reason {
    reader: u32,
    key: u32,
    /// A key through which `reader` saw `from`.
    via: u32,
}

/// Finds the fractured reads that read-atomic order steps reveal. `reads` are the external
/// reads of committed transactions; `last_writes[t]` the keys `t` wrote with the value it
/// left; `edges` the ww and wr edges already inferred.
pub(crate) fn fractured_reads(
    say: &Narrator<'_>,
    reads: &[Read],
    last_writes: &[Vec<(u32, u32)>],
    edges: &[Edge],
    meter: &Meter,
) -> Result<Vec<Found>, Exhausted> {
    let mut found = vec![];
    let mut by_reader: Vec<&Read> = reads.iter().collect();
    by_reader.sort_unstable_by_key(|r| r.reader);
    let mut steps: FxHashMap<(u32, u32), Reason> = FxHashMap::default();
    let mut seen: Vec<(u32, u32)> = vec![];
    for group in by_reader.chunk_by(|a, b| a.reader == b.reader) {
        let t3 = group[0].reader;
        seen.clear();
        seen.extend(group.iter().filter_map(|r| r.writer.map(|w| (w, r.key))).filter(|&(w, _)| w != t3));
        seen.sort_unstable();
        seen.dedup_by_key(|s| s.0);
        for r in group {
            for &(t2, via) in &seen {
                if Some(t2) == r.writer {
                    continue;
                }
                let Some(&(_, v2)) = last_writes[t2 as usize].iter().find(|(k, _)| *k == r.key) else {
                    continue;
                };
                match r.writer {
                    Some(t1) if t1 != t3 => {
                        steps.entry((t2, t1)).or_insert(Reason { reader: t3, key: r.key, via });
                    }
                    Some(_) => {}
                    None if r.value == INITIAL && found.len() < WITNESSES => {
                        found.push(missed_outright(say, t3, t2, via, r.key, v2));
                    }
                    None => {}
                }
            }
        }
    }
    meter.memory(steps.len() as u64 * EDGE_BYTES, "the read-atomic order steps")?;
    meter.time("inferring read-atomic order")?;
    if steps.is_empty() {
        return Ok(found);
    }

    // Cycles through at least one such step, among ww and wr edges: a cycle of ww and wr
    // alone is G0 or G1c, which the main search reports.
    let n = last_writes.len();
    let plain: Vec<Edge> = edges.iter().filter(|e| e.kind & (WW | WR) != 0).copied().collect();
    let base = tarjan(&Restricted { graph: &Graph::build(n, plain.clone()), allowed: WW | WR });
    let mut all = plain;
    all.extend(steps.keys().map(|&(from, to)| Edge { from, to, kind: WW, key: u32::MAX }));
    let graph = Graph::build(n, all);
    let r = Restricted { graph: &graph, allowed: WW | WR };
    let comps = tarjan(&r);
    let mut bfs = Bfs::new(n);
    let mut reported: Vec<u32> = vec![];
    let mut ordered: Vec<(&(u32, u32), &Reason)> = steps.iter().collect();
    ordered.sort_unstable_by_key(|(k, _)| **k);
    for (&(u, v), why) in ordered {
        if found.len() >= WITNESSES {
            break;
        }
        let c = comps.comp[u as usize];
        if comps.comp[v as usize] != c
            || reported.contains(&c)
            || base.comp[u as usize] == base.comp[v as usize]
        {
            continue;
        }
        let Some(back) = bfs.path(&r, v, u, |w| comps.comp[w as usize] == c) else { continue };
        reported.push(c);
        found.push(narrate(say, u, *why, &back, &steps, &graph));
        meter.time("narrating fractured reads")?;
    }
    Ok(found)
}

/// T3 saw T2 through another key, yet read `key` as nil although T2 wrote it.
fn missed_outright(say: &Narrator<'_>, t3: u32, t2: u32, via: u32, key: u32, v2: u32) -> Found {
    Found {
        kind: "fractured-read".into(),
        txns: vec![t2, t3],
        explanation: format!(
            "{} {}, which {} wrote, but read {} as nil, although {} wrote {}={}: it saw part of {} and missed the rest.",
            say.name(t3),
            say.read(t3, via),
            say.name(t2),
            say.key(key),
            say.name(t2),
            say.key(key),
            say.value(v2),
            say.name(t2)
        ),
        witness: json!({ "key": say.key(key), "missed": say.value(v2) }),
    }
}

/// The cycle `u -> v` (a read-atomic step) then `back` (from `v` to `u`) in words.
fn narrate(
    say: &Narrator<'_>,
    u: u32,
    first: Reason,
    back: &[u32],
    steps: &FxHashMap<(u32, u32), Reason>,
    graph: &Graph,
) -> Found {
    let mut nodes = vec![u];
    nodes.extend_from_slice(back);
    let mut sentences = vec![];
    let mut cycle = vec![];
    for pair in nodes.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let reason = if a == u && b == back[0] { Some(first) } else { steps.get(&(a, b)).copied() };
        let mask = graph.mask(a, b);
        let (sentence, kind, key) = match reason {
            Some(why) if mask & WR == 0 => (
                format!(
                    "{} {}, which {} wrote, and {}, which {} wrote; had it seen {} whole, {}'s write of {} came before {}'s",
                    say.name(why.reader),
                    say.read(why.reader, why.via),
                    say.name(a),
                    say.read(why.reader, why.key),
                    say.name(b),
                    say.name(a),
                    say.name(a),
                    say.key(why.key),
                    say.name(b)
                ),
                "read-atomic",
                why.key,
            ),
            _ if mask & WR != 0 => {
                let k = graph.key(a, b, WR).unwrap_or(u32::MAX);
                (format!("{} {}, which {} wrote", say.name(b), say.read(b, k), say.name(a)), "wr", k)
            }
            _ => {
                let k = graph.key(a, b, WW).unwrap_or(u32::MAX);
                (
                    format!("{} {} before {} {}", say.name(a), say.wrote(a, k), say.name(b), say.wrote(b, k)),
                    "ww",
                    k,
                )
            }
        };
        sentences.push(sentence);
        cycle.push(json!({
            "from": say.tx.txns[a as usize].index,
            "to": say.tx.txns[b as usize].index,
            "type": kind,
            "key": say.key(key),
        }));
    }
    Found {
        kind: "fractured-read".into(),
        txns: nodes[..nodes.len() - 1].to_vec(),
        explanation: format!(
            "{}; so {} would have to come before itself: if every transaction saw the whole of each one it saw part of, no order of these writes explains the reads (a fractured read).",
            sentences.join("; "),
            say.name(u)
        ),
        witness: json!({ "cycle": cycle }),
    }
}
