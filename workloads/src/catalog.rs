//! The workloads Sunder knows, so the CLI can reject an unknown one by name.

/// One workload.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadSpec {
    /// The name given to `--workload`.
    pub name: &'static str,
    /// One line on what clients do.
    pub doc: &'static str,
}

/// Every workload.
pub const WORKLOADS: &[WorkloadSpec] =
    &[WorkloadSpec { name: "register", doc: "reads, writes and compare-and-set over K keys" }];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static WorkloadSpec> {
    WORKLOADS.iter().find(|w| w.name == name)
}
