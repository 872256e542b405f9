//! What the report and the summary both draw from, computed once per render: the calls,
//! the index-to-position map, fault windows and phases, availability per fault window, and
//! the performance data.

use crate::calls::{Calls, IndexMap};
use crate::faults::{self, Availability, FaultMap};
use crate::latency::{self, PerfData};
use crate::run_folder::RunInputs;

/// Derived views of a run's history.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Client calls (invocation paired with completion).
    pub calls: Calls,
    /// `Op::index` to position.
    pub index: IndexMap,
    /// Fault windows, phases and other nemesis ops.
    pub faults: FaultMap,
    /// Outcomes of the calls invoked in each fault window, in `faults.faults` order.
    pub fault_availability: Vec<Availability>,
    /// Outcomes of the calls invoked outside every fault window.
    pub outside_faults: Availability,
    /// Latency, throughput and quantiles.
    pub perf: PerfData,
}

impl Analysis {
    /// Analyses the ops of `inputs`.
    pub fn of(inputs: &RunInputs) -> Analysis {
        let ops = &inputs.ops;
        let calls = Calls::pair(ops);
        let perf = latency::perf_data(ops, &calls);
        let faults = FaultMap::from_ops(ops);
        let (fault_availability, outside_faults) = faults::availability(ops, &calls, &faults.faults);
        Analysis { index: IndexMap::new(ops), faults, fault_availability, outside_faults, perf, calls }
    }
}
