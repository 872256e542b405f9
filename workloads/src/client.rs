//! A client speaks one protocol behind one interface: it carries an [`Invocation`] to a node
//! and turns whatever comes back into a [`Completion`] by DESIGN.md's rule (`ok` it
//! happened, `fail` it certainly did not, `info` unknown). The runner holds a `dyn Client`
//! chosen by the system's protocol and knows no route or wire format.

use crate::invocation::{Completion, Invocation};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use sunder_systems::spec::Protocol;

/// The future of one operation.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Completion> + Send + 'a>>;

/// Carries operations to nodes.
pub trait Client: Send + Sync {
    /// Performs `inv` at `node` and classifies the outcome.
    fn invoke<'a>(&'a self, node: &'a str, inv: &'a Invocation) -> Pending<'a>;
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// The client for `protocol`, reaching `nodes` (id to client address), each operation
/// bounded by `timeout`.
pub fn for_protocol(
    protocol: Protocol,
    nodes: BTreeMap<String, SocketAddr>,
    timeout: Duration,
) -> Result<Arc<dyn Client>, ClientError> {
    Ok(match protocol {
        Protocol::SunderHttp => Arc::new(crate::sunder_http::SunderHttp::new(nodes, timeout)?),
    })
}
