//! The one table from an anomaly's `kind` (the short machine name a checker emits, some of
//! them a paper's name such as `WriteCORead` or `G1c`) to words a reader knows: a plain name,
//! one sentence on what it means for an application, and the paper's name as a secondary
//! label. Reports and `results.json` show the plain name first; docs/consistency-models.md
//! lists the same table with its references. Every kind a checker in this crate can emit has
//! an entry (a test scans the sources for them).

/// The words for one anomaly kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainName {
    /// The `kind` string as checkers emit it.
    pub kind: &'static str,
    /// A name a reader knows, e.g. "a client did not see its own write".
    pub name: &'static str,
    /// One sentence on what it means for an application.
    pub meaning: &'static str,
    /// The name in the literature, when the kind is not already it, with its source.
    pub paper: Option<&'static str>,
}

const fn entry(
    kind: &'static str,
    name: &'static str,
    meaning: &'static str,
    paper: Option<&'static str>,
) -> PlainName {
    PlainName { kind, name, meaning, paper }
}

/// Every kind emitted by a checker of this crate. Transactional cycle kinds also come with a
/// `-process` or `-realtime` suffix (see [`lookup`]).
pub const NAMES: &[PlainName] = &[
    // Linearizability and the register ladder.
    entry(
        "nonlinearizable",
        "not linearizable",
        "No single order of the operations, each taking effect between its call and its reply, explains what clients saw: some client read something a strongly consistent store could not have returned at that moment.",
        Some("linearizability violation (Herlihy & Wing 1990)"),
    ),
    entry(
        "not-sequential",
        "no single order fits every client",
        "No one order of all writes and reads, keeping each client's own order, explains what clients saw, even ignoring real time: replicas disagreed in a way no sequentially consistent store allows.",
        Some("sequential consistency violation (Lamport 1979)"),
    ),
    entry(
        "WriteCORead",
        "a read returned an older value than one it causally depended on",
        "A client read a value although a newer write of the same key had already happened before that read (it saw the write, or wrote it, or saw something written after it): the store went back in time for that client.",
        Some("WriteCORead (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "WriteCOInitRead",
        "a read returned the initial value after a write it depended on",
        "A client read a key's initial (empty) value although a write of that key had already happened before the read, causally: the write was lost for that client.",
        Some("WriteCOInitRead (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "CyclicCO",
        "causality runs in a circle",
        "Some operations each happened before the next, by a client's own order or by one reading another's write, and back to the first: values appeared before the writes that produced them.",
        Some("CyclicCO (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "ThinAirRead",
        "a read returned a value nobody wrote",
        "A client read a value that no write which took effect produced: invented, corrupted, or from a write that failed.",
        Some("ThinAirRead (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "WriteHBInitRead",
        "a client saw the initial value after a write it must have seen",
        "In one client's view a write of a key had to come before its read, yet the read returned the key's initial value: that client lost a write it depended on.",
        Some("WriteHBInitRead (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "CyclicHB",
        "a client's reads need writes in a circular order",
        "No order of writes explains what one client read: one write must come both before and after another in that client's view.",
        Some("CyclicHB (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "CyclicCF",
        "replicas cannot agree on one order of writes",
        "No single order of conflicting writes fits every replica together with causal order: replicas will not converge on the same values.",
        Some("CyclicCF (Bouajjani et al., POPL 2017)"),
    ),
    entry(
        "read-your-writes",
        "a client did not see its own write",
        "A client wrote a value and later read an older one of the same key: its own write vanished for it.",
        Some("read-your-writes (Terry et al., session guarantees, 1994)"),
    ),
    entry(
        "monotonic-reads",
        "a client's reads went back in time",
        "A client read a value and later read an older one of the same key: successive reads moved backwards.",
        Some("monotonic reads (Terry et al., session guarantees, 1994)"),
    ),
    entry(
        "monotonic-writes",
        "a client's writes took effect out of order",
        "Someone saw a client's later write and then its earlier one take effect, or the earlier one overwrite the later: one client's writes were applied in the wrong order.",
        Some("monotonic writes (Terry et al., session guarantees, 1994)"),
    ),
    entry(
        "writes-follow-reads",
        "a write overtook the write it followed",
        "A client read a value, then wrote, and someone saw its write before the value it had read: writes did not follow the reads they depended on.",
        Some("writes follow reads (Terry et al., session guarantees, 1994)"),
    ),
    entry(
        "pram",
        "a client saw another client's writes out of order",
        "A client saw a write of another client and then an older value of that client's: the writes of one client did not appear in their order.",
        Some("PRAM / pipelined RAM violation (Lipton & Sandberg 1988)"),
    ),
    entry(
        "divergence",
        "replicas ended with different values",
        "After the cluster healed and went quiet, final reads of one key on different nodes disagreed: replicas never converged.",
        Some("convergence violation (eventual consistency)"),
    ),
    entry(
        "garbage-final-value",
        "a final read returned a value nobody wrote",
        "After the cluster healed, a node returned a value no write produced.",
        None,
    ),
    entry(
        "lost-write",
        "an acknowledged write disappeared",
        "A write the store acknowledged is absent from the values every node converged on: data the application was told was saved is gone.",
        None,
    ),
    // Jepsen's workload invariants.
    entry(
        "wrong-total",
        "money was created or destroyed",
        "A read of all accounts summed to a different total than the bank holds: a transfer was applied in part, or twice, or read half-done.",
        None,
    ),
    entry(
        "negative-balance",
        "an account went negative",
        "A read showed an account below zero although transfers never overdraw: a transfer was applied on a stale balance.",
        None,
    ),
    entry("nil-balance", "an account had no balance", "A read returned null for an account's balance.", None),
    entry(
        "missing-account",
        "an account was missing from a read",
        "A read of all accounts did not include one the bank has.",
        None,
    ),
    entry(
        "unexpected-account",
        "a read showed an account that does not exist",
        "A read of all accounts included one the bank never had.",
        None,
    ),
    entry(
        "lost",
        "an acknowledged add disappeared",
        "An element whose add the store acknowledged was missing from reads that began after it was last seen: data the application was told was saved is gone.",
        None,
    ),
    entry(
        "stale",
        "an acknowledged add was not visible for a while",
        "An element whose add was acknowledged was missing from some reads that began after the add completed, though it reappeared later: reads were served from stale state.",
        None,
    ),
    entry(
        "unexpected",
        "a read returned an element nobody added",
        "A read held an element no client ever tried to add.",
        None,
    ),
    entry(
        "duplicated",
        "a read returned an element twice",
        "A read of a set held one element more than once.",
        None,
    ),
    entry(
        "read-below-lower-bound",
        "a counter read too low",
        "A read of a counter returned less than the acknowledged increments allow: increments were lost or read from a stale replica.",
        None,
    ),
    entry(
        "read-above-upper-bound",
        "a counter read too high",
        "A read of a counter returned more than every attempted increment allows: an increment was applied twice.",
        None,
    ),
    entry(
        "duplicated-id",
        "the same id was handed out twice",
        "Two requests for a unique id got the same one: anything keyed by these ids will collide.",
        None,
    ),
    // Transactional anomalies (Adya's phenomena, as Elle finds them).
    entry(
        "G0",
        "transactions overwrote each other in a circle",
        "Writes of some transactions are ordered in a cycle: no order of the transactions explains which write won on each key (a dirty write).",
        Some("G0, write cycle (Adya 1999)"),
    ),
    entry(
        "G1a",
        "a read saw a write that was rolled back",
        "A committed transaction read a value written by a transaction that aborted: the application acted on data that never existed.",
        Some("G1a, aborted read (Adya 1999)"),
    ),
    entry(
        "G1b",
        "a read saw a transaction half-way",
        "A transaction read a value another transaction overwrote before committing: it saw an intermediate state.",
        Some("G1b, intermediate read (Adya 1999)"),
    ),
    entry(
        "G1c",
        "transactions saw each other's writes in a circle",
        "Each transaction of a cycle read or overwrote the previous one's writes: no order of them explains what they saw.",
        Some("G1c, circular information flow (Adya 1999)"),
    ),
    entry(
        "G-single-item",
        "a transaction saw part of another's effects (read skew)",
        "A transaction missed a write of another transaction whose other effects it saw: it read an inconsistent snapshot.",
        Some("G-single, read skew (Adya 1999; Elle's item variant)"),
    ),
    entry(
        "G-nonadjacent-item",
        "transactions missed each other's writes in a circle",
        "A cycle of transactions, each missing another's write, that snapshot isolation forbids: no snapshot explains what they read.",
        Some("G-nonadjacent (Cerone & Gotsman; Elle's item variant)"),
    ),
    entry(
        "G2-item",
        "transactions each missed the other's write (write skew)",
        "Two or more transactions each read what another then overwrote, and both committed: together they did what no serial order allows.",
        Some("G2-item, anti-dependency cycle (Adya 1999)"),
    ),
    entry(
        "fractured-read",
        "a transaction saw only part of another transaction",
        "A transaction observed some of another transaction's writes but not others: a commit was not atomic to readers.",
        Some("fractured read (Bailis et al., RAMP, 2014)"),
    ),
    entry(
        "non-repeatable-read",
        "a transaction read one key twice and got two versions",
        "Within one transaction, a second read of a key returned a different committed version than the first: the transaction did not see one snapshot (read committed allows it; monotonic atomic view does not).",
        Some("non-repeatable read (Berenson et al. 1995, P2; Plume's TAP-j)"),
    ),
    entry(
        "lost-update",
        "two transactions updated from the same state and one update was lost",
        "Two committed transactions read the same version of a key and both wrote it: one of their updates was silently overwritten.",
        Some("lost update (Berenson et al. 1995, P4)"),
    ),
    entry(
        "dirty-update",
        "a committed write built on a write that was rolled back",
        "A committed transaction's write followed an aborted transaction's write in a key's version order: aborted data leaked into committed state.",
        Some("dirty update (Elle)"),
    ),
    entry(
        "incompatible-order",
        "two reads disagree on a list's history",
        "Two reads of one list are neither a prefix of the other: the store kept no single order of appends.",
        Some("incompatible order (Elle)"),
    ),
    entry(
        "duplicate-elements",
        "a list read holds one append twice",
        "A read of a list held the same appended element more than once: an append was applied twice.",
        Some("duplicate elements (Elle)"),
    ),
    entry(
        "garbage-read",
        "a transaction read a value nobody wrote",
        "A transaction read a value no transaction ever wrote.",
        Some("garbage read (Elle)"),
    ),
    entry(
        "internal",
        "a transaction contradicted itself",
        "A transaction read something inconsistent with its own earlier reads or writes of the same key.",
        Some("internal inconsistency (Elle)"),
    ),
    entry(
        "cyclic-versions",
        "a key's versions are ordered in a circle",
        "The version order of a key, as the reads imply it, has a cycle: no sequence of writes explains the values read.",
        Some("cyclic version order (Elle)"),
    ),
];

/// The words for `kind`, owned so that suffixed kinds can carry a longer name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// The plain name.
    pub name: String,
    /// What it means for an application, one or two sentences.
    pub meaning: String,
    /// The paper's name, when there is one.
    pub paper: Option<String>,
}

/// The words for `kind`, or `None` when no checker of this crate emits it. A transactional
/// cycle with a `-process` or `-realtime` suffix is the base kind whose cycle also needs a
/// client's own order or real time.
pub fn lookup(kind: &str) -> Option<Naming> {
    let find = |k: &str| NAMES.iter().find(|n| n.kind == k);
    if let Some(n) = find(kind) {
        return Some(Naming {
            name: n.name.to_string(),
            meaning: n.meaning.to_string(),
            paper: n.paper.map(str::to_string),
        });
    }
    let (base, order) = if let Some(b) = kind.strip_suffix("-realtime") {
        (b, "real-time order (a transaction that finished before another began)")
    } else if let Some(b) = kind.strip_suffix("-process") {
        (b, "a client's own order of transactions")
    } else {
        return None;
    };
    let n = find(base)?;
    Some(Naming {
        name: format!("{}, counting {}", n.name, order.split(" (").next().unwrap_or(order)),
        meaning: format!("{} The cycle closes only through {order}.", n.meaning),
        paper: n.paper.map(|p| format!("{kind}: {p}")),
    })
}

/// The words for `kind`, falling back to the kind itself for one no checker here emits
/// (an imported result, a newer checker): reports always have something to show.
pub fn describe(kind: &str) -> Naming {
    lookup(kind).unwrap_or_else(|| Naming { name: kind.to_string(), meaning: String::new(), paper: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_entry() {
        for (i, n) in NAMES.iter().enumerate() {
            assert!(NAMES[..i].iter().all(|m| m.kind != n.kind), "{} listed twice", n.kind);
            assert!(!n.name.is_empty() && n.meaning.ends_with('.'), "{}: name and a sentence", n.kind);
        }
    }

    #[test]
    fn suffixed_cycle_kinds_name_their_base() {
        let n = lookup("G-single-item-realtime").expect("suffixed kind named");
        assert!(n.name.starts_with("a transaction saw part of another's effects"), "{}", n.name);
        assert!(n.paper.as_deref().unwrap_or("").contains("G-single"));
        assert!(lookup("no-such-kind").is_none());
        assert_eq!(describe("no-such-kind").name, "no-such-kind");
    }
}
