//! The ladder's full output (verdicts, reasons, anomalies with their ops and explanations)
//! on the causal data histories is fixed by a golden file, so a change to any verdict or
//! wording is deliberate. Regenerate with `SUNDER_BLESS=1`. Blessing fixes wording only:
//! the verdicts themselves are checked against the file's stated ones and hand-derived ones
//! in `ladder_causal_data.rs`, which no blessing rewrites.

mod ladder_support;

use ladder_support::{data_dir, from_program_order};
use serde_json::{Map, Value, json};
use sunder_check::ladder::{LadderBudget, check_register};

#[test]
fn ladder_output_on_the_causal_data_matches_the_golden_file() {
    let path = data_dir().join("causal/bouajjani_popl17_examples.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
    let mut out = Map::new();
    for (name, h) in data["histories"].as_object().expect("histories") {
        let results = check_register(&from_program_order(&h["ops"]), &LadderBudget::default());
        let models: Vec<Value> = results
            .into_iter()
            .map(|(model, r)| {
                json!({
                    "model": model,
                    "valid": r.valid,
                    "reason": r.reason,
                    "anomalies": r.anomalies,
                })
            })
            .collect();
        out.insert(name.clone(), Value::Array(models));
    }
    let got = serde_json::to_string_pretty(&Value::Object(out)).expect("serializable") + "\n";
    let golden =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ladder_golden/causal_data.json");
    if std::env::var_os("SUNDER_BLESS").is_some() {
        std::fs::write(&golden, &got).expect("golden file writable");
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e} (run with SUNDER_BLESS=1 to create it)", golden.display()));
    assert!(
        got == want,
        "ladder output differs from {}; rerun with SUNDER_BLESS=1 if intended",
        golden.display()
    );
}
