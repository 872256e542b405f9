//! The string kv model (Porcupine's get/put/append) against a plain model whose state is
//! the string itself: on thousands of small random histories over two keys, with crashed
//! and failed ops, pieces that concatenate ambiguously (`a` + `ba` = `ab` + `a`) and gets
//! that return strings nobody wrote, the checker's verdict equals a brute-force search over
//! every real-time order, and an invalid verdict's witness shows the strings the plain model
//! holds along its prefix.

#[macro_use]
mod brute_force;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use sunder_check::Validity;
use sunder_check::history::{History, Op, OpType, Strictness};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};

/// One call of a random history, for the brute-force oracle.
#[derive(Clone, Debug)]
struct Call {
    call: usize,
    /// `usize::MAX` while open or when crashed.
    ret: usize,
    f: &'static str,
    key: &'static str,
    /// The argument of a put or append, the result of a get.
    text: String,
    kind: OpType,
}

timed_by_fields!(Call);

const PIECES: [&str; 5] = ["a", "b", "ab", "ba", ""];
const KEYS: [&str; 2] = ["x", "y"];

fn random_text(rng: &mut ChaCha8Rng, pieces: usize) -> String {
    (0..rng.random_range(0..=pieces)).map(|_| PIECES[rng.random_range(0..PIECES.len())]).collect()
}

/// A random history: 2 to 4 clients, 3 to 8 calls. Each key's string as if every op took
/// effect at its invocation is kept, and half of the gets return it, the other half a
/// random string of the same pieces, so verdicts are mixed. A fifth of completions are
/// `info`, a tenth `fail`.
fn random_history(seed: u64) -> (History, Vec<Call>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clients = rng.random_range(2..5usize);
    let target = rng.random_range(3..9usize);
    let mut open: Vec<Option<usize>> = vec![None; clients];
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut as_invoked: BTreeMap<&str, String> = BTreeMap::new();
    let (mut ops, mut calls): (Vec<Op>, Vec<Call>) = (Vec::new(), Vec::new());
    while calls.len() < target || open.iter().any(Option::is_some) {
        let c = rng.random_range(0..clients);
        let at = ops.len();
        match open[c] {
            None if calls.len() < target => {
                let key = KEYS[rng.random_range(0..KEYS.len())];
                let now = as_invoked.entry(key).or_default();
                let (f, text) = match rng.random_range(0..10u32) {
                    0..4 => ("get", String::new()),
                    4..8 => ("append", random_text(&mut rng, 1)),
                    _ => ("put", random_text(&mut rng, 2)),
                };
                match f {
                    "append" => now.push_str(&text),
                    "put" => *now = text.clone(),
                    _ => {}
                }
                let arg = if f == "get" { Value::Null } else { json!(text) };
                ops.push(Op::client(at as u64, at as u64, process[c], OpType::Invoke, f, arg).with_key(key));
                calls.push(Call { call: at, ret: usize::MAX, f, key, text, kind: OpType::Invoke });
                open[c] = Some(calls.len() - 1);
            }
            None => {}
            Some(i) => {
                let kind = match rng.random_range(0..10u32) {
                    0..7 => OpType::Ok,
                    7..9 => OpType::Info,
                    _ => OpType::Fail,
                };
                let value = if calls[i].f == "get" {
                    if kind == OpType::Ok {
                        calls[i].text = if rng.random_bool(0.5) {
                            as_invoked.get(calls[i].key).cloned().unwrap_or_default()
                        } else {
                            random_text(&mut rng, 3)
                        };
                        json!(calls[i].text)
                    } else {
                        Value::Null
                    }
                } else {
                    json!(calls[i].text)
                };
                ops.push(
                    Op::client(at as u64, at as u64, process[c], kind, calls[i].f, value)
                        .with_key(calls[i].key),
                );
                calls[i].kind = kind;
                if kind == OpType::Info {
                    process[c] = next_process;
                    next_process += 1;
                } else {
                    calls[i].ret = at;
                }
                open[c] = None;
            }
        }
    }
    (History::new(ops, Strictness::Strict).expect("a well-formed history"), calls)
}

/// The plain model's step: the state is each key's string.
fn step(state: &BTreeMap<&'static str, String>, c: &Call) -> Option<BTreeMap<&'static str, String>> {
    let now = state.get(c.key).map_or("", String::as_str);
    let mut next = state.clone();
    match (c.f, c.kind) {
        ("get", OpType::Ok) => return (now == c.text).then_some(next),
        ("get", _) => {}
        ("put", _) => {
            next.insert(c.key, c.text.clone());
        }
        _ => {
            next.insert(c.key, format!("{now}{}", c.text));
        }
    }
    Some(next)
}

#[test]
fn string_kv_verdicts_agree_with_a_plain_string_model_searched_by_brute_force() {
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..6_000 {
        let (history, calls) = random_history(seed);
        // A failed call did not happen: it is placed (left out) from the start.
        let mut placed: Vec<bool> = calls.iter().map(|c| c.kind == OpType::Fail).collect();
        let expected = brute_force::linearizable(&calls, &mut placed, &BTreeMap::new(), &step);
        let got = check(&history, ModelKind::Kv, FailSemantics::NotApplied, &Budget::default());
        assert_eq!(got.valid == Validity::Valid, expected, "seed {seed}: {calls:?}\n{got:?}");
        assert_ne!(got.valid, Validity::Unknown, "seed {seed}");
        if expected { valid += 1 } else { invalid += 1 }
    }
    assert!(valid > 1_500 && invalid > 1_500, "{valid} valid, {invalid} invalid");
}

#[test]
fn an_invalid_kv_witness_shows_the_strings_the_plain_model_holds_along_its_prefix() {
    let mut witnesses = 0;
    for seed in 0..3_000 {
        let (history, calls) = random_history(seed);
        let got = check(&history, ModelKind::Kv, FailSemantics::NotApplied, &Budget::default());
        if got.valid != Validity::Invalid {
            continue;
        }
        let w = &got.anomalies[0].witness;
        let (prefix, states) = (w["prefix"].as_array().unwrap(), w["states"].as_array().unwrap());
        assert_eq!(prefix.len(), states.len(), "seed {seed}: {w}");
        let key = w["key"].as_str().expect("a kv witness names its key");
        let mut state = BTreeMap::new();
        for (index, shown) in prefix.iter().zip(states) {
            // Ops are numbered by history position, and every call here is one position.
            let at = index.as_u64().unwrap() as usize;
            let c = calls.iter().find(|c| c.call == at).expect("a prefix op is a call");
            state = step(&state, c).expect("the prefix is a legal run of the plain model");
            assert_eq!(shown, &json!(state.get(key).cloned().unwrap_or_default()), "seed {seed}: {w}");
        }
        witnesses += 1;
    }
    assert!(witnesses > 500, "only {witnesses} invalid histories");
}
