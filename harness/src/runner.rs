//! The runner: drives a workload through its phases, knowing it only as a `dyn Workload`
//! and its client only as a `dyn Client`. Main: `concurrency` workers, each one process at
//! a time, until the time limit or Ctrl-C; a worker whose op ended `info` goes on under a
//! fresh process number. Heal: every fault ends (the nemesis's job), then the system gets
//! time to recover. Final: the workload's final operations on every node, so checkers can
//! judge convergence and lost writes.

use crate::recorder::Recorder;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use sunder_check::history::{Op, OpType, Process};
use sunder_workloads::client::Client;
use sunder_workloads::{Completion, Invocation, Outcome, Workload};
use tokio::sync::watch;

/// Pause after a node could not serve an op (down, partitioned away, no leader).
const UNAVAILABLE_BACKOFF: Duration = Duration::from_millis(100);

/// What the runner needs to know.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Client workers.
    pub concurrency: usize,
    /// Total ops/s cap, if any.
    pub rate: Option<f64>,
    /// Length of the main phase.
    pub time_limit: Duration,
    /// The run's seed.
    pub seed: u64,
    /// Node ids; worker `w` talks to node `w mod n`.
    pub nodes: Vec<String>,
}

fn op_type(o: Outcome) -> OpType {
    match o {
        Outcome::Ok => OpType::Ok,
        Outcome::Fail => OpType::Fail,
        Outcome::Info => OpType::Info,
    }
}

/// Performs one invocation as `process` at `node` and records both halves; returns the
/// completion.
pub async fn perform(
    rec: &Recorder,
    client: &dyn Client,
    process: u64,
    node: &str,
    inv: &Invocation,
) -> Completion {
    let op = |kind, value, node: &str, error| Op {
        index: 0,
        time: 0,
        process: Process::Client(process),
        kind,
        f: inv.f.into(),
        key: inv.key.as_deref().map(Into::into),
        value,
        node: Some(node.into()),
        error,
        siblings: None,
    };
    rec.record(op(OpType::Invoke, inv.value.clone(), node, None));
    let c = client.invoke(node, inv).await;
    rec.record(Op {
        siblings: c.siblings.as_deref().map(Into::into),
        ..op(op_type(c.outcome), c.value.clone(), &c.node, c.error.as_deref().map(Into::into))
    });
    c
}

/// Runs the main phase until the time limit or until `stop` turns true; returns the next
/// unused process number.
pub async fn main_phase(
    rec: Arc<Recorder>,
    client: Arc<dyn Client>,
    workload: Arc<dyn Workload>,
    settings: &RunSettings,
    stop: watch::Receiver<bool>,
) -> u64 {
    let nodes = &settings.nodes;
    let c = settings.concurrency as u64;
    let deadline = Instant::now() + settings.time_limit;
    // Each worker paces itself to its share of the total rate.
    let period = settings.rate.map(|r| Duration::from_secs_f64(settings.concurrency as f64 / r.max(1e-9)));
    let mut tasks = Vec::new();
    for w in 0..c {
        let rec = rec.clone();
        let client = client.clone();
        let node = nodes[w as usize % nodes.len()].clone();
        let mut stop = stop.clone();
        let mut generator = workload.generator(settings.seed, w, c);
        tasks.push(tokio::spawn(async move {
            let mut process = w;
            let mut next_at = Instant::now();
            while Instant::now() < deadline && !*stop.borrow() {
                if let Some(p) = period {
                    next_at += p;
                    let wait = next_at.saturating_duration_since(Instant::now());
                    if !wait.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = stop.changed() => continue,
                        }
                    }
                }
                let inv = generator.next_op();
                let done = perform(&rec, client.as_ref(), process, &node, &inv).await;
                generator.observe(&inv, &done);
                if done.outcome == Outcome::Info {
                    process += c;
                }
                if done.unavailable {
                    // A dead or leaderless node answers at once; do not spin on it.
                    tokio::select! {
                        _ = tokio::time::sleep(UNAVAILABLE_BACKOFF) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            process
        }));
    }
    let mut next = c;
    for t in tasks {
        if let Ok(p) = t.await {
            next = next.max(p + 1);
        }
    }
    next
}

/// How long the final phase keeps retrying an operation that did not succeed.
const FINAL_READ_DEADLINE: Duration = Duration::from_secs(15);

/// The final phase: the workload's final operations on every node, concurrently across
/// nodes. One that does not succeed (no leader yet, node still catching up) is retried
/// until it does or the deadline passes, so convergence is judged on what the system
/// settles to, not on an election in progress. Every attempt is in the history.
pub async fn final_phase(
    rec: Arc<Recorder>,
    client: Arc<dyn Client>,
    workload: &dyn Workload,
    nodes: &[String],
    first_process: u64,
) {
    rec.nemesis("phase", json!("final"));
    let next_process = Arc::new(AtomicU64::new(first_process));
    let deadline = Instant::now() + FINAL_READ_DEADLINE;
    let final_ops = Arc::new(workload.final_ops());
    let mut tasks = Vec::new();
    for node in nodes {
        let node = node.clone();
        let rec = rec.clone();
        let client = client.clone();
        let next_process = next_process.clone();
        let final_ops = final_ops.clone();
        tasks.push(tokio::spawn(async move {
            let mut process = next_process.fetch_add(1, Ordering::Relaxed);
            for inv in final_ops.iter() {
                loop {
                    let done = perform(&rec, client.as_ref(), process, &node, inv).await;
                    if done.outcome == Outcome::Info {
                        process = next_process.fetch_add(1, Ordering::Relaxed);
                    }
                    if done.outcome == Outcome::Ok || Instant::now() >= deadline {
                        break;
                    }
                    tokio::time::sleep(UNAVAILABLE_BACKOFF).await;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
