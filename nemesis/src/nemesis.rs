//! The nemesis of a run: it executes the [`Schedule`] against the [`Network`], the
//! harness's [`Cluster`] and the [`Clock`], one fault at a time (a seeded wait quiet, a
//! seeded wait with the fault in force), and reports each start and end through a callback
//! the harness turns into nemesis ops of the history. A start is reported once the fault
//! is in force, an end once it is undone. A corrupt fault kills a node, damages one of
//! its data files ([`crate::disk`]) and restarts it at its end. A system may rightly
//! refuse to start on damaged data: the end then says so (`refused`), puts the file back
//! as it was before the damage (as an operator restoring it would) and starts the node
//! once more, so one refusal does not leave the cluster a node short for the rest of the
//! run. [`Nemesis::heal_all`] ends whatever is active
//! (resuming paused nodes, restarting killed ones) and then heals the network, clears loss
//! and latency and resets every clock regardless, in case something else left them.
//!
//! Network changes run on tokio's blocking pool (they start `iptables-restore`), so the
//! harness's runtime threads never wait on a process.

use crate::clock::Clock;
use crate::disk;
use crate::error::{NemesisError, Result};
use crate::grudge::{self, Grudge, PartitionShape};
use crate::net::Network;
use crate::process::{self, Cluster};
use crate::schedule::{FaultKind, NemesisConfig, Plan, Schedule};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The callback that records a nemesis op: `f` (`start-partition`, `stop-kill`, ...) and a
/// value saying what was done to whom.
pub type Report<'a> = &'a mut (dyn FnMut(&str, Value) + Send);

/// The fault in force, with what is needed to undo it.
#[derive(Debug)]
enum Active {
    Partition { value: Value },
    Kill { nodes: Vec<String> },
    Pause { nodes: Vec<String> },
    Clock { nodes: Vec<String>, strobe: Option<(oneshot::Sender<()>, JoinHandle<Result<()>>)> },
    Loss { nodes: Vec<String>, probability: f64 },
    Latency { nodes: Vec<String>, delay: Duration },
    Corrupt { node: Option<String>, value: Value, backup: Backup },
}

/// A data file's path and its bytes from before a corrupt fault damaged it.
type Backup = Option<(std::path::PathBuf, Vec<u8>)>;

/// How long a node restarted after a corrupt fault gets to show it is still running.
const CAME_BACK_GRACE: Duration = Duration::from_millis(1500);

/// Runs a schedule of faults against a cluster.
pub struct Nemesis<C: Cluster + 'static> {
    network: Arc<Network>,
    cluster: Arc<C>,
    clock: Option<Clock>,
    schedule: Schedule,
    nodes: Vec<String>,
    rng: ChaCha8Rng,
    active: Option<Active>,
}

