//! `sunder suite FILE.toml`: expands the suite file into cells, runs each as a child
//! `sunder run` (`--jobs` at once), prints one line per finished cell under a bar for the
//! whole suite, writes the suite folder, and exits with the worst outcome: 0 every cell as
//! expected, 1 some cell failed its expectation, 2 some run was undecided, 3 the harness
//! failed in some cell.
//!
//! Parallel cells are safe on both backends: on netns every run builds its own namespaces,
//! named after its own run id (each child is a process of its own, so ids differ), with its
//! subnet inside them; on local every run draws node ports from a pool starting at a
//! per-process offset, so a collision is rare and, when it happens, ends that cell in a
//! harness error, never in a wrong verdict. What parallel cells share is the CPU: more
//! clusters than cores measure the machine, so `--jobs` beyond the cores is refused.

use crate::cli::SuiteArgs;
use crate::store::rfc3339;
use crate::suite::cell_run::{self, CellEnv};
use crate::suite::{file, matrix, output};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};
use sunder_report::compare::record::{CellRecord, Counts, Outcome, SUITE_SCHEMA, SuiteRecord};

/// Runs a suite and returns its exit code.
pub fn run(args: SuiteArgs) -> Result<u8> {
    let suite = file::load(&args.file)?;
    let cells = matrix::expand(&suite, &args.filter)
        .with_context(|| format!("suite file {}", args.file.display()))?;
    if cells.is_empty() {
        bail!("no cell of {} matches --filter {}", args.file.display(), args.filter.join(", "));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if args.jobs > cores {
        bail!(
            "--jobs {} is more than this machine's {cores} core(s): each cell is a whole cluster with clients and \
             a checker, and more of them than cores would measure the machine, not the system; use --jobs {cores} or fewer",
            args.jobs
        );
    }
    std::fs::create_dir_all(&args.store)
        .with_context(|| format!("cannot create store {}", args.store.display()))?;
    let store =
        args.store.canonicalize().with_context(|| format!("cannot resolve {}", args.store.display()))?;
    let started = SystemTime::now();
    let dir = output::create_dir(&store, &suite.name, started)?;
    output::write_plan(&dir, &args.file, &store, args.jobs, &args.filter, &cells)?;
    let env = CellEnv {
        exe: std::env::current_exe().context("cannot find the sunder executable")?,
        store: store.clone(),
        log_dir: dir.join("cells"),
    };
    let progress = Progress::new(cells.len(), args.quiet);
    progress.say(format!(
        "suite {}: {} cells, {} at a time, in {}",
        suite.name,
        cells.len(),
        args.jobs,
        dir.display()
    ));
    let clock = Instant::now();
    let records = run_cells(&env, &cells, args.jobs, args.fail_fast, &progress);
    progress.finish();
    let outcome = SuiteRecord::worst(&records);
    let record = SuiteRecord {
        schema: SUITE_SCHEMA.to_string(),
        suite: suite.name.clone(),
        file: args.file.display().to_string(),
        started_at: rfc3339(started),
        finished_at: rfc3339(SystemTime::now()),
        wall_s: clock.elapsed().as_secs_f64(),
        jobs: args.jobs,
        outcome,
        exit_code: outcome.exit_code(),
        counts: Counts::of(&records),
        cells: records,
    };
    output::write_results(&dir, &record)?;
    let c = &record.counts;
    progress.say(format!(
        "suite {}: {} ({} passed, {} failed, {} unknown, {} errors, {} not run) in {:.0} s; {}",
        record.suite,
        outcome.as_str(),
        c.pass,
        c.fail,
        c.unknown,
        c.error,
        c.skipped,
        record.wall_s,
        dir.join("compare.html").display()
    ));
    if !args.quiet {
        println!("{}", dir.display());
    }
    Ok(record.exit_code)
}

/// Runs every cell, `jobs` at a time, in matrix order; the records come back in the same
/// order. With `fail_fast`, cells not yet started when one fails or errs are not run.
fn run_cells(
    env: &CellEnv,
    cells: &[matrix::Cell],
    jobs: usize,
    fail_fast: bool,
    progress: &Progress,
) -> Vec<CellRecord> {
    let queue = Mutex::new((0..cells.len()).collect::<VecDeque<usize>>());
    let done: Mutex<Vec<Option<CellRecord>>> = Mutex::new(vec![None; cells.len()]);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Some(i) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else { return };
                    let rec = cell_run::run(env, i + 1, &cells[i]);
                    if fail_fast && matches!(rec.outcome, Outcome::Fail | Outcome::Error) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    progress.cell_done(&rec);
                    done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(rec);
                }
            });
        }
    });
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.into_iter().zip(cells).map(|(r, c)| r.unwrap_or_else(|| cell_run::not_run(c))).collect()
}

/// The suite's progress: a bar on a terminal, and one line per finished cell either way.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    finished: Mutex<usize>,
    quiet: bool,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} cells  {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b
        });
        Progress { bar, total, finished: Mutex::new(0), quiet }
    }

    fn say(&self, line: String) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.println(format!("sunder: {line}")),
            None => eprintln!("sunder: {line}"),
        }
    }

    fn cell_done(&self, rec: &CellRecord) {
        let n = {
            let mut f = self.finished.lock().unwrap_or_else(|p| p.into_inner());
            *f += 1;
            *f
        };
        let width = self.total.to_string().len();
        self.say(format!(
            "[{n:>width$}/{}] {:<7} {} ({} expected {}, {:.1} s){}",
            self.total,
            rec.outcome.as_str().to_uppercase(),
            rec.id,
            rec.verdict,
            rec.expect,
            rec.wall_s,
            match rec.outcome {
                Outcome::Pass => String::new(),
                _ => format!(": {}", rec.why),
            }
        ));
        if let Some(b) = &self.bar {
            b.set_position(n as u64);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
