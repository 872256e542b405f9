//! `sunder run`: resolves the test, creates the run folder and the network, starts the
//! cluster, runs the phases with the nemesis alongside, tears everything down (also on
//! Ctrl-C, on error and on panic), judges the history, writes `results.json` and the report,
//! and exits with the verdict's code.
//!
//! Order matters for safety: the network is built and, on netns, the harness moves into the
//! control namespace while it is still single-threaded, before the async runtime or any
//! socket exists, so no connection it ever makes can leave the test network.

use crate::cli::{RunArgs, key_value};
use crate::judge;
use crate::launcher::{Cluster, NodeSpec};
use crate::recorder::Recorder;
use crate::runlog::RunLog;
use crate::runner::{self, RunSettings};
use crate::status_timeline::StatusTimeline;
use crate::stop_signal::stop_signal;
use crate::store::{RunDir, TestSpec, rfc3339, write_json};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use sunder_check::history::{BatchSink, History, HistoryWriter, Strictness};
use sunder_check::import::Format;
use sunder_check::live::{self, LiveJudge};
use sunder_check::plan::Prejudged;
use sunder_check::verdict::Results;
use sunder_nemesis::schedule::{FaultKind, NemesisConfig, parse_faults};
use sunder_nemesis::{Clock, Nemesis, NetKind, Network, NetworkConfig, Target};
use sunder_systems::SystemSpec;
use sunder_workloads::Workload;
use tokio::sync::watch;

/// How long a node gets to become healthy.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(20);
/// The main phase's length when `--time-limit` is not given and faults are injected: with
/// the default 3 s interval, several windows of each default fault.
const DEFAULT_TIME_LIMIT_WITH_FAULTS: f64 = 30.0;
/// The main phase's length when `--time-limit` is not given and nothing is injected.
const DEFAULT_TIME_LIMIT: f64 = 10.0;
/// How long a cluster gets to elect a leader before clients start anyway.
const LEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The port every node listens on inside its own namespace (netns backend).
const NETNS_PORT: u16 = 7000;
/// Faults the remote backend cannot do: latency needs netem, which Sunder does not use.
const REMOTE_UNSUPPORTED: [FaultKind; 1] = [FaultKind::Latency];

