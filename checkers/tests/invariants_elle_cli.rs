//! The bank, counter, set and set-full histories of `shared/data/elle-cli` (Jepsen EDN and
//! JSON) get the verdicts `MANIFEST.tsv` states for them.

mod ladder_support;

use ladder_support::data_dir;
use sunder_check::bank::{self, BankSettings};
use sunder_check::counter::{self, CounterSettings};
use sunder_check::import::{Format, load};
use sunder_check::set_full::{self, SetFullSettings};
use sunder_check::verdict::{CheckerResult, Validity};

#[test]
fn elle_cli_invariant_histories_get_their_manifest_verdicts() {
    let dir = data_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv readable");
    let mut checked = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, _format, checker, expected, ..] = cols.as_slice() else { continue };
        let Some(model) = checker.strip_prefix("elle-cli --model ") else { continue };
        let run: fn(&sunder_check::History) -> CheckerResult = match model.trim() {
            "bank" => |h| bank::check(h, &BankSettings::default()),
            "counter" => |h| counter::check(h, &CounterSettings::default()),
            "set" => set_full::check_set,
            "set-full" => |h| set_full::check(h, &SetFullSettings::default()),
            _ => continue,
        };
        let want = match *expected {
            "valid" => Validity::Valid,
            "INVALID" => Validity::Invalid,
            other => panic!("{path}: unexpected verdict {other:?} in the manifest"),
        };
        let imported = load(&dir.join(path), Format::Auto).unwrap_or_else(|e| panic!("{e}"));
        let result = run(&imported.history);
        assert_eq!(result.valid, want, "{path} ({model}): {result:#?}");
        if want == Validity::Invalid {
            assert!(!result.anomalies.is_empty(), "{path}: invalid without anomalies");
        }
        checked.push(*path);
    }
    assert!(
        checked.len() >= 10,
        "only {} elle-cli invariant histories were checked: {checked:?}",
        checked.len()
    );
}

#[test]
fn bank_result_says_when_accounts_and_total_came_from_the_first_read() {
    let path = data_dir().join("elle-cli/jepsen/bank.edn");
    let h = load(&path, Format::Auto).unwrap().history;
    let derived = bank::check(&h, &BankSettings::default());
    assert!(derived.reason.as_deref().unwrap_or("").contains("first ok read"), "{derived:?}");
    let accounts = (0..10).map(|a| a.to_string()).collect();
    let given =
        bank::check(&h, &BankSettings { accounts: Some(accounts), total: Some(100), ..Default::default() });
    assert_eq!(given.valid, Validity::Valid);
    assert_eq!(given.reason, None);
    let wrong = bank::check(&h, &BankSettings { total: Some(99), ..Default::default() });
    assert_eq!(wrong.valid, Validity::Invalid);
    assert!(wrong.anomalies.iter().all(|a| a.kind == "wrong-total"));
}
