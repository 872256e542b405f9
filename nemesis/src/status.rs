//! Finding the leader from the nodes' own word: a minimal HTTP/1.1 `GET /status` client
//! (no dependency beyond tokio) and the rule that turns the answers into one node id. A
//! [`crate::process::Cluster`] implementation can call [`leader_from_status`] directly.

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Fetches `GET /status` from `addr` and returns its JSON body, or None on any failure
/// (a paused, killed or partitioned node simply does not answer).
pub async fn fetch_status(addr: SocketAddr, timeout: Duration) -> Option<Value> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        parse_response(&raw)
    })
    .await
    .ok()
    .flatten()
}

/// The JSON body of a complete `200` HTTP/1.1 response (plain or chunked).
fn parse_response(raw: &[u8]) -> Option<Value> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let status_ok = head.lines().next()?.split_whitespace().nth(1)? == "200";
    if !status_ok {
        return None;
    }
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    if !chunked {
        return serde_json::from_slice(body).ok();
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
    serde_json::from_slice(&out).ok()
}

/// Decides the leader from each node's `/status` body: among nodes whose `role` is
/// `"leader"`, the one with the highest `term`; failing that, the node most nodes name in
/// their `leader` field. None when nobody claims or names a leader.
pub fn decide_leader(statuses: &BTreeMap<String, Value>) -> Option<String> {
    let term = |v: &Value| v.get("term").and_then(Value::as_u64).unwrap_or(0);
    let claimed = statuses
        .iter()
        .filter(|(_, v)| v.get("role").and_then(Value::as_str) == Some("leader"))
        .max_by_key(|(n, v)| (term(v), std::cmp::Reverse((*n).clone())));
    if let Some((n, _)) = claimed {
        return Some(n.clone());
    }
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for v in statuses.values() {
        if let Some(l) = v.get("leader").and_then(Value::as_str)
            && statuses.contains_key(l)
        {
            *votes.entry(l).or_default() += 1;
        }
    }
    votes.into_iter().max_by_key(|(n, c)| (*c, std::cmp::Reverse(*n))).map(|(n, _)| n.to_string())
}

/// Asks every node for `/status` (concurrently, each within `timeout`) and decides the
/// leader with [`decide_leader`].
pub async fn leader_from_status(addrs: &BTreeMap<String, SocketAddr>, timeout: Duration) -> Option<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for (node, addr) in addrs {
        let (node, addr) = (node.clone(), *addr);
        tasks.spawn(async move { (node, fetch_status(addr, timeout).await) });
    }
    let mut statuses = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok((node, Some(v))) = r {
            statuses.insert(node, v);
        }
    }
    decide_leader(&statuses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leader_is_the_claimant_with_the_highest_term() {
        let s: BTreeMap<String, Value> = [
            ("n1".to_string(), json!({"role": "leader", "term": 3})),
            ("n2".to_string(), json!({"role": "leader", "term": 5})),
            ("n3".to_string(), json!({"role": "follower", "leader": "n1"})),
        ]
        .into();
        assert_eq!(decide_leader(&s).as_deref(), Some("n2"));
    }

    #[test]
    fn leader_falls_back_to_what_followers_name() {
        let s: BTreeMap<String, Value> = [
            ("n1".to_string(), json!({"role": "follower", "leader": "n3"})),
            ("n2".to_string(), json!({"role": "follower", "leader": "n3"})),
            ("n3".to_string(), json!({"role": "candidate", "leader": null})),
        ]
        .into();
        assert_eq!(decide_leader(&s).as_deref(), Some("n3"));
        assert_eq!(decide_leader(&BTreeMap::new()), None);
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n{\"role\":\"x\"}";
        assert_eq!(parse_response(plain), Some(json!({"role": "x"})));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some(json!({"a": 1})));
        assert_eq!(parse_response(b"HTTP/1.1 500 X\r\n\r\n{}"), None);
    }
}