/// Runs a test and returns the verdict's exit code.
pub fn run(args: RunArgs) -> Result<u8> {
    let Resolved { mut test, faults, net: kind, system, workload, hosts } = resolve(&args)?;
    // Refused before a run folder exists, so a run that cannot start leaves no stub behind.
    if kind == NetKind::Netns
        && let Err(why) = sunder_nemesis::net::netns_available()
    {
        bail!("--net netns is not available here: {why}; --net local runs without privileges");
    }
    let store = absolute(&args.store)?;
    let dir = RunDir::create(&store, &test.name, test.seed, SystemTime::now())?;
    let log = Arc::new(RunLog::create(&dir.log(), args.quiet)?);
    dir.mark_running(&test.run_id)?;
    log.info(format!(
        "run {} of {} ({} nodes, {} workload, nemesis {}, seed {}) in {}",
        test.run_id,
        test.system,
        test.nodes.len(),
        test.workload,
        if faults.is_empty() { "none".to_string() } else { test.nemesis.join(",") },
        test.seed,
        dir.path.display()
    ));
    let outcome = (|| {
        let network = Arc::new(match (hosts, &args.hosts) {
            (Some(hosts), Some(file)) => {
                crate::remote::connect(&test.run_id, hosts, file, &dir.path, log.clone())
                    .context("cannot use the remote hosts")?
            }
            _ => Network::create(&NetworkConfig {
                kind,
                run_id: test.run_id.clone(),
                nodes: test.nodes.clone(),
                port: NETNS_PORT,
                seed: test.seed,
            })
            .context("cannot build the test network")?,
        });
        log.info(format!("network: {}", network.choice()));
        if faults.contains(&FaultKind::Latency) && network.kind() == NetKind::Netns {
            bail!("{}", sunder_nemesis::net::latency_unsupported());
        }
        // Remote hosts give each node an address of its own, as netns does.
        let backend = if network.kind() == NetKind::Remote { NetKind::Netns } else { network.kind() };
        if !system.supports_backend(&backend.to_string()) {
            bail!(
                "{} runs only on the {} backend(s), not {}{}",
                system.name,
                system.capabilities.backends.join(", "),
                network.kind(),
                because(system)
            );
        }
        test.net = network.kind().to_string();
        if let (Some(remote), sunder_systems::spec::Program::Builtin(_)) =
            (network.as_remote(), &system.program)
        {
            let exe = std::env::current_exe().context("cannot find the sunder executable")?;
            remote.upload_binary(&exe).context("cannot upload the sunder binary")?;
        }
        // Still single-threaded here: after this, every socket lives in the test network.
        network.enter_control().context("cannot enter the control namespace")?;
        let clock = if faults.contains(&FaultKind::Clock) {
            let clock =
                Clock::new(&dir.path.join("clock"), &test.nodes).context("clock faults need libfaketime")?;
            match network.as_remote() {
                // Nodes on hosts read control files there: each offset is written there too.
                Some(_) => {
                    let net = network.clone();
                    let mirror: sunder_nemesis::clock::ClockMirror =
                        Arc::new(move |node: &str, content: &str| {
                            let remote = net.as_remote().expect("a remote network stays remote");
                            remote.write_clock(
                                node,
                                std::path::Path::new(sunder_nemesis::clock::LIBFAKETIME),
                                content,
                            )
                        });
                    Some(clock.mirrored(mirror).context("clock faults on the hosts need libfaketime there")?)
                }
                None => Some(clock),
            }
        } else {
            None
        };
        let specs = node_specs(&dir, &test.nodes, &network, clock.as_ref())?;
        dir.write_test(&test)?;
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let parts = RunParts { system, workload, network: network.clone(), clock, specs };
        let outcome = rt.block_on(run_test(&args, &test, &faults, &dir, &log, parts));
        drop(rt);
        // Idempotent: already done after a normal run; this covers an early error. Nodes are
        // stopped by now (a namespace lives on while a process is inside it).
        network.teardown().context("cannot tear the test network down")?;
        outcome
    })();
    dir.mark_finished();
    if let Err(e) = &outcome {
        log.detail(format!("error: {e:#}"));
    }
    outcome
}

/// Everything a run is made of, resolved and checked before anything starts.
struct Resolved {
    test: TestSpec,
    faults: Vec<FaultKind>,
    net: NetKind,
    system: &'static SystemSpec,
    workload: Arc<dyn Workload>,
    /// The hosts of `--hosts`, one per node.
    hosts: Option<Vec<sunder_nemesis::ssh::HostConfig>>,
}

