//! Causal memory (CM) against its definition, computed by boolean matrices, on tens of
//! thousands of small histories whose reads return any write already issued: replication
//! as slow and as out of order as it gets, with crashed writes (`info`, after which the
//! worker continues as a new process, as Sunder's runner does) and cas. Such histories
//! are where a process's view derives edges whose sources keep growing afterwards, so
//! every way CM's fixpoint carries growth (along program order, read-from and the derived
//! edges, re-examining the process's reads) decides some of them; a checker that drops
//! or misroutes any of it disagrees with the definition on some history here. Also, for
//! a few fixed program shapes, every assignment of reads to writes is checked.

mod ladder_support;

use ladder_support::Builder;
use ladder_support::definitions::causal_by_definition;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use sunder_check::causal::{self, CausalBudget};
use sunder_check::history::{History, OpType};
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::verdict::Validity;

/// A read's value: the initial one now and then, else one of the last `window` values
/// issued for the key (whether or not that write completed).
fn pick_value(rng: &mut ChaCha8Rng, issued: &[i64], window: usize) -> Value {
    if issued.is_empty() || rng.random_bool(0.15) {
        return Value::Null;
    }
    let from = issued.len().saturating_sub(window);
    json!(issued[rng.random_range(from..issued.len())])
}

/// `calls` calls by `workers` workers on `keys` keys: reads (half) return a value picked
/// by [`pick_value`]; writes and cas (the other half) end `info` with chance `crash`,
/// retiring their process. Read-from then follows the order calls were made in, so CO is
/// acyclic and every history is judged by CC's other patterns, and by CM's and CCv's.
/// With `split`, the first half of the workers (at least one) only write and cas and the
/// others only read: writers then run long program orders that no read of theirs cuts,
/// which is what carries a view's growth from one write to the next.
fn arbitrary_reads(
    seed: u64,
    workers: usize,
    keys: usize,
    calls: usize,
    crash: f64,
    window: usize,
    split: bool,
) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let writers = (workers / 2).max(1);
    let mut b = Builder::new();
    let mut issued: Vec<Vec<i64>> = vec![Vec::new(); keys];
    let mut process: Vec<u64> = (0..workers as u64).collect();
    let mut next_process = workers as u64;
    let mut next_value = 0i64;
    for _ in 0..calls {
        let w = rng.random_range(0..workers);
        let p = process[w];
        let k = rng.random_range(0..keys);
        let key = format!("k{k}");
        let reads = if split { w >= writers } else { rng.random_bool(0.5) };
        if reads {
            let value = pick_value(&mut rng, &issued[k], window);
            b.read(p, &key, value);
            continue;
        }
        next_value += 1;
        let (f, arg) = if rng.random_bool(0.15) {
            ("cas", json!([pick_value(&mut rng, &issued[k], window), next_value]))
        } else {
            ("write", json!(next_value))
        };
        b.invoke(p, f, &key, arg.clone());
        if rng.random_bool(crash) {
            b.complete(p, OpType::Info, f, &key, Value::Null);
            process[w] = next_process;
            next_process += 1;
        } else {
            b.complete(p, OpType::Ok, f, &key, arg);
        }
        issued[k].push(next_value);
    }
    b.history()
}

/// Every clock form and writer lookup the causal checks have.
fn budgets() -> Vec<CausalBudget> {
    let mut out = Vec::new();
    for shared_clocks_above in [usize::MAX, 0] {
        for (scan_writers_up_to, writer_table_entries) in [(32, 16 << 20), (0, usize::MAX), (0, 0)] {
            out.push(CausalBudget {
                shared_clocks_above,
                scan_writers_up_to,
                writer_table_entries,
                ..CausalBudget::default()
            });
        }
    }
    out
}

/// Asserts that every form of the causal checks gives the definitions' verdicts on `rh`;
/// returns them.
fn agrees_with_definitions(rh: &RegisterHistory, what: &str) -> (bool, bool, bool) {
    let (cc, ccv, cm) = causal_by_definition(rh);
    let as_validity = |b: bool| if b { Validity::Valid } else { Validity::Invalid };
    for budget in budgets() {
        let v = causal::check_register_within(rh, &budget);
        assert_eq!(v.causal.valid, as_validity(cc), "{what}, {budget:?}: CC {:?}", v.causal);
        assert_eq!(v.convergence.valid, as_validity(ccv), "{what}, {budget:?}: CCv {:?}", v.convergence);
        assert_eq!(v.memory.valid, as_validity(cm), "{what}, {budget:?}: CM {:?}", v.memory);
    }
    (cc, ccv, cm)
}

#[test]
fn causal_memory_agrees_with_its_definition_when_reads_return_any_issued_write() {
    let mut seen = BTreeMap::new();
    for seed in 0..50_000u64 {
        let split = seed % 2 == 1;
        let h = arbitrary_reads(
            seed,
            2 + (seed as usize % 3),
            1 + (seed as usize % 3),
            6 + (seed as usize % 19),
            [0.0, 0.2, 0.5][seed as usize % 3],
            if split { 8 } else { 2 + (seed as usize % 3) },
            split,
        );
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        let verdicts = agrees_with_definitions(&rh, &format!("seed {seed}"));
        *seen.entry(verdicts).or_insert(0usize) += 1;
    }
    // The histories must exercise CM both ways among the causal ones, with and without
    // causal convergence, or the agreement says little.
    // (CCv without CM is rare in any generator: it needs a view's order that no
    // arbitration breaks.)
    for combo in [(true, true, true), (true, false, true), (true, false, false)] {
        let count = seen.get(&combo).copied().unwrap_or(0);
        assert!(count >= 200, "too few histories with (CC, CCv, CM) = {combo:?}: {seen:?}");
    }
    assert!(seen.contains_key(&(true, true, false)), "no history with CCv but not CM: {seen:?}");
}

