//! `sunder check PATH`: re-judges a stored run folder (rewriting its `results.json`) or any
//! history file (Sunder JSONL, Jepsen EDN/JSON/log lines, Porcupine kv), and exits with the
//! verdict's code.

use crate::cli::CheckArgs;
use crate::judge::{self, Judgement, Limits};
use crate::store::{RunDir, write_json};
use anyhow::{Result, anyhow, bail};
use std::io::Write;
use std::str::FromStr;
use std::time::Duration;
use sunder_check::import::{self, Format};
use sunder_check::linearizable::ModelKind;

/// Checks `args.path` and returns the verdict's exit code.
pub fn run(args: CheckArgs) -> Result<u8> {
    let mut limits = Limits::default();
    match args.time_budget {
        Some(s) if s > 0.0 && s.is_finite() => limits.time = Duration::from_secs_f64(s),
        Some(_) => bail!("--time-budget must be a positive number of seconds"),
        None => {}
    }
    match args.memory_budget {
        Some(0) => bail!("--memory-budget must be at least 1 MiB"),
        Some(mib) => limits.memory_bytes = Some(mib << 20),
        None => {}
    }
    let asked =
        args.model.as_deref().map(Judgement::from_str).transpose().map_err(|e| anyhow!("--model: {e}"))?;
    let format = Format::from_str(&args.format).map_err(|e| anyhow!("--format: {e}"))?;
    let results = if args.path.is_dir() {
        let dir = RunDir::open(&args.path);
        let test = dir.read_test()?;
        let judgement = match asked {
            Some(j) => j,
            None => judge::for_workload(&test.workload)?,
        };
        let imported = import::load(&dir.history(), Format::Jsonl)?;
        let results = judge::judge(&imported.history, &judgement, imported.fail_semantics, limits);
        write_json(&dir.results(), &results)?;
        crate::commands::report::render(&dir.path, &crate::runlog::RunLog::quiet());
        results
    } else {
        let imported = import::load(&args.path, format)?;
        let judgement = match asked {
            Some(j) => j,
            None => default_judgement(imported.format, &imported.history)?,
        };
        judge::judge(&imported.history, &judgement, imported.fail_semantics, limits)
    };
    let text = if args.json { serde_json::to_string_pretty(&results)? } else { judge::summary(&results) };
    // A closed pipe (`| head`) is the reader's choice, not a failure: the verdict still counts.
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(results.valid.exit_code() as u8)
}

/// What a file is checked for when `--model` is not given: only where it is unambiguous.
fn default_judgement(format: Format, history: &sunder_check::History) -> Result<Judgement> {
    let fs: std::collections::BTreeSet<&str> =
        history.ops().iter().filter(|o| !o.is_nemesis()).map(|o| o.f.as_str()).collect();
    Ok(match format {
        // Sunder's own history: the register workload's full judgement.
        Format::Jsonl => Judgement::Register,
        // Porcupine's kv format: a string register per key.
        Format::PorcupineKv => Judgement::Linearizable(ModelKind::Kv),
        // Jepsen's etcd log lines, as Porcupine checks them: a cas register starting at nil.
        Format::JepsenLog => Judgement::Linearizable(ModelKind::CasRegister { initial: None }),
        _ if fs.iter().all(|f| ["get", "put", "append"].contains(f)) => {
            Judgement::Linearizable(ModelKind::Kv)
        }
        _ => bail!(
            "{format} files do not say what they model (functions seen: {}); pass --model, e.g. \
             --model 'cas-register 0' (Knossos), --model bank, --model set-full",
            fs.into_iter().collect::<Vec<_>>().join(", ")
        ),
    })
}
