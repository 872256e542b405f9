//! PRAM and the four session guarantees of Terry et al., checked in one linear pass per
//! process over a [`RegisterHistory`].
//!
//! A write is *older* than another write of the same key when the same process issued it
//! earlier (program order), and the initial value is older than every write. Each
//! guarantee says which writes a process must already have seen when it reads, and a read
//! that returns a value older than one of them violates it:
//! - `read-your-writes`: the process's own earlier writes;
//! - `monotonic-reads`: the writes its earlier reads of the same key returned;
//! - `monotonic-writes`: for every write it has read, the writer's earlier writes;
//! - `writes-follow-reads`: for every write `w2` it has read, the writes of the key that
//!   `w2`'s process had read before issuing `w2`;
//! - `pram`: its own earlier operations and, for every write it has read, the writer's
//!   earlier writes (program order of every process, pipelined).
//!
//! Every such pattern is an instance of a CC bad pattern (WriteCORead or WriteCOInitRead),
//! and the PRAM pattern contains those of read-your-writes, monotonic-reads and
//! monotonic-writes, so the ladder's implications hold by construction. A read of a value
//! nobody wrote violates every guarantee.
//!
//! A read with siblings returned one of them. PRAM, monotonic writes, read-your-writes and
//! monotonic reads call it stale only when *every* sibling is: a sibling read satisfies
//! read-your-writes when one sibling is not older than the process's own latest write of
//! the key, and monotonic reads when one sibling is not older than any write the
//! process's earlier reads of the key returned. What it makes visible to later checks is
//! the one sibling the register view follows (`Event::read`). Writes-follow-reads judges
//! that sibling alone.

use crate::causal::{anomaly, finish};
use crate::history::History;
use crate::ladder::register::{RegisterHistory, Source};
use crate::verdict::{Anomaly, CheckerResult};
use rustc_hash::FxHashMap;

const NONE: u32 = u32::MAX;

/// Names of the models this module checks, strongest first.
pub const MODELS: [&str; 5] =
    ["pram", "writes-follow-reads", "monotonic-writes", "monotonic-reads", "read-your-writes"];

/// Checks PRAM and the session guarantees; `(model name, result)` in [`MODELS`] order.
pub fn check(history: &History) -> Vec<(String, CheckerResult)> {
    match RegisterHistory::from_history(history) {
        Ok(rh) => check_register(&rh),
        Err(e) => MODELS.iter().map(|m| (m.to_string(), CheckerResult::unknown(e.0.clone()))).collect(),
    }
}

/// Checks PRAM and the session guarantees on an extracted register history.
pub fn check_register(rh: &RegisterHistory) -> Vec<(String, CheckerResult)> {
    let index = Index::new(rh);
    let mut found: [Vec<Anomaly>; 5] = Default::default();
    let mut scratch = Scratch::new(rh.process_count(), index.reads_of_writer.runs());
    for q in 0..rh.process_count() {
        pram_like(rh, &index, q, Frontier::Pram, &mut scratch, &mut found[0]);
        writes_follow_reads(rh, &index, q, &mut scratch, &mut found[1]);
        pram_like(rh, &index, q, Frontier::MonotonicWrites, &mut scratch, &mut found[2]);
        monotonic_reads(rh, q, &mut found[3]);
        pram_like(rh, &index, q, Frontier::ReadYourWrites, &mut scratch, &mut found[4]);
    }
    MODELS.iter().zip(found).map(|(m, f)| (m.to_string(), finish(f, m))).collect()
}

