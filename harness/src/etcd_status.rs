//! Finding etcd's leader from etcd's own word, for the launcher's [`LeaderProbe::EtcdStatus`]
//! (`sunder_systems::spec`): every member answers `POST /v3/maintenance/status` through its
//! JSON gateway with its own `header.member_id`, the member id it takes for the leader and
//! its `raftTerm` (64-bit integers as strings, as the gateway writes them). Member ids are
//! etcd's, node ids are Sunder's; the answers themselves join the two.
//!
//! [`LeaderProbe::EtcdStatus`]: sunder_systems::spec::LeaderProbe::EtcdStatus

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The leader as the members say: the one named by the member with the highest raft term
/// (an isolated old leader keeps its old term, so the majority's word wins), mapped back to
/// a node id through the members' own ids. None when nobody names a member that answered.
pub fn decide_leader(statuses: &BTreeMap<String, Value>) -> Option<String> {
    let field = |v: &Value, path: &[&str]| -> Option<String> {
        let mut at = v;
        for p in path {
            at = at.get(p)?;
        }
        at.as_str().map(str::to_string)
    };
    let term = |v: &Value| field(v, &["raftTerm"]).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    let node_of: BTreeMap<String, &String> =
        statuses.iter().filter_map(|(node, v)| Some((field(v, &["header", "member_id"])?, node))).collect();
    statuses
        .values()
        .filter_map(|v| Some((term(v), field(v, &["leader"])?)))
        .filter(|(_, leader)| leader != "0")
        .max_by_key(|(t, _)| *t)
        .and_then(|(_, leader)| node_of.get(&leader).map(|n| (*n).clone()))
}

/// Asks every node for its status (each bounded by `timeout`) and decides the leader.
pub async fn leader(
    http: &reqwest::Client,
    nodes: &BTreeMap<String, SocketAddr>,
    timeout: Duration,
) -> Option<String> {
    let asks = nodes.iter().map(|(id, addr)| async move {
        let reply = http
            .post(format!("http://{addr}/v3/maintenance/status"))
            .body("{}")
            .timeout(timeout)
            .send()
            .await
            .ok()?;
        if !reply.status().is_success() {
            return None;
        }
        let body: Value = serde_json::from_slice(&reply.bytes().await.ok()?).ok()?;
        Some((id.clone(), body))
    });
    let mut statuses = BTreeMap::new();
    for answer in join_all(asks).await.into_iter().flatten() {
        statuses.insert(answer.0, answer.1);
    }
    decide_leader(&statuses)
}

/// Runs the futures concurrently and returns their outputs in order (no futures crate here).
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|v| v.expect("every future finished")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(member: &str, leader: &str, term: u64) -> Value {
        json!({"header": {"member_id": member}, "leader": leader, "raftTerm": term.to_string()})
    }

    #[test]
    fn the_member_with_the_highest_term_names_the_leader() {
        let statuses = BTreeMap::from([
            // n1 was the leader, is cut off and still believes it leads at term 2.
            ("n1".to_string(), status("111", "111", 2)),
            ("n2".to_string(), status("222", "333", 3)),
            ("n3".to_string(), status("333", "333", 3)),
        ]);
        assert_eq!(decide_leader(&statuses), Some("n3".to_string()));
    }

    #[test]
    fn no_leader_when_members_name_none_or_an_unknown_member() {
        let none = BTreeMap::from([("n1".to_string(), status("111", "0", 4))]);
        assert_eq!(decide_leader(&none), None);
        let unknown = BTreeMap::from([("n1".to_string(), status("111", "999", 4))]);
        assert_eq!(decide_leader(&unknown), None);
    }
}
