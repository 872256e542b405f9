//! The local backend, for machines where Sunder is not root: every node listens on
//! 127.0.0.1 on a port picked here, clients dial nodes directly, and every directed peer
//! link `from -> to` goes through its own proxy listener (see [`crate::net::proxy`]). The
//! proxies run on a single-threaded tokio runtime on a thread this backend owns
//! (`sunder-proxy`), so the harness needs no runtime to create or tear down the network
//! and proxy work never competes with its own tasks.

use crate::error::{NemesisError, Result};
use crate::grudge::Grudge;
use crate::net::CutStyle;
use crate::net::names::{fnv1a, validate_nodes};
use crate::net::ports;
use crate::net::proxy::{self, Link, LinkRules};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Nodes on loopback joined by proxies.
#[derive(Debug)]
pub struct Local {
    nodes: Vec<String>,
    listen: BTreeMap<String, SocketAddr>,
    links: BTreeMap<(String, String), SocketAddr>,
    rules: watch::Sender<Arc<LinkRules>>,
    stop: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl Local {
    /// Picks a free loopback port per node (see [`crate::net::ports`]), starts one proxy per
    /// directed link, and seeds each link's loss draws from `seed`.
    pub fn create(nodes: &[String], seed: u64) -> Result<Local> {
        validate_nodes(nodes)?;
        // Node ports come from outside the ephemeral range so that no proxy listener bound
        // below, and no outgoing connection, can take one before (or while) its node
        // listens on it.
        let mut listen = BTreeMap::new();
        for n in nodes {
            listen.insert(n.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, ports::loopback_port()?)));
        }
        let mut links = BTreeMap::new();
        let mut listeners = Vec::new();
        for from in nodes {
            for to in nodes.iter().filter(|t| *t != from) {
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .map_err(|e| NemesisError::io("bind a loopback port", e))?;
                l.set_nonblocking(true)
                    .map_err(|e| NemesisError::io("make a proxy listener non-blocking", e))?;
                let addr = l.local_addr().map_err(|e| NemesisError::io("read a proxy port", e))?;
                links.insert((from.clone(), to.clone()), addr);
                let link_seed = seed ^ fnv1a(format!("{from}->{to}").as_bytes());
                listeners.push((l, Arc::new(Link::new(from, to, listen[to], link_seed))));
            }
        }
        let (rules, rules_rx) = watch::channel(Arc::new(LinkRules::default()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NemesisError::io("build the proxy runtime", e))?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let thread = std::thread::Builder::new()
            .name("sunder-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    for (l, link) in listeners {
                        match tokio::net::TcpListener::from_std(l) {
                            Ok(l) => {
                                tokio::spawn(proxy::serve(l, link, rules_rx.clone()));
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(NemesisError::io("register a proxy listener", e)));
                                return;
                            }
                        }
                    }
                    let _ = ready_tx.send(Ok(()));
                    let _ = stop_rx.await;
                });
                // Dropping the runtime here, outside any async context, cancels every proxy
                // task and closes its sockets.
                drop(runtime);
            })
            .map_err(|e| NemesisError::io("start the proxy thread", e))?;
        let local =
            Local { nodes: nodes.to_vec(), listen, links, rules, stop: Mutex::new(Some((stop_tx, thread))) };
        ready_rx
            .recv()
            .map_err(|_| NemesisError::Invalid("the proxy thread died while starting".into()))??;
        Ok(local)
    }

    /// The nodes.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Where `node` listens, and where clients dial it.
    pub fn listen_addr(&self, node: &str) -> Result<SocketAddr> {
        self.listen.get(node).copied().ok_or_else(|| NemesisError::UnknownNode(node.to_string()))
    }

    /// The proxy `from` dials to reach `to`.
    pub fn link_addr(&self, from: &str, to: &str) -> Result<SocketAddr> {
        self.links.get(&(from.to_string(), to.to_string())).copied().ok_or_else(|| {
            NemesisError::UnknownNode(if self.listen.contains_key(from) {
                to.to_string()
            } else {
                from.to_string()
            })
        })
    }

    /// `node`'s peer map: each other node and the proxy `node` must dial to reach it.
    pub fn peer_addrs(&self, node: &str) -> Result<BTreeMap<String, SocketAddr>> {
        self.listen_addr(node)?;
        self.nodes.iter().filter(|p| *p != node).map(|p| Ok((p.clone(), self.link_addr(node, p)?))).collect()
    }

    fn change(&self, f: impl FnOnce(&mut LinkRules)) -> Result<()> {
        if self.stop.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            return Err(NemesisError::Invalid("the network was already torn down".into()));
        }
        let mut next = (**self.rules.borrow()).clone();
        f(&mut next);
        self.rules.send_replace(Arc::new(next));
        Ok(())
    }

    /// Replaces the current partition with `grudge`.
    pub fn partition(&self, grudge: &Grudge, style: CutStyle) -> Result<()> {
        grudge.validate(&self.nodes)?;
        self.change(|r| {
            r.grudge = grudge.clone();
            r.style = style;
        })
    }

    /// Ends the partition; held bytes flow again.
    pub fn heal(&self) -> Result<()> {
        self.change(|r| r.grudge = Grudge::none())
    }

    /// Makes chunks sent to `nodes` by their peers lost with `probability`.
    pub fn loss(&self, nodes: &BTreeSet<String>, probability: f64) -> Result<()> {
        for n in nodes {
            self.listen_addr(n)?;
        }
        self.change(|r| r.loss = nodes.iter().map(|n| (n.clone(), probability)).collect())
    }

    /// Ends packet loss.
    pub fn clear_loss(&self) -> Result<()> {
        self.change(|r| r.loss.clear())
    }

    /// Adds `delay` to every chunk that `nodes` send to or receive from peers.
    pub fn latency(&self, nodes: &BTreeSet<String>, delay: Duration) -> Result<()> {
        for n in nodes {
            self.listen_addr(n)?;
        }
        self.change(|r| r.latency = nodes.iter().map(|n| (n.clone(), delay)).collect())
    }

    /// Ends added latency.
    pub fn clear_latency(&self) -> Result<()> {
        self.change(|r| r.latency.clear())
    }

    /// Stops every proxy and closes its connections. Idempotent.
    pub fn teardown(&self) -> Result<()> {
        let taken = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, thread)) = taken {
            let _ = stop.send(());
            thread.join().map_err(|_| NemesisError::Invalid("the proxy thread panicked".into()))?;
        }
        Ok(())
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
