//! Shared test fixtures: the root gate, echo listeners inside namespaces or on loopback,
//! and reachability probes run from inside namespaces, so partition tests observe what the
//! kernel (or the proxy) really lets through. The probes work on either backend, so the
//! local and netns tests check the same claims the same way.
#![allow(dead_code)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use sunder_nemesis::grudge::{self, Grudge, PartitionShape};
use sunder_nemesis::net::Network;
use sunder_nemesis::net::namespace::NamespaceFile;

/// How long a probe expected to fail waits before calling a link cut.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

/// How long a probe expected to succeed may take (generous: a loaded CI machine must not
/// turn a slow answer into a false "cut"; a success returns as soon as it comes).
pub const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// True when netns tests can run. Not root: prints a loud SKIP and returns false, unless
/// `SUNDER_REQUIRE_NETNS=1`, in which case the test fails.
pub fn netns_allowed(test: &str) -> bool {
    if let Err(why) = sunder_nemesis::net::netns_available() {
        if std::env::var("SUNDER_REQUIRE_NETNS").as_deref() == Ok("1") {
            panic!("{test}: SUNDER_REQUIRE_NETNS=1 but netns is unavailable: {why}");
        }
        // Written to the stderr handle, not eprintln!, so libtest's capture cannot hide it.
        let _ = writeln!(
            std::io::stderr(),
            "==================== SKIP {test}: netns unavailable ({why}) ===================="
        );
        return false;
    }
    true
}

/// A run id unique to this test and process.
pub fn run_id(tag: &str) -> String {
    format!("{tag}{}", std::process::id())
}

/// Node ids n1..nN.
pub fn nodes(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

/// An echo server: answers each byte it reads with the same byte. Stops on drop.
pub struct Echo {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    /// Listens on `addr`, inside `ns` when given.
    pub fn start(addr: SocketAddr, ns: Option<NamespaceFile>) -> Echo {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            if let Some(ns) = ns {
                ns.enter_current_thread().expect("enter namespace");
            }
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            l.set_nonblocking(true).unwrap();
            tx.send(()).unwrap();
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        std::thread::spawn(move || {
                            let mut b = [0u8; 1];
                            while let Ok(1) = s.read(&mut b) {
                                if s.write_all(&b).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        rx.recv().expect("echo listener started");
        Echo { stop, thread: Some(thread) }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether one byte makes it to the echo server at `to` and back, from the calling thread.
pub fn echo_round_trip(to: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&to, timeout) else { return false };
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut b = [0u8; 1];
    s.write_all(&[42]).is_ok() && matches!(s.read(&mut b), Ok(1)) && b[0] == 42
}

/// Runs every probe `(label, namespace to probe from, target, expected)` in parallel and
/// returns the labels whose result differed from the expectation.
pub fn mismatches(probes: Vec<(String, Option<NamespaceFile>, SocketAddr, bool)>) -> Vec<String> {
    let handles: Vec<_> = probes
        .into_iter()
        .map(|(label, ns, to, expect)| {
            std::thread::spawn(move || {
                if let Some(ns) = ns {
                    ns.enter_current_thread().expect("enter namespace");
                }
                let got = echo_round_trip(to, if expect { REACH_TIMEOUT } else { PROBE_TIMEOUT });
                (got != expect).then(|| format!("{label}: expected {}, got {}", reach(expect), reach(got)))
            })
        })
        .collect();
    handles.into_iter().filter_map(|h| h.join().unwrap()).collect()
}

/// The namespace of `node` on the netns backend; None on the local backend, where every
/// node shares the caller's.
fn namespace_of(net: &Network, node: &str) -> Option<NamespaceFile> {
    net.as_netns().map(|ns| ns.node_namespace(node).unwrap().clone())
}

/// One echo server per node on its listen address, inside the node's namespace if it has one.
pub fn echoes(net: &Network) -> Vec<Echo> {
    net.nodes().iter().map(|n| Echo::start(net.listen_addr(n).unwrap(), namespace_of(net, n))).collect()
}

/// Probes every ordered pair of nodes, from inside the sender's namespace if it has one,
/// through the sender's peer address of the receiver; returns the pairs whose reachability
/// differs from what `g` allows.
pub fn matrix_mismatches(net: &Network, g: &Grudge) -> Vec<String> {
    let mut probes = Vec::new();
    for a in net.nodes() {
        for b in net.nodes().iter().filter(|b| *b != a) {
            probes.push((
                format!("{a}->{b}"),
                namespace_of(net, a),
                net.peer_addrs(a).unwrap()[b],
                !g.severs(a, b),
            ));
        }
    }
    mismatches(probes)
}

/// Partitions `net` (a fresh, fully connected network with echoes running) into every
/// shape, both ways and one way, with `leader` as the leader; asserts each cuts exactly its
/// grudge and that healing restores every link.
pub fn assert_each_shape_cuts_exactly_its_grudge(net: &Network, leader: &str) {
    assert!(matrix_mismatches(net, &Grudge::none()).is_empty(), "fresh network must be fully connected");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cases = [
        (PartitionShape::One, false),
        (PartitionShape::Halves, false),
        (PartitionShape::MajoritiesRing, false),
        (PartitionShape::Bridge, false),
        (PartitionShape::Leader, false),
        (PartitionShape::One, true),
        (PartitionShape::MajoritiesRing, true),
    ];
    for (shape, one_way) in cases {
        let g = grudge::build(shape, one_way, net.nodes(), Some(leader), &mut rng).unwrap();
        net.partition(&g).unwrap();
        let bad = matrix_mismatches(net, &g);
        assert!(bad.is_empty(), "{shape} one_way={one_way} grudge {g:?}: {bad:?}");
        net.heal().unwrap();
        let bad = matrix_mismatches(net, &Grudge::none());
        assert!(bad.is_empty(), "after healing {shape}: {bad:?}");
    }
}

fn reach(b: bool) -> &'static str {
    if b { "reachable" } else { "cut" }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// Creates a fresh directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("sunder-nemesis-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
