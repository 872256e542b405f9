//! The causal checks (CC, CCv, CM) against their definitions, computed with boolean
//! matrices, on many small concurrent histories with crashed ops: replicas that ship
//! writes in random order, clients whose writes sometimes end `info` (taking effect or
//! not) and whose process is then retired, as Sunder's runner does. Retired processes are
//! what the shared clocks of `causal::clocks` are for, so these histories have many
//! processes for their length; the checks must give exactly the verdicts of the
//! definitions on every one, with every form of clock and of writer lookup.

mod ladder_support;

use ladder_support::Builder;
use ladder_support::definitions::causal_by_definition;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use sunder_check::causal::{self, CausalBudget};
use sunder_check::history::{History, OpType};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::verdict::Validity;

/// Replicas applying writes locally and shipping them in random order; `crash` is the
/// chance that a write or cas ends `info`, after which its worker continues as a new
/// process. A crashed op takes effect or not, at random.
fn replicated_with_crashes(
    seed: u64,
    workers: usize,
    replicas: usize,
    keys: usize,
    calls: usize,
    crash: f64,
) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder::new();
    let mut state: Vec<HashMap<String, Value>> = vec![HashMap::new(); replicas];
    let mut inflight: Vec<(usize, String, Value)> = Vec::new();
    let mut process: Vec<u64> = (0..workers as u64).collect();
    let mut next_process = workers as u64;
    let mut next_value = 1i64;
    for _ in 0..calls {
        while !inflight.is_empty() && rng.random_bool(0.5) {
            let (r, key, v) = inflight.swap_remove(rng.random_range(0..inflight.len()));
            state[r].insert(key, v);
        }
        let w = rng.random_range(0..workers);
        let p = process[w];
        let r = if rng.random_bool(0.5) { w % replicas } else { rng.random_range(0..replicas) };
        let key = format!("k{}", rng.random_range(0..keys));
        let cur = state[r].get(&key).cloned().unwrap_or(Value::Null);
        let roll = rng.random_range(0..10);
        if roll < 5 {
            b.read(p, &key, cur);
            continue;
        }
        next_value += 1;
        let (f, arg) =
            if roll < 9 { ("write", json!(next_value)) } else { ("cas", json!([cur, next_value])) };
        let crashed = rng.random_bool(crash);
        let applied = !crashed || rng.random_bool(0.5);
        b.invoke(p, f, &key, arg.clone());
        if applied {
            state[r].insert(key.clone(), json!(next_value));
            for other in (0..replicas).filter(|&o| o != r) {
                inflight.push((other, key.clone(), json!(next_value)));
            }
        }
        if crashed {
            b.complete(p, OpType::Info, f, &key, Value::Null);
            process[w] = next_process;
            next_process += 1;
        } else {
            b.complete(p, OpType::Ok, f, &key, arg);
        }
    }
    b.history()
}

#[test]
fn causal_checks_agree_with_the_definitions_on_histories_with_crashed_ops() {
    let mut seen = BTreeMap::new();
    let mut most_processes = 0;
    for seed in 0..1500u64 {
        let h = replicated_with_crashes(
            seed,
            2 + (seed as usize % 4),
            2 + (seed as usize % 2),
            1 + (seed as usize % 3),
            12 + (seed as usize % 80),
            [0.2, 0.5, 0.8][seed as usize % 3],
        );
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        most_processes = most_processes.max(rh.process_count());
        let (cc, ccv, cm) = causal_by_definition(&rh);
        let as_validity = |b: bool| if b { Validity::Valid } else { Validity::Invalid };
        // Plain clocks, and shared tries even for a few processes: the same verdicts,
        // and the same anomalies word for word.
        let plain = causal::check_register_within(
            &rh,
            &CausalBudget { shared_clocks_above: usize::MAX, ..CausalBudget::default() },
        );
        let shared = causal::check_register_within(
            &rh,
            &CausalBudget { shared_clocks_above: 0, ..CausalBudget::default() },
        );
        // Every key's writers filtered by the clocks instead of scanned (these histories
        // have a few dozen writers at most), found through the (key, process) table and,
        // with no room for one, by binary search.
        let forms = [(true, usize::MAX), (false, usize::MAX), (true, 0), (false, 0)];
        let filtered: Vec<_> = forms
            .iter()
            .map(|&(flat, table)| {
                causal::check_register_within(
                    &rh,
                    &CausalBudget {
                        shared_clocks_above: if flat { usize::MAX } else { 0 },
                        scan_writers_up_to: 0,
                        writer_table_entries: table,
                        ..CausalBudget::default()
                    },
                )
            })
            .collect();
        for v in [&plain, &shared].into_iter().chain(&filtered) {
            assert_eq!(v.causal.valid, as_validity(cc), "seed {seed}: CC {:?}", v.causal);
            assert_eq!(v.convergence.valid, as_validity(ccv), "seed {seed}: CCv {:?}", v.convergence);
            assert_eq!(v.memory.valid, as_validity(cm), "seed {seed}: CM {:?}", v.memory);
        }
        for other in [&shared].into_iter().chain(&filtered) {
            for (a, b) in [
                (&plain.causal, &other.causal),
                (&plain.convergence, &other.convergence),
                (&plain.memory, &other.memory),
            ] {
                assert_eq!(serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap(), "seed {seed}");
            }
        }
        *seen.entry((cc, ccv, cm)).or_insert(0) += 1;
    }
    // Over 16 processes, shared clocks take two levels of nodes.
    assert!(most_processes > 16, "at most {most_processes} processes in a history");
    for combo in [(true, false, false), (true, true, true), (false, false, false)] {
        assert!(seen.contains_key(&combo), "no history had (CC, CCv, CM) = {combo:?}: {seen:?}");
    }
}

#[test]
fn causal_memory_agrees_with_its_definition_where_views_grow_over_many_reads() {
    // Longer histories with slow replication, so a process's view derives edges whose
    // sources grow again afterwards: the growth must reach every event after them.
    let mut cm_verdicts = BTreeMap::new();
    for seed in 0..150u64 {
        let h = replicated_with_crashes(
            10_000 + seed,
            3 + (seed as usize % 3),
            2 + (seed as usize % 2),
            1 + (seed as usize % 2),
            120 + (seed as usize % 100),
            [0.1, 0.3][seed as usize % 2],
        );
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        let (cc, ccv, cm) = causal_by_definition(&rh);
        let as_validity = |b: bool| if b { Validity::Valid } else { Validity::Invalid };
        for shared_clocks_above in [usize::MAX, 0] {
            let v = causal::check_register_within(
                &rh,
                &CausalBudget { shared_clocks_above, ..CausalBudget::default() },
            );
            assert_eq!(v.causal.valid, as_validity(cc), "seed {seed}: CC {:?}", v.causal);
            assert_eq!(v.convergence.valid, as_validity(ccv), "seed {seed}: CCv {:?}", v.convergence);
            assert_eq!(v.memory.valid, as_validity(cm), "seed {seed}: CM {:?}", v.memory);
        }
        if cc {
            *cm_verdicts.entry(cm).or_insert(0) += 1;
        }
    }
    assert!(cm_verdicts.len() == 2, "CC histories should both keep and break CM: {cm_verdicts:?}");
}
