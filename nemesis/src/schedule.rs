//! What faults a run injects and in which order: `--nemesis partition,kill,pause,clock,loss,latency,corrupt`
//! parses into [`FaultKind`]s, and a [`Schedule`] takes the kinds in turn and draws from the
//! run's seed, one fault at a time, its shape or target, the nodes it hits and its
//! parameters. Only the `leader` choices are left open, because only the running cluster can
//! name its leader.
//! The [`crate::nemesis::Nemesis`] runs the plans: a quiet wait, a wait with the fault in
//! force, and so on, each wait drawn between half and one and a half intervals from a
//! second seeded RNG (so the faults drawn do not depend on how many waits were drawn).

use crate::disk::DiskFault;
use crate::error::{NemesisError, Result};
use crate::grudge::{self, Grudge, PartitionShape};
use crate::process::Target;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A family of faults, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Network partitions of every shape.
    Partition,
    /// SIGKILL, restart later on the same data.
    Kill,
    /// SIGSTOP, SIGCONT later.
    Pause,
    /// Clock skew and strobe through libfaketime.
    Clock,
    /// Random packet loss on peer traffic.
    Loss,
    /// Added delay on peer traffic (local backend only: this kernel has no netem).
    Latency,
    /// Kill a node, damage one of its data files, restart it on them.
    Corrupt,
}

impl FaultKind {
    /// Every kind, in a stable order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Loss,
        FaultKind::Latency,
        FaultKind::Corrupt,
    ];

    /// The command-line name; also the suffix of the nemesis ops (`start-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Loss => "loss",
            FaultKind::Latency => "latency",
            FaultKind::Corrupt => "corrupt",
        }
    }
}

impl FromStr for FaultKind {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            NemesisError::Invalid(format!(
                "unknown nemesis {s:?}; expected a comma-separated list of partition, kill, pause, clock, loss, latency, corrupt (or none)"
            ))
        })
    }
}

