//! Serving HTTP in front of a driver thread, the shape raft-kv, quorum-kv and bank-2pc share:
//! one OS thread owns the node's core and files, the HTTP runtime talks to it through a
//! channel, and either ending ends the other; peers' messages go out in batches. A driver that stops (a disk failure) stops the
//! server too, because a node that cannot persist must not keep answering.

use crate::config::NodeError;
use std::fmt::Display;
use std::future::Future;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Serves `app` on `listener` until `shutdown` resolves or the `driver` thread ends, then
/// calls `stop_driver` (which tells the thread to finish) and waits for it. Errors of the
/// server, of the driver, or its panic are the node's error; `system` names it in the last.
pub async fn serve_with_driver<E: Display + Send + 'static>(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    driver: JoinHandle<Result<(), E>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop_driver: impl FnOnce(),
    system: &str,
) -> Result<(), NodeError> {
    let (dead_tx, dead_rx) = oneshot::channel::<()>();
    let watcher = tokio::task::spawn_blocking(move || {
        let result = driver.join();
        let _ = dead_tx.send(());
        result
    });
    let stop = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = dead_rx => {}
        }
    };
    let served = axum::serve(listener, app).with_graceful_shutdown(stop).await;
    stop_driver();
    let joined = watcher.await.map_err(|e| NodeError::Io(std::io::Error::other(e.to_string())))?;
    served?;
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(NodeError::Io(std::io::Error::other(e.to_string()))),
        Err(_) => Err(NodeError::Io(std::io::Error::other(format!("{system} driver thread panicked")))),
    }
}

/// Sends what a driver queued for one peer, in batches of at most `per_request` messages a
/// request over a reused connection, keeping only the newest `max_queued` of a backlog.
/// A failed request drops the rest of its batch: a dead peer costs one timeout, not one
/// per chunk, and the protocols above retransmit or time out what mattered.
pub async fn send_batches<T: serde::Serialize>(
    client: reqwest::Client,
    url: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    max_queued: usize,
    per_request: usize,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        if batch.len() > max_queued {
            batch.drain(..batch.len() - max_queued);
        }
        for chunk in batch.chunks(per_request) {
            let sent = client.post(&url).json(chunk).send().await;
            if !sent.is_ok_and(|r| r.status().is_success()) {
                break;
            }
        }
    }
}
