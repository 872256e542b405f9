//! Properties of the linearizability checker on generated histories (clients executing a
//! real register per key under random concurrency, with `info` ops), its agreement with a
//! brute-force oracle on small random histories, and its behaviour on small hand-written
//! histories: witness shape, fail semantics, budgets, determinism.

#[macro_use]
mod brute_force;

use brute_force::RegisterCall as Call;
use serde_json::{Value, json};
use std::time::Duration;
use sunder_check::Validity;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::linearizable::generate::{
    Generation, register_history, with_dropped_write, with_stale_read,
};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};

fn kv(history: &History) -> sunder_check::CheckerResult {
    check(history, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default())
}

fn generations() -> impl Iterator<Item = Generation> {
    (0..24u64).map(|seed| Generation {
        seed,
        ops: 300 + (seed as usize % 4) * 200,
        keys: 1 + seed as usize % 3,
        clients: 2 + seed as usize % 7,
        info_rate: 0.05,
        cas: seed % 2 == 0,
    })
}

#[test]
fn histories_of_a_real_register_under_random_concurrency_are_linearizable() {
    for g in generations() {
        let h = register_history(&g);
        let r = kv(&h);
        assert_eq!(r.valid, Validity::Valid, "{g:?}: {r:?}");
    }
}

#[test]
fn the_same_histories_with_one_read_made_stale_are_not() {
    let mut mutated = 0;
    for g in generations() {
        let Some(h) = with_stale_read(&register_history(&g), g.seed) else { continue };
        mutated += 1;
        let r = kv(&h);
        assert_eq!(r.valid, Validity::Invalid, "{g:?}");
        assert_eq!(r.anomalies[0].kind, "nonlinearizable");
    }
    assert!(mutated >= 20, "only {mutated} histories could be made stale");
}

#[test]
fn the_same_histories_with_one_acknowledged_write_dropped_are_not() {
    let mut mutated = 0;
    for g in generations() {
        let Some(h) = with_dropped_write(&register_history(&g), g.seed) else { continue };
        mutated += 1;
        assert_eq!(kv(&h).valid, Validity::Invalid, "{g:?}");
    }
    assert!(mutated >= 20, "only {mutated} histories could lose a write");
}

/// A history from (process, type, f, value) rows on key `k`.
fn history(rows: &[(u64, OpType, &str, Value)]) -> History {
    let ops = rows
        .iter()
        .enumerate()
        .map(|(i, (p, kind, f, v))| Op::client(i as u64, i as u64, *p, *kind, f, v.clone()).with_key("k"))
        .collect();
    History::new(ops, Strictness::Lenient).unwrap()
}

use OpType::{Fail, Info, Invoke, Ok as Done};

#[test]
fn identifies_unlinearizable_register_history_with_its_witness() {
    // Write 1 completes, then a read that starts later returns the initial null.
    let h = history(&[
        (0, Invoke, "write", json!(1)),
        (0, Done, "write", json!(1)),
        (1, Invoke, "read", json!(null)),
        (2, Invoke, "write", json!(2)),
        (1, Done, "read", json!(null)),
        (2, Done, "write", json!(2)),
    ]);
    let r = kv(&h);
    assert_eq!(r.valid, Validity::Invalid);
    let a = &r.anomalies[0];
    assert_eq!(
        a.explanation,
        "Process 1's read of key k returned null (op 2) cannot be linearized: after the longest linearizable prefix found (2 ops), key k held 2, and no other op was pending then."
    );
    assert_eq!(a.ops, vec![2, 4]);
    assert_eq!(a.witness["prefix"], json!([0, 3]));
    assert_eq!(a.witness["states"], json!([1, 2]));
    assert_eq!(a.witness["failed"], json!(2));
    assert_eq!(a.witness["concurrent"], json!([]));
}

#[test]
fn lets_an_info_write_take_effect_long_after_it_was_invoked() {
    let h = history(&[
        (0, Invoke, "write", json!(1)),
        (0, Info, "write", json!(null)),
        (1, Invoke, "read", json!(null)),
        (1, Done, "read", json!(null)),
        (1, Invoke, "read", json!(null)),
        (1, Done, "read", json!(1)),
    ]);
    assert_eq!(kv(&h).valid, Validity::Valid);
}

#[test]
fn reads_a_failed_cas_as_a_mismatch_only_under_porcupine_semantics() {
    // The register holds 1 during the whole cas [1 2], which failed.
    let h = history(&[
        (0, Invoke, "write", json!(1)),
        (0, Done, "write", json!(1)),
        (1, Invoke, "cas", json!([1, 2])),
        (1, Fail, "cas", json!([1, 2])),
        (0, Invoke, "read", json!(null)),
        (0, Done, "read", json!(1)),
    ]);
    assert_eq!(kv(&h).valid, Validity::Invalid);
    let knossos = check(&h, ModelKind::Kv, FailSemantics::NotApplied, &Budget::default());
    assert_eq!(knossos.valid, Validity::Valid);
}

