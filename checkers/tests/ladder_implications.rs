//! The ladder's implications on seeded generated histories: executions of an atomic
//! register hold every model; histories of replicas that ship writes in random order
//! break some, and whenever a model fails, every model that implies it fails too. The
//! sequential search is also compared with a plain enumeration on small histories.

mod ladder_support;

use ladder_support::definitions::causal_by_definition;
use ladder_support::generate::{linearizable, replicated};
use std::collections::BTreeMap;
use sunder_check::history::History;
use sunder_check::ladder::register::{RegisterHistory, Source};
use sunder_check::ladder::{IMPLIES, LadderBudget, MODELS, check_register};
use sunder_check::sequential::{self, SearchBudget};
use sunder_check::verdict::{CheckerResult, Validity};

fn verdicts(h: &History) -> BTreeMap<String, CheckerResult> {
    check_register(h, &LadderBudget::default()).into_iter().collect()
}

fn assert_implications(name: &str, v: &BTreeMap<String, CheckerResult>) {
    for (strong, weaker) in IMPLIES {
        for weak in weaker {
            if v[*weak].valid == Validity::Invalid {
                assert_eq!(
                    v[strong].valid,
                    Validity::Invalid,
                    "{name}: {weak} fails but {strong}, which implies it, does not: {:?}",
                    v[*weak].anomalies
                );
            }
        }
    }
}

#[test]
fn executions_of_an_atomic_register_hold_every_model() {
    for seed in 0..60 {
        let h = linearizable(seed, 1 + (seed as usize % 5), 1 + (seed as usize % 3), 40 + seed as usize);
        let v = verdicts(&h);
        for model in MODELS {
            assert_eq!(v[model].valid, Validity::Valid, "seed {seed}: {model}: {:?}", v[model]);
        }
    }
}

#[test]
fn a_failed_model_fails_every_stronger_model_on_replicated_histories() {
    let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 0..300u64 {
        let sticky = seed % 2 == 0;
        let lww = seed % 3 != 0;
        let calls = 12 + (seed as usize % 4) * 8;
        let h = replicated(
            seed,
            2 + (seed as usize % 3),
            2 + (seed as usize % 2),
            1 + (seed as usize % 3),
            calls,
            sticky,
            lww,
        );
        let v = verdicts(&h);
        assert_implications(&format!("seed {seed}"), &v);
        for model in MODELS {
            assert_ne!(v[model].valid, Validity::Unknown, "seed {seed}: {model}: {:?}", v[model]);
            if v[model].valid == Validity::Invalid {
                *failures.entry(model).or_default() += 1;
                assert!(!v[model].anomalies.is_empty(), "seed {seed}: {model} invalid without anomalies");
            }
        }
    }
    // The generator must actually exercise every rung, or the test proves little.
    for model in MODELS {
        assert!(failures.get(model).copied().unwrap_or(0) > 0, "no seed broke {model}: {failures:?}");
    }
}

/// Plain enumeration of program-order interleavings: is there one where every read
/// returns the latest write?
fn sequential_by_enumeration(rh: &RegisterHistory) -> bool {
    fn go(rh: &RegisterHistory, frontier: &mut Vec<u32>, current: &mut Vec<Option<u32>>) -> bool {
        let mut done = true;
        for p in 0..frontier.len() {
            let e = rh.starts[p] + frontier[p];
            if e >= rh.starts[p + 1] {
                continue;
            }
            done = false;
            let ev = &rh.events[e as usize];
            let ok = match ev.read {
                None => true,
                Some(Source::Init) => current[ev.key as usize].is_none(),
                Some(Source::Write(w)) => current[ev.key as usize] == Some(w),
                Some(Source::Nowhere) => false,
            };
            if !ok {
                continue;
            }
            let prev = current[ev.key as usize];
            if ev.writes {
                current[ev.key as usize] = Some(e);
            }
            frontier[p] += 1;
            let found = go(rh, frontier, current);
            frontier[p] -= 1;
            current[ev.key as usize] = prev;
            if found {
                return true;
            }
        }
        done
    }
    go(rh, &mut vec![0; rh.process_count()], &mut vec![None; rh.keys.len()])
}

