//! The sequential search decides the histories `sunder run` records, where linearizability
//! says nothing about sequential consistency: concurrent clients with crashed ops (each
//! retiring its process, so thousands of processes), when linearizability is left unknown
//! or fails for a reader that lags. Before the search kept each key's writes in real time
//! first, it spent its whole budget on these and said `unknown`.

mod ladder_support;

use std::sync::atomic::AtomicBool;
use sunder_check::causal;
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::ladder::{LadderBudget, check_view};
use sunder_check::linearizable::generate::{Generation, register_history, with_lagging_reader};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};
use sunder_check::sequential::{self, SearchBudget};
use sunder_check::verdict::Validity;

fn crashed_op_history(seed: u64) -> sunder_check::history::History {
    register_history(&Generation { seed, ops: 30_000, keys: 4, clients: 8, info_rate: 0.05, cas: true })
}

#[test]
fn decides_sequential_consistency_of_concurrent_histories_with_crashed_ops() {
    for seed in 1..=3 {
        let h = crashed_op_history(seed);
        let rh = RegisterHistory::from_history(&h).unwrap();
        assert!(rh.process_count() > 300, "seed {seed}: {} processes", rh.process_count());
        let s = sequential::check_register(&rh, &SearchBudget::default());
        assert_eq!(s.valid, Validity::Valid, "seed {seed}: {:?} {}", s.reason, s.details);
        assert_eq!(s.details["writes_in_real_time"], true, "seed {seed}");
    }
}

#[test]
fn finds_a_lagging_reader_sequential_though_not_linearizable() {
    let mut planted = 0;
    for seed in 1..=3 {
        let Some(h) = with_lagging_reader(&crashed_op_history(seed), seed) else { continue };
        planted += 1;
        // Linearizability fails, or its search runs out of budget among the crashed ops:
        // either way it says nothing about the models below it.
        let budget = Budget { time: Some(std::time::Duration::from_secs(2)), ..Budget::default() };
        let lin = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &budget);
        assert_ne!(lin.valid, Validity::Valid, "seed {seed}: the lagging read must break linearizability");
        let rh = RegisterHistory::from_history(&h).unwrap();
        let c = causal::check_register(&rh);
        assert_eq!(c.memory.valid, Validity::Valid, "seed {seed}: causal memory {:?}", c.memory.anomalies);
        let s = sequential::check_register(&rh, &SearchBudget::default());
        assert_eq!(s.valid, Validity::Valid, "seed {seed}: {:?} {}", s.reason, s.details);
    }
    assert!(planted >= 2, "only {planted} histories had a read to make lag");
}

#[test]
fn a_search_called_off_gives_no_verdict_and_one_left_alone_the_same_verdict() {
    // The first pass of this history takes thousands of states, past the first point at
    // which the search looks whether it was called off.
    let h = crashed_op_history(1);
    let rh = RegisterHistory::from_history(&h).unwrap();
    let budget = SearchBudget::default();
    let called_off = AtomicBool::new(true);
    assert!(sequential::check_register_unless(&rh, &budget, &called_off).is_none());
    let left_alone = sequential::check_register_unless(&rh, &budget, &AtomicBool::new(false))
        .expect("a search nobody calls off ends with a verdict");
    let direct = sequential::check_register(&rh, &budget);
    assert_eq!(left_alone.valid, Validity::Valid);
    assert_eq!((left_alone.valid, &left_alone.details), (direct.valid, &direct.details));
    assert!(direct.details["states"].as_u64().unwrap() > 1024, "{}", direct.details);
}

#[test]
fn the_ladder_searches_beside_the_polynomial_checks_to_the_verdict_of_a_search_alone() {
    // Linearizability fails (a lagging reader) and every causal model holds, so the
    // ladder's verdict on sequential consistency is its search's, run beside the others.
    let mut compared = 0;
    for seed in 1..=3 {
        let Some(h) = with_lagging_reader(&crashed_op_history(seed), seed) else { continue };
        let rh = RegisterHistory::from_history(&h).unwrap();
        let alone = sequential::check_register(&rh, &SearchBudget::default());
        let ladder = check_view(&h, &rh, &LadderBudget::default());
        let (_, beside) = ladder.iter().find(|(m, _)| m == "sequential").unwrap();
        assert_eq!((beside.valid, &beside.details), (alone.valid, &alone.details), "seed {seed}");
        assert_eq!(beside.valid, Validity::Valid, "seed {seed}");
        compared += 1;
    }
    assert!(compared >= 2, "only {compared} histories had a read to make lag");
}

#[test]
fn refutes_store_buffering_by_a_cycle_without_a_search() {
    // Each process writes one key and then reads the other key's initial value: every
    // causal model allows it, no single order does, and the proof is a cycle of four.
    let mut b = ladder_support::Builder::new();
    b.write(1, "x", ladder_support::v(1)).write(2, "y", ladder_support::v(2));
    b.read(1, "y", serde_json::Value::Null).read(2, "x", serde_json::Value::Null);
    let h = b.history();
    let rh = RegisterHistory::from_history(&h).unwrap();
    let s = sequential::check_register(&rh, &SearchBudget::default());
    assert_eq!(s.valid, Validity::Invalid, "{:?} {}", s.reason, s.details);
    assert_eq!(s.details["proof"], "cycle");
    assert_eq!(s.details["states"], 0);
    let cycle = &s.anomalies[0];
    assert_eq!(cycle.kind, "not-sequential");
    assert_eq!(cycle.ops.len(), 4, "{}", cycle.explanation);
    assert!(cycle.explanation.contains("round a cycle"), "{}", cycle.explanation);
    let c = causal::check_register(&rh);
    assert_eq!(c.convergence.valid, Validity::Valid, "causal-convergence allows store buffering");
    assert_eq!(c.memory.valid, Validity::Valid, "causal memory allows store buffering");
}
