//! What a workload is, as one value (DESIGN.md, "Two seams"): its `-w` options, a seeded
//! [`Generator`] per worker, the final phase's operations, and the [`Plan`] of checkers
//! that judge its histories with the parameters they need. The runner and the judge only
//! ever hold a `dyn Workload`, so a new workload is one file plus one line in
//! [`crate::catalog`].

use crate::invocation::{Completion, Invocation};
use std::collections::BTreeMap;
use sunder_check::plan::Plan;
pub use sunder_systems::config::OptionSpec;

/// Why a workload could not be built from its options.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// An option the workload does not declare.
    #[error("the {workload} workload has no option {key:?}; it accepts: {known}")]
    UnknownOption {
        /// The workload.
        workload: &'static str,
        /// The key given.
        key: String,
        /// The keys it accepts.
        known: String,
    },
    /// A value the workload cannot use.
    #[error("-w {key}={value}: {problem}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// One workload in the catalog.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadSpec {
    /// The name given to `--workload`.
    pub name: &'static str,
    /// One line on what clients do.
    pub doc: &'static str,
    /// Its `-w KEY=VALUE` options.
    pub options: &'static [OptionSpec],
    /// Builds the workload from validated options.
    pub build: fn(&WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError>,
}

impl WorkloadSpec {
    /// Validates `given` against the declared options and builds the workload.
    pub fn instantiate(&self, given: &BTreeMap<String, String>) -> Result<Box<dyn Workload>, WorkloadError> {
        for key in given.keys() {
            if !self.options.iter().any(|o| o.key == key) {
                let known: Vec<&str> = self.options.iter().map(|o| o.key).collect();
                return Err(WorkloadError::UnknownOption {
                    workload: self.name,
                    key: key.clone(),
                    known: if known.is_empty() { "no options".into() } else { known.join(", ") },
                });
            }
        }
        (self.build)(&WorkloadOptions { declared: self.options, given: given.clone() })
    }
}

/// A workload's `-w` options with their declared defaults.
#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    declared: &'static [OptionSpec],
    given: BTreeMap<String, String>,
}

impl WorkloadOptions {
    fn raw(&self, key: &str) -> &str {
        match self.given.get(key) {
            Some(v) => v,
            None => self
                .declared
                .iter()
                .find(|o| o.key == key)
                .map(|o| o.default)
                .unwrap_or_else(|| panic!("workload option {key} is read but not declared")),
        }
    }

    fn bad(&self, key: &str, problem: &str) -> WorkloadError {
        WorkloadError::BadValue { key: key.into(), value: self.raw(key).into(), problem: problem.into() }
    }

    /// A whole number option of at least `min`.
    pub fn count(&self, key: &str, min: usize) -> Result<usize, WorkloadError> {
        match self.raw(key).parse::<usize>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(self.bad(key, &format!("expected a whole number of at least {min}"))),
        }
    }

    /// A `true`/`false` option.
    pub fn flag(&self, key: &str) -> Result<bool, WorkloadError> {
        match self.raw(key) {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.bad(key, "expected true or false")),
        }
    }
}

/// A built workload: everything the runner and the judge need of it.
pub trait Workload: Send + Sync {
    /// The generator of worker `worker` (0-based) of `workers`, seeded from the run's seed.
    fn generator(&self, seed: u64, worker: u64, workers: u64) -> Box<dyn Generator>;

    /// The final phase's operations, performed on every node once faults have healed.
    fn final_ops(&self) -> Vec<Invocation>;

    /// The checkers that judge this workload's histories.
    fn plan(&self) -> Plan;

    /// `-o` settings this workload needs of any system that declares the option (the bank's
    /// accounts and starting balance), so the system starts in the state the checkers
    /// assume. The harness applies each where the system declares the key, and refuses a
    /// user's `-o` that contradicts it.
    fn system_options(&self) -> Vec<(&'static str, String)> {
        vec![]
    }
}

/// A seeded source of operations for one worker.
pub trait Generator: Send {
    /// The next operation.
    fn next_op(&mut self) -> Invocation;

    /// How an operation of this worker ended (lets a generator aim a cas at a value it saw).
    fn observe(&mut self, _inv: &Invocation, _done: &Completion) {}
}

/// A ChaCha generator for one worker: the run's seed, with the worker choosing the stream,
/// so each worker's draws are reproducible whatever the scheduling.
pub fn worker_rng(seed: u64, worker: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(worker + 1);
    rng
}

/// Value `n` of `worker` of `workers`: `n * workers + worker + 1`, unique across the run, so
/// a read names the write or add it saw.
pub fn unique_value(n: u64, worker: u64, workers: u64) -> u64 {
    n * workers + worker + 1
}

/// Name of key `i`, shared by every keyed workload.
pub fn key_name(i: usize) -> String {
    format!("k{i}")
}
