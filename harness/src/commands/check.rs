//! `sunder check PATH`: re-judges a stored run folder (rewriting its `results.json`) or any
//! history file, and exits with the verdict's code.

use crate::cli::CheckArgs;
use crate::judge;
use crate::store::{RunDir, write_json};
use anyhow::Result;
use sunder_check::history::read_jsonl;

/// Checks `args.path` and returns the verdict's exit code.
pub fn run(args: CheckArgs) -> Result<u8> {
    let results = if args.path.is_dir() {
        let dir = RunDir::open(&args.path);
        let workload = dir.read_test().map(|t| t.workload).unwrap_or_else(|_| "register".into());
        let history = read_jsonl(&dir.history())?;
        let results = judge::by_workload(&workload, &history);
        write_json(&dir.results(), &results)?;
        results
    } else {
        let history = read_jsonl(&args.path)?;
        judge::register(&history)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!("{}", judge::summary(&results));
    }
    Ok(results.valid.exit_code() as u8)
}
