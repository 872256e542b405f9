//! The list of systems Sunder knows. Adding a system is one folder under `systems/src/` and
//! one line here; everything else reads the [`SystemSpec`] it exports.

use crate::spec::SystemSpec;

/// Every system Sunder knows.
pub const SYSTEMS: &[SystemSpec] = &[
    crate::single_kv::SPEC,
    crate::raft::SPEC,
    crate::quorum::SPEC,
    crate::bank2pc::SPEC,
    crate::etcd::SPEC,
];

/// Looks a system up by name.
pub fn find(name: &str) -> Option<&'static SystemSpec> {
    SYSTEMS.iter().find(|s| s.name == name)
}

/// The names of every system, for error messages.
pub fn names() -> Vec<&'static str> {
    SYSTEMS.iter().map(|s| s.name).collect()
}
