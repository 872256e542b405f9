//! The signals that end a long-running command (`run`, `serve`) in order: Ctrl-C from a
//! terminal and SIGTERM from a CI runner or a supervisor.

use tokio::signal::unix::{SignalKind, signal};

/// Resolves when the process receives SIGINT or SIGTERM. Registering the handlers needs a
/// tokio runtime; once registered, the default action (dying at once) no longer applies.
pub async fn stop_signal() {
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
}
