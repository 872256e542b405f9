//! What the systems' cluster tests share: a cluster of real nodes in this process, each on
//! its own tokio runtime and thread, serving real HTTP on loopback ports with real files in
//! temp data dirs, stopped and restarted on the same port and data, and torn down on drop
//! (also when a test fails). Each test file hands it its system's `serve_on`.
#![allow(dead_code)] // each test binary uses its own subset

use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;
use sunder_systems::{NodeConfig, NodeError};
use tokio::sync::oneshot;

/// A future that resolves when a node should stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A system's `serve_on`: serves one node on an already bound listener until shutdown.
pub type ServeOn = fn(
    tokio::net::TcpListener,
    NodeConfig,
    Shutdown,
) -> Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send>>;

struct RunningNode {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningNode {
    fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A cluster whose nodes and data dirs are torn down on drop, also when a test fails.
pub struct Cluster {
    /// The temp folder holding every node's data dir.
    pub root: PathBuf,
    /// Each node's address.
    pub addrs: BTreeMap<String, SocketAddr>,
    options: BTreeMap<String, String>,
    nodes: BTreeMap<String, RunningNode>,
    serve: ServeOn,
}

impl Cluster {
    /// Starts `n` nodes `n1`..`nN` of the system `serve` serves, with `-o` `options`.
    pub fn start(name: &str, n: usize, options: &[(&str, &str)], serve: ServeOn) -> Cluster {
        let root = std::env::temp_dir().join(format!("sunder-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut listeners = BTreeMap::new();
        for i in 1..=n {
            // A port outside the ephemeral range, so no connection made while the node is
            // down can take it before `restart` binds it again.
            let port = sunder_nemesis::net::ports::loopback_port().expect("a free loopback port");
            let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the node's port");
            listeners.insert(format!("n{i}"), l);
        }
        let addrs = listeners.iter().map(|(id, l)| (id.clone(), l.local_addr().expect("addr"))).collect();
        let options = options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut cluster = Cluster { root, addrs, options, nodes: BTreeMap::new(), serve };
        for (id, l) in listeners {
            cluster.launch(&id, l);
        }
        cluster
    }

    fn launch(&mut self, id: &str, listener: std::net::TcpListener) {
        let cfg = NodeConfig {
            id: id.to_string(),
            listen: self.addrs[id],
            peers: self.addrs.iter().filter(|(p, _)| *p != id).map(|(p, a)| (p.clone(), *a)).collect(),
            data: self.root.join(id).join("data"),
            options: self.options.clone(),
        };
        // As `sunder node` does before it serves.
        std::fs::create_dir_all(&cfg.data).expect("data dir");
        let serve = self.serve;
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("node runtime");
            rt.block_on(async move {
                listener.set_nonblocking(true).expect("nonblocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let shutdown: Shutdown = Box::pin(async move {
                    let _ = rx.await;
                });
                if let Err(e) = serve(listener, cfg, shutdown).await {
                    eprintln!("node stopped with error: {e}");
                }
            });
        });
        self.nodes.insert(id.to_string(), RunningNode { stop: Some(tx), thread: Some(thread) });
    }

    /// Stops one node; its data dir and port stay for [`Cluster::restart`].
    pub fn stop(&mut self, id: &str) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.stop();
        }
    }

    /// Starts a stopped node again on the same port and data.
    pub fn restart(&mut self, id: &str) {
        let listener = std::net::TcpListener::bind(self.addrs[id]).expect("rebind the node's port");
        self.launch(id, listener);
    }

    /// The URL of `path` on node `id`.
    pub fn url(&self, id: &str, path: &str) -> String {
        format!("http://{}{path}", self.addrs[id])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in self.nodes.values_mut() {
            n.stop();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// An HTTP client with a 3 s timeout and no proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(3)).build().expect("client")
}

/// Node `id`'s `/status`, or None when it does not answer.
pub async fn status(c: &reqwest::Client, cluster: &Cluster, id: &str) -> Option<Value> {
    let r = c.get(cluster.url(id, "/status")).send().await.ok()?;
    r.json().await.ok()
}
