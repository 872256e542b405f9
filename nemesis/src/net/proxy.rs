//! The local backend's link proxy: one listener per directed peer link `from -> to`,
//! forwarding each connection `from` opens to `to`'s real port, while obeying the rules
//! the backend publishes. A cut direction stops being read, so its bytes wait in kernel
//! buffers and the sender eventually blocks, as behind an iptables DROP; they flow again
//! after heal. A cut with [`CutStyle::Reset`] aborts connections with a TCP RST instead.
//! Latency delays every chunk by a fixed time (order kept); loss makes a chunk pay TCP's
//! retransmission timeouts (200 ms, doubling while the retry is lost too), which is how
//! packet loss shows through TCP, drawn from a seeded RNG.

use crate::grudge::Grudge;
use crate::net::CutStyle;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// First retransmission timeout of a lost chunk (Linux's minimum RTO).
const FIRST_RTO: Duration = Duration::from_millis(200);
/// Lost retries after which a chunk goes through anyway (as TCP would give up much later).
const MAX_RETRIES: u32 = 6;

/// What the proxies enforce; the backend replaces it whole on every change.
#[derive(Debug, Clone, Default)]
pub struct LinkRules {
    /// Who drops whom.
    pub grudge: Grudge,
    /// Hold bytes or reset connections on cut links.
    pub style: CutStyle,
    /// Per receiving node, the probability that a chunk sent to it is lost.
    pub loss: BTreeMap<String, f64>,
    /// Per node, latency added to every chunk it sends or receives.
    pub latency: BTreeMap<String, Duration>,
}

impl LinkRules {
    fn direction_cut(&self, sender: &str, receiver: &str) -> bool {
        self.grudge.drops(receiver, sender)
    }

    fn delay(&self, sender: &str, receiver: &str) -> Duration {
        let get = |n: &str| self.latency.get(n).copied().unwrap_or_default();
        get(sender).max(get(receiver))
    }

    fn loss(&self, receiver: &str) -> f64 {
        self.loss.get(receiver).copied().unwrap_or(0.0)
    }

    fn resets(&self, a: &str, b: &str) -> bool {
        self.style == CutStyle::Reset && self.grudge.severs(a, b)
    }
}

/// One directed link's identity, shared by its connections.
#[derive(Debug)]
pub struct Link {
    /// The dialing node.
    pub from: String,
    /// The node dialed.
    pub to: String,
    /// `to`'s real listen address.
    pub target: SocketAddr,
    /// Seed of this link's loss draws.
    pub seed: u64,
    connections: AtomicU64,
}

impl Link {
    /// Describes the link `from -> to` whose traffic goes to `target`.
    pub fn new(from: &str, to: &str, target: SocketAddr, seed: u64) -> Link {
        Link { from: from.into(), to: to.into(), target, seed, connections: AtomicU64::new(0) }
    }
}

/// Accepts connections on `listener` forever, proxying each one to the link's target.
pub async fn serve(listener: TcpListener, link: Arc<Link>, rules: watch::Receiver<Arc<LinkRules>>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let n = link.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(inbound, Arc::clone(&link), rules.clone(), n));
    }
}

async fn connection(
    mut inbound: TcpStream,
    link: Arc<Link>,
    mut rules: watch::Receiver<Arc<LinkRules>>,
    n: u64,
) {
    // Establishing needs both directions, like a TCP handshake behind DROP rules.
    loop {
        let r = rules.borrow_and_update().clone();
        if !r.grudge.severs(&link.from, &link.to) {
            break;
        }
        if r.style == CutStyle::Reset || rules.changed().await.is_err() {
            let _ = inbound.set_zero_linger();
            return;
        }
    }
    let Ok(mut outbound) = TcpStream::connect(link.target).await else {
        let _ = inbound.set_zero_linger();
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let clean = {
        let (ir, iw) = inbound.split();
        let (or, ow) = outbound.split();
        let seed = link.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let up = pump(ir, ow, &link.from, &link.to, rules.clone(), ChaCha8Rng::seed_from_u64(seed));
        let down = pump(or, iw, &link.to, &link.from, rules.clone(), ChaCha8Rng::seed_from_u64(seed ^ 1));
        tokio::select! {
            r = async { tokio::try_join!(up, down) } => r.is_ok(),
            _ = reset_ordered(rules, &link.from, &link.to) => false,
        }
    };
    if !clean {
        let _ = inbound.set_zero_linger();
        let _ = outbound.set_zero_linger();
    }
}

/// Resolves when the rules say this link's connections must be reset.
async fn reset_ordered(mut rules: watch::Receiver<Arc<LinkRules>>, a: &str, b: &str) {
    loop {
        if rules.borrow_and_update().resets(a, b) {
            return;
        }
        if rules.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Waits while `sender -> receiver` is cut.
async fn wait_open(
    rules: &mut watch::Receiver<Arc<LinkRules>>,
    sender: &str,
    receiver: &str,
) -> io::Result<()> {
    loop {
        if !rules.borrow_and_update().direction_cut(sender, receiver) {
            return Ok(());
        }
        rules.changed().await.map_err(|_| io::Error::other("proxy stopped"))?;
    }
}

/// Time a chunk loses to retransmissions when each transmission is lost with `p`.
fn loss_penalty(rng: &mut ChaCha8Rng, p: f64) -> Duration {
    let mut penalty = Duration::ZERO;
    let mut rto = FIRST_RTO;
    for _ in 0..MAX_RETRIES {
        if p <= 0.0 || !rng.random_bool(p.min(1.0)) {
            break;
        }
        penalty += rto;
        rto *= 2;
    }
    penalty
}

/// Moves bytes from `rd` (sent by `sender`) to `wr` (read by `receiver`) until EOF, then
/// half-closes `wr`.
async fn pump(
    mut rd: tokio::net::tcp::ReadHalf<'_>,
    mut wr: tokio::net::tcp::WriteHalf<'_>,
    sender: &str,
    receiver: &str,
    rules: watch::Receiver<Arc<LinkRules>>,
    mut rng: ChaCha8Rng,
) -> io::Result<()> {
    // A chunk carries the instant it may be written, or none when no delay or loss applies:
    // tokio's timers tick in milliseconds, so even a sleep until "now" would cost every
    // chunk up to a millisecond on an undisturbed link.
    let (tx, mut rx) = mpsc::channel::<(Option<Instant>, Vec<u8>)>(64);
    let mut read_rules = rules.clone();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            wait_open(&mut read_rules, sender, receiver).await?;
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), io::Error>(());
            }
            let r = read_rules.borrow().clone();
            let wait = r.delay(sender, receiver) + loss_penalty(&mut rng, r.loss(receiver));
            let due = (!wait.is_zero()).then(|| Instant::now() + wait);
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                return Ok(());
            }
        }
    };
    let mut write_rules = rules;
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            if let Some(due) = due {
                tokio::time::sleep_until(due).await;
            }
            wait_open(&mut write_rules, sender, receiver).await?;
            wr.write_all(&chunk).await?;
        }
        wr.shutdown().await
    };
    tokio::try_join!(reader, writer).map(|_| ())
}
