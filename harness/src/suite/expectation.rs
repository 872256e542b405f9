//! A cell's verdict measured against what the cell expects: by default a valid run; for a
//! planted bug (`expect = "invalid"`) an invalid one, where a valid run is the failure; for
//! a measurement (`expect = "any"`) any verdict; and optionally named models that must hold
//! or break.

use super::matrix::{Cell, Expect};
use std::collections::BTreeMap;
use sunder_check::verdict::Validity;
use sunder_report::compare::record::Outcome;

/// What a finished cell run showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The run judged its history.
    Judged {
        /// The composed verdict.
        verdict: Validity,
        /// Why, when unknown.
        reason: Option<String>,
        /// Each model's verdict.
        models: BTreeMap<String, Validity>,
        /// The first anomaly's sentence.
        witness: Option<String>,
    },
    /// The harness failed (exit 3, a signal, no results): what it said.
    HarnessFailed(String),
}

/// The cell's outcome and one sentence saying why.
pub fn assess(cell: &Cell, finding: &Finding) -> (Outcome, String) {
    let Finding::Judged { verdict, reason, models, witness } = finding else {
        let Finding::HarnessFailed(why) = finding else { unreachable!() };
        return (Outcome::Error, format!("the run did not finish: {why}"));
    };
    let witness = witness.as_deref().unwrap_or("no anomaly was named");
    let (outcome, why) = match (cell.expect, verdict) {
        (_, Validity::Unknown) => {
            (Outcome::Unknown, format!("undecided: {}", reason.as_deref().unwrap_or("no reason given")))
        }
        (Expect::Any, Validity::Valid) => (Outcome::Pass, "valid (measured, nothing expected)".to_string()),
        (Expect::Any, _) => (Outcome::Pass, format!("invalid (measured, nothing expected): {witness}")),
        (Expect::Invalid, Validity::Invalid) => (Outcome::Pass, format!("planted bug caught: {witness}")),
        (Expect::Invalid, _) => (
            Outcome::Fail,
            "expected invalid (a planted bug), but the run was valid: the bug was not caught".to_string(),
        ),
        (_, Validity::Valid) => (Outcome::Pass, "valid, as expected".to_string()),
        (_, Validity::Invalid) => (Outcome::Fail, format!("invalid: {witness}")),
    };
    if outcome != Outcome::Pass {
        return (outcome, why);
    }
    for (model, want) in &cell.expect_models {
        let wanted = if *want { Validity::Valid } else { Validity::Invalid };
        match models.get(model) {
            None => {
                return (
                    Outcome::Fail,
                    format!("expected {model} to be judged, but the run did not judge it"),
                );
            }
            Some(Validity::Unknown) => return (Outcome::Unknown, format!("{model} was undecided")),
            Some(got) if *got != wanted => {
                let said = if *want {
                    format!("to hold, but it broke: {witness}")
                } else {
                    "to break, but it held".into()
                };
                return (Outcome::Fail, format!("expected {model} {said}"));
            }
            Some(_) => {}
        }
    }
    (outcome, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(expect: Expect) -> Cell {
        Cell {
            id: "x".into(),
            row: "x".into(),
            system: "raft-kv".into(),
            options: BTreeMap::new(),
            workload: "register".into(),
            workload_options: BTreeMap::new(),
            nemesis: "none".into(),
            seed: 1,
            repetition: 1,
            time_limit: None,
            nodes: None,
            net: None,
            concurrency: None,
            args: vec![],
            expect,
            expect_models: BTreeMap::new(),
            why: None,
            test_name: "t".into(),
        }
    }

    fn judged(verdict: Validity, models: &[(&str, Validity)]) -> Finding {
        Finding::Judged {
            verdict,
            reason: None,
            models: models.iter().map(|(m, v)| (m.to_string(), *v)).collect(),
            witness: Some("read 3 after 4".into()),
        }
    }

    #[test]
    fn a_planted_bug_that_is_not_caught_fails_the_cell() {
        assert_eq!(assess(&cell(Expect::Invalid), &judged(Validity::Valid, &[])).0, Outcome::Fail);
        assert_eq!(assess(&cell(Expect::Invalid), &judged(Validity::Invalid, &[])).0, Outcome::Pass);
        assert_eq!(assess(&cell(Expect::Valid), &judged(Validity::Invalid, &[])).0, Outcome::Fail);
    }

    #[test]
    fn expected_models_must_come_out_as_named() {
        let mut c = cell(Expect::Invalid);
        c.expect_models.insert("linearizable".into(), false);
        c.expect_models.insert("convergence".into(), true);
        let broke = judged(
            Validity::Invalid,
            &[("linearizable", Validity::Invalid), ("convergence", Validity::Valid)],
        );
        assert_eq!(assess(&c, &broke).0, Outcome::Pass);
        let diverged = judged(
            Validity::Invalid,
            &[("linearizable", Validity::Invalid), ("convergence", Validity::Invalid)],
        );
        let (o, why) = assess(&c, &diverged);
        assert_eq!(o, Outcome::Fail);
        assert!(why.contains("convergence"), "{why}");
    }

    #[test]
    fn a_measuring_cell_passes_whatever_the_verdict() {
        assert_eq!(assess(&cell(Expect::Any), &judged(Validity::Invalid, &[])).0, Outcome::Pass);
        assert_eq!(assess(&cell(Expect::Any), &judged(Validity::Valid, &[])).0, Outcome::Pass);
    }

    #[test]
    fn a_harness_failure_is_an_error_whatever_was_expected() {
        let f = Finding::HarnessFailed("cluster would not start".into());
        assert_eq!(assess(&cell(Expect::Invalid), &f).0, Outcome::Error);
    }
}
