//! The status timeline: for a system whose spec asks for it
//! (`Capabilities::status_timeline`, bank-2pc's transactions in doubt and locks held), a
//! task that asks every node for `GET /status` about every 200 ms while the run goes on and
//! appends each answer as one JSON line to `nodes/<node>/status.jsonl` in the run folder.
//! Each line is written whole as soon as it is known, so a run that dies midway keeps what
//! was sampled. A node that does not answer (killed, paused, partitioned away) is a line
//! saying so, which is what lets the report draw gaps honestly. Times are nanoseconds since
//! the run began, on the history's clock (the sampler's start is taken right after the
//! recorder's, microseconds apart).
//!
//! Line format: `{"time": NS, "node": ID, "ok": true, "status": {...}}` with the node's
//! status body as it answered, or `{"time": NS, "node": ID, "ok": false, "error": TEXT}`.

use crate::store::RunDir;
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use sunder_systems::spec::SystemSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often every node is asked.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);
/// How long one node gets to answer before its sample says it did not.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(150);

/// The running sampler (or nothing, for a system that does not ask for one).
pub struct StatusTimeline {
    running: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// One node's file and address.
struct Sampled {
    node: String,
    addr: SocketAddr,
    file: std::fs::File,
}

impl StatusTimeline {
    /// Starts sampling the nodes at `addrs` into `dir`'s node folders when `system` asks
    /// for a status timeline; `run_start` is the instant the history's times count from.
    pub fn start(
        system: &SystemSpec,
        addrs: BTreeMap<String, SocketAddr>,
        dir: &RunDir,
        run_start: Instant,
    ) -> Result<StatusTimeline> {
        if !system.capabilities.status_timeline {
            return Ok(StatusTimeline { running: None });
        }
        let mut nodes = Vec::new();
        for (node, addr) in addrs {
            let folder = dir.node_dir(&node);
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
            let path = folder.join("status.jsonl");
            let file =
                std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            nodes.push(Sampled { node, addr, file });
        }
        let http = reqwest::Client::builder().no_proxy().timeout(ANSWER_TIMEOUT).build()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(sample_until_stopped(http, nodes, run_start, stop_rx));
        Ok(StatusTimeline { running: Some((stop_tx, task)) })
    }

    /// Stops sampling and waits for the last line to be written.
    pub async fn stop(self) {
        if let Some((stop, task)) = self.running {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }
}

async fn sample_until_stopped(
    http: reqwest::Client,
    mut nodes: Vec<Sampled>,
    run_start: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        // Every node is asked at once, so one that hangs does not delay the others' samples.
        let asks: Vec<_> = nodes.iter().map(|n| tokio::spawn(ask(http.clone(), n.addr, run_start))).collect();
        for (n, ask) in nodes.iter_mut().zip(asks) {
            let (time, answer) = ask.await.unwrap_or_else(|e| {
                (run_start.elapsed().as_nanos() as u64, Err(format!("sampler task failed: {e}")))
            });
            let line = match answer {
                Ok(status) => json!({"time": time, "node": n.node, "ok": true, "status": status}),
                Err(error) => json!({"time": time, "node": n.node, "ok": false, "error": error}),
            };
            // One write per line, so a reader never sees half a sample; a sample that cannot
            // be written is lost, and the run itself goes on.
            let mut text = line.to_string();
            text.push('\n');
            let _ = n.file.write_all(text.as_bytes());
        }
    }
}

/// One `GET /status`: when it ended (ns since the run began), and the body or why there
/// was none.
async fn ask(http: reqwest::Client, addr: SocketAddr, run_start: Instant) -> (u64, Result<Value, String>) {
    let answer = fetch(&http, addr).await;
    (run_start.elapsed().as_nanos() as u64, answer)
}

async fn fetch(http: &reqwest::Client, addr: SocketAddr) -> Result<Value, String> {
    let reply = http.get(format!("http://{addr}/status")).send().await.map_err(|e| e.to_string())?;
    if !reply.status().is_success() {
        return Err(format!("status {}", reply.status()));
    }
    reply.json::<Value>().await.map_err(|e| format!("unreadable status body: {e}"))
}
