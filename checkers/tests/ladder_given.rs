//! The ladder told what linearizability decided (`ladder::check_view_given`): a
//! linearizable history gets every ladder model valid by implication without a check of
//! its own (convergence is still checked), the implied verdicts are the ones the checks
//! themselves reach, and an undecided or failed linearizability changes nothing.

use std::time::Duration;
use sunder_check::Validity;
use sunder_check::history::History;
use sunder_check::ladder::register::RegisterHistory;
use sunder_check::ladder::{
    IMPLIED_BY_LINEARIZABILITY, Implied, LadderBudget, MODELS, check_view, check_view_given,
};
use sunder_check::linearizable::generate::{Generation, register_history, with_stale_read};
use sunder_check::linearizable::{Budget, FailSemantics, ModelKind, check};
use sunder_check::sequential::SearchBudget;

/// A state budget rather than a time budget, so two runs of the search end alike.
fn budget() -> LadderBudget {
    LadderBudget { sequential: SearchBudget { max_states: 200_000, max_time: Duration::from_secs(3600) } }
}

fn linearizable(h: &History) -> Validity {
    check(h, ModelKind::Kv, FailSemantics::CasMismatch, &Budget::default()).valid
}

fn generations() -> impl Iterator<Item = Generation> {
    (0..12u64).map(|seed| Generation {
        seed,
        ops: 300 + 30 * seed as usize,
        keys: 1 + seed as usize % 3,
        clients: 2 + seed as usize % 4,
        info_rate: 0.05,
        cas: seed % 2 == 0,
    })
}

#[test]
fn a_linearizable_history_gets_every_ladder_model_valid_by_implication() {
    for g in generations() {
        let h = register_history(&g);
        assert_eq!(linearizable(&h), Validity::Valid, "{g:?}");
        let rh = RegisterHistory::from_history(&h).unwrap();
        let given = check_view_given(
            &h,
            &rh,
            &budget(),
            &Implied { linearizable: Validity::Valid, clean_views: None },
        );
        let names: Vec<&str> = given.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(names, MODELS.to_vec());
        for (model, r) in &given[..given.len() - 1] {
            assert_eq!(r.valid, Validity::Valid, "{model}");
            assert_eq!(r.reason.as_deref(), Some(IMPLIED_BY_LINEARIZABILITY), "{model}");
            assert_eq!(r.details["implied_by"], "linearizable", "{model}");
        }
        // Convergence is about the final reads, which linearizability does not judge.
        let (_, convergence) = given.last().unwrap();
        let checked = check_view(&h, &rh, &budget());
        assert_eq!(convergence.valid, checked.last().unwrap().1.valid);
        // And the checks themselves agree with what was implied.
        for (model, r) in &checked[..checked.len() - 1] {
            assert_eq!(r.valid, Validity::Valid, "{g:?}: {model} checked on its own: {r:?}");
        }
    }
}

#[test]
fn an_undecided_or_failed_linearizability_implies_nothing() {
    let mut stale = 0;
    for g in generations() {
        let Some(h) = with_stale_read(&register_history(&g), g.seed) else { continue };
        stale += 1;
        assert_eq!(linearizable(&h), Validity::Invalid);
        let rh = RegisterHistory::from_history(&h).unwrap();
        let checked = check_view(&h, &rh, &budget());
        for verdict in [Validity::Invalid, Validity::Unknown] {
            let given =
                check_view_given(&h, &rh, &budget(), &Implied { linearizable: verdict, clean_views: None });
            assert_eq!(given, checked, "{g:?} given {verdict:?}");
        }
    }
    assert!(stale >= 8, "only {stale} histories could be made stale");
}
