//! Benchmarks of quorum-kv, not tests: ignored by default, they print numbers and assert
//! nothing about speed. Three real nodes in this process on loopback with fsync on,
//! driven by 10 concurrent HTTP clients (half puts, half gets over 50 keys):
//! throughput and p50/p99 latency for R = W = 1 and R = W = 2, with and without
//! write-back, against single-kv on the same machine as the ceiling; and the time
//! anti-entropy alone takes to bring a restarted node up to date.
//!
//! `cargo test -p sunder-systems --release --test quorum_bench -- --ignored --nocapture --test-threads 1`

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sunder_systems::NodeConfig;
use tokio::sync::oneshot;

const CONCURRENCY: usize = 10;
const SECONDS: u64 = 5;
const KEYS: usize = 50;

struct Node {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(listener: std::net::TcpListener, cfg: Option<NodeConfig>) -> Node {
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        rt.block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let shutdown = async move {
                let _ = rx.await;
            };
            match cfg {
                Some(cfg) => {
                    if let Err(e) = sunder_systems::quorum::serve_on(listener, cfg, shutdown).await {
                        eprintln!("node stopped with error: {e}");
                    }
                }
                None => {
                    let app = sunder_systems::single_kv::router("n1", Default::default());
                    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.expect("serve");
                }
            }
        });
    });
    Node { stop: Some(tx), thread: Some(thread) }
}

struct Cluster {
    root: PathBuf,
    addrs: BTreeMap<String, SocketAddr>,
    options: BTreeMap<String, String>,
    nodes: BTreeMap<String, Node>,
}

impl Cluster {
    fn start(name: &str, options: &[(&str, &str)]) -> Cluster {
        let root = std::env::temp_dir().join(format!("sunder-quorum-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut listeners = BTreeMap::new();
        for i in 1..=3 {
            let port = sunder_nemesis::net::ports::loopback_port().expect("port");
            listeners
                .insert(format!("n{i}"), std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind"));
        }
        let addrs = listeners.iter().map(|(id, l)| (id.clone(), l.local_addr().expect("addr"))).collect();
        let options = options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut c = Cluster { root, addrs, options, nodes: BTreeMap::new() };
        for (id, l) in listeners {
            c.launch(&id, l);
        }
        c
    }

    fn launch(&mut self, id: &str, listener: std::net::TcpListener) {
        let cfg = NodeConfig {
            id: id.to_string(),
            listen: self.addrs[id],
            peers: self.addrs.iter().filter(|(p, _)| *p != id).map(|(p, a)| (p.clone(), *a)).collect(),
            data: self.root.join(id),
            options: self.options.clone(),
        };
        self.nodes.insert(id.to_string(), spawn(listener, Some(cfg)));
    }

    fn stop(&mut self, id: &str) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.stop();
        }
    }

    fn restart(&mut self, id: &str) {
        let l = std::net::TcpListener::bind(self.addrs[id]).expect("rebind");
        self.launch(id, l);
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

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().expect("client")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Drives `addrs` with [`CONCURRENCY`] clients for [`SECONDS`]; prints one table row.
async fn drive(label: &str, addrs: Vec<SocketAddr>) {
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let addrs = Arc::new(addrs);
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let c = c.clone();
        let addrs = addrs.clone();
        tasks.push(tokio::spawn(async move {
            let (mut puts, mut gets, mut failed) = (Vec::new(), Vec::new(), 0usize);
            let mut i = worker;
            while Instant::now() < deadline {
                i += 1;
                let addr = addrs[i % addrs.len()];
                let key = format!("k{}", (i * 7) % KEYS);
                let t = Instant::now();
                let r = if i % 2 == 0 {
                    c.put(format!("http://{addr}/kv/{key}")).json(&json!({ "value": i })).send().await
                } else {
                    c.get(format!("http://{addr}/kv/{key}")).send().await
                };
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.json::<Value>().await;
                        if i % 2 == 0 { puts.push(ms) } else { gets.push(ms) }
                    }
                    _ => failed += 1,
                }
            }
            (puts, gets, failed)
        }));
    }
    let (mut puts, mut gets, mut failed) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (p, g, f) = t.await.expect("worker");
        puts.extend(p);
        gets.extend(g);
        failed += f;
    }
    puts.sort_by(f64::total_cmp);
    gets.sort_by(f64::total_cmp);
    let s = SECONDS as f64;
    println!(
        "| {label} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {failed} |",
        puts.len() as f64 / s,
        percentile(&puts, 0.5),
        percentile(&puts, 0.99),
        gets.len() as f64 / s,
        percentile(&gets, 0.5),
        percentile(&gets, 0.99),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn throughput_and_latency_at_concurrency_10() {
    println!("| setting | puts/s | put p50 ms | put p99 ms | gets/s | get p50 ms | get p99 ms | failed |");
    println!("|---|---|---|---|---|---|---|---|");
    {
        let port = sunder_nemesis::net::ports::loopback_port().expect("port");
        let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        let addr = l.local_addr().expect("addr");
        let _node = spawn(l, None);
        tokio::time::sleep(Duration::from_millis(200)).await;
        drive("single-kv (ceiling)", vec![addr]).await;
    }
    for (r, wb) in [("1", "false"), ("1", "true"), ("2", "false"), ("2", "true")] {
        let cluster = Cluster::start(&format!("r{r}-{wb}"), &[("r", r), ("w", r), ("read-writeback", wb)]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        drive(&format!("quorum-kv r=w={r} read-writeback={wb}"), cluster.addrs.values().copied().collect())
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn time_to_converge_by_anti_entropy_alone() {
    for ms in ["100", "1000"] {
        let mut cluster = Cluster::start("converge", &[("read-repair", "false"), ("anti-entropy-ms", ms)]);
        let c = client();
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.stop("n3");
        let n1 = cluster.addrs["n1"];
        let keys = 1000;
        for k in 0..keys {
            let r =
                c.put(format!("http://{n1}/kv/k{k}")).json(&json!({ "value": k })).send().await.expect("put");
            assert!(r.status().is_success());
        }
        cluster.restart("n3");
        let healed = Instant::now();
        let n3 = cluster.addrs["n3"];
        loop {
            if let Ok(r) = c.get(format!("http://{n3}/status")).send().await
                && let Ok(s) = r.json::<Value>().await
                && s["keys"] == keys
            {
                break;
            }
            assert!(healed.elapsed() < Duration::from_secs(60), "never converged");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!(
            "anti-entropy-ms={ms}: a restarted node that missed {keys} writes held all of them {} ms after it came back",
            healed.elapsed().as_millis()
        );
    }
}
