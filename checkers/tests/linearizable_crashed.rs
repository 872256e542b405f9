//! The linearizability checker on histories with crashed (`info`) ops and unique values,
//! where it settles crashed writes before searching (bounding an observed one by its first
//! observer, leaving out one nothing observed): its verdict agrees with a brute-force
//! search that keeps every crashed op, and a single key under 50 concurrent clients with
//! crashed ops is decided within the default budget.

#[macro_use]
mod brute_force;

use brute_force::RegisterCall as Call;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::Validity;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};

/// A random single-key history with unique written values (1, 2, ... in invocation
/// order), or values from 1 to 3 when not `unique`; reads and cas expect `null` or a value
/// up to the latest written, chosen at random, so many histories are not linearizable; a
/// third of completions are `info`.
fn random_history(seed: u64, unique: bool) -> (History, Vec<Call>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clients = rng.random_range(2..5usize);
    let mut open: Vec<Option<usize>> = vec![None; clients];
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut next_value = 0u64;
    let mut ops: Vec<Op> = Vec::new();
    let mut calls: Vec<Call> = Vec::new();
    let target = rng.random_range(3..9usize);
    let seen = |rng: &mut ChaCha8Rng, next_value: u64| match rng.random_range(0..=next_value) {
        0 => Value::Null,
        v => json!(v),
    };
    while calls.len() < target || open.iter().any(Option::is_some) {
        let c = rng.random_range(0..clients);
        let at = ops.len();
        match open[c] {
            None if calls.len() < target => {
                let (f, arg) = match rng.random_range(0..3u32) {
                    0 => ("read", Value::Null),
                    1 => {
                        next_value += 1;
                        ("write", json!(if unique { next_value } else { rng.random_range(1..4) }))
                    }
                    _ => {
                        let from = seen(&mut rng, next_value);
                        next_value += 1;
                        ("cas", json!([from, if unique { next_value } else { rng.random_range(1..4) }]))
                    }
                };
                ops.push(
                    Op::client(at as u64, at as u64, process[c], OpType::Invoke, f, arg.clone())
                        .with_key("k"),
                );
                calls.push(Call {
                    call: at,
                    ret: usize::MAX,
                    f,
                    arg,
                    result: Value::Null,
                    kind: OpType::Invoke,
                });
                open[c] = Some(calls.len() - 1);
            }
            None => {}
            Some(i) => {
                let roll = rng.random_range(0..12u32);
                let kind = if roll < 7 {
                    OpType::Ok
                } else if roll < 10 || calls[i].f != "cas" {
                    OpType::Info
                } else {
                    OpType::Fail
                };
                let result = if calls[i].f == "read" && kind == OpType::Ok {
                    seen(&mut rng, next_value)
                } else {
                    calls[i].arg.clone()
                };
                ops.push(
                    Op::client(at as u64, at as u64, process[c], kind, calls[i].f, result.clone())
                        .with_key("k"),
                );
                calls[i].kind = kind;
                calls[i].result = result;
                if kind != OpType::Info {
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

fn agrees_with_brute_force(unique: bool) -> (usize, usize, u64, u64) {
    let (mut valid, mut invalid, mut dropped, mut bounded) = (0, 0, 0, 0);
    for seed in 0..4_000 {
        let (history, calls) = random_history(seed, unique);
        let mut placed = vec![false; calls.len()];
        let expected =
            brute_force::linearizable(&calls, &mut placed, &Value::Null, &brute_force::register_step);
        let got = check(
            &history,
            ModelKind::CasRegister { initial: None },
            FailSemantics::CasMismatch,
            &Budget::default(),
        );
        assert_eq!(got.valid == Validity::Valid, expected, "seed {seed}: {calls:?}\n{got:?}");
        dropped += got.details["crashed_writes_dropped"].as_u64().unwrap_or(0);
        bounded += got.details["crashed_writes_bounded"].as_u64().unwrap_or(0);
        if expected { valid += 1 } else { invalid += 1 }
    }
    (valid, invalid, dropped, bounded)
}

#[test]
fn settling_crashed_writes_agrees_with_a_brute_force_search_that_keeps_them() {
    let (valid, invalid, dropped, bounded) = agrees_with_brute_force(true);
    assert!(valid > 800 && invalid > 800, "{valid} valid, {invalid} invalid");
    // The settling must have been exercised, not skipped.
    assert!(dropped > 500 && bounded > 200, "{dropped} crashed writes dropped, {bounded} bounded");
}

#[test]
fn settling_crashed_writes_of_repeated_values_agrees_with_the_brute_force_search() {
    let (valid, invalid, dropped, _) = agrees_with_brute_force(false);
    assert!(valid > 800 && invalid > 800, "{valid} valid, {invalid} invalid");
    assert!(dropped > 100, "{dropped} crashed writes dropped");
}

#[test]
fn decides_one_key_under_fifty_concurrent_clients_with_crashed_ops() {
    use sunder_check::linearizable::generate::{Generation, register_history};
    for seed in 1..=3 {
        let g = Generation { seed, ops: 5_000, keys: 1, clients: 50, info_rate: 0.012, cas: false };
        let h = register_history(&g);
        let crashed = h.ops().iter().filter(|o| o.kind == OpType::Info).count();
        assert!(crashed >= 15, "seed {seed}: only {crashed} crashed ops");
        let r =
            check(&h, ModelKind::Register { initial: None }, FailSemantics::CasMismatch, &Budget::default());
        assert_eq!(r.valid, Validity::Valid, "seed {seed}: {r:?}");
    }
}
