//! Benchmark of raft-kv, printing numbers (never asserted): three node processes on
//! loopback with fsync on, each a child of this program started in node mode; clients
//! at concurrency 10 and 100 measure acknowledged ops/s and p50/p99 latency for writes
//! and for each read path; then the leader is SIGKILLed and the time to the first
//! acknowledged write on a new leader is measured.
//!
//! `cargo run --release -p sunder-systems --example raft_bench [-- SECONDS]`

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") {
        run_node(&args[2..]);
        return;
    }
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut paths: Vec<String> = args.iter().skip(2).cloned().collect();
    if paths.is_empty() {
        paths = ["read-index", "log", "lease", "local"].map(String::from).to_vec();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(bench(secs, paths));
}

/// Node mode: `node ID DATA OPTIONS_JSON PEERS_JSON` where the peers map includes self.
fn run_node(args: &[String]) {
    let id = args[0].clone();
    let all: BTreeMap<String, SocketAddr> = serde_json::from_str(&args[3]).expect("peers json");
    let cfg = sunder_systems::NodeConfig {
        listen: all[&id],
        peers: all.iter().filter(|(p, _)| **p != id).map(|(p, a)| (p.clone(), *a)).collect(),
        data: PathBuf::from(&args[1]),
        options: serde_json::from_str(&args[2]).expect("options json"),
        id,
    };
    if let Err(e) = sunder_systems::run("raft-kv", cfg) {
        eprintln!("node failed: {e}");
        std::process::exit(1);
    }
}

struct Cluster {
    root: PathBuf,
    addrs: BTreeMap<String, SocketAddr>,
    options: String,
    children: BTreeMap<String, Child>,
}

impl Cluster {
    fn start(reads: &str) -> Cluster {
        let root = std::env::temp_dir().join(format!("sunder-raft-bench-{}-{reads}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut addrs = BTreeMap::new();
        for i in 1..=3 {
            let port = sunder_nemesis::net::ports::loopback_port().expect("a free loopback port");
            addrs.insert(format!("n{i}"), std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        }
        let options = json!({ "reads": reads }).to_string();
        let mut c = Cluster { root, addrs, options, children: BTreeMap::new() };
        for id in c.addrs.keys().cloned().collect::<Vec<_>>() {
            c.spawn(&id);
        }
        c
    }

    fn spawn(&mut self, id: &str) {
        let data = self.root.join(id);
        let child = Command::new(std::env::current_exe().expect("exe"))
            .args([
                "node",
                id,
                &data.to_string_lossy(),
                &self.options,
                &serde_json::to_string(&self.addrs).expect("json"),
            ])
            .spawn()
            .expect("spawn node");
        self.children.insert(id.to_string(), child);
    }

    fn kill(&mut self, id: &str) {
        if let Some(mut c) = self.children.remove(id) {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for id in self.children.keys().cloned().collect::<Vec<_>>() {
            self.kill(&id);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn leader(http: &reqwest::Client, c: &Cluster) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for (id, addr) in &c.addrs {
            if let Ok(r) = http.get(format!("http://{addr}/status")).send().await
                && let Ok(s) = r.json::<Value>().await
                && s["role"] == "leader"
            {
                return id.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no leader");
}

/// Runs `conc` closed-loop clients for `secs` s; returns (ok ops/s, p50 ms, p99 ms).
async fn load(
    http: &reqwest::Client,
    addr: SocketAddr,
    conc: usize,
    secs: u64,
    reads: bool,
) -> (f64, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..conc {
        let http = http.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut v = 0u64;
            while !stop.load(Ordering::Relaxed) {
                v += 1;
                let url = format!("http://{addr}/kv/k{}", w % 10);
                let t = Instant::now();
                let req = if reads {
                    http.get(url)
                } else {
                    http.put(url).json(&json!({ "value": v * 1000 + w as u64 }))
                };
                if let Ok(r) = req.send().await
                    && r.status().is_success()
                {
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (all.len() as f64 / secs as f64, pct(0.50), pct(0.99))
}

/// The role the node at `addr` reports now, for flagging rows where leadership moved.
async fn role(http: &reqwest::Client, addr: SocketAddr) -> String {
    match http.get(format!("http://{addr}/status")).send().await {
        Ok(r) => {
            r.json::<Value>().await.map(|s| s["role"].as_str().unwrap_or("?").to_string()).unwrap_or_default()
        }
        Err(e) => format!("unreachable: {e}"),
    }
}

async fn bench(secs: u64, paths: Vec<String>) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    println!("raft-kv, 3 node processes on 127.0.0.1, fsync on, {secs} s per row");
    println!("{:<22} {:>5} {:>10} {:>9} {:>9}", "op", "conc", "ok ops/s", "p50 ms", "p99 ms");
    for reads in paths.iter().map(String::as_str) {
        let c = Cluster::start(reads);
        let l = leader(&http, &c).await;
        let addr = c.addrs[&l];
        for conc in [10, 100] {
            if reads == "read-index" {
                let (r, p50, p99) = load(&http, addr, conc, secs, false).await;
                println!("{:<22} {conc:>5} {r:>10.0} {p50:>9.2} {p99:>9.2}", "write");
            }
            let (r, p50, p99) = load(&http, addr, conc, secs, true).await;
            println!("{:<22} {conc:>5} {r:>10.0} {p50:>9.2} {p99:>9.2}", format!("read ({reads})"));
            let now = role(&http, addr).await;
            if now != "leader" {
                println!("  ({l} is no longer leader: {now})");
            }
        }
    }
    // Failover: SIGKILL the leader, then write to the survivors until one acknowledges.
    let mut samples = Vec::new();
    for _ in 0..3 {
        let mut c = Cluster::start("read-index");
        let l = leader(&http, &c).await;
        let _ = load(&http, c.addrs[&l], 10, 1, false).await;
        let killed = Instant::now();
        c.kill(&l);
        'outer: loop {
            for (id, addr) in &c.addrs {
                if *id == l {
                    continue;
                }
                let r = http.put(format!("http://{addr}/kv/f")).json(&json!({ "value": 1 })).send().await;
                if r.is_ok_and(|r| r.status().is_success()) {
                    break 'outer;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(killed.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "failover: SIGKILL of the leader to first acknowledged write: {:?} ms",
        samples.iter().map(|s| s.round()).collect::<Vec<_>>()
    );
}
