//! The command line, declared with clap. Each subcommand's work lives in its own file
//! under `commands/`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Sunder: chaos tests for distributed systems, with verdicts you can trust.
#[derive(Debug, Parser)]
#[command(name = "sunder", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sunder's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a chaos test: start a cluster, drive clients, inject faults, check, report.
    Run(RunArgs),
    /// Re-check a stored run folder or any history file.
    Check(CheckArgs),
    /// Run one node of a system (the launcher starts these; rarely typed by hand).
    Node(NodeArgs),
    /// End leftover nodes of runs whose harness died.
    Cleanup(CleanupArgs),
    /// (Re)render a run folder's report.html, junit.xml and summary.md.
    Report(ReportArgs),
    /// Serve the store over HTTP: a table of runs, each run's report and files.
    Serve(ServeArgs),
    /// Run a suite file: a matrix of runs, one verdict, one comparison page.
    Suite(SuiteArgs),
}

/// `sunder suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// The suite file (TOML).
    pub file: PathBuf,
    /// The store folder: each cell's run folder, and the suite's folder under `suites/`.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Cells run at once (at most the machine's cores).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Start no new cell after one fails its expectation or errs.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run only cells whose id contains this text (repeatable: any of them).
    #[arg(long)]
    pub filter: Vec<String>,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `sunder report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run folder, or a bare history file.
    pub path: PathBuf,
    /// Where to write the report of a bare history file (default: beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `sunder serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store folder to serve.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Address to listen on; localhost unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
}

/// `sunder run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The system under test.
    #[arg(long, default_value = "raft-kv")]
    pub system: String,
    /// Number of nodes (default: the system's usual size).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// The workload clients run: register, set, counter.
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// Workload option KEY=VALUE (repeatable), e.g. `-w keys=3`, `-w negative=true`.
    #[arg(short = 'w', value_name = "KEY=VALUE")]
    pub workload_options: Vec<String>,
    /// Keys the workload spreads over (the same as `-w keys=K`).
    #[arg(long)]
    pub keys: Option<usize>,
    /// Concurrent client workers.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Total operations per second cap (default: as fast as the system answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds of the main phase (default: 30 with faults, enough for several windows of
    /// each, else 10).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Seed for every random choice (default: drawn from the clock, and recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The store folder.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Test name (store sub-folder; default: `<system>-<workload>`).
    #[arg(long)]
    pub name: Option<String>,
    /// System option KEY=VALUE, passed to every node (repeatable).
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Network backend: auto (netns when root with iptables, else local), netns, local; or
    /// remote, which `--hosts` implies.
    #[arg(long, default_value = "auto")]
    pub net: String,
    /// Run each node on a real host over SSH, as this hosts file says (docs/remote.md).
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Faults to inject: comma-separated partition, kill, pause, clock, loss, latency (local
    /// backend only), corrupt (damage a killed node's data files); or none (default: the
    /// system's usual faults; raft-kv: partition,kill).
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Which nodes kill, pause, clock and loss faults hit: comma-separated one, minority,
    /// majority, all, leader (default: all of these, drawn by the seed).
    #[arg(long)]
    pub nemesis_targets: Option<String>,
    /// Mean seconds between fault changes.
    #[arg(long, default_value_t = 3.0)]
    pub nemesis_interval: f64,
    /// Per-operation client timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// Seconds the system gets to recover between heal and the final reads.
    #[arg(long, default_value_t = 1.0)]
    pub recovery: f64,
    /// No progress line or milestones on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Do not write history.jsonl (only to measure the cost of recording).
    #[arg(long, hide = true)]
    pub no_record: bool,
}

/// `sunder check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A run folder or a history file.
    pub path: PathBuf,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// What to check against: a linearizability model (`kv`, `register`, `cas-register 0`,
    /// `multi-register`, `fifo-queue`, `mutex`, `linearizable:set`, ...) or an invariant
    /// checker (`bank`, `set`, `set-full`, `counter`, `unique-ids`). Default: the run's
    /// workload (from `test.json`), or what the file's contents make unambiguous.
    #[arg(long)]
    pub model: Option<String>,
    /// The file's format: auto, jsonl, jepsen-edn, jepsen-json, jepsen-log, porcupine-kv, plume.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Seconds each search-based checker may spend before answering unknown.
    #[arg(long)]
    pub time_budget: Option<f64>,
    /// MiB of search memo the linearizability checker may use before answering unknown
    /// (default 1024).
    #[arg(long)]
    pub memory_budget: Option<u64>,
    /// Judge a run folder's history read whole, by the offline checkers, even where the
    /// streaming judge would decide it as it is read (same verdict; the search's account
    /// in the linearizability checker's details, and the history held in memory).
    #[arg(long)]
    pub offline: bool,
}

/// `sunder node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The system to run.
    pub system: String,
    /// This node's id.
    #[arg(long)]
    pub id: String,
    /// Address to listen on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// The run this node belongs to; only there so `sunder cleanup` can recognise it.
    #[arg(long)]
    pub run_id: Option<String>,
    /// A peer, ID=ADDR (repeatable).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peers: Vec<String>,
    /// System option KEY=VALUE (repeatable).
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

/// `sunder cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The store folder to scan.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Also clean the hosts of this hosts file: dead runs' nodes, chains and dirs.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
}

/// Splits `KEY=VALUE`.
pub fn key_value(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => anyhow::bail!("expected KEY=VALUE, got {s:?}"),
    }
}
