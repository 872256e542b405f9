//! `sunder-nemesis`: the fault injector. It builds the run's network (network namespaces
//! joined by a bridge, or loopback with proxies), cuts and heals it, kills, pauses and
//! resumes node processes, skews node clocks, damages the data files of killed nodes,
//! runs all of that on a seeded schedule while reporting every start and end as a
//! nemesis op, and cleans up after dead runs.
//!
//! Layout:
//! - [`net`]: [`net::Network`] over the [`net::netns`], [`net::local`] and [`net::remote`]
//!   backends; [`ssh`]: one OpenSSH connection to a remote host.
//! - [`grudge`]: who drops whom; the partition shapes.
//! - [`process`]: the [`process::Cluster`] trait the harness implements; pause/resume.
//! - [`status`]: the leader, from the nodes' `GET /status`.
//! - [`clock`]: libfaketime control files.
//! - [`disk`]: the disk faults done to a killed node's data files.
//! - [`schedule`]: `--nemesis` fault lists and the seeded plan of faults.
//! - [`nemesis`]: [`nemesis::Nemesis`], which runs the plan and heals everything at the end.
//! - [`cleanup`]: leftovers of dead runs.
//! - [`error`]: [`NemesisError`], the one error type every step returns.

#![warn(missing_docs)]

pub mod cleanup;
pub mod clock;
pub mod disk;
pub mod error;
pub mod grudge;
pub mod nemesis;
pub mod net;
pub mod process;
pub mod schedule;
pub mod ssh;
pub mod status;

pub use clock::Clock;
pub use error::{NemesisError, Result};
pub use grudge::{Grudge, PartitionShape};
pub use nemesis::Nemesis;
pub use net::{CutStyle, NetKind, Network, NetworkConfig};
pub use process::{Cluster, ClusterError, Target};
pub use schedule::{FaultKind, NemesisConfig, Plan, parse_faults};