/// Parses `--nemesis` (`partition,kill`; `none` or empty for no faults); duplicates are
/// dropped, order kept.
pub fn parse_faults(spec: &str) -> Result<Vec<FaultKind>> {
    let spec = spec.trim();
    if spec.is_empty() || spec == "none" {
        return Ok(Vec::new());
    }
    let mut kinds = Vec::new();
    for part in spec.split(',') {
        let k: FaultKind = part.trim().parse()?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    Ok(kinds)
}

/// Everything that decides a run's faults.
#[derive(Debug, Clone)]
pub struct NemesisConfig {
    /// Fault kinds to draw from (empty: no faults).
    pub faults: Vec<FaultKind>,
    /// Mean time between a fault's start and its end, and between an end and the next
    /// start (each wait is drawn between 0.5 and 1.5 of it).
    pub interval: Duration,
    /// The run's seed.
    pub seed: u64,
    /// Partition shapes to draw from (those that do not fit the cluster are skipped).
    pub shapes: Vec<PartitionShape>,
    /// Whether one-way variants of the partitions may be drawn.
    pub one_way: bool,
    /// Targets of kill, pause, clock, loss and latency faults (`leader` only for kill and
    /// pause).
    pub targets: Vec<Target>,
    /// Probability of losing a packet during a loss fault.
    pub loss_probability: f64,
    /// Largest clock offset, in seconds, of a clock fault.
    pub max_skew_secs: f64,
    /// Delay added to each packet to the target nodes during a latency fault.
    pub latency: Duration,
    /// Globs, relative to a node's data directory, of the files a corrupt fault may
    /// damage (the system's spec says which); empty refuses corrupt faults.
    pub data_files: Vec<String>,
    /// Each node's data directory.
    pub data_dirs: BTreeMap<String, PathBuf>,
    /// How long before a lose-writes fault's kill the file's size is taken: the writes
    /// of that window are lost.
    pub lost_write_window: Duration,
}

impl NemesisConfig {
    /// The defaults: every shape and target, one-way variants on, 20 % loss, skew up to
    /// 60 s, 50 ms latency.
    pub fn new(faults: Vec<FaultKind>, interval: Duration, seed: u64) -> NemesisConfig {
        NemesisConfig {
            faults,
            interval,
            seed,
            shapes: PartitionShape::ALL.to_vec(),
            one_way: true,
            targets: Target::ALL.to_vec(),
            loss_probability: 0.2,
            max_skew_secs: 60.0,
            latency: Duration::from_millis(50),
            data_files: Vec::new(),
            data_dirs: BTreeMap::new(),
            lost_write_window: Duration::from_millis(300),
        }
    }
}

/// One fault to inject, with every seeded choice made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Plan {
    /// Cut the network; `grudge` is None for the leader shape, decided at start.
    Partition {
        /// Shape drawn.
        shape: PartitionShape,
        /// One-way variant.
        one_way: bool,
        /// Who drops whom, when known in advance.
        grudge: Option<Grudge>,
    },
    /// SIGKILL the nodes, restart them at the end.
    Kill {
        /// Target drawn.
        target: Target,
        /// Nodes, None for the leader.
        nodes: Option<Vec<String>>,
    },
    /// SIGSTOP the nodes, SIGCONT them at the end.
    Pause {
        /// Target drawn.
        target: Target,
        /// Nodes, None for the leader.
        nodes: Option<Vec<String>>,
    },
    /// Move the nodes' clocks by fixed offsets (seconds).
    Skew {
        /// Offset per node.
        offsets: BTreeMap<String, f64>,
    },
    /// Flip the nodes' clocks between an offset and real time every `period`.
    Strobe {
        /// Offset per node.
        offsets: BTreeMap<String, f64>,
        /// Time between flips.
        #[serde(with = "millis")]
        period: Duration,
    },
    /// Lose peer packets to the nodes.
    Loss {
        /// Receiving nodes.
        nodes: Vec<String>,
        /// Probability of losing each packet.
        probability: f64,
    },
    /// Delay peer packets to the nodes.
    Latency {
        /// Receiving nodes.
        nodes: Vec<String>,
        /// Added delay.
        #[serde(with = "millis")]
        delay: Duration,
    },
    /// Kill a node, damage one of its data files, restart it at the end.
    Corrupt {
        /// Target drawn (`one` or `leader`).
        target: Target,
        /// The node, None for the leader.
        node: Option<String>,
        /// What is done to the file.
        damage: DiskFault,
    },
}