impl<C: Cluster + 'static> Nemesis<C> {
    /// A nemesis for `cluster` on `network`. `clock` is required when `cfg` asks for clock
    /// faults (nodes must then have been started with [`Clock::faketime_env`]).
    pub fn new(
        network: Arc<Network>,
        cluster: Arc<C>,
        clock: Option<Clock>,
        cfg: NemesisConfig,
    ) -> Result<Self> {
        let nodes = cluster.nodes();
        if cfg.faults.contains(&FaultKind::Clock) && clock.is_none() {
            return Err(NemesisError::Unsupported {
                what: "clock faults".into(),
                why: "no Clock was given (nodes must run under libfaketime)".into(),
            });
        }
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6c65_6164_6572);
        let schedule = Schedule::new(cfg, &nodes)?;
        Ok(Nemesis { network, cluster, clock, schedule, nodes, rng, active: None })
    }

    /// Whether a fault is in force.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Alternates quiet waits and faults until `stop` resolves, leaving the fault in
    /// force at that moment for [`Nemesis::heal_all`]. Returns early with the error if a
    /// fault cannot be started or ended; call `heal_all` then too.
    pub async fn run(&mut self, stop: impl Future<Output = ()>, report: Report<'_>) -> Result<()> {
        tokio::pin!(stop);
        loop {
            let wait = self.schedule.next_wait();
            tokio::select! {
                biased;
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
            if self.active.is_some() {
                self.stop_active(report).await?;
            } else if let Some(plan) = self.schedule.next_fault() {
                self.start(plan, report).await?;
            }
        }
    }

    /// Ends every fault: the active one (reported as its `stop-` op), then, silently, any
    /// network fault, clock offset, pause or kill that is somehow still in place.
    pub async fn heal_all(&mut self, report: Report<'_>) -> Result<()> {
        let active = self.stop_active(report).await;
        let net = Arc::clone(&self.network);
        let network = blocking(move || net.heal_all()).await;
        let clock = self.clock.as_ref().map_or(Ok(()), Clock::reset);
        active.and(network).and(clock)
    }

    /// Starts `plan` now and reports it; ends any fault already active first.
    pub async fn start(&mut self, plan: Plan, report: Report<'_>) -> Result<()> {
        if self.active.is_some() {
            self.stop_active(report).await?;
        }
        match plan {
            Plan::Partition { shape, one_way, grudge } => {
                self.start_partition(shape, one_way, grudge, report).await
            }
            Plan::Kill { target, nodes } => {
                let nodes = self.resolve(nodes).await;
                let mut killed = Vec::new();
                let mut error = None;
                for n in nodes.iter().flatten() {
                    match self.cluster.kill(n).await {
                        Ok(()) => killed.push(n.clone()),
                        Err(e) => {
                            error = Some(NemesisError::Cluster(format!("kill {n}: {e}")));
                            break;
                        }
                    }
                }
                let mut value = json!({"target": target.name(), "nodes": killed});
                self.finish_start(FaultKind::Kill, &mut value, nodes.is_none(), error.as_ref(), report);
                self.active = Some(Active::Kill { nodes: killed });
                error.map_or(Ok(()), Err)
            }
            Plan::Pause { target, nodes } => {
                let nodes = self.resolve(nodes).await;
                let mut paused = Vec::new();
                let mut error = None;
                for n in nodes.iter().flatten() {
                    match self.cluster.pause(n).await {
                        Ok(true) => paused.push(n.clone()),
                        Ok(false) => {}
                        Err(e) => {
                            error = Some(NemesisError::Cluster(format!("pause {n}: {e}")));
                            break;
                        }
                    }
                }
                let mut value = json!({"target": target.name(), "nodes": paused});
                self.finish_start(FaultKind::Pause, &mut value, nodes.is_none(), error.as_ref(), report);
                self.active = Some(Active::Pause { nodes: paused });
                error.map_or(Ok(()), Err)
            }
            Plan::Skew { offsets } => {
                let clock = self.clock.clone().expect("checked in new");
                let result = clock.skew_all(&offsets);
                let mut value = json!({"mode": "skew", "offsets": offsets});
                self.finish_start(FaultKind::Clock, &mut value, false, result.as_ref().err(), report);
                self.active = Some(Active::Clock { nodes: offsets.keys().cloned().collect(), strobe: None });
                result
            }
            Plan::Strobe { offsets, period } => {
                let clock = self.clock.clone().expect("checked in new");
                let (tx, rx) = oneshot::channel::<()>();
                let task_offsets = offsets.clone();
                let handle = tokio::spawn(async move {
                    clock
                        .strobe(&task_offsets, period, async {
                            let _ = rx.await;
                        })
                        .await
                });
                let mut value =
                    json!({"mode": "strobe", "offsets": offsets, "period-ms": period.as_millis() as u64});
                self.finish_start(FaultKind::Clock, &mut value, false, None, report);
                self.active = Some(Active::Clock {
                    nodes: offsets.keys().cloned().collect(),
                    strobe: Some((tx, handle)),
                });
                Ok(())
            }
            Plan::Loss { nodes, probability } => {
                let set: BTreeSet<String> = nodes.iter().cloned().collect();
                let net = Arc::clone(&self.network);
                let result = blocking(move || net.loss(&set, probability)).await;
                let mut value = json!({"nodes": nodes, "probability": probability});
                self.finish_start(FaultKind::Loss, &mut value, false, result.as_ref().err(), report);
                self.active = Some(Active::Loss { nodes, probability });
                result
            }
            Plan::Corrupt { target, node, damage: fault } => {
                let planned = node.map(|n| vec![n]);
                let node = self.resolve(planned).await.and_then(|n| n.into_iter().next());
                let (value, backup, error) = match &node {
                    Some(n) => self.corrupt(n, fault).await,
                    None => (json!({"fault": fault.name()}), None, None),
                };
                let mut value = value;
                value["target"] = json!(target.name());
                value["node"] = json!(node);
                self.finish_start(FaultKind::Corrupt, &mut value, node.is_none(), error.as_ref(), report);
                self.active = Some(Active::Corrupt { node, value, backup });
                error.map_or(Ok(()), Err)
            }
            Plan::Latency { nodes, delay } => {
                let set: BTreeSet<String> = nodes.iter().cloned().collect();
                let net = Arc::clone(&self.network);
                let result = blocking(move || net.latency(&set, delay)).await;
                let mut value = json!({"nodes": nodes, "delay-ms": delay.as_millis() as u64});
                self.finish_start(FaultKind::Latency, &mut value, false, result.as_ref().err(), report);
                self.active = Some(Active::Latency { nodes, delay });
                result
            }
        }
    }

    async fn start_partition(
        &mut self,
        shape: PartitionShape,
        one_way: bool,
        grudge: Option<Grudge>,
        report: Report<'_>,
    ) -> Result<()> {
        let (grudge, no_leader) = match grudge {
            Some(g) => (Some(g), false),
            None => match self.cluster.leader().await {
                Some(l) => {
                    (Some(grudge::build(shape, one_way, &self.nodes, Some(&l), &mut self.rng)?), false)
                }
                None => (None, true),
            },
        };
        let g = grudge.unwrap_or_default();
        let result = if g.is_empty() {
            Ok(())
        } else {
            let net = Arc::clone(&self.network);
            let cut = g.clone();
            blocking(move || net.partition(&cut)).await
        };
        let mut value = json!({"shape": shape.name(), "one-way": one_way, "grudge": g});
        self.finish_start(FaultKind::Partition, &mut value, no_leader, result.as_ref().err(), report);
        self.active = Some(Active::Partition { value });
        result
    }

    /// Kills `node` and damages one of its data files; returns the account of what was
    /// done, the file's path and bytes from before the damage, and the error that stopped
    /// it, if any.
    async fn corrupt(&mut self, node: &str, fault: disk::DiskFault) -> (Value, Backup, Option<NemesisError>) {
        let cfg = self.schedule.config().clone();
        let dir = cfg.data_dirs.get(node).cloned().unwrap_or_default();
        use rand::seq::IndexedRandom;
        let files = match self.cluster.data_files(node, &dir, &cfg.data_files) {
            Ok(f) => f,
            Err(e) => {
                let error = NemesisError::Cluster(format!("list {node}'s data files: {e}"));
                return (json!({"fault": fault.name()}), None, Some(error));
            }
        };
        let picked = files.choose(&mut self.rng).cloned();
        let size_before = match &picked {
            Some((_, size)) if fault == disk::DiskFault::LoseWrites => {
                tokio::time::sleep(cfg.lost_write_window).await;
                *size
            }
            _ => 0,
        };
        if let Err(e) = self.cluster.kill(node).await {
            let error = NemesisError::Cluster(format!("kill {node}: {e}"));
            return (json!({"fault": fault.name()}), None, Some(error));
        }
        let Some((file, _)) = picked else {
            let value = json!({"fault": fault.name(), "skipped": "no data file exists yet"});
            return (value, None, None);
        };
        let backup = self.cluster.read_data_file(node, &file).ok().map(|bytes| (file.clone(), bytes));
        let damaged = if self.cluster.data_files_are_local() {
            disk::apply(&file, fault, size_before, &mut self.rng)
        } else {
            self.damage_copy(node, &file, backup.as_ref().map(|(_, b)| b.as_slice()), fault, size_before)
        };
        match damaged {
            Ok(v) => (v, backup, None),
            Err(e) => (json!({"fault": fault.name()}), backup, Some(e)),
        }
    }

    /// Damages a data file that is not on this machine: its bytes go into a local scratch
    /// file of the same name, [`disk::apply`] damages that as it would the file itself, and
    /// the result is written back in its place.
    fn damage_copy(
        &mut self,
        node: &str,
        file: &std::path::Path,
        bytes: Option<&[u8]>,
        fault: disk::DiskFault,
        size_before: u64,
    ) -> Result<Value> {
        let bytes =
            bytes.ok_or_else(|| NemesisError::Cluster(format!("cannot read {node}'s {}", file.display())))?;
        let scratch = std::env::temp_dir().join(format!("sunder-corrupt-{}-{node}", std::process::id()));
        let name = file.file_name().unwrap_or_else(|| std::ffi::OsStr::new("data"));
        let copy = scratch.join(name);
        let result = std::fs::create_dir_all(&scratch)
            .and_then(|()| std::fs::write(&copy, bytes))
            .map_err(|e| NemesisError::io(format!("write {}", copy.display()), e))
            .and_then(|()| disk::apply(&copy, fault, size_before, &mut self.rng))
            .and_then(|value| {
                let damaged = std::fs::read(&copy)
                    .map_err(|e| NemesisError::io(format!("read {}", copy.display()), e))?;
                self.cluster
                    .write_data_file(node, file, &damaged)
                    .map_err(|e| NemesisError::Cluster(format!("write {node}'s {}: {e}", file.display())))?;
                Ok(value)
            });
        let _ = std::fs::remove_dir_all(&scratch);
        result
    }

    /// Restarts a node after a corrupt fault and says whether it stayed up (a node that
    /// refuses its damaged data exits at once).
    async fn restart_and_check(&self, node: &str) -> std::result::Result<bool, String> {
        self.cluster.restart(node).await.map_err(|e| e.to_string())?;
        tokio::time::sleep(CAME_BACK_GRACE).await;
        Ok(self.cluster.pid(node).and_then(process::proc_state).is_some_and(|s| s != 'Z'))
    }

    /// Ends a corrupt fault: restart; if the node refused its data, restore the file it
    /// had before the damage and start it again. Returns the `stop-corrupt` value.
    async fn end_corrupt(&self, node: &str, mut end: Value, backup: Backup) -> Value {
        match self.restart_and_check(node).await {
            Ok(true) => {
                end["refused"] = json!(false);
                end["came-back"] = json!(true);
                return end;
            }
            Ok(false) => end["refused"] = json!(true),
            Err(e) => end["restart-error"] = json!(e),
        }
        let Some((path, bytes)) = backup else {
            end["came-back"] = json!(false);
            return end;
        };
        // The refusing process has exited; reap it before starting another.
        let _ = self.cluster.kill(node).await;
        if let Err(e) = self.cluster.write_data_file(node, &path, &bytes) {
            end["restore-error"] = json!(e.to_string());
            end["came-back"] = json!(false);
            return end;
        }
        end["restored"] = json!(true);
        end["came-back"] = json!(self.restart_and_check(node).await.unwrap_or(false));
        end
    }

    /// Adds the skip reason or error to a start value and reports it.
    fn finish_start(
        &self,
        kind: FaultKind,
        value: &mut Value,
        no_leader: bool,
        error: Option<&NemesisError>,
        report: Report<'_>,
    ) {
        if no_leader {
            value["skipped"] = json!("no node reports itself leader");
        }
        if let Some(e) = error {
            value["error"] = json!(e.to_string());
        }
        report(&format!("start-{}", kind.name()), value.clone());
    }

    /// The nodes of `target`: the planned ones, or the leader (None when there is none).
    async fn resolve(&self, planned: Option<Vec<String>>) -> Option<Vec<String>> {
        match planned {
            Some(n) => Some(n),
            None => self.cluster.leader().await.map(|l| vec![l]),
        }
    }

    /// Ends the active fault, if any, and reports its `stop-` op.
    pub async fn stop_active(&mut self, report: Report<'_>) -> Result<()> {
        let Some(active) = self.active.take() else { return Ok(()) };
        let (kind, mut value, result) = match active {
            Active::Partition { value } => {
                let net = Arc::clone(&self.network);
                let r = blocking(move || net.heal()).await;
                (FaultKind::Partition, value, r)
            }
            Active::Kill { nodes } => {
                let mut r = Ok(());
                for n in &nodes {
                    if let Err(e) = self.cluster.restart(n).await {
                        r = Err(NemesisError::Cluster(format!("restart {n}: {e}")));
                    }
                }
                (FaultKind::Kill, json!({"nodes": nodes}), r)
            }
            Active::Pause { nodes } => {
                let mut r = Ok(());
                for n in &nodes {
                    if let Err(e) = self.cluster.resume(n).await {
                        r = Err(NemesisError::Cluster(format!("resume {n}: {e}")));
                    }
                }
                (FaultKind::Pause, json!({"nodes": nodes}), r)
            }
            Active::Clock { nodes, strobe } => {
                let mut r = Ok(());
                if let Some((tx, handle)) = strobe {
                    let _ = tx.send(());
                    r = handle
                        .await
                        .unwrap_or_else(|e| Err(NemesisError::Invalid(format!("strobe task: {e}"))));
                }
                let clock = self.clock.as_ref().expect("clock faults need a clock");
                for n in &nodes {
                    r = r.and(clock.skew(n, 0.0));
                }
                (FaultKind::Clock, json!({"nodes": nodes}), r)
            }
            Active::Loss { nodes, probability } => {
                let net = Arc::clone(&self.network);
                let r = blocking(move || net.clear_loss()).await;
                (FaultKind::Loss, json!({"nodes": nodes, "probability": probability}), r)
            }
            Active::Latency { nodes, delay } => {
                let net = Arc::clone(&self.network);
                let r = blocking(move || net.clear_latency()).await;
                (FaultKind::Latency, json!({"nodes": nodes, "delay-ms": delay.as_millis() as u64}), r)
            }
            Active::Corrupt { node, value, backup } => {
                let mut end = json!({"node": node, "file": value.get("file"), "fault": value.get("fault")});
                if let Some(n) = &node {
                    end = self.end_corrupt(n, end, backup).await;
                }
                (FaultKind::Corrupt, end, Ok(()))
            }
        };
        if let Err(e) = &result {
            value["error"] = json!(e.to_string());
        }
        report(&format!("stop-{}", kind.name()), value);
        result
    }
}

/// Runs a blocking network change on tokio's blocking pool.
async fn blocking(f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(NemesisError::Invalid(format!("network change panicked: {e}"))))
}