/// One op of a fixed program shape: a write of key `k`, or a read of key `k` whose
/// source the enumeration assigns.
#[derive(Clone, Copy)]
enum Step {
    W(usize),
    R(usize),
}

/// Every assignment of each read to the initial value or to a write of its key issued
/// before it (in the order the processes' ops are listed, round robin), for one program
/// shape; each history checked against the definitions. Returns how many were CC and
/// broke CM.
fn every_assignment(shape: &[&[Step]]) -> (usize, usize) {
    // Round-robin order of the ops: the order values are issued and reads may see them.
    let mut order = Vec::new();
    let longest = shape.iter().map(|ops| ops.len()).max().unwrap_or(0);
    for i in 0..longest {
        for (p, ops) in shape.iter().enumerate() {
            if let Some(&step) = ops.get(i) {
                order.push((p, step));
            }
        }
    }
    // Each read's choices: 0 is the initial value, j the j-th write of its key (any of
    // them: a read of a later one may make CO cyclic, which CC must then find).
    let mut writes_of = BTreeMap::<usize, usize>::new();
    for &(_, step) in &order {
        if let Step::W(k) = step {
            *writes_of.entry(k).or_default() += 1;
        }
    }
    let choices: Vec<usize> = order
        .iter()
        .filter_map(|&(_, step)| match step {
            Step::R(k) => Some(1 + writes_of.get(&k).copied().unwrap_or(0)),
            Step::W(_) => None,
        })
        .collect();
    let value_of = |k: usize, j: usize| {
        let mut seen = 0;
        order.iter().enumerate().find_map(|(next, &(_, step))| match step {
            Step::W(kk) if kk == k => {
                seen += 1;
                (seen == j).then_some(next as i64 + 1)
            }
            _ => None,
        })
    };
    let total: usize = choices.iter().product();
    let (mut causal_histories, mut cm_broken) = (0, 0);
    for assignment in 0..total {
        let mut rest = assignment;
        let mut b = Builder::new();
        let mut read = 0;
        for (next, &(p, step)) in order.iter().enumerate() {
            match step {
                Step::W(k) => {
                    b.write(p as u64, &format!("k{k}"), json!(next as i64 + 1));
                }
                Step::R(k) => {
                    let pick = rest % choices[read];
                    rest /= choices[read];
                    read += 1;
                    let value = if pick == 0 { Value::Null } else { json!(value_of(k, pick)) };
                    b.read(p as u64, &format!("k{k}"), value);
                }
            }
        }
        let h = b.history();
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        let (cc, _, cm) = agrees_with_definitions(&rh, &format!("assignment {assignment} of a shape"));
        causal_histories += cc as usize;
        cm_broken += (cc && !cm) as usize;
    }
    (causal_histories, cm_broken)
}

#[test]
fn causal_memory_agrees_with_its_definition_on_every_read_from_of_small_shapes() {
    use Step::{R, W};
    // Two writers and a reader whose view must order their writes through a third
    // process's reads; a writer that reads its rival; three processes on two keys.
    let shapes: [&[&[Step]]; 6] = [
        &[&[W(0), W(1), R(0)], &[W(0), R(1), R(0)], &[R(0), R(1), R(0), R(0)]],
        &[&[W(0), R(0), W(0)], &[W(0), R(0), R(0)], &[R(0), W(0), R(0)]],
        &[&[W(0), W(1), R(1), R(0)], &[W(1), W(0), R(0), R(1)]],
        &[&[W(0), R(1), W(1)], &[W(1), R(0), W(0)], &[R(0), R(1), R(0), R(1)]],
        &[&[W(0), W(0), W(1)], &[W(0), R(1), W(0)], &[R(0), R(0), R(1), R(0)]],
        &[&[W(0), W(1), W(0)], &[R(0), W(1), R(0)], &[R(1), R(0), R(1), R(0)]],
    ];
    for (i, shape) in shapes.into_iter().enumerate() {
        let (causal_histories, cm_broken) = every_assignment(shape);
        eprintln!("shape {i}: {causal_histories} causal, {cm_broken} of them not CM");
    }
}

#[test]
fn causal_memory_agrees_with_its_definition_for_every_reader_of_two_writers() {
    use Step::{R, W};
    // Two processes that only write, three keys, and one reader: its four reads, of any
    // keys, in any order, returning any value. The reader's view orders writes of one
    // key, and program order carries that order to the writers' other keys, where later
    // reads meet it (the shape of a CyclicHB that only such growth reveals).
    let writers: [(&[Step], &[Step]); 3] = [
        (&[W(1), W(0)], &[W(0), W(1), W(2)]),
        (&[W(0), W(1), W(2)], &[W(2), W(1), W(0)]),
        (&[W(1), W(0), W(2)], &[W(0), W(2), W(1)]),
    ];
    let (mut causal_histories, mut cm_broken) = (0, 0);
    for (first, second) in writers {
        for keys in 0..81usize {
            let reader: Vec<Step> = (0..4).map(|i| R(keys / 3usize.pow(i) % 3)).collect();
            let (c, b) = every_assignment(&[first, second, &reader]);
            causal_histories += c;
            cm_broken += b;
        }
    }
    assert!(cm_broken > 100 && causal_histories > cm_broken, "{causal_histories} causal, {cm_broken} not CM");
}
