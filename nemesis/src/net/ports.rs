//! Loopback ports for nodes on the local backend. A port found by binding port 0 and
//! releasing it is an ephemeral port: until the node binds it, the kernel may hand the
//! same number to any other `bind(0)` (a proxy listener, a parallel test) or use it as
//! the source port of an outgoing `connect()`, and the node then fails with "address in
//! use". The same happens when a killed node restarts on its port. So node ports come from
//! below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), which the
//! kernel never picks on its own; each one is checked free by binding it, and one process
//! never hands out the same port twice in a row of the range.

use crate::error::{NemesisError, Result};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the kernel's ephemeral range is described.
const EPHEMERAL_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// How many ports below the ephemeral range Sunder draws from at most.
const POOL: u32 = 16_000;

/// The lowest port used: below it live well-known and registered services.
const FLOOR: u32 = 10_000;

/// How many ports this process has handed out, so consecutive picks differ.
static PICKED: AtomicU32 = AtomicU32::new(0);

/// A free port on 127.0.0.1 that the kernel will not give to anyone else on its own.
/// Falls back to an ephemeral port when the ephemeral range leaves no room below or above
/// it (a machine configured with `1024 65535`).
pub fn loopback_port() -> Result<u16> {
    let (low, high) = ephemeral_range();
    let (start, len) = match pool(low, high) {
        Some(p) => p,
        None => return ephemeral_port(),
    };
    // Different processes start at different places so parallel runs rarely probe the
    // same ports; within a process the counter walks the pool.
    let origin = std::process::id().wrapping_mul(2_654_435_761) % len;
    for _ in 0..len {
        let n = PICKED.fetch_add(1, Ordering::Relaxed);
        let port = (start + (origin + n) % len) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(NemesisError::Invalid(format!(
        "no free loopback port in {start}..{} (below the ephemeral range {low}-{high})",
        start + len
    )))
}

/// The first port and the size of the pool outside the ephemeral range `low..=high`.
fn pool(low: u32, high: u32) -> Option<(u32, u32)> {
    if low > FLOOR + 1_000 {
        let start = low.saturating_sub(POOL).max(FLOOR);
        return Some((start, low - start));
    }
    if high < 64_000 {
        return Some((high + 1, (65_535 - high).min(POOL)));
    }
    None
}

/// The kernel's ephemeral range, or Linux's default when it cannot be read.
fn ephemeral_range() -> (u32, u32) {
    let parsed = std::fs::read_to_string(EPHEMERAL_RANGE).ok().and_then(|s| {
        let mut it = s.split_whitespace().map(str::parse::<u32>);
        Some((it.next()?.ok()?, it.next()?.ok()?))
    });
    parsed.unwrap_or((32_768, 60_999))
}

fn ephemeral_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| NemesisError::io("bind a loopback port", e))?;
    Ok(l.local_addr().map_err(|e| NemesisError::io("read a bound port", e))?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_below_the_ephemeral_range_and_never_twice_in_a_row() {
        let (low, _) = ephemeral_range();
        let ports: Vec<u16> = (0..50).map(|_| loopback_port().unwrap()).collect();
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        if low > FLOOR + 1_000 {
            assert!(ports.iter().all(|p| u32::from(*p) < low), "{ports:?} not below {low}");
        }
    }

    #[test]
    fn the_pool_avoids_the_ephemeral_range_or_gives_up() {
        assert_eq!(pool(32_768, 60_999), Some((16_768, 16_000)));
        assert_eq!(pool(15_000, 60_999), Some((10_000, 5_000)));
        assert_eq!(pool(1_024, 50_000), Some((50_001, 15_535)));
        assert_eq!(pool(1_024, 65_535), None);
    }
}
