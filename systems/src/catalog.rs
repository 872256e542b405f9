//! The systems Sunder can launch, and the `-o KEY=VALUE` options each accepts, so the
//! harness can reject an unknown option before it starts anything.

/// One `-o` option a system accepts.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The key, e.g. `reads`.
    pub key: &'static str,
    /// The value used when the option is not given.
    pub default: &'static str,
    /// One line on what it does.
    pub doc: &'static str,
}

/// One system under test.
#[derive(Debug, Clone, Copy)]
pub struct SystemSpec {
    /// The name given to `--system` and `sunder node`.
    pub name: &'static str,
    /// One line on what it is.
    pub doc: &'static str,
    /// Fewest nodes it runs with.
    pub min_nodes: usize,
    /// Most nodes it runs with.
    pub max_nodes: usize,
    /// Nodes a run gets when `--nodes` is not given.
    pub default_nodes: usize,
    /// Faults a run injects when `--nemesis` is not given (`none`, or e.g. `partition,kill`).
    pub default_nemesis: &'static str,
    /// Options it accepts.
    pub options: &'static [OptionSpec],
}

/// Every system Sunder knows.
pub const SYSTEMS: &[SystemSpec] = &[crate::single_kv::SPEC, crate::raft::SPEC, crate::quorum::SPEC];

/// Looks a system up by name.
pub fn find(name: &str) -> Option<&'static SystemSpec> {
    SYSTEMS.iter().find(|s| s.name == name)
}

impl SystemSpec {
    /// Checks `-o` keys and values against this system's options; the error names the
    /// offending key and lists the accepted ones.
    pub fn validate_options<'a>(
        &self,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        for (k, _) in options {
            if !self.options.iter().any(|o| o.key == k) {
                let known: Vec<&str> = self.options.iter().map(|o| o.key).collect();
                return Err(if known.is_empty() {
                    format!("{} takes no -o options, got {k:?}", self.name)
                } else {
                    format!("{} has no option {k:?}; it accepts: {}", self.name, known.join(", "))
                });
            }
        }
        Ok(())
    }
}
