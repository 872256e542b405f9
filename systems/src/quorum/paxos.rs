//! Single-decree Paxos per register write, for `cas=paxos`. Each key's replicas are its
//! acceptors; every read, write and compare-and-set of the key is one Paxos round in the
//! style of CASPaxos: prepare/promise with a ballot above any the acceptors promised,
//! carry forward the accepted value with the highest ballot as the register's current
//! value, apply the operation to it, then accept/accepted the result at a majority. A
//! read writes back the value it found, so it is linearizable too.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A proposal number: compared by round, then proposer id, so two proposers never share one.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    /// Round, raised past every ballot a proposer has seen refused.
    pub round: u64,
    /// Proposer id.
    pub node: String,
}

/// One acceptor's durable state for one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptor {
    /// Highest ballot promised; nothing lower is accepted afterwards.
    pub promised: Ballot,
    /// Highest proposal accepted, and its value.
    pub accepted: Option<(Ballot, Value)>,
}

/// An acceptor's answer to prepare or accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vote {
    /// Prepare granted: the acceptor promised and reports what it had accepted.
    Promise {
        /// Its accepted proposal, if any.
        accepted: Option<(Ballot, Value)>,
    },
    /// Accept granted.
    Accepted,
    /// Refused: the acceptor already promised this higher ballot.
    Refused {
        /// The ballot that beat the request.
        promised: Ballot,
    },
}

impl Acceptor {
    /// Phase 1b: promise `ballot` only if it is above every earlier promise.
    pub fn prepare(&mut self, ballot: &Ballot) -> Vote {
        if *ballot > self.promised {
            self.promised = ballot.clone();
            Vote::Promise { accepted: self.accepted.clone() }
        } else {
            Vote::Refused { promised: self.promised.clone() }
        }
    }

    /// Phase 2b: accept unless a higher ballot was promised since.
    pub fn accept(&mut self, ballot: &Ballot, value: &Value) -> Vote {
        if *ballot >= self.promised {
            self.promised = ballot.clone();
            self.accepted = Some((ballot.clone(), value.clone()));
            Vote::Accepted
        } else {
            Vote::Refused { promised: self.promised.clone() }
        }
    }
}

/// The register's current value as a majority of promises reveal it: the value of the
/// highest-ballot accepted proposal among them, `null` when none accepted anything.
pub fn carried_forward<'a>(promises: impl IntoIterator<Item = &'a Option<(Ballot, Value)>>) -> Value {
    promises.into_iter().flatten().max_by(|a, b| a.0.cmp(&b.0)).map(|(_, v)| v.clone()).unwrap_or(Value::Null)
}

/// Paxos quorum among `n` acceptors.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b(round: u64, node: &str) -> Ballot {
        Ballot { round, node: node.into() }
    }

    #[test]
    fn paxos_acceptor_never_accepts_below_its_promise() {
        let mut a = Acceptor::default();
        assert!(matches!(a.prepare(&b(5, "n2")), Vote::Promise { accepted: None }));
        assert_eq!(a.accept(&b(4, "n9"), &json!(1)), Vote::Refused { promised: b(5, "n2") });
        assert_eq!(a.accept(&b(5, "n1"), &json!(1)), Vote::Refused { promised: b(5, "n2") });
        assert_eq!(a.accepted, None);
        assert_eq!(a.accept(&b(5, "n2"), &json!(2)), Vote::Accepted);
        assert_eq!(a.accepted, Some((b(5, "n2"), json!(2))));
    }

    #[test]
    fn paxos_acceptor_promises_only_rising_ballots() {
        let mut a = Acceptor::default();
        a.prepare(&b(3, "n1"));
        assert_eq!(a.prepare(&b(3, "n1")), Vote::Refused { promised: b(3, "n1") });
        assert_eq!(a.prepare(&b(2, "n3")), Vote::Refused { promised: b(3, "n1") });
        a.accept(&b(3, "n1"), &json!("x"));
        assert_eq!(a.prepare(&b(4, "n2")), Vote::Promise { accepted: Some((b(3, "n1"), json!("x"))) });
    }

    #[test]
    fn paxos_carries_forward_the_highest_accepted_value() {
        let promises = vec![None, Some((b(2, "n1"), json!("old"))), Some((b(7, "n3"), json!("new")))];
        assert_eq!(carried_forward(&promises), json!("new"));
        assert_eq!(carried_forward(&[None, None]), json!(null));
    }

    #[test]
    fn any_two_majorities_intersect() {
        for n in 1..10 {
            assert!(2 * majority(n) > n);
        }
    }
}
