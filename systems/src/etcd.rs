//! etcd: the real external system under test (Debian's `etcd-server` 3.4, `/usr/bin/etcd`),
//! one etcd process per node with a client and a peer port, its `--initial-cluster` built
//! from every node's peer address and its data dir under the run folder. Clients speak the
//! v3 JSON gateway (`sunder_workloads::etcd_gateway`); health is `/health`, the leader comes
//! from `POST /v3/maintenance/status`. Nothing here runs etcd: the launcher fills the
//! argument templates below, as it would for any [`Program::External`].
//!
//! What it cannot take, and why (docs/etcd.md has the evidence): libfaketime's clock faults
//! (Go reads the clock through the vDSO, not libc, so etcd never sees the fake time), and
//! the local backend (each member advertises one peer URL that every other member dials,
//! while the local backend gives each link its own proxy address).

use crate::config::OptionSpec;
use crate::spec::{Capabilities, HealthProbe, LeaderProbe, Program, Protocol, StopPolicy, SystemSpec};

/// The `-o` options etcd accepts. `reads` is the client's; the others reach the command line.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "reads",
        default: "linearizable",
        doc: "linearizable (a quorum read) or serializable (the answering member's local, possibly stale state)",
    },
    OptionSpec {
        key: "heartbeat-ms",
        default: "100",
        doc: "--heartbeat-interval: how often the leader heartbeats, in ms",
    },
    OptionSpec {
        key: "election-ms",
        default: "1000",
        doc: "--election-timeout: how long a follower waits for a heartbeat before it campaigns, in ms",
    },
    OptionSpec {
        key: "snapshot-count",
        default: "10000",
        doc: "--snapshot-count: committed entries between snapshots",
    },
    OptionSpec {
        key: "pre-vote",
        default: "true",
        doc: "--pre-vote: a member that was cut off asks before it campaigns, so it does not depose a healthy leader",
    },
];

/// The argument templates of one etcd member (see [`Program::External`]).
const ARGS: &[&str] = &[
    "--name",
    "{id}",
    "--data-dir",
    "{data}",
    "--listen-client-urls",
    "http://{listen:client}",
    "--advertise-client-urls",
    "http://{addr:client}",
    "--listen-peer-urls",
    "http://{listen:peer}",
    "--initial-advertise-peer-urls",
    "http://{addr:peer}",
    "--initial-cluster",
    "{cluster_urls:peer}",
    "--initial-cluster-state",
    "new",
    "--initial-cluster-token",
    "sunder",
    "--heartbeat-interval",
    "{option:heartbeat-ms}",
    "--election-timeout",
    "{option:election-ms}",
    "--snapshot-count",
    "{option:snapshot-count}",
    "--pre-vote={option:pre-vote}",
    "--logger",
    "zap",
    "--log-outputs",
    "stderr",
];

/// The catalog entry.
pub const SPEC: SystemSpec = SystemSpec {
    name: "etcd",
    doc: "etcd 3.4 (the etcd binary on PATH) through its v3 JSON gateway; linearizable unless -o reads=serializable",
    min_nodes: 1,
    max_nodes: 9,
    default_nodes: 3,
    default_nemesis: "partition,kill",
    options: OPTIONS,
    program: Program::External { command: "etcd", args: ARGS },
    ports: &["client", "peer"],
    health: HealthProbe::HttpGet("/health"),
    leader: LeaderProbe::EtcdStatus,
    protocol: Protocol::EtcdGateway,
    // SIGTERM took 7-8 s when the peers were already gone (NOTES.md): a short grace, then
    // SIGKILL, which etcd's write-ahead log is built to survive.
    stop: StopPolicy::term(2000),
    capabilities: Capabilities {
        workloads: &["register", "set", "counter"],
        cas: true,
        cas_when: None,
        backends: &["netns"],
        clock_faults: false,
        // Any member forwards a request to its leader itself.
        leader_hints: false,
        status_timeline: false,
        faults: None,
        limits: Some(
            "etcd is a Go binary, which reads the clock through the vDSO, so libfaketime's clock faults never reach it; \
             each etcd member advertises one peer URL that every other member dials, which the local backend's \
             per-link proxies cannot provide, so etcd runs on netns only (as root)",
        ),
    },
    // Disk faults are not offered: what etcd's WAL and snapshot checks catch is not
    // verified here, and a fault the system does not claim to detect proves nothing.
    data_files: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_placeholder_of_the_template_is_a_declared_option() {
        let Program::External { args, .. } = SPEC.program else { panic!("etcd is an external program") };
        let named: Vec<&str> = args
            .iter()
            .filter_map(|a| a.split_once("{option:").map(|(_, rest)| rest.split('}').next().unwrap_or("")))
            .collect();
        assert!(named.len() >= 4, "{named:?}");
        for key in named {
            assert!(SPEC.option_default(key).is_some(), "{{option:{key}}} is not declared");
        }
    }

    #[test]
    fn etcd_takes_partitions_kills_and_pauses_but_not_clock_faults_or_the_local_backend() {
        for fault in ["partition", "kill", "pause", "loss"] {
            assert!(SPEC.supports_fault(fault), "{fault}");
        }
        assert!(!SPEC.supports_fault("clock"));
        assert!(SPEC.supports_backend("netns") && !SPEC.supports_backend("local"));
        assert!(SPEC.capabilities.limits.is_some_and(|l| l.contains("vDSO") && l.contains("netns only")));
    }
}
