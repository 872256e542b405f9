//! The entry point of `sunder node SYSTEM`: builds the node's runtime, serves the named
//! built-in system and exits cleanly on SIGTERM or SIGINT (the launcher's grace period
//! relies on it).

use crate::config::{NodeConfig, NodeError};
use crate::spec::Program;

/// Runs the named built-in system until SIGTERM or SIGINT.
pub fn run(system: &str, cfg: NodeConfig) -> Result<(), NodeError> {
    let spec = crate::catalog::find(system).ok_or_else(|| NodeError::UnknownSystem(system.to_string()))?;
    let Program::Builtin(serve) = spec.program else {
        return Err(NodeError::BadOption(format!("{system} is an external program, not a sunder node")));
    };
    spec.validate_options(cfg.options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(NodeError::BadOption)?;
    std::fs::create_dir_all(&cfg.data)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(serve(cfg, Box::pin(shutdown_signal())))
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
