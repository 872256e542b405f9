//! What the report and the summary both draw from, computed once per render: the history's
//! [`Digested`] view (counts, fault windows and phases, availability, performance data, the
//! timeline's rows), and, when anomalies have witnesses to draw, the calls of the ops held
//! and the index-to-position map.

use crate::calls::{Calls, IndexMap};
use crate::digest::{Counts, Digest, Digested};
use crate::faults::{Availability, FaultMap};
use crate::latency::PerfData;
use crate::run_folder::RunInputs;
use crate::timeline::TimelineData;

/// Derived views of a run's history.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Client calls of the ops held (invocation paired with completion), for witnesses;
    /// empty when there is no anomaly to draw.
    pub calls: Calls,
    /// `Op::index` to position in the ops held.
    pub index: IndexMap,
    /// Counts of ops and calls in the whole history.
    pub counts: Counts,
    /// Fault windows, phases and other nemesis ops.
    pub faults: FaultMap,
    /// Outcomes of the calls invoked in each fault window, in `faults.faults` order.
    pub fault_availability: Vec<Availability>,
    /// Outcomes of the calls invoked outside every fault window.
    pub outside_faults: Availability,
    /// Outcomes of the calls invoked in each phase, in `faults.phases` order.
    pub phase_availability: Vec<Availability>,
    /// Latency, throughput and quantiles.
    pub perf: PerfData,
    /// The timeline's data.
    pub timeline: TimelineData,
}

impl Analysis {
    /// Analyses the ops of `inputs`.
    pub fn of(inputs: &RunInputs) -> Analysis {
        Analysis::from_digested(Digest::of_ops(&inputs.ops), inputs)
    }

    /// The analysis of what [`crate::run_folder::load_streamed`] read: from its digest
    /// when the history was streamed, else from the ops it read whole.
    pub fn of_loaded(digested: Option<Digested>, inputs: &RunInputs) -> Analysis {
        match digested {
            Some(d) => Analysis::from_digested(d, inputs),
            None => Analysis::of(inputs),
        }
    }

    /// The analysis of a history digested as it was written; `inputs` holds the ops the
    /// witnesses need, if any (none for a history that was streamed).
    pub fn from_digested(d: Digested, inputs: &RunInputs) -> Analysis {
        let witnesses = !crate::page::anomalies_of(inputs).is_empty();
        let (calls, index) = if witnesses {
            (Calls::pair(&inputs.ops), IndexMap::new(&inputs.ops))
        } else {
            (Calls::default(), IndexMap::new(&[]))
        };
        Analysis {
            calls,
            index,
            counts: d.counts,
            faults: d.faults,
            fault_availability: d.tallies.faults,
            outside_faults: d.tallies.outside,
            phase_availability: d.tallies.phases,
            perf: d.perf,
            timeline: d.timeline,
        }
    }
}
