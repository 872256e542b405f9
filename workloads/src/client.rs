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
pub enum ClientError {
    /// The HTTP client itself.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// A `-o` option the client reads has a value it does not know.
    #[error("-o {0}")]
    Option(String),
}

/// The client for `protocol`, reaching `nodes` (id to client address), each operation
/// bounded by `timeout`; `options` are the system's resolved `-o` options, for the clients
/// that read some (etcd's `reads`).
pub fn for_protocol(
    protocol: Protocol,
    nodes: BTreeMap<String, SocketAddr>,
    timeout: Duration,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn Client>, ClientError> {
    Ok(match protocol {
        Protocol::SunderHttp => Arc::new(crate::sunder_http::SunderHttp::new(nodes, timeout)?),
        Protocol::EtcdGateway => {
            let reads = match options.get("reads") {
                Some(r) => r.parse().map_err(ClientError::Option)?,
                None => crate::etcd_gateway::ReadMode::Linearizable,
            };
            Arc::new(crate::etcd_gateway::EtcdGateway::new(nodes, timeout, reads)?)
        }
    })
}
