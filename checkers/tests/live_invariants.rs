//! The streaming judges of invariants against the offline one: on generated bank histories
//! (transfers and whole-bank reads from several clients, some crashed, fault windows, and
//! reads that break the invariant in every way the checker names) and counter histories
//! (one to three keys, failed, crashed and negative adds, reads off their bounds) and set
//! histories (one to three sets, adds failed and crashed, reads that lose, miss, invent or
//! repeat elements, or return no list), fed in
//! batches of every size, the streaming verdict, when it gives one, is `results.json`
//! exactly as `plan::judge` writes it; and it defers to the offline check only when the
//! invariant does not hold there.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::bank::BankSettings;
use sunder_check::counter::CounterSettings;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::import::FailSemantics;
use sunder_check::live::{LiveJudge, Outcome};
use sunder_check::plan::{self, Check, Limits, Plan};
use sunder_check::set_full::SetFullSettings;
use sunder_check::verdict::Validity;

/// Judges `history` offline and streamed in random batches; asserts the streamed verdict
/// is the offline `results.json`, or that the offline `checker` did not find it valid.
/// Returns whether it was decided while streaming.
fn streamed_agrees(history: &History, plan: &Plan, checker: &str, rng: &mut ChaCha8Rng, seed: u64) -> bool {
    let offline = plan::judge(history, plan, FailSemantics::NotApplied, Limits::default());
    let mut judge = LiveJudge::new(plan, FailSemantics::NotApplied).expect("the plan streams");
    let mut ops = history.ops();
    while !ops.is_empty() {
        let n = rng.random_range(1..=ops.len().min(40));
        judge.feed(&ops[..n]);
        ops = &ops[n..];
    }
    match judge.finish() {
        Outcome::Decided(live) => {
            assert_eq!(
                serde_json::to_value(&*live).unwrap(),
                serde_json::to_value(&offline).unwrap(),
                "{checker} seed {seed}"
            );
            true
        }
        Outcome::Offline(why) => {
            assert_ne!(
                offline.checkers[checker].valid,
                Validity::Valid,
                "{checker} seed {seed}: deferred ({why}) a valid history"
            );
            false
        }
    }
}

