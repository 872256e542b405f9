//! The sequential search against the definition of sequential consistency, on thousands of
//! small concurrent histories whose reads return any value issued for their key: there is
//! an order of every event that keeps each process's program order and in which each read
//! returns the latest write of its key, found here by trying every such order. The search
//! prunes (reads at once, writes only when no one still has to read what they overwrite,
//! each key's writes in real time first) and looks only at the events a step can enable;
//! none of that may change a verdict.

mod ladder_support;

use ladder_support::Builder;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashSet;
use serde_json::{Value, json};
use sunder_check::history::{History, OpType};
use sunder_check::ladder::register::{RegisterHistory, Source};
use sunder_check::sequential::{self, SearchBudget};
use sunder_check::verdict::Validity;

/// `calls` calls by `workers` workers on `keys` keys, overlapping: each step opens a call
/// on an idle worker or completes an open one. Reads return the initial value now and
/// then, else one of the last three values issued for the key; writes and cas end `info`
/// with chance `crash`, retiring their process.
fn concurrent_history(seed: u64, workers: usize, keys: usize, calls: usize, crash: f64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder::new();
    let mut issued: Vec<Vec<i64>> = vec![Vec::new(); keys];
    let mut process: Vec<u64> = (0..workers as u64).collect();
    let mut next_process = workers as u64;
    let mut open: Vec<Option<(String, String, Value)>> = vec![None; workers];
    let (mut made, mut next_value) = (0, 0i64);
    let pick = |rng: &mut ChaCha8Rng, issued: &[i64]| {
        if issued.is_empty() || rng.random_bool(0.2) {
            return Value::Null;
        }
        json!(issued[rng.random_range(issued.len().saturating_sub(3)..issued.len())])
    };
    while made < calls || open.iter().any(Option::is_some) {
        let w = rng.random_range(0..workers);
        let p = process[w];
        match open[w].take() {
            None if made < calls => {
                made += 1;
                let k = rng.random_range(0..keys);
                let key = format!("k{k}");
                let (f, arg) = match rng.random_range(0..10) {
                    0..5 => ("read", Value::Null),
                    5 => ("cas", json!([pick(&mut rng, &issued[k]), next_value + 1])),
                    _ => ("write", json!(next_value + 1)),
                };
                if f != "read" {
                    next_value += 1;
                    issued[k].push(next_value);
                }
                b.invoke(p, f, &key, arg.clone());
                open[w] = Some((f.to_string(), key, arg));
            }
            None => {}
            Some((f, key, arg)) => {
                let k: usize = key[1..].parse().unwrap();
                if f == "read" {
                    let value = pick(&mut rng, &issued[k]);
                    b.complete(p, OpType::Ok, &f, &key, value);
                } else if rng.random_bool(crash) {
                    b.complete(p, OpType::Info, &f, &key, Value::Null);
                    process[w] = next_process;
                    next_process += 1;
                } else {
                    b.complete(p, OpType::Ok, &f, &key, arg);
                }
            }
        }
    }
    b.history()
}

/// Sequential consistency by its definition: some interleaving of the processes' program
/// orders in which every read finds its key holding what it read. Tries every one
/// (remembering dead ends), with no pruning of its own.
fn sequential_by_definition(rh: &RegisterHistory) -> bool {
    const NONE: u32 = u32::MAX;
    fn holds(current: u32, source: Source) -> bool {
        match source {
            Source::Init => current == NONE,
            Source::Write(w) => current == w,
            Source::Nowhere => false,
        }
    }
    fn search(
        rh: &RegisterHistory,
        frontier: &mut Vec<u32>,
        current: &mut Vec<u32>,
        dead: &mut FxHashSet<(Vec<u32>, Vec<u32>)>,
    ) -> bool {
        if (0..frontier.len()).all(|p| rh.starts[p] + frontier[p] == rh.starts[p + 1]) {
            return true;
        }
        if dead.contains(&(frontier.clone(), current.clone())) {
            return false;
        }
        for p in 0..frontier.len() {
            let e = rh.starts[p] + frontier[p];
            if e == rh.starts[p + 1] {
                continue;
            }
            let ev = &rh.events[e as usize];
            let k = ev.key as usize;
            let read_ok = match ev.read {
                None => true,
                Some(_) if ev.is_sibling_read() => rh.siblings(ev).iter().any(|&s| holds(current[k], s)),
                Some(s) => holds(current[k], s),
            };
            if !read_ok {
                continue;
            }
            let before = current[k];
            if ev.writes {
                current[k] = e;
            }
            frontier[p] += 1;
            let found = search(rh, frontier, current, dead);
            frontier[p] -= 1;
            current[k] = before;
            if found {
                return true;
            }
        }
        dead.insert((frontier.clone(), current.clone()));
        false
    }
    let mut frontier = vec![0; rh.process_count()];
    let mut current = vec![NONE; rh.keys.len()];
    search(rh, &mut frontier, &mut current, &mut FxHashSet::default())
}

/// 20,000 histories of [`concurrent_history`], seed `s` of shape `shapes[s % 4]`
/// (workers, keys, calls, crash chance).
fn small_histories(shapes: [(usize, usize, usize, f64); 4]) -> impl Iterator<Item = (u64, History)> {
    (0..20_000u64).map(move |seed| {
        let (workers, keys, calls, crash) = shapes[(seed % 4) as usize];
        (seed, concurrent_history(seed, workers, keys, calls, crash))
    })
}

#[test]
fn the_sequential_search_agrees_with_the_definition_on_small_concurrent_histories() {
    let (mut valid, mut invalid) = (0, 0);
    let shapes = [(2, 1, 8, 0.0), (3, 2, 9, 0.2), (4, 2, 10, 0.1), (3, 1, 12, 0.1)];
    for (seed, h) in small_histories(shapes) {
        let Ok(rh) = RegisterHistory::from_history(&h) else { continue };
        let expected = sequential_by_definition(&rh);
        let got = sequential::check_register(&rh, &SearchBudget::default());
        let want = if expected { Validity::Valid } else { Validity::Invalid };
        assert_eq!(got.valid, want, "seed {seed}: {:?} {}\n{:?}", got.reason, got.details, h.ops());
        if expected {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    // Both verdicts are common enough to mean something.
    assert!(valid > 500 && invalid > 500, "{valid} sequential, {invalid} not");
}

#[test]
fn the_linear_proof_refutes_no_sequential_history_and_many_that_are_not() {
    // The cycle the proof looks for is an order no sequential history has: it may miss a
    // history that is not sequential (the search then decides), never refute one that is.
    let (mut refuted, mut invalid) = (0, 0);
    let shapes = [(2, 2, 8, 0.0), (3, 2, 9, 0.2), (4, 3, 10, 0.1), (3, 1, 12, 0.1)];
    for (seed, h) in small_histories(shapes) {
        let Ok(rh) = RegisterHistory::from_history(&h) else { continue };
        let expected = sequential_by_definition(&rh);
        let proof = sequential::refute::refute(&rh);
        if let Some(a) = &proof {
            assert!(!expected, "seed {seed}: refuted a sequential history: {}\n{:?}", a.explanation, h.ops());
            assert!(!a.ops.is_empty(), "seed {seed}: a proof names its operations");
        }
        if !expected {
            invalid += 1;
            refuted += usize::from(proof.is_some());
        }
    }
    eprintln!("the linear proof settled {refuted} of {invalid} histories that are not sequential");
    assert!(
        refuted * 10 > invalid * 9,
        "the proof settled only {refuted} of {invalid} histories that are not sequential"
    );
}
