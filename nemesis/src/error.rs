//! The one error type of the nemesis crate. Every fault, backend and cleanup step returns
//! it, so the harness can report exactly which command or check failed and why.

use std::io;

/// Why a nemesis operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// An external tool (`ip`, `iptables-restore`, ...) failed or could not be started.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line, as a person would type it.
        command: String,
        /// Exit status and stderr, or the spawn error.
        detail: String,
    },
    /// A safety invariant of the netns backend does not hold; the run must not go on.
    #[error("network safety check failed: {0}")]
    Unsafe(String),
    /// The fault cannot be done on this backend or machine.
    #[error("{what} is not available: {why}")]
    Unsupported {
        /// The fault or backend asked for.
        what: String,
        /// Why not, and what to use instead.
        why: String,
    },
    /// An argument the caller passed makes no sense (bad run id, empty node set, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A node name that is not part of this cluster.
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The harness's [`crate::process::Cluster`] reported a failure.
    #[error("cluster: {0}")]
    Cluster(String),
    /// A process did not reach the state a signal should have put it in.
    #[error("process {pid}: {problem}")]
    Process {
        /// The pid concerned.
        pid: u32,
        /// What was expected and what was seen.
        problem: String,
    },
}

impl NemesisError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> NemesisError {
        NemesisError::Io { context: context.into(), source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = NemesisError> = std::result::Result<T, E>;
