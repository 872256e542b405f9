//! What the launcher tells a node, and the entry point that runs one: it builds the
//! node's runtime, binds its port, serves the named system and exits cleanly on SIGTERM
//! or SIGINT (the launcher's grace period relies on it).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// The option's value, or the system's default for it.
    pub fn option<'a>(&'a self, spec: &crate::catalog::SystemSpec, key: &str) -> &'a str {
        if let Some(v) = self.options.get(key) {
            return v;
        }
        spec.options
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.default)
            .unwrap_or_else(|| panic!("{} declares no option {key}", spec.name))
    }

    /// A boolean option (`true`/`false`).
    pub fn flag(&self, spec: &crate::catalog::SystemSpec, key: &str) -> Result<bool, NodeError> {
        match self.option(spec, key) {
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

/// Runs the named system until SIGTERM or SIGINT.
pub fn run(system: &str, cfg: NodeConfig) -> Result<(), NodeError> {
    let spec = crate::catalog::find(system).ok_or_else(|| NodeError::UnknownSystem(system.to_string()))?;
    spec.validate_options(cfg.options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(NodeError::BadOption)?;
    std::fs::create_dir_all(&cfg.data)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        match spec.name {
            "single-kv" => crate::single_kv::serve(cfg, shutdown_signal()).await,
            "raft-kv" => crate::raft::serve(cfg, shutdown_signal()).await,
            "quorum-kv" => crate::quorum::serve(cfg, shutdown_signal()).await,
            other => Err(NodeError::UnknownSystem(other.to_string())),
        }
    })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Milliseconds since the Unix epoch on this node's (possibly faked) wall clock; every
/// `/status` reports it so tests can see clock faults take effect.
pub fn wall_clock_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}
