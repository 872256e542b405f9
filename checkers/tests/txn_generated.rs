//! Histories from the seeded serial executor are strict serializable, and a single anomaly
//! planted in one of them is found, whatever the seed, size and concurrency.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sunder_check::Validity;
use sunder_check::txn::generate::{GenerateOptions, Injected, list_append};
use sunder_check::txn::{TxnOptions, check};

#[test]
fn serial_executor_histories_are_strict_serializable() {
    for seed in 0..20 {
        let opts =
            GenerateOptions { seed, transactions: 2000, processes: 1 + seed % 12, ..Default::default() };
        let r = check(&list_append(&opts), &TxnOptions::default());
        assert_eq!(r.result.valid, Validity::Valid, "seed {seed}: {:?}", r.result.anomalies.first());
        assert!(r.models.iter().all(|(_, v)| *v == Validity::Valid), "seed {seed}: {:?}", r.models);
        assert!(r.result.details["edges"].as_u64().unwrap() > 0);
    }
}

#[test]
fn a_single_injected_anomaly_is_always_found() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let kinds = [
        (Injected::LostUpdate, "lost-update", "snapshot-isolation"),
        (Injected::StaleRead, "G-single-item-realtime", "strict-serializable"),
        (Injected::AbortedRead, "G1a", "read-committed"),
    ];
    for case in 0..60 {
        let (inject, kind, model) = kinds[case % kinds.len()];
        let opts = GenerateOptions {
            seed: rng.random(),
            transactions: rng.random_range(10..3000),
            processes: rng.random_range(1..20),
            active_keys: rng.random_range(1..12),
            inject: Some(inject),
            ..Default::default()
        };
        let r = check(&list_append(&opts), &TxnOptions::default());
        let kinds: Vec<&str> = r.result.anomalies.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(r.result.valid, Validity::Invalid, "{opts:?}");
        assert!(kinds.contains(&kind), "{opts:?}: {kinds:?}");
        assert!(r.models.contains(&(model.to_string(), Validity::Invalid)), "{opts:?}: {:?}", r.models);
    }
}

#[test]
fn a_tiny_time_budget_gives_unknown_with_a_reason_not_a_wrong_verdict() {
    let h = list_append(&GenerateOptions { transactions: 50_000, ..Default::default() });
    let opts = TxnOptions {
        budget: sunder_check::txn::TxnBudget { time: std::time::Duration::ZERO, memory_bytes: 1 << 30 },
        ..Default::default()
    };
    let r = check(&h, &opts);
    assert_eq!(r.result.valid, Validity::Unknown);
    assert!(r.result.reason.as_deref().unwrap_or("").contains("time budget"), "{:?}", r.result.reason);
    let tiny = TxnOptions {
        budget: sunder_check::txn::TxnBudget { memory_bytes: 1024, ..Default::default() },
        ..Default::default()
    };
    let r = check(&h, &tiny);
    assert_eq!(r.result.valid, Validity::Unknown);
    assert!(r.result.reason.as_deref().unwrap_or("").contains("memory budget"), "{:?}", r.result.reason);
}

#[test]
fn serial_executor_register_histories_hold_under_every_key_assumption() {
    use sunder_check::txn::TxnModel;
    use sunder_check::txn::generate::rw_register;
    for seed in 0..10 {
        let opts =
            GenerateOptions { seed, transactions: 2000, processes: 1 + seed % 8, ..Default::default() };
        let h = rw_register(&opts);
        let checked = TxnOptions {
            model: TxnModel::RwRegister,
            linearizable_keys: true,
            sequential_keys: true,
            wfr_keys: true,
            ..Default::default()
        };
        let r = check(&h, &checked);
        assert_eq!(r.result.valid, Validity::Valid, "seed {seed}: {:?}", r.result.anomalies.first());
        assert!(r.models.iter().all(|(_, v)| *v == Validity::Valid), "seed {seed}: {:?}", r.models);
    }
}

#[test]
fn a_single_injected_register_anomaly_is_always_found() {
    use sunder_check::txn::TxnModel;
    use sunder_check::txn::generate::rw_register;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // A stale register read shows only as a cycle in the version order real time implies.
    let kinds = [
        (Injected::LostUpdate, "lost-update", "snapshot-isolation"),
        (Injected::StaleRead, "cyclic-versions", "read-uncommitted"),
        (Injected::AbortedRead, "G1a", "read-committed"),
    ];
    for case in 0..45 {
        let (inject, kind, model) = kinds[case % kinds.len()];
        let opts = GenerateOptions {
            seed: rng.random(),
            transactions: rng.random_range(10..2000),
            processes: rng.random_range(1..12),
            active_keys: rng.random_range(1..8),
            inject: Some(inject),
            ..Default::default()
        };
        let checked =
            TxnOptions { model: TxnModel::RwRegister, linearizable_keys: true, ..Default::default() };
        let r = check(&rw_register(&opts), &checked);
        let kinds: Vec<&str> = r.result.anomalies.iter().map(|a| a.kind.as_str()).collect();
        assert!(kinds.contains(&kind), "{opts:?}: {kinds:?}");
        assert!(r.models.contains(&(model.to_string(), Validity::Invalid)), "{opts:?}: {:?}", r.models);
    }
}