impl Plan {
    /// The fault kind of this plan.
    pub fn kind(&self) -> FaultKind {
        match self {
            Plan::Partition { .. } => FaultKind::Partition,
            Plan::Kill { .. } => FaultKind::Kill,
            Plan::Pause { .. } => FaultKind::Pause,
            Plan::Skew { .. } | Plan::Strobe { .. } => FaultKind::Clock,
            Plan::Loss { .. } => FaultKind::Loss,
            Plan::Latency { .. } => FaultKind::Latency,
            Plan::Corrupt { .. } => FaultKind::Corrupt,
        }
    }
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// The seeded sequence of faults of a run.
#[derive(Debug, Clone)]
pub struct Schedule {
    cfg: NemesisConfig,
    nodes: Vec<String>,
    rng: ChaCha8Rng,
    timing: ChaCha8Rng,
    /// Faults drawn so far; kinds take turns so every kind asked for gets its windows.
    drawn: usize,
}

impl Schedule {
    /// A schedule over `nodes`; fails when a requested fault cannot apply to them at all.
    pub fn new(cfg: NemesisConfig, nodes: &[String]) -> Result<Schedule> {
        if nodes.is_empty() {
            return Err(NemesisError::Invalid("a schedule needs at least one node".into()));
        }
        if cfg.faults.contains(&FaultKind::Partition) && !cfg.shapes.iter().any(|s| s.fits(nodes.len())) {
            return Err(NemesisError::Invalid(format!(
                "no partition shape fits a cluster of {} node(s)",
                nodes.len()
            )));
        }
        if cfg.targets.is_empty() && cfg.faults.iter().any(|f| *f != FaultKind::Partition) {
            return Err(NemesisError::Invalid(
                "process, clock and loss faults need at least one target".into(),
            ));
        }
        if cfg.faults.contains(&FaultKind::Corrupt) && cfg.data_files.is_empty() {
            return Err(NemesisError::Invalid(
                "corrupt faults need data files: this system names none it can recover from".into(),
            ));
        }
        if cfg.faults.contains(&FaultKind::Corrupt)
            && let Some(missing) = nodes.iter().find(|n| !cfg.data_dirs.contains_key(*n))
        {
            return Err(NemesisError::Invalid(format!(
                "corrupt faults need the data directory of {missing}"
            )));
        }
        crate::net::check_probability(cfg.loss_probability)?;
        if cfg.interval.is_zero() {
            return Err(NemesisError::Invalid("--nemesis-interval must be positive".into()));
        }
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6e65_6d65_7369_7321);
        let timing = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7469_6d69_6e67);
        Ok(Schedule { cfg, nodes: nodes.to_vec(), rng, timing, drawn: 0 })
    }

    /// The configuration.
    pub fn config(&self) -> &NemesisConfig {
        &self.cfg
    }

    /// How long to wait before the next start or end: between 0.5 and 1.5 intervals.
    pub fn next_wait(&mut self) -> Duration {
        self.cfg.interval.mul_f64(self.timing.random_range(0.5..1.5))
    }

    /// The next fault to inject, or None when no fault kinds were asked for. Kinds take
    /// turns in the order given (a short run with `partition,kill` gets both); the seed
    /// draws each fault's shape, targets and parameters.
    pub fn next_fault(&mut self) -> Option<Plan> {
        let kind = *self.cfg.faults.get(self.drawn % self.cfg.faults.len().max(1))?;
        self.drawn += 1;
        Some(match kind {
            FaultKind::Partition => {
                let fitting: Vec<PartitionShape> =
                    self.cfg.shapes.iter().copied().filter(|s| s.fits(self.nodes.len())).collect();
                let shape = *fitting.choose(&mut self.rng).expect("checked in new");
                let one_way = self.cfg.one_way && self.rng.random_bool(0.25);
                let grudge = (shape != PartitionShape::Leader).then(|| {
                    grudge::build(shape, one_way, &self.nodes, None, &mut self.rng).expect("shape fits")
                });
                Plan::Partition { shape, one_way, grudge }
            }
            FaultKind::Kill | FaultKind::Pause => {
                let target = *self.cfg.targets.choose(&mut self.rng).expect("checked in new");
                let nodes = target.pick(&self.nodes, &mut self.rng);
                if kind == FaultKind::Kill {
                    Plan::Kill { target, nodes }
                } else {
                    Plan::Pause { target, nodes }
                }
            }
            FaultKind::Clock => {
                let nodes = self.pick_nodes();
                let max = self.cfg.max_skew_secs.max(0.001);
                let offsets = nodes
                    .into_iter()
                    .map(|n| {
                        let magnitude = self.rng.random_range(max / 10.0..=max);
                        let sign = if self.rng.random_bool(0.5) { 1.0 } else { -1.0 };
                        (n, (sign * magnitude * 1000.0).round() / 1000.0)
                    })
                    .collect();
                if self.rng.random_bool(0.5) {
                    Plan::Skew { offsets }
                } else {
                    Plan::Strobe { offsets, period: Duration::from_millis(self.rng.random_range(20..=500)) }
                }
            }
            FaultKind::Loss => {
                Plan::Loss { nodes: self.pick_nodes(), probability: self.cfg.loss_probability }
            }
            FaultKind::Latency => Plan::Latency { nodes: self.pick_nodes(), delay: self.cfg.latency },
            FaultKind::Corrupt => {
                // One node at a time: the rest of the cluster is what it recovers from.
                let leader = self.cfg.targets.contains(&Target::Leader) && self.rng.random_bool(0.5);
                let fault = *DiskFault::ALL.choose(&mut self.rng).expect("three faults");
                if leader {
                    Plan::Corrupt { target: Target::Leader, node: None, damage: fault }
                } else {
                    let node = self.nodes.choose(&mut self.rng).cloned();
                    Plan::Corrupt { target: Target::One, node, damage: fault }
                }
            }
        })
    }

    /// Nodes of a random non-leader target (clock, loss and latency do not aim at leaders).
    fn pick_nodes(&mut self) -> Vec<String> {
        let plain: Vec<Target> = self.cfg.targets.iter().copied().filter(|t| *t != Target::Leader).collect();
        let target = plain.choose(&mut self.rng).copied().unwrap_or(Target::One);
        target.pick(&self.nodes, &mut self.rng).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn parses_fault_lists_and_rejects_unknown_names() {
        assert_eq!(parse_faults("partition,kill").unwrap(), vec![FaultKind::Partition, FaultKind::Kill]);
        assert_eq!(parse_faults("none").unwrap(), vec![]);
        assert_eq!(parse_faults("kill, kill").unwrap(), vec![FaultKind::Kill]);
        let err = parse_faults("partition,flood").unwrap_err().to_string();
        assert!(err.contains("flood"), "{err}");
    }

    #[test]
    fn same_seed_gives_the_same_faults_and_another_seed_differs() {
        let cfg = |seed| {
            let mut c = NemesisConfig::new(FaultKind::ALL.to_vec(), Duration::from_secs(5), seed);
            c.data_files = vec!["log".into()];
            c.data_dirs = nodes(5).into_iter().map(|n| (n, PathBuf::from("/nonexistent"))).collect();
            c
        };
        let plans = |seed| {
            let mut s = Schedule::new(cfg(seed), &nodes(5)).unwrap();
            (0..40).map(|_| s.next_fault().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(plans(42), plans(42));
        let waits = |seed| {
            let mut s = Schedule::new(cfg(seed), &nodes(5)).unwrap();
            (0..10).map(|_| s.next_wait()).collect::<Vec<_>>()
        };
        assert_eq!(waits(42), waits(42));
        assert!(
            waits(42).iter().all(|w| *w >= Duration::from_millis(2500) && *w < Duration::from_millis(7500))
        );
        assert_ne!(plans(42), plans(43));
        let kinds: std::collections::BTreeSet<FaultKind> = plans(42).iter().map(Plan::kind).collect();
        assert_eq!(kinds.len(), FaultKind::ALL.len(), "40 draws should cover every kind: {kinds:?}");
    }

    #[test]
    fn no_fault_kinds_means_no_faults() {
        let mut s = Schedule::new(NemesisConfig::new(vec![], Duration::from_secs(1), 1), &nodes(3)).unwrap();
        assert_eq!(s.next_fault(), None);
    }

    #[test]
    fn partitions_on_three_nodes_never_draw_the_ring() {
        let cfg = NemesisConfig::new(vec![FaultKind::Partition], Duration::from_secs(1), 9);
        let mut s = Schedule::new(cfg, &nodes(3)).unwrap();
        for _ in 0..50 {
            let Some(Plan::Partition { shape, .. }) = s.next_fault() else { panic!("not a partition") };
            assert_ne!(shape, PartitionShape::MajoritiesRing);
        }
    }

    #[test]
    fn refuses_corrupt_faults_on_a_system_without_data_files() {
        let cfg = NemesisConfig::new(vec![FaultKind::Corrupt], Duration::from_secs(1), 9);
        let err = Schedule::new(cfg, &nodes(3)).unwrap_err().to_string();
        assert!(err.contains("data files"), "{err}");
    }

    #[test]
    fn refuses_partitions_on_a_single_node() {
        let cfg = NemesisConfig::new(vec![FaultKind::Partition], Duration::from_secs(1), 9);
        assert!(Schedule::new(cfg, &nodes(1)).is_err());
    }
}
