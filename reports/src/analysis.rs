//! What the report and the summary both draw from, computed once per render: the calls,
//! the index-to-position map, fault windows and phases, and the performance data.

use crate::calls::{Calls, IndexMap};
use crate::faults::FaultMap;
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
    /// Latency, throughput and quantiles.
    pub perf: PerfData,
}

impl Analysis {
    /// Analyses the ops of `inputs`.
    pub fn of(inputs: &RunInputs) -> Analysis {
        let ops = &inputs.ops;
        let calls = Calls::pair(ops);
        let perf = latency::perf_data(ops, &calls);
        Analysis { index: IndexMap::new(ops), faults: FaultMap::from_ops(ops), perf, calls }
    }
}