#[test]
fn treats_a_nil_read_as_unobserved_when_a_knossos_initial_value_is_given() {
    let h = history(&[(0, Invoke, "read", json!(null)), (0, Done, "read", json!(null))]);
    let knossos = ModelKind::CasRegister { initial: Some(json!(0)) };
    assert_eq!(check(&h, knossos, FailSemantics::NotApplied, &Budget::default()).valid, Validity::Valid);
    let strict = ModelKind::CasRegister { initial: None };
    assert_eq!(check(&h, strict, FailSemantics::NotApplied, &Budget::default()).valid, Validity::Valid);
    let h = history(&[(0, Invoke, "read", json!(null)), (0, Done, "read", json!(0))]);
    assert_eq!(
        check(&h, ModelKind::CasRegister { initial: None }, FailSemantics::NotApplied, &Budget::default())
            .valid,
        Validity::Invalid
    );
}

#[test]
fn answers_unknown_with_the_reason_when_the_memory_budget_runs_out() {
    let h = register_history(&Generation {
        seed: 3,
        ops: 4_000,
        keys: 1,
        clients: 16,
        info_rate: 0.2,
        cas: true,
    });
    let budget = Budget { time: None, memory_bytes: Some(64 << 10) };
    let r = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &budget);
    assert_eq!(r.valid, Validity::Unknown, "{r:?}");
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("memory budget") && reason.contains("0 of 1 partitions were decided"),
        "{reason}"
    );
    assert_eq!(r.details["undecided_partitions"], json!(["k0"]));
}

/// The crowded crashed-op history of the budget tests: one key, 16 clients, 20% `info`.
fn crowded() -> History {
    register_history(&Generation { seed: 4, ops: 20_000, keys: 1, clients: 16, info_rate: 0.2, cas: true })
}

#[test]
fn answers_unknown_with_the_reason_when_the_time_budget_runs_out() {
    // One value written twice, so that only the search can decide it (with unique values a
    // history may be decided by building its linearization, or refuted by real time,
    // before any budget applies).
    let mut ops = crowded().ops().to_vec();
    let writes: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].f == "write").collect();
    let first = ops[writes[0]].value.clone();
    let twice = ops[writes[writes.len() / 2]].value.clone();
    for op in ops.iter_mut().filter(|op| op.f == "write" && op.value == twice) {
        op.value = first.clone();
    }
    let h = History::new(ops, Strictness::Strict).unwrap();
    let budget = Budget { time: Some(Duration::ZERO), memory_bytes: None };
    let r = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &budget);
    assert_eq!(r.valid, Validity::Unknown, "{r:?}");
    assert!(r.reason.unwrap().contains("time budget"));
}

#[test]
fn identifies_a_stale_read_among_crashed_ops_by_real_time_alone() {
    // Among 16 clients' crashed ops the search cannot try every order before the stale
    // read within any budget; real time proves it stale.
    let h = with_stale_read(&crowded(), 4).expect("a read can be made stale");
    let budget = Budget { time: Some(Duration::ZERO), memory_bytes: None };
    let r = check(&h, ModelKind::Kv, FailSemantics::CasMismatch, &budget);
    assert_eq!(r.valid, Validity::Invalid, "{r:?}");
    assert_eq!(r.details["decided_by"], "real-time refutation");
    let a = &r.anomalies[0];
    assert!(a.explanation.contains("in every order that respects real time"), "{}", a.explanation);
    assert_eq!(a.ops.len(), 5, "the read, its completion, the overwrite, the write and the op that saw it");
}

#[test]
fn checks_each_key_as_its_own_partition() {
    let h = register_history(&Generation { seed: 9, ops: 2_000, keys: 5, ..Generation::default() });
    let r = kv(&h);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.details["partitions"], json!(5));
    assert_eq!(r.details["decided"], json!(5));
}

#[test]
fn checks_queue_set_counter_and_mutex_models() {
    let cases = [
        (
            ModelKind::FifoQueue,
            [
                (0, Invoke, "enqueue", json!(1)),
                (0, Done, "enqueue", json!(1)),
                (1, Invoke, "dequeue", json!(null)),
                (1, Done, "dequeue", json!(2)),
            ],
            Validity::Invalid,
        ),
        (
            ModelKind::Set,
            [
                (0, Invoke, "add", json!(1)),
                (1, Invoke, "read", json!(null)),
                (0, Done, "add", json!(1)),
                (1, Done, "read", json!([1])),
            ],
            Validity::Valid,
        ),
        (
            ModelKind::Counter,
            [
                (0, Invoke, "add", json!(2)),
                (0, Done, "add", json!(2)),
                (1, Invoke, "read", json!(null)),
                (1, Done, "read", json!(3)),
            ],
            Validity::Invalid,
        ),
        (
            ModelKind::Mutex,
            [
                (0, Invoke, "acquire", json!(null)),
                (0, Done, "acquire", json!(null)),
                (1, Invoke, "acquire", json!(null)),
                (1, Done, "acquire", json!(null)),
            ],
            Validity::Invalid,
        ),
    ];
    for (model, rows, expected) in cases {
        let r = check(&history(&rows), model.clone(), FailSemantics::NotApplied, &Budget::default());
        assert_eq!(r.valid, expected, "{model:?}: {r:?}");
    }
}

