//! `sunder run`: resolves the test, creates the run folder, starts the cluster, runs the
//! phases, tears everything down (also on Ctrl-C and on error), judges the history, writes
//! `results.json`, and exits with the verdict's code.

use crate::cli::{RunArgs, key_value};
use crate::judge;
use crate::launcher::{Cluster, NodeSpec, free_local_addr};
use crate::recorder::Recorder;
use crate::runlog::RunLog;
use crate::runner::{self, RunSettings};
use crate::store::{RunDir, TestSpec, rfc3339, write_json};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use sunder_check::history::{History, HistoryWriter, Strictness};
use sunder_check::import::Format;
use sunder_workloads::kv_client::KvClient;
use tokio::sync::watch;

/// How long a node gets to become healthy.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long nodes get to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Runs a test and returns the verdict's exit code.
pub fn run(args: RunArgs) -> Result<u8> {
    let test = resolve(&args)?;
    let store = absolute(&args.store)?;
    let dir = RunDir::create(&store, &test.name, test.seed, SystemTime::now())?;
    let log = RunLog::create(&dir.log(), args.quiet)?;
    std::fs::write(dir.harness_pid(), format!("{} {}\n", std::process::id(), test.run_id))?;
    log.info(format!(
        "run {} of {} ({} nodes, {} workload, seed {}) in {}",
        test.run_id,
        test.system,
        test.nodes.len(),
        test.workload,
        test.seed,
        dir.path.display()
    ));
    let specs = local_node_specs(&dir, &test.nodes)?;
    let mut test = test;
    test.net = "local".into();
    dir.write_test(&test)?;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let outcome = rt.block_on(run_test(&args, &test, &dir, &log, specs));
    drop(rt);
    let _ = std::fs::remove_file(dir.harness_pid());
    let code = outcome?;
    Ok(code)
}

fn resolve(args: &RunArgs) -> Result<TestSpec> {
    let Some(system) = sunder_systems::catalog::find(&args.system) else {
        let known: Vec<&str> = sunder_systems::catalog::SYSTEMS.iter().map(|s| s.name).collect();
        bail!("unknown system {:?}; known: {}", args.system, known.join(", "));
    };
    if sunder_workloads::catalog::find(&args.workload).is_none() {
        let known: Vec<&str> = sunder_workloads::catalog::WORKLOADS.iter().map(|w| w.name).collect();
        bail!("unknown workload {:?}; known: {}", args.workload, known.join(", "));
    }
    let n = args.nodes.unwrap_or(3.clamp(system.min_nodes, system.max_nodes));
    if n < system.min_nodes || n > system.max_nodes {
        bail!("{} runs with {} to {} nodes, not {n}", system.name, system.min_nodes, system.max_nodes);
    }
    let options: BTreeMap<String, String> =
        args.options.iter().map(|o| key_value(o)).collect::<Result<_>>().context("-o")?;
    system
        .validate_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(anyhow::Error::msg)?;
    if args.keys == 0 || args.concurrency == 0 {
        bail!("--keys and --concurrency must be at least 1");
    }
    if !(args.time_limit > 0.0 && args.time_limit.is_finite()) {
        bail!("--time-limit must be a positive number of seconds");
    }
    if let Some(r) = args.rate
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate must be a positive number of ops/s");
    }
    let now = SystemTime::now();
    let nanos = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let seed = args.seed.unwrap_or(nanos % 1_000_000);
    // Unique per run even for equal seeds; short, because interface and chain names are.
    let run_id = format!(
        "{:08x}",
        (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
    );
    Ok(TestSpec {
        name: args.name.clone().unwrap_or_else(|| format!("{}-{}", args.system, args.workload)),
        run_id,
        system: system.name.to_string(),
        nodes: (1..=n).map(|i| format!("n{i}")).collect(),
        workload: args.workload.clone(),
        keys: args.keys,
        concurrency: args.concurrency,
        rate: args.rate,
        time_limit_s: args.time_limit,
        seed,
        net: String::new(),
        nemesis: vec![],
        nemesis_interval_s: 0.0,
        options,
        op_timeout_ms: args.op_timeout_ms,
        recovery_s: args.recovery,
        sunder_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: rfc3339(now),
    })
}

fn absolute(p: &std::path::Path) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(p).with_context(|| format!("cannot create store {}", p.display()))?;
    p.canonicalize().with_context(|| format!("cannot resolve {}", p.display()))
}

/// Node specs for the local backend: 127.0.0.1, free ports, peers dialed directly.
fn local_node_specs(dir: &RunDir, ids: &[String]) -> Result<Vec<NodeSpec>> {
    let addrs: Vec<_> = ids.iter().map(|_| free_local_addr()).collect::<Result<_>>()?;
    Ok(ids
        .iter()
        .zip(&addrs)
        .map(|(id, addr)| NodeSpec {
            id: id.clone(),
            listen: *addr,
            client_addr: *addr,
            peers: ids.iter().zip(&addrs).filter(|(p, _)| *p != id).map(|(p, a)| (p.clone(), *a)).collect(),
            dir: dir.node_dir(id),
            netns: None,
            env: vec![],
        })
        .collect())
}

async fn run_test(
    args: &RunArgs,
    test: &TestSpec,
    dir: &RunDir,
    log: &RunLog,
    specs: Vec<NodeSpec>,
) -> Result<u8> {
    let cluster = Cluster::new(&test.system, test.options.clone(), specs)?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    cluster.start_all()?;
    cluster.wait_healthy(&http, HEALTH_TIMEOUT).await?;
    log.info(format!("cluster healthy: {}", cluster.ids().join(", ")));

    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        let _ = stop_tx.send(true);
    });

    let writer = if args.no_record { None } else { Some(HistoryWriter::create(&dir.history())?) };
    let rec = Arc::new(Recorder::new(writer));
    let client = KvClient::new(cluster.client_addrs(), Duration::from_millis(test.op_timeout_ms))?;
    let settings = RunSettings {
        concurrency: test.concurrency,
        rate: test.rate,
        time_limit: Duration::from_secs_f64(test.time_limit_s),
        keys: test.keys,
        seed: test.seed,
    };
    let progress = crate::progress::start(rec.clone(), settings.time_limit, args.quiet);
    let next_process = runner::main_phase(rec.clone(), client.clone(), &settings, stop_rx.clone()).await;
    progress.abort();
    let interrupted = *stop_rx.borrow();
    if interrupted {
        log.info("interrupted: ending the run early, then checking what was recorded");
    }
    rec.nemesis("phase", json!("heal"));
    if !interrupted {
        tokio::time::sleep(Duration::from_secs_f64(test.recovery_s)).await;
    }
    runner::final_phase(rec.clone(), client, test.keys, next_process).await;
    signals.abort();

    let cluster_stop = tokio::task::spawn_blocking(move || {
        cluster.stop_all(STOP_GRACE);
        drop(cluster);
    });
    let ops = Arc::into_inner(rec).context("recorder still shared")?.finish()?;
    cluster_stop.await?;
    log.info(format!("teardown complete; {} ops recorded", ops.len()));

    let history = History::new(ops, Strictness::Strict)
        .map_err(|v| anyhow::anyhow!("recorded history is invalid: {v}"))?;
    let judgement = judge::for_workload(&test.workload)?;
    let results = judge::judge(&history, &judgement, Format::Jsonl.fail_semantics(), judge::Limits::default());
    write_json(&dir.results(), &results)?;
    log.info(judge::summary(&results));
    if !args.quiet {
        println!("{}", dir.path.display());
    }
    Ok(results.valid.exit_code() as u8)
}