#[test]
fn sequential_search_agrees_with_enumeration_on_small_histories() {
    let mut invalid = 0;
    for seed in 0..400u64 {
        let h = replicated(
            seed,
            2 + (seed as usize % 2),
            2,
            1 + (seed as usize % 2),
            7,
            seed % 2 == 0,
            seed % 3 != 0,
        );
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        let expected = sequential_by_enumeration(&rh);
        let got = sequential::check_register(&rh, &SearchBudget::default());
        let want = if expected { Validity::Valid } else { Validity::Invalid };
        assert_eq!(got.valid, want, "seed {seed}: {got:?}");
        invalid += usize::from(!expected);
    }
    assert!(invalid > 20, "only {invalid} non-sequential histories were generated");
}

#[test]
fn causal_checks_agree_with_the_definitions_on_small_histories() {
    let mut seen = BTreeMap::new();
    for seed in 0..800u64 {
        let h = replicated(
            seed,
            2 + (seed as usize % 3),
            2 + (seed as usize % 2),
            1 + (seed as usize % 3),
            9 + (seed as usize % 12),
            seed % 2 == 0,
            seed % 3 != 0,
        );
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        let (cc, ccv, cm) = causal_by_definition(&rh);
        let v = sunder_check::causal::check_register(&rh);
        let as_validity = |b: bool| if b { Validity::Valid } else { Validity::Invalid };
        assert_eq!(v.causal.valid, as_validity(cc), "seed {seed}: CC {:?}", v.causal);
        assert_eq!(v.convergence.valid, as_validity(ccv), "seed {seed}: CCv {:?}", v.convergence);
        assert_eq!(v.memory.valid, as_validity(cm), "seed {seed}: CM {:?}", v.memory);
        *seen.entry((cc, ccv, cm)).or_insert(0) += 1;
    }
    // CC alone, CM but not CCv, all three and none must each occur (CCv without CM is rare
    // from this generator; the data file's fig2b covers it).
    for combo in [(true, false, false), (true, false, true), (true, true, true), (false, false, false)] {
        assert!(seen.contains_key(&combo), "no history had (CC, CCv, CM) = {combo:?}: {seen:?}");
    }
}

#[test]
fn causal_checks_agree_with_the_definitions_when_a_key_has_many_writers() {
    // Over 32 processes writing a key, the checks look only at the writers a read has seen
    // beyond its write's causal past; the definitions look at every one.
    let mut seen = BTreeMap::new();
    let mut wide = 0;
    for seed in 0..60u64 {
        let h = replicated(
            seed,
            70,
            2 + (seed as usize % 2),
            1 + (seed as usize % 2),
            220,
            seed % 2 == 0,
            seed % 3 != 0,
        );
        let rh = RegisterHistory::from_history(&h).expect("unique writes");
        if rh.writers_by_key().iter().any(|w| w.len() > 32) {
            wide += 1;
        }
        let (cc, ccv, cm) = causal_by_definition(&rh);
        let v = sunder_check::causal::check_register(&rh);
        let as_validity = |b: bool| if b { Validity::Valid } else { Validity::Invalid };
        assert_eq!(v.causal.valid, as_validity(cc), "seed {seed}: CC {:?}", v.causal);
        assert_eq!(v.convergence.valid, as_validity(ccv), "seed {seed}: CCv {:?}", v.convergence);
        assert_eq!(v.memory.valid, as_validity(cm), "seed {seed}: CM {:?}", v.memory);
        *seen.entry((cc, ccv, cm)).or_insert(0) += 1;
    }
    assert!(wide >= 50, "only {wide} histories had a key with over 32 writers");
    assert!(seen.len() >= 2, "every history had the same verdicts: {seen:?}");
}