/// Per-process tables indexed by process, allocated once and reset after each process
/// by the entries it touched: a history has one process per `info` (thousands in a long
/// run with faults), so clearing whole tables per process would cost processes².
struct Scratch {
    /// How many of each process's events the process being checked must have seen.
    seen: Vec<u32>,
    /// The read that made them visible (NONE: its own program order).
    via: Vec<u32>,
    /// Writes-follow-reads: each writer's newest write read so far, and that read.
    newest_read: Vec<(u32, u32)>,
    /// The processes whose entries are set.
    touched: Vec<u32>,
    /// Writes-follow-reads: for each run of [`ReadsOfWriter`], how many of its reads the
    /// newest write seen of its process follows (which only grows along the checked
    /// process's program order), stamped with the checked process it is for, so nothing
    /// needs clearing between processes.
    cursors: Vec<(u32, u32)>,
    /// The stamp of the process being checked.
    stamp: u32,
}

impl Scratch {
    fn new(width: usize, runs: usize) -> Scratch {
        Scratch {
            seen: vec![0; width],
            via: vec![NONE; width],
            newest_read: vec![(0, NONE); width],
            touched: Vec::new(),
            cursors: vec![(0, 0); runs],
            stamp: 0,
        }
    }

    fn touch(&mut self, p: u32) {
        self.touched.push(p);
    }

    fn reset(&mut self) {
        for &p in &self.touched {
            self.seen[p as usize] = 0;
            self.via[p as usize] = NONE;
            self.newest_read[p as usize] = (0, NONE);
        }
        self.touched.clear();
        self.stamp += 1;
    }
}

/// (position of a read, newest write of its writer read so far, position of the read
/// that returned that write).
type NewestRead = (u32, u32, u32);

/// Lookups every guarantee shares.
struct Index {
    /// For a write, the same process's next write of the same key.
    next_same_key: Vec<u32>,
    /// For each key, each writing process with its first write of the key.
    first_writes: Vec<Vec<(u32, u32)>>,
    /// For (process, key), that process's first read of the key that returned a write, as
    /// (position, write).
    first_read: FxHashMap<(u32, u32), (u32, u32)>,
    /// For (process, key, writer), that process's reads of the key that returned a write
    /// of `writer`, in program order, as (position, the newest such write read so far,
    /// the position of the read that returned it).
    reads_of_writer: ReadsOfWriter,
}

/// [`Index::reads_of_writer`]: the reads of each (process, key, writer) that has any, in
/// program order, as one *run* of `reads`. Writes-follow-reads asks about every process a
/// read's process has read from, so it is looked up far more often than built: a lookup
/// is one hash probe for the run, then a cursor into it that only moves forward.
struct ReadsOfWriter {
    /// Each (process, key, writer) with reads, to its run.
    run_of: FxHashMap<(u32, u32, u32), u32>,
    /// Run `r` is `bounds[r]..bounds[r + 1]` of `reads`.
    bounds: Vec<u32>,
    reads: Vec<NewestRead>,
}

