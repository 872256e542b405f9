//! What the launcher tells a built-in node: [`NodeConfig`] with its [`OptionSpec`]-declared
//! `-o` options, and [`NodeError`], why a node could not run. It depends on nothing else in
//! the crate, so every other module may use it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

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

/// Everything a node needs to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// This node's id, e.g. `n1`.
    pub id: String,
    /// Address to serve clients and peers on.
    pub listen: SocketAddr,
    /// How this node reaches each peer (through a proxy on the local backend).
    pub peers: BTreeMap<String, SocketAddr>,
    /// This node's own data directory; it survives kill and restart.
    pub data: PathBuf,
    /// `-o KEY=VALUE` system options, already validated against the catalog.
    pub options: BTreeMap<String, String>,
}

impl NodeConfig {
    /// The option's value, or its default among the system's `declared` options.
    pub fn option<'a>(&'a self, declared: &[OptionSpec], key: &str) -> &'a str {
        if let Some(v) = self.options.get(key) {
            return v;
        }
        declared
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.default)
            .unwrap_or_else(|| panic!("the system declares no option {key}"))
    }

    /// A boolean option (`true`/`false`).
    pub fn flag(&self, declared: &[OptionSpec], key: &str) -> Result<bool, NodeError> {
        match self.option(declared, key) {
            "true" => Ok(true),
            "false" => Ok(false),
            v => Err(NodeError::BadOption(format!("-o {key}={v}: expected true or false"))),
        }
    }
}

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No system by that name.
    #[error("unknown system {0:?}")]
    UnknownSystem(String),
    /// An option value the system cannot use.
    #[error("bad option: {0}")]
    BadOption(String),
    /// Binding, disk or runtime failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Milliseconds since the Unix epoch on this node's (possibly faked) wall clock; every
/// `/status` reports it so tests can see clock faults take effect.
pub fn wall_clock_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}