#[test]
fn answers_unknown_naming_the_op_a_model_cannot_read() {
    let h = history(&[(0, Invoke, "transfer", json!(1)), (0, Done, "transfer", json!(1))]);
    let r = kv(&h);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.reason.unwrap().contains("op 0: a register has no op 'transfer'"));
}

#[test]
fn reports_the_earliest_invalid_partition_whatever_the_scheduling() {
    // Two generated keys, each made invalid, over many partitions checked in parallel.
    let g = Generation { seed: 11, ops: 20_000, keys: 40, clients: 16, info_rate: 0.01, cas: true };
    let base = register_history(&g);
    let once = with_stale_read(&base, 1).unwrap();
    let twice = with_stale_read(&once, 2).unwrap();
    let first = kv(&twice);
    assert_eq!(first.valid, Validity::Invalid);
    for _ in 0..10 {
        let again = kv(&twice);
        assert_eq!(again.anomalies, first.anomalies);
        assert_eq!(again.details["invalid_partition"], first.details["invalid_partition"]);
    }
}

/// A random single-key history over values {null, 1, 2, 3}: reads return random values,
/// so many histories are not linearizable.
fn random_history(seed: u64) -> (History, Vec<Call>) {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let value = |rng: &mut rand_chacha::ChaCha8Rng| match rng.random_range(0..4u32) {
        0 => Value::Null,
        v => json!(v),
    };
    let clients = rng.random_range(2..5usize);
    let mut open: Vec<Option<usize>> = vec![None; clients];
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut ops: Vec<Op> = Vec::new();
    let mut calls: Vec<Call> = Vec::new();
    let target = rng.random_range(3..8usize);
    while calls.len() < target || open.iter().any(Option::is_some) {
        let c = rng.random_range(0..clients);
        let at = ops.len();
        match open[c] {
            None if calls.len() < target => {
                let (f, arg) = match rng.random_range(0..3u32) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(rng.random_range(1..4u32))),
                    _ => ("cas", json!([value(&mut rng), rng.random_range(1..4u32)])),
                };
                ops.push(Op::client(at as u64, at as u64, process[c], Invoke, f, arg.clone()).with_key("k"));
                calls.push(Call { call: at, ret: usize::MAX, f, arg, result: Value::Null, kind: Invoke });
                open[c] = Some(calls.len() - 1);
            }
            None => {}
            Some(i) => {
                let roll = rng.random_range(0..10u32);
                let kind = if roll < 7 {
                    Done
                } else if roll < 9 || calls[i].f != "cas" {
                    Info
                } else {
                    Fail
                };
                let result =
                    if calls[i].f == "read" && kind == Done { value(&mut rng) } else { calls[i].arg.clone() };
                ops.push(
                    Op::client(at as u64, at as u64, process[c], kind, calls[i].f, result.clone())
                        .with_key("k"),
                );
                calls[i].kind = kind;
                calls[i].result = result;
                if kind != Info {
                    calls[i].ret = at;
                } else {
                    process[c] = next_process;
                    next_process += 1;
                }
                open[c] = None;
            }
        }
    }
    (History::new(ops, Strictness::Strict).unwrap(), calls)
}

#[test]
fn agrees_with_a_brute_force_search_on_small_random_histories() {
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..3_000 {
        let (history, calls) = random_history(seed);
        for semantics in [FailSemantics::CasMismatch, FailSemantics::NotApplied] {
            // Read as not applied, a failed call is simply absent.
            let mut placed: Vec<bool> =
                calls.iter().map(|c| semantics == FailSemantics::NotApplied && c.kind == Fail).collect();
            let expected =
                brute_force::linearizable(&calls, &mut placed, &Value::Null, &brute_force::register_step);
            let got =
                check(&history, ModelKind::CasRegister { initial: None }, semantics, &Budget::default());
            // Compared as verdicts, not as "valid or not": an unknown agrees with neither.
            let want = if expected { Validity::Valid } else { Validity::Invalid };
            assert_eq!(got.valid, want, "seed {seed} {semantics:?}: {calls:?}\n{got:?}");
            if expected { valid += 1 } else { invalid += 1 }
        }
    }
    assert!(valid > 600 && invalid > 600, "{valid} valid, {invalid} invalid");
}
