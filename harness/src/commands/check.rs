//! `sunder check PATH`: re-judges a stored run folder (rewriting its `results.json` and
//! report) or any history file (Sunder JSONL, Jepsen EDN/JSON/log lines, Porcupine kv), and
//! exits with the verdict's code. A run folder is judged by its own workload's plan, as
//! recorded in `test.json`; a bare file by `--model`, or by what its contents make
//! unambiguous.

use crate::cli::CheckArgs;
use crate::judge::{self, Limits};
use crate::store::{RunDir, write_json};
use crate::streamed::Streamed;
use anyhow::{Result, anyhow, bail};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use sunder_check::History;
use sunder_check::counter::CounterSettings;
use sunder_check::history;
use sunder_check::import::{self, Format};
use sunder_check::linearizable::ModelKind;
use sunder_check::live::{LiveJudge, Outcome};
use sunder_check::plan::{Check, Plan};
use sunder_check::set_full::SetFullSettings;
use sunder_check::txn::{TxnModel, TxnOptions};
use sunder_check::verdict::Results;

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
    let asked = args.model.as_deref().map(Plan::from_str).transpose().map_err(|e| anyhow!("--model: {e}"))?;
    let format = Format::from_str(&args.format).map_err(|e| anyhow!("--format: {e}"))?;
    let results = if args.path.is_dir() {
        let dir = RunDir::open(&args.path);
        let plan = match asked {
            Some(p) => p,
            None => run_plan(&dir)?,
        };
        check_run_folder(&dir, &plan, limits, args.offline)?
    } else {
        let imported = import::load(&args.path, format)?;
        let plan = match asked {
            // A bare register model on a Jepsen file means what Knossos meant by it.
            Some(mut p) => {
                for check in &mut p.checks {
                    if let Check::Linearizable(m) = check {
                        *m = imported.model_as_meant(m.clone());
                    }
                }
                p
            }
            None => match beside_run(&args.path, imported.format) {
                Some(dir) => run_plan(&dir)?,
                None => default_plan(imported.format, &imported.history)?,
            },
        };
        let mut results = judge::judge(&imported.history, &plan, imported.fail_semantics, limits);
        if let Some(stats) = results.stats.as_object_mut() {
            stats.insert("source".into(), imported.source_json());
        }
        results
    };
    let text = if args.json { serde_json::to_string_pretty(&results)? } else { judge::summary(&results) };
    // A closed pipe (`| head`) is the reader's choice, not a failure: the verdict still counts.
    // History text reaches the terminal: escape what could drive it.
    let _ = writeln!(std::io::stdout(), "{}", sunder_check::error::terminal_safe(&text));
    Ok(results.valid.exit_code() as u8)
}