/// A bank history of `clients` clients over `accounts` accounts holding `total` in all:
/// transfers move money (some fail, some crash), reads see a consistent snapshot, and with
/// probability `broken` a read is corrupted in one of the ways the checker names.
fn bank_history(rng: &mut ChaCha8Rng, accounts: usize, total: i64, clients: u64, broken: f64) -> History {
    let mut balances = vec![total / accounts as i64; accounts];
    balances[0] += total - balances.iter().sum::<i64>();
    let mut ops: Vec<Op> = vec![];
    let mut open: Vec<Option<(String, Value)>> = vec![None; clients as usize];
    let mut process: Vec<u64> = (0..clients).collect();
    let mut next_process = clients;
    let mut time = 0u64;
    let push = |ops: &mut Vec<Op>, time: &mut u64, p: u64, kind: OpType, f: &str, v: Value| {
        *time += 1_000 + (ops.len() as u64 * 7919) % 5_000;
        ops.push(Op::client(ops.len() as u64, *time, p, kind, f, v));
    };
    for step in 0..rng.random_range(20..400) {
        if step % 37 == 5 {
            let f = if step % 74 == 5 { "start-partition" } else { "stop-partition" };
            time += 10;
            ops.push(Op::nemesis(ops.len() as u64, time, f, json!("n1|n2")));
        }
        let c = rng.random_range(0..clients as usize);
        match open[c].take() {
            None => {
                let (f, v) = if rng.random_bool(0.4) {
                    ("read".to_string(), Value::Null)
                } else {
                    let (from, to) = (rng.random_range(0..accounts), rng.random_range(0..accounts));
                    (
                        "transfer".to_string(),
                        json!({"from": from, "to": to, "amount": rng.random_range(1..5)}),
                    )
                };
                push(&mut ops, &mut time, process[c], OpType::Invoke, &f, v.clone());
                open[c] = Some((f, v));
            }
            Some((f, _)) if f == "read" => {
                let mut map = serde_json::Map::new();
                for (a, b) in balances.iter().enumerate() {
                    map.insert(a.to_string(), json!(b));
                }
                if rng.random_bool(broken) {
                    match rng.random_range(0..5) {
                        0 => *map.get_mut("0").unwrap() = json!(balances[0] + 1),
                        1 => *map.get_mut("0").unwrap() = json!(-1 - total),
                        2 => *map.get_mut("0").unwrap() = Value::Null,
                        3 => drop(map.remove("1")),
                        _ => drop(map.insert("stray".into(), json!(0))),
                    }
                }
                push(&mut ops, &mut time, process[c], OpType::Ok, &f, Value::Object(map));
            }
            Some((f, v)) => {
                let (from, to, amount) = (
                    v["from"].as_u64().unwrap() as usize,
                    v["to"].as_u64().unwrap() as usize,
                    v["amount"].as_i64().unwrap(),
                );
                let kind = if balances[from] < amount || rng.random_bool(0.1) {
                    OpType::Fail
                } else if rng.random_bool(0.05) {
                    OpType::Info
                } else {
                    OpType::Ok
                };
                if kind != OpType::Fail {
                    balances[from] -= amount;
                    balances[to] += amount;
                }
                push(&mut ops, &mut time, process[c], kind, &f, v);
                if kind == OpType::Info {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    History::new(ops, Strictness::Strict).expect("generated histories keep the rules")
}

/// A counter history: each add takes effect at its invocation unless it fails; reads return
/// the value at their invocation, or with probability `broken` a value off by a lot.
fn counter_history(rng: &mut ChaCha8Rng, keys: usize, clients: u64, broken: f64, initial: i64) -> History {
    let mut value = vec![initial; keys];
    let mut ops: Vec<Op> = vec![];
    let mut open: Vec<Option<(String, usize, Value, bool)>> = vec![None; clients as usize];
    let mut process: Vec<u64> = (0..clients).collect();
    let mut next_process = clients;
    let mut time = 0u64;
    let steps = rng.random_range(10..400);
    for step in 0..steps {
        time += rng.random_range(1..3_000);
        if step % 41 == 7 {
            let f = if step % 82 == 7 { "start-kill" } else { "stop-kill" };
            ops.push(Op::nemesis(ops.len() as u64, time, f, json!("n1")));
            continue;
        }
        let c = rng.random_range(0..clients as usize);
        let p = process[c];
        let index = ops.len() as u64;
        match open[c].take() {
            None => {
                let key = rng.random_range(0..keys);
                if rng.random_bool(0.4) {
                    ops.push(
                        Op::client(index, time, p, OpType::Invoke, "read", Value::Null)
                            .with_key(format!("c{key}")),
                    );
                    let mut seen = value[key];
                    if rng.random_bool(broken) {
                        seen += if rng.random_bool(0.5) { 1_000 } else { -1_000 };
                    }
                    open[c] = Some(("read".into(), key, json!(seen), false));
                } else {
                    let amount = rng.random_range(-3i64..6);
                    let fails = rng.random_bool(0.1);
                    if !fails {
                        value[key] += amount;
                    }
                    ops.push(
                        Op::client(index, time, p, OpType::Invoke, "add", json!(amount))
                            .with_key(format!("c{key}")),
                    );
                    open[c] = Some(("add".into(), key, json!(amount), fails));
                }
            }
            Some((f, key, v, fails)) => {
                let kind = if fails {
                    OpType::Fail
                } else if rng.random_bool(0.05) {
                    OpType::Info
                } else {
                    OpType::Ok
                };
                let v = if kind == OpType::Info && f == "read" { Value::Null } else { v };
                ops.push(Op::client(index, time, p, kind, &f, v).with_key(format!("c{key}")));
                if kind == OpType::Info {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    History::new(ops, Strictness::Strict).expect("generated histories keep the rules")
}

#[test]
fn streaming_bank_verdict_equals_the_offline_one_on_generated_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut decided = 0;
    for seed in 0..300u64 {
        let accounts = rng.random_range(2..6);
        let total = rng.random_range(10..200);
        let clients = rng.random_range(1..6);
        let broken = [0.0, 0.0, 0.02, 0.3][seed as usize % 4];
        let history = bank_history(&mut rng, accounts, total, clients, broken);
        let settings = if seed % 5 == 0 {
            BankSettings::default()
        } else {
            BankSettings {
                accounts: Some((0..accounts).map(|a| a.to_string()).collect()),
                total: Some(total),
                negative_balances_allowed: seed % 7 == 0,
            }
        };
        let plan = Plan::one(Check::Bank(settings));
        decided += usize::from(streamed_agrees(&history, &plan, "bank", &mut rng, seed));
    }
    eprintln!("300 bank histories: {decided} decided while streaming, the rest left to the offline check");
    assert!((100..270).contains(&decided), "{decided} decided");
}

#[test]
fn streaming_counter_verdict_equals_the_offline_one_on_generated_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut decided = 0;
    for seed in 0..300u64 {
        let keys = rng.random_range(1..4);
        let clients = rng.random_range(1..6);
        let broken = [0.0, 0.0, 0.01, 0.2][seed as usize % 4];
        let initial = if seed % 3 == 0 { 10 } else { 0 };
        let history = counter_history(&mut rng, keys, clients, broken, initial);
        let plan = Plan::one(Check::Counter(CounterSettings { initial }));
        decided += usize::from(streamed_agrees(&history, &plan, "counter", &mut rng, seed));
    }
    eprintln!("300 counter histories: {decided} decided while streaming, the rest left to the offline check");
    assert!((100..270).contains(&decided), "{decided} decided");
}

/// A set history: `clients` clients add unique elements to `keys` sets (some adds fail,
/// some crash, taking effect or not) and read whole sets; with probability `broken` a read
/// drops an element, shows one nobody added, repeats one, or returns no list.
fn set_history(rng: &mut ChaCha8Rng, keys: usize, clients: u64, broken: f64) -> History {
    let mut sets: Vec<Vec<i64>> = vec![vec![]; keys];
    let mut ops: Vec<Op> = vec![];
    let mut open: Vec<Option<(usize, String, Value)>> = vec![None; clients as usize];
    let mut process: Vec<u64> = (0..clients).collect();
    let mut next_process = clients;
    let mut next_element = 0i64;
    let mut time = 0u64;
    let push = |ops: &mut Vec<Op>, time: &mut u64, p: u64, kind: OpType, f: &str, v: Value, key: usize| {
        *time += 1_000 + (ops.len() as u64 * 7919) % 5_000;
        ops.push(Op::client(ops.len() as u64, *time, p, kind, f, v).with_key(format!("s{key}")));
    };
    for step in 0..rng.random_range(20..300) {
        if step % 41 == 7 {
            let f = if step % 82 == 7 { "start-partition" } else { "stop-partition" };
            time += 10;
            ops.push(Op::nemesis(ops.len() as u64, time, f, json!("n1|n2")));
        }
        let c = rng.random_range(0..clients as usize);
        match open[c].take() {
            None => {
                let key = rng.random_range(0..keys);
                let (f, v) = if rng.random_bool(0.3) {
                    ("read".to_string(), Value::Null)
                } else {
                    next_element += 1;
                    ("add".to_string(), json!(next_element))
                };
                push(&mut ops, &mut time, process[c], OpType::Invoke, &f, v.clone(), key);
                open[c] = Some((key, f, v));
            }
            Some((key, f, v)) => {
                if f == "add" {
                    let roll = rng.random_range(0..20);
                    let kind = match roll {
                        0 => OpType::Fail,
                        1 => OpType::Info,
                        _ => OpType::Ok,
                    };
                    if kind == OpType::Ok || (kind == OpType::Info && rng.random_bool(0.5)) {
                        sets[key].push(v.as_i64().unwrap());
                    }
                    push(&mut ops, &mut time, process[c], kind, "add", v, key);
                    if kind == OpType::Info {
                        process[c] = next_process;
                        next_process += 1;
                    }
                } else {
                    let mut seen = sets[key].clone();
                    let mut value = json!(seen);
                    if rng.random_bool(broken) {
                        match rng.random_range(0..4) {
                            0 if !seen.is_empty() => {
                                seen.remove(rng.random_range(0..seen.len()));
                                value = json!(seen);
                            }
                            1 => {
                                seen.push(-1 - rng.random_range(0..3));
                                value = json!(seen);
                            }
                            2 if !seen.is_empty() => {
                                seen.push(seen[0]);
                                value = json!(seen);
                            }
                            3 => value = json!({"not": "a list"}),
                            _ => {}
                        }
                    }
                    push(&mut ops, &mut time, process[c], OpType::Ok, "read", value, key);
                }
            }
        }
    }
    History::new(ops, Strictness::Strict).expect("generated histories keep the rules")
}

#[test]
fn streaming_set_full_verdict_equals_the_offline_one_on_generated_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut decided = 0;
    for seed in 0..300u64 {
        let keys = rng.random_range(1..4);
        let clients = rng.random_range(1..6);
        let broken = [0.0, 0.0, 0.01, 0.2][seed as usize % 4];
        let history = set_history(&mut rng, keys, clients, broken);
        let plan = Plan::one(Check::SetFull(SetFullSettings { linearizable: seed % 3 != 0 }));
        decided += usize::from(streamed_agrees(&history, &plan, "set-full", &mut rng, seed));
    }
    eprintln!("300 set histories: {decided} decided while streaming, the rest left to the offline check");
    assert!((100..270).contains(&decided), "{decided} decided");
}

#[test]
fn a_bank_history_breaking_the_pairing_rules_is_left_to_the_offline_reader() {
    let plan = Plan::one(Check::Bank(BankSettings::default()));
    let mut judge = LiveJudge::new(&plan, FailSemantics::NotApplied).unwrap();
    judge.feed(&[Op::client(0, 1, 3, OpType::Ok, "read", json!({"a": 1}))]);
    assert!(matches!(judge.finish(), Outcome::Offline(why) if why.contains("without an invocation")));
}
