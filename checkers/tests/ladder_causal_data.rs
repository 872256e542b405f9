//! Every history of `shared/data/causal` (Bouajjani et al., POPL 2017, Fig. 2 and one per
//! bad pattern) gets exactly the CC, CM, CCv and SC verdicts its file states, and the
//! first bad pattern it names.

mod ladder_support;

use ladder_support::{data_dir, from_program_order};
use serde_json::Value;
use sunder_check::ladder::{LadderBudget, check_register};
use sunder_check::verdict::Validity;

#[test]
fn causal_data_histories_get_their_stated_verdicts() {
    let path = data_dir().join("causal/bouajjani_popl17_examples.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data: Value = serde_json::from_str(&text).expect("valid JSON");
    let histories = data["histories"].as_object().expect("histories map");
    assert!(histories.len() >= 8, "expected the eight histories, found {}", histories.len());
    let mut checked = 0;
    for (name, h) in histories {
        let history = from_program_order(&h["ops"]);
        let results = check_register(&history, &LadderBudget::default());
        let verdict = |model: &str| results.iter().find(|(m, _)| m == model).unwrap().1.clone();
        for (flag, model, pattern) in [
            ("CC", "causal", "bp"),
            ("CM", "causal-memory", "bp_CM"),
            ("CCv", "causal-convergence", "bp_CCv"),
            ("SC", "sequential", ""),
        ] {
            // A failed CC implies every stronger model fails.
            let expected = match h.get(flag).and_then(Value::as_bool) {
                Some(b) => b,
                None if h["CC"] == Value::Bool(false) => false,
                None => continue,
            };
            let got = verdict(model);
            let want = if expected { Validity::Valid } else { Validity::Invalid };
            assert_eq!(got.valid, want, "{name}: {model} should be {want:?}, got {got:?}");
            checked += 1;
            let stated = h.get(pattern).or_else(|| h.get("bp")).and_then(Value::as_str);
            if let (false, Some(kind)) = (expected, stated)
                && model != "sequential"
            {
                assert!(
                    got.anomalies.iter().any(|a| a.kind == kind),
                    "{name}: {model} should report {kind}, got {:?}",
                    got.anomalies
                );
            }
        }
    }
    assert!(checked >= 20, "only {checked} verdicts were compared");
}
