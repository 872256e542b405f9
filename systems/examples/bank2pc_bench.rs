//! Benchmark of bank-2pc, printing numbers (never asserted): three node processes on
//! loopback with fsync on, each a child of this program started in node mode. Ten
//! closed-loop clients send random transfers through every node; the bench reports
//! committed transfers/s, p50/p99 latency of committed transfers, the share aborted, the
//! share of prepares that waited for a lock, and the final total. Then it SIGKILLs a
//! coordinator between logging a commit and sending it (the pause hook) and measures how
//! long the participants stay in doubt: under 2PC until the coordinator is restarted,
//! under 3PC until their own timeout.
//!
//! `cargo run --release -p sunder-systems --example bank2pc_bench [-- SECONDS]`

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use sunder_systems::bank2pc::shard::Shards;

const ACCOUNTS: u64 = 5;
/// How long the killed coordinator stays down in the blocking measurement.
const RESTART_AFTER: Duration = Duration::from_millis(1000);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") {
        run_node(&args[2..]);
        return;
    }
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(bench(secs));
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
    if let Err(e) = sunder_systems::run("bank-2pc", cfg) {
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
    fn start(name: &str, options: Value) -> Cluster {
        let root = std::env::temp_dir().join(format!("sunder-bank2pc-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut addrs = BTreeMap::new();
        for i in 1..=3 {
            let port = sunder_nemesis::net::ports::loopback_port().expect("a free loopback port");
            addrs.insert(format!("n{i}"), SocketAddr::from(([127, 0, 0, 1], port)));
        }
        let mut c = Cluster { root, addrs, options: options.to_string(), children: BTreeMap::new() };
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

    fn url(&self, id: &str, path: &str) -> String {
        format!("http://{}{path}", self.addrs[id])
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

async fn status(http: &reqwest::Client, c: &Cluster, id: &str) -> Option<Value> {
    http.get(c.url(id, "/status")).send().await.ok()?.json().await.ok()
}

async fn wait_up(http: &reqwest::Client, c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for id in c.addrs.keys() {
        while status(http, c, id).await.is_none() {
            assert!(Instant::now() < deadline, "{id} did not come up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

struct Load {
    ok_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    aborted: usize,
    other: usize,
    ok: usize,
}

/// Runs `conc` closed-loop transfer clients for `secs` s, spread over every node.
async fn load(http: &reqwest::Client, c: &Cluster, conc: usize, secs: u64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = c.addrs.keys().map(|id| c.url(id, "/transfer")).collect();
    let mut tasks = Vec::new();
    for w in 0..conc as u64 {
        let (http, stop, urls) = (http.clone(), stop.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut aborted, mut other) = (Vec::new(), 0, 0);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // A cheap deterministic spread of account pairs and amounts.
                let from = (w * 7 + i * 3) % ACCOUNTS;
                let to = (from + 1 + (i + w) % (ACCOUNTS - 1)) % ACCOUNTS;
                let body = json!({"from": format!("a{from}"), "to": format!("a{to}"), "amount": 1 + (i * 13 + w) % 20});
                let t = Instant::now();
                match http.post(&urls[((w + i) % urls.len() as u64) as usize]).json(&body).send().await {
                    Ok(r) if r.status().is_success() => lat.push(t.elapsed()),
                    Ok(r) if r.status().as_u16() == 409 => aborted += 1,
                    _ => other += 1,
                }
            }
            (lat, aborted, other)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut aborted, mut other) = (Vec::new(), 0, 0);
    for t in tasks {
        let (l, a, o) = t.await.expect("task");
        all.extend(l);
        aborted += a;
        other += o;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Load {
        ok_per_s: all.len() as f64 / secs as f64,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        aborted,
        other,
        ok: all.len(),
    }
}

async fn total(http: &reqwest::Client, c: &Cluster) -> String {
    match http.get(c.url("n1", "/accounts")).send().await {
        Ok(r) => match r.json::<Value>().await {
            Ok(v) => v["balances"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_i64).sum::<i64>().to_string())
                .unwrap_or_else(|| format!("{v}")),
            Err(e) => format!("unreadable: {e}"),
        },
        Err(e) => format!("unreachable: {e}"),
    }
}

/// Share of prepares, summed over nodes, that had to wait for a lock.
async fn lock_wait_share(http: &reqwest::Client, c: &Cluster) -> f64 {
    let (mut prepares, mut waited) = (0u64, 0u64);
    for id in c.addrs.keys() {
        if let Some(s) = status(http, c, id).await {
            prepares += s["prepares"].as_u64().unwrap_or(0);
            waited += s["prepares_that_waited"].as_u64().unwrap_or(0);
        }
    }
    if prepares == 0 { 0.0 } else { waited as f64 / prepares as f64 }
}

/// Kills the coordinator of a transfer whose commit is logged but not sent, restarts it
/// after [`RESTART_AFTER`] when `restart` is set, and returns how long after the kill
/// both participants were out of doubt.
async fn blocked_after_kill(http: &reqwest::Client, protocol: &str, restart: bool) -> Option<Duration> {
    let opts = json!({"protocol": protocol, "debug-pause-before-commit-ms": "60000"});
    let mut c = Cluster::start(&format!("block-{protocol}"), opts);
    wait_up(http, &c).await;
    let shards = Shards::new(c.addrs.keys().cloned().collect());
    let on = |n: &str| (0..ACCOUNTS).map(|i| format!("a{i}")).find(|a| shards.owner(a) == n);
    let (x, y) = (on("n2")?, on("n3")?);
    // 2PC answers once the commit is logged; 3PC only after the pre-commit round, which
    // the pause holds back, so the answer is not awaited beyond half a second.
    let transfer = http.post(c.url("n1", "/transfer")).json(&json!({"from": x, "to": y, "amount": 1})).send();
    let _ = tokio::time::timeout(Duration::from_millis(500), transfer).await;
    c.kill("n1");
    let killed = Instant::now();
    let mut restarted = false;
    while killed.elapsed() < Duration::from_secs(30) {
        if restart && !restarted && killed.elapsed() >= RESTART_AFTER {
            c.spawn("n1");
            restarted = true;
        }
        let mut doubts = 0;
        for id in ["n2", "n3"] {
            doubts += status(http, &c, id).await.map_or(1, |s| s["in_doubt"].as_array().map_or(1, Vec::len));
        }
        if doubts == 0 {
            return Some(killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for id in ["n2", "n3"] {
        eprintln!("{protocol}: {id} still in doubt after 30 s: {:?}", status(http, &c, id).await);
    }
    None
}

async fn bench(secs: u64) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    println!("bank-2pc, 3 node processes on 127.0.0.1, fsync on, {ACCOUNTS} accounts, {secs} s per row");
    println!(
        "{:<9} {:>5} {:>12} {:>8} {:>8} {:>9} {:>7} {:>11} {:>7}",
        "protocol", "conc", "transfers/s", "p50 ms", "p99 ms", "aborted", "other", "lock waits", "total"
    );
    for protocol in ["2pc", "3pc"] {
        let c = Cluster::start(protocol, json!({"protocol": protocol}));
        wait_up(&http, &c).await;
        let l = load(&http, &c, 10, secs).await;
        let share = lock_wait_share(&http, &c).await;
        let attempts = (l.ok + l.aborted + l.other).max(1) as f64;
        println!(
            "{protocol:<9} {:>5} {:>12.0} {:>8.2} {:>8.2} {:>8.1}% {:>7} {:>10.1}% {:>7}",
            10,
            l.ok_per_s,
            l.p50_ms,
            l.p99_ms,
            100.0 * l.aborted as f64 / attempts,
            l.other,
            100.0 * share,
            total(&http, &c).await
        );
    }
    for (protocol, restart) in [("2pc", true), ("3pc", false)] {
        let how = if restart {
            format!("coordinator restarted {} ms after the kill", RESTART_AFTER.as_millis())
        } else {
            "coordinator left down; participants decide alone after 2 x timeout-ms = 2000 ms".to_string()
        };
        match blocked_after_kill(&http, protocol, restart).await {
            Some(d) => {
                println!("{protocol}: participants in doubt for {} ms after the kill ({how})", d.as_millis())
            }
            None => println!("{protocol}: blocking measurement failed ({how})"),
        }
    }
}
