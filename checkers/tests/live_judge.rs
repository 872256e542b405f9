//! The streaming judge against the offline one: on generated register histories (with
//! crashed ops, stale reads, lost writes, final phases that converge or not), fed in batches
//! of every size, the streaming verdict, when it gives one, is `results.json` exactly as
//! `plan::judge` writes it, but for how linearizability was decided; and it defers to the
//! offline check only for a reason the offline check confirms.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::import::FailSemantics;
use sunder_check::linearizable::ModelKind;
use sunder_check::linearizable::generate::{self, Generation};
use sunder_check::live::{LiveJudge, Outcome};
use sunder_check::plan::{self, Check, Limits, Plan};
use sunder_check::verdict::{Results, Validity};

/// `results.json` without the linearizability checker's account of its own search.
fn comparable(results: &Results) -> Value {
    let mut v = serde_json::to_value(results).unwrap();
    v["checkers"]["linearizable"]["details"] = Value::Null;
    v
}

fn streamed(history: &History, plan: &Plan, batches: &mut ChaCha8Rng) -> Outcome {
    let mut judge = LiveJudge::new(plan, FailSemantics::CasMismatch).expect("a register plan streams");
    // Half the time forgetting values out of play every few ops, as a long run does.
    if batches.random_bool(0.5) {
        judge = judge.compacting_past(batches.random_range(4..64));
    }
    let mut ops = history.ops();
    while !ops.is_empty() {
        let n = batches.random_range(1..=ops.len().min(64));
        judge.feed(&ops[..n]);
        ops = &ops[n..];
    }
    judge.finish()
}

/// `history` with a final phase: a marker, then per key a final read on each of two nodes,
/// returning the value of one of the key's last two writes (so some converge, some diverge,
/// some lose a write).
fn with_final_phase(history: &History, rng: &mut ChaCha8Rng) -> History {
    let mut ops = history.ops().to_vec();
    // A fault window over the first half, so results tie anomalies to faults.
    let half = ops.len() / 2;
    let (t0, t1) = (ops[0].time, ops[half].time);
    ops.insert(half, Op::nemesis(0, t1, "stop-pause", json!(["n1"])));
    ops.insert(1, Op::nemesis(0, t0, "start-pause", json!(["n1"])));
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    let mut time = ops.last().map_or(0, |o| o.time) + 1_000;
    let mut last_writes: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for op in &ops {
        if op.kind == OpType::Invoke && op.f == "write" {
            last_writes
                .entry(op.key.as_deref().unwrap_or("").to_string())
                .or_default()
                .push(op.value.clone());
        }
    }
    let mut next = |ops: &mut Vec<Op>, mut op: Op| {
        op.index = ops.len() as u64;
        op.time = time;
        time += 10;
        ops.push(op);
    };
    next(&mut ops, Op::nemesis(0, 0, "phase", json!("final")));
    let mut process = 1_000_000;
    for (key, writes) in &last_writes {
        let tail = &writes[writes.len().saturating_sub(2)..];
        for node in ["n1", "n2"] {
            let value = if rng.random_bool(0.7) { tail[tail.len() - 1].clone() } else { tail[0].clone() };
            let mut inv = Op::client(0, 0, process, OpType::Invoke, "read", Value::Null).with_key(key);
            inv.node = Some(node.into());
            let mut ok = Op::client(0, 0, process, OpType::Ok, "read", value).with_key(key);
            ok.node = Some(node.into());
            next(&mut ops, inv);
            next(&mut ops, ok);
            process += 1;
        }
    }
    History::new(ops, Strictness::Strict).unwrap()
}

#[test]
fn streaming_verdict_equals_the_offline_one_on_generated_histories() {
    let plan = Plan::one(Check::Linearizable(ModelKind::Kv));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut decided, mut deferred_invalid, mut compared, mut beyond_offline) = (0, 0, 0, 0);
    let limits = Limits { time: std::time::Duration::from_secs(1), ..Limits::default() };
    for seed in 0..150u64 {
        let g = Generation {
            seed,
            ops: rng.random_range(20..800),
            keys: rng.random_range(1..4),
            clients: rng.random_range(1..7),
            info_rate: [0.0, 0.02, 0.1, 0.3][seed as usize % 4],
            cas: seed % 3 != 0,
        };
        let base = generate::register_history(&g);
        let mut variants = vec![base.clone()];
        variants.extend(generate::with_stale_read(&base, seed));
        variants.extend(generate::with_dropped_write(&base, seed));
        let finals: Vec<History> = variants.iter().map(|h| with_final_phase(h, &mut rng)).collect();
        variants.extend(finals);
        for (vi, history) in variants.into_iter().enumerate() {
            compared += 1;
            let offline = plan::judge(&history, &plan, FailSemantics::CasMismatch, limits);
            let offline_lin = offline.checkers["linearizable"].valid;
            match streamed(&history, &plan, &mut rng) {
                Outcome::Decided(live) => {
                    decided += 1;
                    assert_eq!(live.checkers["linearizable"].details["decided_by"], "streaming");
                    if offline_lin == Validity::Unknown {
                        // The offline search ran out of budget where the streaming one did not.
                        beyond_offline += 1;
                    } else {
                        assert_eq!(
                            comparable(&live),
                            comparable(&offline),
                            "seed {seed} variant {vi}, {g:?}"
                        );
                    }
                }
                Outcome::Offline(why) if why.contains("not linearizable") => {
                    // Never a false alarm: generated histories are linearizable as made.
                    assert_ne!(vi, 0, "seed {seed}: {why} of a linearizable history");
                    assert_ne!(offline_lin, Validity::Valid, "seed {seed} variant {vi}: {why}");
                    deferred_invalid += 1;
                }
                Outcome::Offline(why) => {
                    assert_ne!(
                        offline.valid,
                        Validity::Valid,
                        "seed {seed} variant {vi}: deferred ({why}) a valid history"
                    );
                }
            }
        }
    }
    eprintln!(
        "{compared} histories: {decided} decided while streaming ({beyond_offline} where the offline search ran out of budget), {deferred_invalid} found not linearizable"
    );
    // A sixth of them are generated histories as made, which must all be decided.
    assert!(decided >= compared / 6, "only {decided} of {compared} decided while streaming");
    assert!(deferred_invalid > 100, "only {deferred_invalid} non-linearizable histories caught");
}

#[test]
fn a_plan_with_a_checker_that_needs_the_whole_history_does_not_stream() {
    assert!(LiveJudge::new(&Plan::one(Check::Set), FailSemantics::CasMismatch).is_none());
    assert!(
        LiveJudge::new(&Plan::one(Check::Linearizable(ModelKind::Set)), FailSemantics::CasMismatch).is_none()
    );
}

#[test]
fn a_history_breaking_the_pairing_rules_is_left_to_the_offline_reader() {
    let plan = Plan::one(Check::Linearizable(ModelKind::Kv));
    let mut judge = LiveJudge::new(&plan, FailSemantics::CasMismatch).unwrap();
    judge.feed(&[Op::client(0, 1, 3, OpType::Ok, "read", json!(1)).with_key("x")]);
    match judge.finish() {
        Outcome::Offline(why) => assert!(why.contains("without an invocation"), "{why}"),
        Outcome::Decided(_) => panic!("a completion without an invocation was judged"),
    }
}
