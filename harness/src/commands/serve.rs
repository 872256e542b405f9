//! `sunder serve`: serves the store (a table of runs, each run's report and files) until
//! Ctrl-C. It binds to localhost unless told otherwise; the router refuses any path that
//! leaves the store.

use crate::cli::ServeArgs;
use crate::stop_signal::stop_signal;
use anyhow::{Context, Result};

/// Serves until SIGINT/SIGTERM; exit code 0.
pub fn run(args: ServeArgs) -> Result<u8> {
    let store = args.store.canonicalize().with_context(|| format!("no store at {}", args.store.display()))?;
    if !args.bind.ip().is_loopback() {
        eprintln!("sunder: serving {} on {}, which is not a loopback address", store.display(), args.bind);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot bind {}", args.bind))?;
        println!("serving {} at http://{}/", store.display(), listener.local_addr()?);
        tokio::select! {
            r = sunder_report::serve::serve_on(listener, store) => r.context("serve failed"),
            _ = stop_signal() => Ok(()),
        }
    })?;
    Ok(0)
}
