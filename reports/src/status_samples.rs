//! The nodes' own word on blocking: the `/status` samples the harness writes to
//! `nodes/<node>/status.jsonl` during a run of a system that asks for a status timeline
//! (bank-2pc). Each line is `{"time": NS, "node", "ok": true, "status": {...}}` or
//! `{"time": NS, "node", "ok": false, "error"}`. This module reads them (a malformed line
//! is a located problem, never a stop) and turns them into bands: the stretches of time
//! in which a node had transactions in doubt, held locks, or did not answer, which the
//! timeline draws beside the fault windows.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// How long after its sample the last sample of a timeline is taken to hold (the
/// harness samples every 200 ms).
const LAST_SAMPLE_HOLDS_NS: u64 = 200_000_000;
/// How long a transaction must have been in doubt to count as stuck: far longer than a
/// healthy commit takes, so what is left is blocking (a coordinator away, a partition).
pub const STUCK_NS: u64 = 1_000_000_000;

/// One sample of one node's `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSample {
    /// When the answer came (or did not), ns since the run began.
    pub time: u64,
    /// Whether the node answered.
    pub answered: bool,
    /// Transactions in doubt on the node.
    pub in_doubt: usize,
    /// Locks it held.
    pub locks: usize,
    /// The coordinators its in-doubt transactions wait for (untrusted text).
    pub coordinators: Vec<String>,
    /// The in-doubt transactions' ids (untrusted text).
    pub txns: Vec<String>,
}

/// Every sample of one node, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatusTimeline {
    /// The node (its folder under `nodes/`).
    pub node: String,
    /// The samples.
    pub samples: Vec<StatusSample>,
}

/// What a band shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Transactions in doubt.
    InDoubt,
    /// Locks held.
    Locks,
    /// Samples the node did not answer.
    Silent,
    /// Transactions in doubt for at least [`STUCK_NS`] (since the first sample that
    /// listed them).
    Stuck,
}

/// A stretch of consecutive samples in which the measure held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Time of the first sample, ns.
    pub start: u64,
    /// Time of the first sample after the band (or the last one's time plus a sampling
    /// period), ns.
    pub end: u64,
    /// The largest count seen in the band (in doubt or locks; samples for silence).
    pub max: usize,
    /// Samples in the band.
    pub samples: usize,
    /// Coordinators named by the in-doubt transactions in the band, sorted.
    pub coordinators: Vec<String>,
    /// For stuck bands: the transaction in doubt the longest, and for how long (ns).
    pub longest: Option<(String, u64)>,
}

impl NodeStatusTimeline {
    /// The bands in which `measure` held, in time order.
    pub fn bands(&self, measure: Measure) -> Vec<Band> {
        // When each transaction listed now was first seen in doubt (a node that does not
        // answer forgets nothing: its transactions may still be in doubt).
        let mut first_seen: std::collections::BTreeMap<&str, u64> = Default::default();
        let mut bands: Vec<Band> = Vec::new();
        let mut open: Option<(Band, BTreeSet<String>)> = None;
        for s in &self.samples {
            if s.answered {
                first_seen.retain(|t, _| s.txns.iter().any(|x| x == t));
                for t in &s.txns {
                    first_seen.entry(t.as_str()).or_insert(s.time);
                }
            }
            let stuck: Vec<(&str, u64)> = first_seen
                .iter()
                .map(|(t, since)| (*t, s.time.saturating_sub(*since)))
                .filter(|(_, age)| *age >= STUCK_NS)
                .collect();
            let count = match measure {
                Measure::InDoubt => s.answered.then_some(s.in_doubt).filter(|n| *n > 0),
                Measure::Locks => s.answered.then_some(s.locks).filter(|n| *n > 0),
                Measure::Silent => (!s.answered).then_some(1),
                Measure::Stuck => (s.answered && !stuck.is_empty()).then_some(stuck.len()),
            };
            let oldest = stuck.iter().max_by_key(|(_, age)| *age).map(|(t, age)| (t.to_string(), *age));
            match (count, open.as_mut()) {
                (Some(n), Some((band, who))) => {
                    band.max = band.max.max(n);
                    band.samples += 1;
                    band.end = s.time + LAST_SAMPLE_HOLDS_NS;
                    who.extend(s.coordinators.iter().cloned());
                    if oldest.as_ref().map(|o| o.1) > band.longest.as_ref().map(|l| l.1) {
                        band.longest = oldest;
                    }
                }
                (Some(n), None) => {
                    let band = Band {
                        start: s.time,
                        end: s.time + LAST_SAMPLE_HOLDS_NS,
                        max: n,
                        samples: 1,
                        coordinators: Vec::new(),
                        longest: oldest,
                    };
                    open = Some((band, s.coordinators.iter().cloned().collect()));
                }
                (None, Some(_)) => {
                    let (mut band, who) = open.take().expect("matched Some");
                    band.end = s.time.max(band.start);
                    band.coordinators = who.into_iter().collect();
                    bands.push(band);
                }
                (None, None) => {}
            }
        }
        if let Some((mut band, who)) = open {
            band.coordinators = who.into_iter().collect();
            bands.push(band);
        }
        bands
    }
}