fn resolve(args: &RunArgs) -> Result<Resolved> {
    let system = if crate::system_file::names_a_file(&args.system) {
        crate::system_file::load(std::path::Path::new(&args.system))?
    } else {
        match sunder_systems::catalog::find(&args.system) {
            Some(s) => s,
            None => bail!(
                "unknown system {:?}; known: {} (or a system file, path/to/system.toml)",
                args.system,
                sunder_systems::catalog::names().join(", ")
            ),
        }
    };
    let hosts = args.hosts.as_deref().map(crate::remote::hosts_file::load).transpose()?;
    let n = match &hosts {
        Some(h) if args.nodes.is_some_and(|n| n != h.len()) => {
            bail!(
                "--nodes {} disagrees with the {} hosts of --hosts; leave --nodes out",
                args.nodes.unwrap_or(0),
                h.len()
            )
        }
        Some(h) => h.len(),
        None => args.nodes.unwrap_or(system.default_nodes),
    };
    if n < system.min_nodes || n > system.max_nodes {
        bail!("{} runs with {} to {} nodes, not {n}", system.name, system.min_nodes, system.max_nodes);
    }
    let options: BTreeMap<String, String> =
        args.options.iter().map(|o| key_value(o)).collect::<Result<_>>().context("-o")?;
    system
        .validate_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(anyhow::Error::msg)?;
    if system.protocol == sunder_systems::spec::Protocol::EtcdGateway
        && let Some(reads) = options.get("reads")
    {
        reads.parse::<sunder_workloads::etcd_gateway::ReadMode>().map_err(|e| anyhow::anyhow!("-o {e}"))?;
    }
    let mut workload_options: BTreeMap<String, String> =
        args.workload_options.iter().map(|o| key_value(o)).collect::<Result<_>>().context("-w")?;
    if let Some(k) = args.keys
        && workload_options.insert("keys".into(), k.to_string()).is_some_and(|v| v != k.to_string())
    {
        bail!("--keys {k} and -w keys=... disagree; give one");
    }
    if sunder_workloads::catalog::find(&args.workload).is_none() {
        bail!(
            "unknown workload {:?}; known: {}",
            args.workload,
            sunder_workloads::catalog::names().join(", ")
        );
    }
    // Recorded whole, defaults included, so test.json says exactly what ran.
    for o in sunder_workloads::catalog::find(&args.workload).map_or(&[][..], |w| w.options) {
        workload_options.entry(o.key.to_string()).or_insert_with(|| o.default.to_string());
    }
    if !system.supports_workload(&args.workload) {
        bail!(
            "{} does not implement the {} workload; it supports: {}",
            system.name,
            args.workload,
            system.capabilities.workloads.join(", ")
        );
    }
    if !system.honest_cas(&options) && args.workload == "register" {
        if args.workload_options.iter().any(|o| o == "cas=true") {
            let hint =
                system.capabilities.cas_when.map(|(k, v)| format!(" unless -o {k}={v}")).unwrap_or_default();
            bail!("{} has no honest compare-and-set{hint}; leave out -w cas=true", system.name);
        }
        workload_options.insert("cas".into(), "false".into());
    }
    if let Some(b) = workload_options.get("bind")
        && b != "leader"
        && b != "nodes"
    {
        bail!("-w bind={b}: expected leader or nodes");
    }
    let workload: Arc<dyn Workload> = Arc::from(judge::workload(&args.workload, &workload_options)?);
    let mut options = options;
    for (key, value) in workload.system_options() {
        if system.option_default(key).is_none() {
            continue;
        }
        match options.get(key) {
            Some(given) if *given != value => bail!(
                "-o {key}={given} contradicts the {} workload, which needs {key}={value} (set it with -w)",
                args.workload
            ),
            _ => {
                options.insert(key.to_string(), value);
            }
        }
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let mut kind: NetKind = args.net.parse().map_err(|e| anyhow::anyhow!("--net: {e}"))?;
    if hosts.is_some() {
        if kind != NetKind::Auto && kind != NetKind::Remote {
            bail!("--hosts runs nodes on remote hosts; --net {kind} contradicts it");
        }
        kind = NetKind::Remote;
    } else if kind == NetKind::Remote {
        bail!("--net remote needs --hosts FILE (docs/remote.md)");
    }
    let nemesis = args.nemesis.as_deref().unwrap_or(system.default_nemesis);
    let faults = parse_faults(nemesis).map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    if faults.contains(&FaultKind::Clock) && !system.capabilities.clock_faults {
        bail!(
            "clock faults do not reach {}'s nodes{}; leave clock out of --nemesis",
            system.name,
            because(system)
        );
    }
    if let Some(f) = faults.iter().find(|f| !system.supports_fault(f.name())) {
        bail!(
            "{} does not take {} faults{}; it takes: {}",
            system.name,
            f.name(),
            because(system),
            system.capabilities.faults.unwrap_or_default().join(", ")
        );
    }
    if faults.contains(&FaultKind::Corrupt) && system.data_files.is_empty() {
        bail!("{} keeps no data files it can recover from; leave corrupt out of --nemesis", system.name);
    }
    if kind == NetKind::Remote
        && let Some(f) = faults.iter().find(|f| REMOTE_UNSUPPORTED.contains(f))
    {
        bail!(
            "{} faults are not done over SSH yet (docs/remote.md, limits); leave {} out of --nemesis",
            f.name(),
            f.name()
        );
    }
    let time_limit = args.time_limit.unwrap_or(if faults.is_empty() {
        DEFAULT_TIME_LIMIT
    } else {
        DEFAULT_TIME_LIMIT_WITH_FAULTS
    });
    for (flag, v) in [("--time-limit", time_limit), ("--nemesis-interval", args.nemesis_interval)] {
        if !(v > 0.0 && v.is_finite()) {
            bail!("{flag} must be a positive number of seconds");
        }
    }
    if !(args.recovery >= 0.0 && args.recovery.is_finite()) {
        bail!("--recovery must be zero or a positive number of seconds");
    }
    if let Some(r) = args.rate
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate must be a positive number of ops/s");
    }
    let targets = match &args.nemesis_targets {
        Some(list) => list
            .split(',')
            .map(|t| t.trim().parse::<Target>().map(|t| t.name().to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("--nemesis-targets: {e}"))?,
        None => vec![],
    };
    if !system.has_leader() && targets.iter().any(|t| t == Target::Leader.name()) {
        bail!("{} has no leader, so --nemesis-targets leader cannot aim at one", system.name);
    }
    let now = SystemTime::now();
    let nanos = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let seed = args.seed.unwrap_or(nanos % 1_000_000);
    // Unique per run even for equal seeds; short, because interface and chain names are.
    let run_id = format!(
        "{:08x}",
        (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
    );
    let test = TestSpec {
        name: args.name.clone().unwrap_or_else(|| format!("{}-{}", system.name, args.workload)),
        run_id,
        system: system.name.to_string(),
        nodes: match &hosts {
            Some(h) => h.iter().map(|h| h.node.clone()).collect(),
            None => (1..=n).map(|i| format!("n{i}")).collect(),
        },
        workload: args.workload.clone(),
        workload_options,
        protocol: system.protocol.name().to_string(),
        concurrency: args.concurrency,
        rate: args.rate,
        time_limit_s: time_limit,
        seed,
        net: String::new(),
        nemesis: faults.iter().map(|f| f.name().to_string()).collect(),
        nemesis_targets: targets,
        nemesis_interval_s: args.nemesis_interval,
        options,
        op_timeout_ms: args.op_timeout_ms,
        recovery_s: args.recovery,
        sunder_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: rfc3339(now),
    };
    Ok(Resolved { test, faults, net: kind, system, workload, hosts })
}

/// The system's own word on what it cannot take, as the end of a refusal.
fn because(system: &SystemSpec) -> String {
    system.capabilities.limits.map(|l| format!(" ({l})")).unwrap_or_default()
}

fn absolute(p: &std::path::Path) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(p).with_context(|| format!("cannot create store {}", p.display()))?;
    p.canonicalize().with_context(|| format!("cannot resolve {}", p.display()))
}

/// Where each node listens and how it dials its peers, as the network lays them out.
fn node_specs(dir: &RunDir, ids: &[String], net: &Network, clock: Option<&Clock>) -> Result<Vec<NodeSpec>> {
    ids.iter()
        .map(|id| {
            Ok(NodeSpec {
                id: id.clone(),
                listen: net.listen_addr(id)?,
                client_addr: net.client_addr(id)?,
                peers: net.peer_addrs(id)?,
                dir: dir.node_dir(id),
                env: match clock {
                    Some(c) => c.faketime_env(id)?,
                    None => vec![],
                },
            })
        })
        .collect()
}

/// Whether workers go to the leader nodes name (`-w bind=leader`, the default where a
/// workload offers `bind` and the system names leaders) rather than staying on their node.
fn leader_aware(system: &SystemSpec, test: &TestSpec) -> bool {
    system.capabilities.leader_hints
        && system.protocol == sunder_systems::spec::Protocol::SunderHttp
        && test.workload_options.get("bind").is_some_and(|b| b == "leader")
}

/// What a run's async part is handed: the system and workload, and the network, clock and
/// node layout built while the harness was still single-threaded.
struct RunParts {
    system: &'static SystemSpec,
    workload: Arc<dyn Workload>,
    network: Arc<Network>,
    clock: Option<Clock>,
    specs: Vec<NodeSpec>,
}

async fn run_test(
    args: &RunArgs,
    test: &TestSpec,
    faults: &[FaultKind],
    dir: &RunDir,
    log: &RunLog,
    parts: RunParts,
) -> Result<u8> {
    let RunParts { system, workload, network, clock, specs } = parts;
    let data_dirs = specs.iter().map(|s| (s.id.clone(), s.dir.join("data"))).collect();
    let cluster = Arc::new(
        Cluster::new(system, test.options.clone(), specs)?.in_network(&test.run_id, network.clone()),
    );
    let http = reqwest::Client::builder().no_proxy().build()?;
    cluster.start_all()?;
    cluster.wait_healthy(&http, HEALTH_TIMEOUT).await?;
    wait_leader(&cluster, log).await;
    log.info(format!("cluster healthy: {}", cluster.ids().join(", ")));

    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        stop_signal().await;
        let _ = stop_tx.send(true);
    });

    // A plan whose checkers consume ops in order is judged while the history is written;
    // the recorder then keeps nothing and the file is the history's only copy.
    let plan = workload.plan();
    let fail_semantics = Format::Jsonl.fail_semantics();
    // The run feeds the judge to the end and tells the offline check what it decided, so
    // causal memory's views are worth growing once linearizability fails.
    let live = if args.no_record {
        None
    } else {
        LiveJudge::new(&plan, fail_semantics).map(LiveJudge::with_memory_views)
    };
    let news: crate::progress::JudgeNews = Default::default();
    let (history, live_judge) = match live {
        Some(judge) => {
            let (tx, streamed) = crate::streamed::Streamed::start(judge, news.clone(), 256)?;
            let sink: BatchSink = Box::new(move |batch| {
                let _ = tx.send(batch);
            });
            (HistoryWriter::streaming(&dir.history(), sink)?, Some(streamed))
        }
        None if args.no_record => (HistoryWriter::in_memory(), None),
        None => (HistoryWriter::create(&dir.history())?, None),
    };
    let rec = Arc::new(Recorder::new(history));
    let timeline = StatusTimeline::start(system, cluster.client_addrs(), dir, std::time::Instant::now())?;
    let timeout = Duration::from_millis(test.op_timeout_ms);
    let client: Arc<dyn sunder_workloads::client::Client> = if leader_aware(system, test) {
        Arc::new(
            sunder_workloads::sunder_http::SunderHttp::new(cluster.client_addrs(), timeout)?.leader_aware(),
        )
    } else {
        sunder_workloads::client::for_protocol(
            system.protocol,
            cluster.client_addrs(),
            timeout,
            &with_defaults(system, &test.options),
        )?
    };
    let settings = RunSettings {
        concurrency: test.concurrency,
        rate: test.rate,
        time_limit: Duration::from_secs_f64(test.time_limit_s),
        seed: test.seed,
        nodes: cluster.ids(),
    };

    let mut cfg =
        NemesisConfig::new(faults.to_vec(), Duration::from_secs_f64(test.nemesis_interval_s), test.seed);
    if !test.nemesis_targets.is_empty() {
        cfg.targets = test.nemesis_targets.iter().map(|t| t.parse()).collect::<Result<_, _>>()?;
    }
    cfg.data_files = system.data_files.iter().map(|f| f.to_string()).collect();
    cfg.data_dirs = data_dirs;
    let network_for_teardown = network.clone();
    let mut nemesis = Nemesis::new(network, cluster.clone(), clock, cfg)?;
    let (main_done_tx, main_done_rx) = watch::channel(false);
    let nemesis_task = {
        let rec = rec.clone();
        let mut done = main_done_rx;
        tokio::spawn(async move {
            let mut report = |f: &str, v: Value| rec.nemesis(f, v);
            let r = nemesis
                .run(
                    async move { while !*done.borrow_and_update() && done.changed().await.is_ok() {} },
                    &mut report,
                )
                .await;
            (nemesis, r)
        })
    };

    let judged_live = live_judge.is_some().then(|| news.clone());
    let progress = crate::progress::start(rec.clone(), settings.time_limit, args.quiet, judged_live);
    let (started, cpu_before) = (std::time::Instant::now(), harness_cpu_seconds());
    let next_process =
        runner::main_phase(rec.clone(), client.clone(), workload.clone(), &settings, stop_rx.clone()).await;
    progress.abort();
    let completed = rec.counters.completed();
    let (secs, cpu) = (started.elapsed().as_secs_f64(), harness_cpu_seconds() - cpu_before);
    // The runner benchmark (scripts/bench-runner.sh) reads this line.
    log.detail(format!(
        "main phase: {completed} client ops in {secs:.3} s ({:.0} ops/s), harness CPU {cpu:.3} s ({:.2} us/op)",
        completed as f64 / secs,
        cpu / completed.max(1) as f64 * 1e6
    ));
    let _ = main_done_tx.send(true);
    let interrupted = *stop_rx.borrow();
    if interrupted {
        log.info("interrupted: ending the run early, then checking what was recorded");
    }

    rec.nemesis("phase", json!("heal"));
    let (mut nemesis, nemesis_result) = nemesis_task.await.context("the nemesis task panicked")?;
    if let Err(e) = &nemesis_result {
        log.info(format!("nemesis error (healing now): {e}"));
    }
    let mut report = |f: &str, v: Value| rec.nemesis(f, v);
    nemesis.heal_all(&mut report).await.context("cannot heal every fault")?;
    drop(nemesis);
    if !interrupted {
        if let Err(e) = cluster.wait_healthy(&http, HEALTH_TIMEOUT).await {
            log.info(format!("after heal: {e:#}"));
        }
        wait_leader(&cluster, log).await;
        tokio::time::sleep(Duration::from_secs_f64(test.recovery_s)).await;
    }
    runner::final_phase(rec.clone(), client, workload.as_ref(), &settings.nodes, next_process).await;
    signals.abort();
    timeline.stop().await;

    // Every op is in: the history is judged on its own thread while the nodes and the
    // network come down, so the verdict does not wait for the teardown.
    let final_ended = std::time::Instant::now();
    let recorded = rec.recorded();
    let ops = Arc::into_inner(rec).context("recorder still shared")?.finish()?;
    let history_file = dir.history();
    // Why the verdict is left to an offline check, told as soon as it is known: that check
    // reads the history back and judges every model on it, which on a long faulty run
    // takes a while after the teardown, and the user should know what they wait for.
    let (going_offline, gone_offline) = tokio::sync::oneshot::channel::<String>();
    // A failed nemesis fails the run after teardown; nothing is judged then.
    let judging = nemesis_result.is_ok().then(|| {
        tokio::task::spawn_blocking(move || -> Result<(ReportFrom, Results, String)> {
            let offline = |history: History, prejudged: &Prejudged| {
                let limits = judge::Limits::default();
                let results = judge::judge_knowing(&history, &plan, fail_semantics, limits, prejudged);
                (history, results)
            };
            let after = || format!("{:.3} s after the final phase", final_ended.elapsed().as_secs_f64());
            let Some(streamed) = live_judge else {
                let history = History::new(ops, Strictness::Strict)
                    .map_err(|v| anyhow::anyhow!("recorded history is invalid: {v}"))?;
                let (history, results) = offline(history, &Prejudged::default());
                return Ok((
                    ReportFrom::Ops(history),
                    results,
                    format!("judged offline: verdict {}", after()),
                ));
            };
            let (outcome, prejudged, digested) = streamed.finish()?;
            match outcome {
                live::Outcome::Decided(results) => {
                    let how = format!("judged while recording: verdict {}", after());
                    Ok((ReportFrom::Digest(Box::new(digested), None), *results, how))
                }
                live::Outcome::Offline(why) => {
                    let _ = going_offline.send(why.clone());
                    let imported = sunder_check::import::load(&history_file, Format::Jsonl)?;
                    let (history, results) = offline(imported.history, &prejudged);
                    let views = match &prejudged.clean_views {
                        Some(clean) => {
                            format!(", {} causal-memory views decided while recording", clean.clients.len())
                        }
                        None => String::new(),
                    };
                    let how = format!("judged offline ({why}){views}: verdict {}", after());
                    // The witnesses need the ops; the rest of the report is digested already.
                    Ok((ReportFrom::Digest(Box::new(digested), Some(history)), results, how))
                }
            }
        })
    });
    let stopper = cluster.clone();
    tokio::task::spawn_blocking(move || stopper.stop()).await?;
    // libfaketime leaves shared memory behind for every node that was SIGKILLed.
    for file in sunder_nemesis::clock::remove_faketime_leftovers(cluster.started_pids()) {
        log.detail(format!("removed libfaketime leftover {}", file.display()));
    }
    drop(cluster);
    // Nodes are gone, so the namespaces can go now, before the long check and render: a
    // harness killed from here on leaves nothing of the network behind.
    tokio::task::spawn_blocking(move || network_for_teardown.teardown())
        .await?
        .context("cannot tear the test network down")?;
    log.info(format!("teardown complete; {recorded} ops recorded"));
    nemesis_result.context("the nemesis failed")?;
    // The sender goes with the judging closure: a verdict decided while recording, or one
    // judged whole from the start, says nothing here.
    if let Ok(why) = gone_offline.await {
        log.info(format!(
            "judging offline, since {why}: reading the history back and checking every model on it"
        ));
    }
    let judging = judging.context("nothing was judged")?;
    let (history, results, how) = judging.await.context("the checkers panicked")??;
    write_json(&dir.results(), &results)?;
    // The runner benchmark (docs/benchmarks.md) reads this line: the peak so far is the
    // harness's until the verdict, before the report is drawn.
    log.detail(format!("{how}; harness peak memory {}", peak_memory()));
    log.info(judge::summary(&results));
    match history {
        ReportFrom::Ops(history) => crate::commands::report::render(&dir.path, history.into_ops(), log),
        // Streamed: the report was digested as the history was written.
        ReportFrom::Digest(digested, history) => crate::commands::report::render_digested(
            &dir.path,
            *digested,
            history.map(History::into_ops).unwrap_or_default(),
            log,
        ),
    }
    if !args.quiet {
        println!("{}", dir.path.display());
    }
    Ok(results.valid.exit_code() as u8)
}

/// What the report of a run is drawn from.
enum ReportFrom {
    /// The history, held whole.
    Ops(History),
    /// The digest gathered while the history was written, and the history when it was read
    /// back to be judged offline (its witnesses need the ops).
    Digest(Box<sunder_report::digest::Digested>, Option<History>),
}

/// The system's `-o` options as given, each missing one at its default (what the nodes and
/// the client act on).
fn with_defaults(system: &SystemSpec, given: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut all: BTreeMap<String, String> =
        system.options.iter().map(|o| (o.key.to_string(), o.default.to_string())).collect();
    all.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// CPU time (user + system, all threads) this process has used.
/// The process's peak resident memory so far, as `/proc` says it (`VmHWM`).
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn harness_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Waits until some node says it leads, so clients do not start into an election; a
/// system without a leader waits for nothing.
async fn wait_leader(cluster: &Cluster, log: &RunLog) {
    if !cluster.system().has_leader() {
        return;
    }
    let deadline = tokio::time::Instant::now() + LEADER_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if let Some(l) = sunder_nemesis::process::Cluster::leader(cluster).await {
            log.detail(format!("leader: {l}"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    log.info(format!("no leader after {} s; starting anyway", LEADER_TIMEOUT.as_secs()));
}
