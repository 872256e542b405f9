//! The list of workloads Sunder knows. Adding a workload is one file under `workloads/src/`
//! and one line here.

use crate::workload::WorkloadSpec;

/// Every workload.
pub const WORKLOADS: &[WorkloadSpec] = &[
    crate::register::SPEC,
    crate::set::SPEC,
    crate::counter::SPEC,
    crate::bank::SPEC,
    crate::transactions::LIST_APPEND,
    crate::transactions::RW_REGISTER,
];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static WorkloadSpec> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// The names of every workload, for error messages.
pub fn names() -> Vec<&'static str> {
    WORKLOADS.iter().map(|w| w.name).collect()
}