/// Reads every `nodes/*/status.jsonl` under the run folder `dir`, sorted by node. Lines
/// that cannot be read are skipped and counted in `problems`, naming file and line.
pub fn load_all(dir: &Path, problems: &mut Vec<String>) -> Vec<NodeStatusTimeline> {
    let Ok(entries) = std::fs::read_dir(dir.join("nodes")) else { return Vec::new() };
    let mut timelines = Vec::new();
    for entry in entries.flatten() {
        let node = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path().join("status.jsonl");
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(format!("{}: cannot read: {e}", path.display()));
                continue;
            }
        };
        timelines.push(parse(&node, &format!("nodes/{node}/status.jsonl"), &text, problems));
    }
    timelines.sort_by(|a, b| a.node.cmp(&b.node));
    timelines
}

/// Parses one node's samples from `text` (the file `rel_path` of the run folder).
pub fn parse(node: &str, rel_path: &str, text: &str, problems: &mut Vec<String>) -> NodeStatusTimeline {
    let mut samples = Vec::new();
    let mut first_bad: Option<(usize, String)> = None;
    let mut bad = 0usize;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match sample(line) {
            Ok(s) => samples.push(s),
            Err(why) => {
                bad += 1;
                first_bad.get_or_insert((i + 1, why));
            }
        }
    }
    if let Some((line, why)) = first_bad {
        problems.push(format!("{rel_path}:{line}: {why} ({bad} unreadable sample line(s) skipped)"));
    }
    NodeStatusTimeline { node: node.to_string(), samples }
}

fn sample(line: &str) -> Result<StatusSample, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("malformed JSON: {e}"))?;
    let time = v.get("time").and_then(Value::as_u64).ok_or("no numeric \"time\"")?;
    let answered = v.get("ok").and_then(Value::as_bool).ok_or("no boolean \"ok\"")?;
    if !answered {
        return Ok(StatusSample {
            time,
            answered,
            in_doubt: 0,
            locks: 0,
            coordinators: Vec::new(),
            txns: Vec::new(),
        });
    }
    let status = v.get("status").ok_or("an answered sample without \"status\"")?;
    let list = |key: &str| status.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let in_doubt = list("in_doubt");
    let mut coordinators: Vec<String> = in_doubt
        .iter()
        .filter_map(|d| d.get("coordinator").and_then(Value::as_str).map(str::to_string))
        .collect();
    coordinators.sort();
    coordinators.dedup();
    let txns =
        in_doubt.iter().filter_map(|d| d.get("txn").and_then(Value::as_str).map(str::to_string)).collect();
    Ok(StatusSample {
        time,
        answered,
        in_doubt: in_doubt.len(),
        locks: list("locks").len(),
        coordinators,
        txns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, in_doubt: usize) -> String {
        let doubt: Vec<String> =
            (0..in_doubt).map(|i| format!("{{\"txn\":\"n1.1.{i}\",\"coordinator\":\"n1\"}}")).collect();
        format!(
            "{{\"time\":{},\"node\":\"n2\",\"ok\":true,\"status\":{{\"in_doubt\":[{}],\"locks\":[]}}}}\n",
            ms * 1_000_000,
            doubt.join(",")
        )
    }

    #[test]
    fn consecutive_samples_in_doubt_make_one_band_ending_at_the_next_clear_sample() {
        let text = [at(0, 0), at(200, 2), at(400, 3), at(600, 0), at(800, 1)].concat();
        let mut problems = Vec::new();
        let t = parse("n2", "nodes/n2/status.jsonl", &text, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let bands = t.bands(Measure::InDoubt);
        assert_eq!(bands.len(), 2);
        assert_eq!(
            (bands[0].start, bands[0].end, bands[0].max, bands[0].samples),
            (200_000_000, 600_000_000, 3, 2)
        );
        assert_eq!(bands[0].coordinators, vec!["n1".to_string()]);
        assert_eq!((bands[1].start, bands[1].end), (800_000_000, 1_000_000_000));
    }

    #[test]
    fn a_transaction_in_doubt_for_over_a_second_is_stuck_and_short_ones_are_not() {
        // n1.1.0 stays in doubt from 0 to 1.4 s; the others come and go within 200 ms.
        let text: String = (0..8).map(|i| at(i * 200, 1)).collect();
        let mut problems = Vec::new();
        let t = parse("n2", "nodes/n2/status.jsonl", &text, &mut problems);
        let stuck = t.bands(Measure::Stuck);
        assert_eq!(stuck.len(), 1);
        assert_eq!(stuck[0].start, 1_000_000_000, "stuck from its first second on");
        assert_eq!(stuck[0].longest, Some(("n1.1.0".to_string(), 1_400_000_000)));
        let brief = [at(0, 1), at(200, 0), at(400, 1), at(600, 0)].concat();
        let t = parse("n2", "nodes/n2/status.jsonl", &brief, &mut problems);
        assert!(t.bands(Measure::Stuck).is_empty());
    }

    #[test]
    fn unreadable_lines_are_skipped_and_located() {
        let text = format!("{}not json\n{{\"time\":5}}\n{}", at(0, 1), at(200, 0));
        let mut problems = Vec::new();
        let t = parse("n2", "nodes/n2/status.jsonl", &text, &mut problems);
        assert_eq!(t.samples.len(), 2);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("nodes/n2/status.jsonl:2: malformed JSON"), "{problems:?}");
        assert!(problems[0].contains("2 unreadable"), "{problems:?}");
    }
}