/// Judges a run folder's history by `plan`, writes its `results.json`, then renders its
/// report (which shows that file). A plan the live judge takes is judged as the history is
/// read, chunk by chunk, with the report digested beside it, so a valid history of any
/// length is never held whole; only a verdict the live judge leaves to the offline check
/// (an anomaly to explain, a history that breaks the rules) reads it whole, as every other
/// plan does (and every plan with `--offline`). A history without a current binary mirror
/// gets one written from that read ([`history::MirrorBuilder`]), so the next check or
/// report of the folder reads it at disk speed.
fn check_run_folder(dir: &RunDir, plan: &Plan, limits: Limits, offline_only: bool) -> Result<Results> {
    let fail_semantics = Format::Jsonl.fail_semantics();
    let offline = || -> Result<(Results, History)> {
        let mirror = history::MirrorBuilder::for_stale(&dir.history());
        let imported = import::load(&dir.history(), Format::Jsonl)?;
        if let Some(mut mirror) = mirror {
            mirror.append(imported.history.ops());
            mirror.seal();
        }
        Ok((judge::judge(&imported.history, plan, fail_semantics, limits), imported.history))
    };
    let quiet = crate::runlog::RunLog::quiet();
    let Some(live) = LiveJudge::new(plan, fail_semantics).filter(|_| !offline_only) else {
        let (results, history) = offline()?;
        write_json(&dir.results(), &results)?;
        crate::commands::report::render(&dir.path, history.into_ops(), &quiet);
        return Ok(results);
    };
    let news = crate::progress::JudgeNews::default();
    let (tx, streamed) = Streamed::start(live, news.clone(), 1)?;
    let mut mirror = history::MirrorBuilder::for_stale(&dir.history());
    let mut stopped = false;
    let read = history::stream_jsonl(&dir.history(), |ops| {
        // Once the judge leaves the verdict offline the rest of the stream is of no use:
        // the file is read whole next, so stop here rather than read it twice over.
        let given_up = news.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if let Some(mirror) = mirror.as_mut().filter(|_| !given_up) {
            mirror.append(&ops);
        }
        stopped = given_up || tx.send(ops).is_err();
        if stopped { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    drop(tx);
    // The stream stopped where the judge gave up, so nothing it decided covers the whole
    // history: the offline check decides everything.
    let (outcome, _, digested) = streamed.finish()?;
    read?;
    // A history without a current mirror gets one from this read, for every read after.
    if let Some(mirror) = mirror.filter(|_| !stopped) {
        mirror.seal();
    }
    match outcome {
        Outcome::Decided(results) => {
            write_json(&dir.results(), &results)?;
            crate::commands::report::render_digested(&dir.path, digested, Vec::new(), &quiet);
            Ok(*results)
        }
        Outcome::Offline(_) => {
            // The digest may have stopped short with the stream; the report is drawn from
            // the whole read.
            let (results, history) = offline()?;
            write_json(&dir.results(), &results)?;
            crate::commands::report::render(&dir.path, history.into_ops(), &quiet);
            Ok(results)
        }
    }
}

/// The plan of a stored run: its workload's, with the options it ran with.
fn run_plan(dir: &RunDir) -> Result<Plan> {
    let test = dir.read_test()?;
    judge::plan_for_run(&test.workload, &test.workload_options)
}

/// A Sunder history file inside a run folder (beside its `test.json`) is that run's.
fn beside_run(path: &Path, format: Format) -> Option<RunDir> {
    let dir = path.parent()?;
    (format == Format::Jsonl && dir.join("test.json").is_file()).then(|| RunDir::open(dir))
}

/// What a file is checked for when `--model` is not given: only where it is unambiguous.
fn default_plan(format: Format, history: &History) -> Result<Plan> {
    let client = || history.ops().iter().filter(|o| !o.is_nemesis());
    let fs: BTreeSet<&str> = client().map(|o| o.f.as_str()).collect();
    let only = |allowed: &[&str]| !fs.is_empty() && fs.iter().all(|f| allowed.contains(f));
    let read_values =
        || client().filter(|o| o.f == "read" && o.kind == sunder_check::OpType::Ok).map(|o| &o.value);
    Ok(Plan::one(match format {
        // Porcupine's kv format: a string register per key.
        Format::PorcupineKv => Check::Linearizable(ModelKind::Kv),
        // Jepsen's etcd log lines, as Porcupine checks them: a cas register starting at nil.
        Format::JepsenLog => Check::Linearizable(ModelKind::CasRegister { initial: None }),
        // Sunder's own history: the workload its ops belong to.
        Format::Jsonl if only(&["read", "write", "cas"]) => Check::Linearizable(ModelKind::Kv),
        Format::Jsonl if only(&["add", "read"]) && read_values().all(Value::is_array) => {
            Check::SetFull(SetFullSettings::default())
        }
        Format::Jsonl if only(&["add", "read"]) && read_values().all(Value::is_i64) => {
            Check::Counter(CounterSettings::default())
        }
        _ if only(&["get", "put", "append"]) => Check::Linearizable(ModelKind::Kv),
        // Plume's patterns are judged as its paper reads them: a read of a value no one
        // wrote (TAP-a) breaks read committed, and each session sees a key's versions in
        // order (its histories carry no time to order them otherwise).
        Format::Plume => Check::Transactions(TxnOptions {
            model: TxnModel::RwRegister,
            garbage_reads: true,
            sequential_keys: true,
            ..TxnOptions::default()
        }),
        // Transactions: list-append when any micro-op appends, else read-write registers.
        _ if only(&["txn"]) => {
            let appends = client().any(|o| {
                o.value.as_array().is_some_and(|ops| {
                    ops.iter().any(|m| {
                        m.get(0)
                            .and_then(Value::as_str)
                            .is_some_and(|f| f.trim_start_matches(':') == "append")
                    })
                })
            });
            let model = if appends { "list-append" } else { "rw-register" };
            Plan::from_str(model).map_err(|e| anyhow!(e))?.checks.remove(0)
        }
        _ => bail!(
            "{format} files do not say what they model (functions seen: {}); pass --model, e.g. \
             --model 'cas-register 0' (Knossos), --model bank, --model set-full, --model counter",
            fs.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }))
}