impl ReadsOfWriter {
    fn runs(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// The last read of process `p`'s run for (`key`, `writer`) before position `before`,
    /// if any; `cursor` is how many of the run's reads an earlier lookup passed (stamped
    /// with the process checked: another stamp means none). `before` only grows for one
    /// checked process, so each read is passed once (galloping, so a long jump costs its
    /// logarithm).
    fn last_before(
        &self,
        (p, key, writer): (u32, u32, u32),
        before: u32,
        cursors: &mut [(u32, u32)],
        stamp: u32,
    ) -> Option<NewestRead> {
        let &run = self.run_of.get(&(p, key, writer))?;
        let (start, end) = (self.bounds[run as usize] as usize, self.bounds[run as usize + 1] as usize);
        let cursor = &mut cursors[run as usize];
        if cursor.0 != stamp {
            *cursor = (stamp, 0);
        }
        let mut at = start + cursor.1 as usize;
        let mut step = 1;
        while at + step <= end && self.reads[at + step - 1].0 < before {
            at += step;
            step *= 2;
        }
        let stop = (at + step).min(end);
        at += self.reads[at..stop].partition_point(|r| r.0 < before);
        cursor.1 = (at - start) as u32;
        (at > start).then(|| self.reads[at - 1])
    }
}

impl Index {
    fn new(rh: &RegisterHistory) -> Index {
        let mut next_same_key = vec![NONE; rh.events.len()];
        let mut first_writes: Vec<Vec<(u32, u32)>> = vec![Vec::new(); rh.keys.len()];
        let mut first_read: FxHashMap<(u32, u32), (u32, u32)> = FxHashMap::default();
        let mut reads_of_writer =
            ReadsOfWriter { run_of: FxHashMap::default(), bounds: vec![0], reads: Vec::new() };
        let mut last: FxHashMap<u32, u32> = FxHashMap::default();
        // This process's newest read of each (key, writer) so far, and its entries.
        let mut newest_of: FxHashMap<(u32, u32), (u32, u32)> = FxHashMap::default();
        let mut mine: Vec<((u32, u32), NewestRead)> = Vec::new();
        for p in 0..rh.process_count() {
            last.clear();
            newest_of.clear();
            mine.clear();
            for e in rh.process_events(p) {
                let ev = &rh.events[e];
                if let Some(Source::Write(w)) = ev.read {
                    first_read.entry((p as u32, ev.key)).or_insert((ev.pos, w));
                    let writer = rh.events[w as usize].process;
                    let slot = newest_of.entry((ev.key, writer)).or_insert((w, ev.pos));
                    if rh.events[slot.0 as usize].pos <= rh.events[w as usize].pos {
                        *slot = (w, ev.pos);
                    }
                    mine.push(((ev.key, writer), (ev.pos, slot.0, slot.1)));
                }
                if ev.writes {
                    match last.insert(ev.key, e as u32) {
                        Some(prev) => next_same_key[prev as usize] = e as u32,
                        None => first_writes[ev.key as usize].push((p as u32, e as u32)),
                    }
                }
            }
            // Stable: each (key, writer)'s reads stay in program order.
            mine.sort_by_key(|&(by, _)| by);
            for (i, &((key, writer), read)) in mine.iter().enumerate() {
                if i > 0 && mine[i - 1].0 != (key, writer) {
                    reads_of_writer.bounds.push(reads_of_writer.reads.len() as u32);
                }
                if i == 0 || mine[i - 1].0 != (key, writer) {
                    let run = reads_of_writer.bounds.len() as u32 - 1;
                    reads_of_writer.run_of.insert((p as u32, key, writer), run);
                }
                reads_of_writer.reads.push(read);
            }
            if !mine.is_empty() {
                reads_of_writer.bounds.push(reads_of_writer.reads.len() as u32);
            }
        }
        Index { next_same_key, first_writes, first_read, reads_of_writer }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frontier {
    ReadYourWrites,
    MonotonicWrites,
    Pram,
}

impl Frontier {
    fn model(self) -> &'static str {
        match self {
            Frontier::ReadYourWrites => "read-your-writes",
            Frontier::MonotonicWrites => "monotonic-writes",
            Frontier::Pram => "pram",
        }
    }
}

fn thin_air(rh: &RegisterHistory, r: u32, model: &str) -> Anomaly {
    anomaly(
        model,
        format!("{}, a value no write that took effect produced.", rh.describe_read(r)),
        rh.indices(&[r]),
    )
}

/// Explains "read `r` returned `older` (None: the initial value) though `newer` of the
/// same key had to be visible, because of `via` (a read that made it visible, if any)".
fn stale(
    rh: &RegisterHistory,
    model: &str,
    r: u32,
    older: Option<u32>,
    newer: u32,
    via: Option<u32>,
) -> Anomaly {
    let cause = match via {
        None => rh.describe_write(newer),
        Some(v) if rh.events[v as usize].read == Some(Source::Write(newer)) => rh.describe_read(v),
        Some(v) => format!(
            "{} (written by process {} after it {})",
            rh.describe_read(v),
            rh.client_of(newer),
            rh.write_phrase(newer)
        ),
    };
    let what = match older {
        None => "the initial value".to_string(),
        Some(o) => format!("an older value ({} earlier)", rh.describe_write(o)),
    };
    let mut events = vec![newer, r];
    events.extend(older);
    events.extend(via);
    // The write the via read returned shows why `newer` had to be visible.
    if let Some(Source::Write(w)) = via.and_then(|v| rh.events[v as usize].read) {
        events.push(w);
    }
    anomaly(model, format!("{cause}, and then {}, {what}.", rh.read_phrase(r)), rh.indices(&events))
}

/// The frontier-based guarantees: PRAM, monotonic writes, read-your-writes.
fn pram_like(
    rh: &RegisterHistory,
    index: &Index,
    q: usize,
    kind: Frontier,
    scratch: &mut Scratch,
    found: &mut Vec<Anomaly>,
) {
    // seen[p]: how many of p's events this process must have seen; via[p]: the read that
    // made them visible (NONE: its own program order).
    scratch.reset();
    scratch.touch(q as u32);
    let Scratch { seen, via, touched, .. } = scratch;
    let model = kind.model();
    for e in rh.process_events(q) {
        let ev = &rh.events[e];
        let r = e as u32;
        if kind != Frontier::MonotonicWrites {
            seen[q] = ev.pos;
            via[q] = NONE;
        }
        let visible = |p: u32, w: u32| rh.events[w as usize].pos < seen[p as usize];
        let named = |p: u32| (via[p as usize] != NONE).then_some(via[p as usize]);
        let violation = |source: Source| match source {
            Source::Nowhere => Some(thin_air(rh, r, model)),
            Source::Init => index.first_writes[ev.key as usize]
                .iter()
                .find(|&&(p, w)| visible(p, w))
                .map(|&(p, w)| stale(rh, model, r, None, w, named(p))),
            Source::Write(w0) => {
                let p0 = rh.events[w0 as usize].process;
                let newer = index.next_same_key[w0 as usize];
                (newer != NONE && visible(p0, newer)).then(|| {
                    // Name the newest visible write, which the via read made visible.
                    let mut newest = newer;
                    while index.next_same_key[newest as usize] != NONE
                        && visible(p0, index.next_same_key[newest as usize])
                    {
                        newest = index.next_same_key[newest as usize];
                    }
                    stale(rh, model, r, Some(w0), newest, named(p0))
                })
            }
        };
        if let Some(picked) = ev.read
            && rh.siblings(ev).iter().all(|&s| s == picked || violation(s).is_some())
            && let Some(a) = violation(picked)
        {
            found.push(a);
        }
        match ev.read {
            None | Some(Source::Nowhere | Source::Init) => {}
            Some(Source::Write(w0)) => {
                let p0 = rh.events[w0 as usize].process;
                let wev = &rh.events[w0 as usize];
                let own = kind == Frontier::Pram && p0 as usize == q;
                if kind != Frontier::ReadYourWrites && !own && wev.pos + 1 > seen[p0 as usize] {
                    touched.push(p0);
                    seen[p0 as usize] = wev.pos + 1;
                    via[p0 as usize] = r;
                }
            }
        }
    }
}

fn monotonic_reads(rh: &RegisterHistory, q: usize, found: &mut Vec<Anomaly>) {
    // Per key: the newest write read so far from each writer, and any read of the key.
    let mut newest: FxHashMap<(u32, u32), (u32, u32)> = FxHashMap::default();
    let mut any: FxHashMap<u32, (u32, u32)> = FxHashMap::default();
    let model = "monotonic-reads";
    for e in rh.process_events(q) {
        let ev = &rh.events[e];
        let r = e as u32;
        let Some(picked) = ev.read else { continue };
        let violation = |source: Source| match source {
            Source::Nowhere => Some(thin_air(rh, r, model)),
            Source::Init => any.get(&ev.key).map(|&(w, via)| stale(rh, model, r, None, w, Some(via))),
            Source::Write(w0) => {
                let wev = &rh.events[w0 as usize];
                newest
                    .get(&(ev.key, wev.process))
                    .filter(|&&(w, _)| rh.events[w as usize].pos > wev.pos)
                    .map(|&(w, via)| stale(rh, model, r, Some(w0), w, Some(via)))
            }
        };
        let stale_picked = violation(picked);
        // A plain read has no siblings, so only its own source decides.
        let stale_all = rh.siblings(ev).iter().all(|&s| s == picked || violation(s).is_some());
        if let Some(a) = stale_picked.filter(|_| stale_all) {
            found.push(a);
        }
        if let Source::Write(w0) = picked {
            let wev = &rh.events[w0 as usize];
            let slot = newest.entry((ev.key, wev.process)).or_insert((w0, r));
            if rh.events[slot.0 as usize].pos <= wev.pos {
                *slot = (w0, r);
            }
            any.insert(ev.key, (w0, r));
        }
    }
}

fn writes_follow_reads(
    rh: &RegisterHistory,
    index: &Index,
    s: usize,
    scratch: &mut Scratch,
    found: &mut Vec<Anomaly>,
) {
    // For each other process q: the position of q's newest write this process read, and
    // that read.
    scratch.reset();
    let Scratch { newest_read: seen, touched: seen_list, cursors, stamp, .. } = scratch;
    let model = "writes-follow-reads";
    for e in rh.process_events(s) {
        let ev = &rh.events[e];
        let r = e as u32;
        match ev.read {
            None => continue,
            Some(Source::Nowhere) => {
                found.push(thin_air(rh, r, model));
                continue;
            }
            _ => {}
        }
        let mut violation = None;
        for &q in seen_list.iter() {
            let (w2_pos, via) = seen[q as usize];
            // What q had read of this key before it issued the write this process saw: any
            // read at all (against the initial value), or the newest write of the writer
            // whose older write this process now returns.
            let found_before = match ev.read {
                Some(Source::Init) => index
                    .first_read
                    .get(&(q, ev.key))
                    .filter(|&&(pos, _)| pos < w2_pos)
                    .map(|&(pos, w1)| (None, w1, pos)),
                Some(Source::Write(w0)) => {
                    let w0ev = &rh.events[w0 as usize];
                    let run = (q, ev.key, w0ev.process);
                    index.reads_of_writer.last_before(run, w2_pos, cursors, *stamp).and_then(|(_, w1, at)| {
                        (w0ev.pos < rh.events[w1 as usize].pos).then_some((Some(w0), w1, at))
                    })
                }
                _ => None,
            };
            if let Some((older, w1, at)) = found_before {
                let q_read = rh.starts[q as usize] + at;
                violation = Some((older, w1, q_read, via));
                break;
            }
        }
        if let Some((older, w1, q_read, via)) = violation {
            let w2 = match rh.events[via as usize].read {
                Some(Source::Write(w2)) => w2,
                _ => unreachable!("via reads a write"),
            };
            let what = match older {
                None => "the initial value".to_string(),
                Some(o) => format!("an older value ({} earlier)", rh.describe_write(o)),
            };
            let mut events = vec![w1, q_read, w2, via, r];
            events.extend(older);
            found.push(anomaly(
                model,
                format!(
                    "{} and then {}; process {} saw that write ({}) and then {}, {what}.",
                    rh.describe_read(q_read),
                    rh.write_phrase(w2),
                    rh.client_of(r),
                    rh.read_phrase(via),
                    rh.read_phrase(r),
                ),
                rh.indices(&events),
            ));
        }
        if let Some(Source::Write(w2)) = ev.read {
            let wev = &rh.events[w2 as usize];
            let q = wev.process;
            if q as usize != s && wev.pos >= seen[q as usize].0 {
                if seen[q as usize].1 == NONE {
                    seen_list.push(q);
                }
                seen[q as usize] = (wev.pos, r);
            }
        }
    }
}
