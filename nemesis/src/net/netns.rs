//! The netns backend: one network namespace per node, a bridge in a namespace of its own,
//! and a control namespace on that bridge for the harness and its clients. Nothing is
//! created in the root namespace: veth pairs are made from inside the bridge namespace
//! with their far end placed straight into the member namespace, addresses live only on
//! those ends, and no namespace gets a default route, so a connection to a test address
//! can only ever reach the bridge or fail locally. Faults are iptables rules in Sunder's
//! own chain inside node namespaces; every change rewrites that chain's whole content
//! atomically (`iptables-restore --noflush`), so heal leaves exactly the remaining
//! faults' rules and never touches a rule or chain Sunder did not create.

use crate::error::{NemesisError, Result};
use crate::grudge::Grudge;
use crate::net::CutStyle;
use crate::net::command::{ToolCall, on_path, run_all};
use crate::net::names;
use crate::net::namespace::{NamespaceFile, netns_path};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

/// Host number of the control namespace in the run's /24.
const CONTROL_HOST: u8 = 1;
/// Host number of the first node; node `i` (0-based) gets `FIRST_NODE_HOST + i`.
const FIRST_NODE_HOST: u8 = 11;

/// What the chains of the node namespaces should hold.
#[derive(Debug, Default, Clone)]
struct Faults {
    partition: Grudge,
    style: CutStyle,
    loss: BTreeMap<String, f64>,
}

/// Chain contents known to be in force, per node; `None` when an update failed half-way
/// and the next update must rewrite every node.
type Applied = Option<BTreeMap<String, Vec<String>>>;

/// A run's namespaces, addresses and firewall chains.
#[derive(Debug)]
pub struct Netns {
    run_id: String,
    nodes: Vec<String>,
    prefix: [u8; 3],
    port: u16,
    chain: String,
    node_files: BTreeMap<String, NamespaceFile>,
    control: NamespaceFile,
    state: Mutex<(Faults, Applied)>,
    torn_down: Mutex<bool>,
}

impl Netns {
    /// Builds the namespaces of `nodes` for run `run_id`; nodes will listen on `port` at
    /// their own address. Fails, leaving nothing behind, if any name is already taken
    /// (a leftover: run `sunder cleanup`) or any safety check fails.
    pub fn create(run_id: &str, nodes: &[String], port: u16) -> Result<Netns> {
        names::validate_run_id(run_id)?;
        names::validate_nodes(nodes)?;
        // Pin the root namespace for safety checks before any control namespace exists.
        NamespaceFile::origin()?;
        if nodes.len() > 200 {
            return Err(NemesisError::Invalid("the netns backend supports at most 200 nodes".into()));
        }
        for tool in ["ip", "iptables-restore"] {
            if !on_path(tool) {
                return Err(NemesisError::Unsupported {
                    what: "the netns backend".into(),
                    why: format!("`{tool}` is not installed (apt-get install -y iproute2 iptables)"),
                });
            }
        }
        let all = all_namespaces(run_id, nodes);
        for ns in &all {
            if netns_path(ns).exists() {
                return Err(NemesisError::Invalid(format!(
                    "namespace {ns} already exists: a run with this id is alive, or left debris (run `sunder cleanup`)"
                )));
            }
        }
        let prefix = choose_prefix(run_id)?;
        match build(run_id, nodes, prefix, port) {
            Ok(n) => Ok(n),
            Err(e) => {
                let _ = delete_namespaces(&all);
                Err(e)
            }
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The nodes, in the order given at creation.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The run's test subnet, e.g. `10.151.37.0/24`.
    pub fn subnet(&self) -> String {
        let [a, b, c] = self.prefix;
        format!("{a}.{b}.{c}.0/24")
    }

    /// Sunder's chain name in the node namespaces.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The address of `node` inside the test subnet.
    pub fn ip(&self, node: &str) -> Result<Ipv4Addr> {
        let i = self.index(node)?;
        let [a, b, c] = self.prefix;
        Ok(Ipv4Addr::new(a, b, c, FIRST_NODE_HOST + i as u8))
    }

    /// The address of the control namespace.
    pub fn control_ip(&self) -> Ipv4Addr {
        let [a, b, c] = self.prefix;
        Ipv4Addr::new(a, b, c, CONTROL_HOST)
    }

    /// `node`'s address with `port`.
    pub fn addr(&self, node: &str, port: u16) -> Result<SocketAddr> {
        Ok(SocketAddr::new(self.ip(node)?.into(), port))
    }

    /// The port nodes listen on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// An open handle on `node`'s namespace (for `place_command` or `run_inside`).
    pub fn node_namespace(&self, node: &str) -> Result<&NamespaceFile> {
        self.node_files.get(node).ok_or_else(|| NemesisError::UnknownNode(node.to_string()))
    }

    /// An open handle on the control namespace.
    pub fn control_namespace(&self) -> &NamespaceFile {
        &self.control
    }

    /// Every namespace name of the run.
    pub fn namespace_names(&self) -> Vec<String> {
        all_namespaces(&self.run_id, &self.nodes)
    }

    fn index(&self, node: &str) -> Result<usize> {
        self.nodes.iter().position(|n| n == node).ok_or_else(|| NemesisError::UnknownNode(node.to_string()))
    }

    /// Checks the safety invariants: no namespace of the run has a default route (IPv4 or
    /// IPv6), and the root namespace has no address and no route inside the test subnet.
    pub fn verify_safety(&self) -> Result<()> {
        verify_no_default_routes(&self.namespace_names())?;
        verify_root_clear_of(self.prefix)
    }

    /// Replaces the current partition with `grudge`.
    pub fn partition(&self, grudge: &Grudge, style: CutStyle) -> Result<()> {
        grudge.validate(&self.nodes)?;
        self.update(|f| {
            f.partition = grudge.clone();
            f.style = style;
        })
    }

    /// Removes every partition rule; loss rules stay.
    pub fn heal(&self) -> Result<()> {
        self.update(|f| f.partition = Grudge::none())
    }

    /// Makes each node of `nodes` drop incoming packets from the other nodes with
    /// `probability` (the kernel's `statistic` match draws), replacing any earlier loss.
    pub fn loss(&self, nodes: &BTreeSet<String>, probability: f64) -> Result<()> {
        crate::net::check_probability(probability)?;
        for n in nodes {
            self.index(n)?;
        }
        self.update(|f| f.loss = nodes.iter().map(|n| (n.clone(), probability)).collect())
    }

    /// Removes every loss rule; partition rules stay.
    pub fn clear_loss(&self) -> Result<()> {
        self.update(|f| f.loss.clear())
    }

    /// `iptables -S` of Sunder's chain in `node`'s namespace, as the kernel has it.
    pub fn listed_rules(&self, node: &str) -> Result<String> {
        ToolCall::new("iptables", &["-w", "-S", &self.chain]).inside(self.node_namespace(node)?).run()
    }

    fn chain_rules(&self, faults: &Faults, node: &str) -> Vec<String> {
        let mut rules = Vec::new();
        let ip = |n: &str| self.ip(n).map(|a| a.to_string()).unwrap_or_default();
        for sender in faults.partition.dropped_by(node) {
            let src = ip(sender);
            if faults.style == CutStyle::Reset {
                // Let the resets themselves through: with a two-way cut both sides reject,
                // and a rejected RST would turn the refusal back into a hang.
                rules.push(format!("-s {src}/32 -p tcp --tcp-flags RST RST -j RETURN"));
                rules.push(format!("-s {src}/32 -p tcp -j REJECT --reject-with tcp-reset"));
            }
            rules.push(format!("-s {src}/32 -j DROP"));
        }
        if let Some(p) = faults.loss.get(node) {
            for sender in self.nodes.iter().filter(|s| *s != node) {
                rules.push(format!(
                    "-s {}/32 -m statistic --mode random --probability {p:.4} -j DROP",
                    ip(sender)
                ));
            }
        }
        rules
    }

    /// Applies a change to the intended faults: every node whose chain content differs is
    /// rewritten in one atomic `iptables-restore` (all nodes at once, in parallel).
    fn update(&self, change: impl FnOnce(&mut Faults)) -> Result<()> {
        if *self.torn_down.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(NemesisError::Invalid("the network was already torn down".into()));
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut st.0);
        let wanted: BTreeMap<String, Vec<String>> =
            self.nodes.iter().map(|n| (n.clone(), self.chain_rules(&st.0, n))).collect();
        let mut calls = Vec::new();
        for (node, rules) in &wanted {
            let same = st.1.as_ref().and_then(|a| a.get(node)).is_some_and(|old| old == rules);
            if same {
                continue;
            }
            let mut script = format!("*filter\n:{} - [0:0]\n", self.chain);
            for r in rules {
                script.push_str(&format!("-A {} {r}\n", self.chain));
            }
            script.push_str("COMMIT\n");
            calls.push(
                ToolCall::new("iptables-restore", &["--noflush", "-w"])
                    .stdin(script)
                    .inside(&self.node_files[node]),
            );
        }
        match run_all(calls) {
            Ok(_) => {
                st.1 = Some(wanted);
                Ok(())
            }
            Err(e) => {
                st.1 = None;
                Err(e)
            }
        }
    }

    /// Removes the jump, the chain and every namespace of the run. Idempotent. Node
    /// processes must be stopped first: a namespace lives on while a process is inside.
    pub fn teardown(&self) -> Result<()> {
        let mut done = self.torn_down.lock().unwrap_or_else(|p| p.into_inner());
        if *done {
            return Ok(());
        }
        *done = true;
        let chain_result = remove_chains(&self.run_id, &self.nodes);
        let ns_result = delete_namespaces(&self.namespace_names());
        chain_result.and(ns_result)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("sunder-nemesis: teardown of run {} failed: {e}", self.run_id);
        }
    }
}

/// Every namespace name of a run: bridge, control, then the nodes.
pub fn all_namespaces(run_id: &str, nodes: &[String]) -> Vec<String> {
    let mut v = vec![names::bridge_ns(run_id), names::control_ns(run_id)];
    v.extend(nodes.iter().map(|n| names::node_ns(run_id, n)));
    v
}

fn build(run_id: &str, nodes: &[String], prefix: [u8; 3], port: u16) -> Result<Netns> {
    let all = all_namespaces(run_id, nodes);
    let mut add = String::new();
    for ns in &all {
        add.push_str(&format!("netns add {ns}\n"));
    }
    ToolCall::new("ip", &["-batch", "-"]).stdin(add).run()?;

    let br = names::bridge_ns(run_id);
    let ctl = names::control_ns(run_id);
    // Members of the bridge: control first (host .1), then the nodes.
    let mut members = vec![(ctl.clone(), CONTROL_HOST)];
    for (i, n) in nodes.iter().enumerate() {
        members.push((names::node_ns(run_id, n), FIRST_NODE_HOST + i as u8));
    }
    let mut bridge = String::from("link add br0 type bridge\nlink set br0 up\n");
    for (i, (ns, _)) in members.iter().enumerate() {
        // Made inside the bridge namespace; the peer end is created directly in `ns`.
        bridge.push_str(&format!("link add v{i} type veth peer name eth0 netns {ns}\n"));
        bridge.push_str(&format!("link set v{i} master br0\nlink set v{i} up\n"));
    }
    ToolCall::new("ip", &["-n", &br, "-batch", "-"]).stdin(bridge).run()?;

    let [a, b, c] = prefix;
    let calls = members
        .iter()
        .map(|(ns, host)| {
            let script =
                format!("addr add {a}.{b}.{c}.{host}/24 dev eth0\nlink set eth0 up\nlink set lo up\n");
            ToolCall::new("ip", &["-n", ns, "-batch", "-"]).stdin(script)
        })
        .collect();
    run_all(calls)?;

    let chain = names::chain(run_id);
    let mut node_files = BTreeMap::new();
    for n in nodes {
        node_files.insert(n.clone(), NamespaceFile::open(&names::node_ns(run_id, n))?);
    }
    let control = NamespaceFile::open(&ctl)?;
    let script = format!("*filter\n:{chain} - [0:0]\n-I INPUT 1 -j {chain}\nCOMMIT\n");
    run_all(
        node_files
            .values()
            .map(|f| ToolCall::new("iptables-restore", &["--noflush", "-w"]).stdin(script.clone()).inside(f))
            .collect(),
    )?;

    let empty: BTreeMap<String, Vec<String>> = nodes.iter().map(|n| (n.clone(), Vec::new())).collect();
    let netns = Netns {
        run_id: run_id.to_string(),
        nodes: nodes.to_vec(),
        prefix,
        port,
        chain,
        node_files,
        control,
        state: Mutex::new((Faults::default(), Some(empty))),
        torn_down: Mutex::new(false),
    };
    // On failure, dropping `netns` tears it down.
    netns.verify_safety()?;
    Ok(netns)
}

/// Removes the jump to Sunder's chain and the chain itself in each node namespace that
/// still exists; a missing chain is not an error (already gone).
pub fn remove_chains(run_id: &str, nodes: &[String]) -> Result<()> {
    let chain = names::chain(run_id);
    let jump = format!("-A INPUT -j {chain}");
    let created = format!("-N {chain}");
    let files: Vec<NamespaceFile> =
        nodes.iter().filter_map(|n| NamespaceFile::open(&names::node_ns(run_id, n)).ok()).collect();
    // `-S` lists every chain of the filter table, the INPUT jump included, so one listing
    // per namespace (all started together) tells both what to delete.
    let listings =
        run_all(files.iter().map(|f| ToolCall::new("iptables", &["-w", "-S"]).inside(f)).collect())?;
    let mut calls = Vec::new();
    for (file, listed) in files.iter().zip(&listings) {
        let has_jump = listed.lines().any(|l| l.trim() == jump);
        let has_chain = listed.lines().any(|l| l.trim() == created);
        if !has_jump && !has_chain {
            continue;
        }
        let mut script = String::from("*filter\n");
        if has_jump {
            script.push_str(&format!("-D INPUT -j {chain}\n"));
        }
        if has_chain {
            script.push_str(&format!("-F {chain}\n-X {chain}\n"));
        }
        script.push_str("COMMIT\n");
        calls.push(ToolCall::new("iptables-restore", &["--noflush", "-w"]).stdin(script).inside(file));
    }
    run_all(calls).map(|_| ())
}

/// Deletes the named namespaces that exist, and checks they are gone.
pub fn delete_namespaces(names: &[String]) -> Result<()> {
    let present: Vec<&String> = names.iter().filter(|n| netns_path(n).exists()).collect();
    if present.is_empty() {
        return Ok(());
    }
    let mut script = String::new();
    for ns in &present {
        script.push_str(&format!("netns del {ns}\n"));
    }
    let result = ToolCall::new("ip", &["-force", "-batch", "-"]).stdin(script).run();
    let left: Vec<&&String> = present.iter().filter(|n| netns_path(n).exists()).collect();
    if !left.is_empty() {
        return Err(NemesisError::Command {
            command: "ip netns del".into(),
            detail: format!("namespaces still present: {left:?} ({result:?})"),
        });
    }
    result.map(|_| ())
}

/// Fails if any of `namespaces` has a default route.
pub fn verify_no_default_routes(namespaces: &[String]) -> Result<()> {
    let mut calls = Vec::new();
    for ns in namespaces {
        calls.push(ToolCall::new("ip", &["-n", ns, "-4", "route", "show", "default"]));
        calls.push(ToolCall::new("ip", &["-n", ns, "-6", "route", "show", "default"]));
    }
    let outs = run_all(calls)?;
    for (i, out) in outs.iter().enumerate() {
        if !out.trim().is_empty() {
            return Err(NemesisError::Unsafe(format!(
                "namespace {} has a default route: {}",
                namespaces[i / 2],
                out.trim()
            )));
        }
    }
    Ok(())
}

/// Fails if the root namespace has an address inside `a.b.c.0/24`, or a route to any part
/// of it. Broader routes the machine already had (a default route, a 10.0.0.0/8 of a VPN)
/// are not Sunder's and do not count: nothing in the root namespace ever dials a test
/// address, and [`choose_prefix`] avoids them whenever it can.
fn verify_root_clear_of(prefix: [u8; 3]) -> Result<()> {
    let subnet = (u32::from(Ipv4Addr::new(prefix[0], prefix[1], prefix[2], 0)), 24);
    for (net, what) in root_ipv4_prefixes()? {
        let is_address = what.starts_with("address");
        let inside = net.1 >= 24 && overlaps(net, subnet);
        if inside || (is_address && overlaps((net.0, 32), subnet)) {
            return Err(NemesisError::Unsafe(format!(
                "the root namespace has {what} inside the test subnet {}.{}.{}.0/24",
                prefix[0], prefix[1], prefix[2]
            )));
        }
    }
    Ok(())
}

/// The IPv4 prefixes of the root namespace's addresses and routes (all tables), default
/// routes excepted. Read-only: `ip` runs in the process's origin namespace (see
/// [`NamespaceFile::origin`]), even when the caller already moved into a control
/// namespace, and only queries it.
pub fn root_ipv4_prefixes() -> Result<Vec<((u32, u8), String)>> {
    let root = NamespaceFile::origin()?;
    let mut found = Vec::new();
    let addrs = ToolCall::new("ip", &["-4", "-o", "addr", "show"]).inside(&root).run()?;
    for line in addrs.lines() {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == "inet"
                && let Some(p) = words.next().and_then(parse_prefix)
            {
                found.push((p, format!("address {}", line.trim())));
            }
        }
    }
    let routes = ToolCall::new("ip", &["-4", "route", "show", "table", "all"]).inside(&root).run()?;
    const TYPES: [&str; 10] = [
        "unicast",
        "local",
        "broadcast",
        "multicast",
        "anycast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
        "nat",
    ];
    for line in routes.lines() {
        let mut words = line.split_whitespace();
        let mut first = words.next();
        if first.is_some_and(|w| TYPES.contains(&w)) {
            first = words.next();
        }
        if let Some(p) = first.and_then(parse_prefix) {
            found.push((p, format!("route {}", line.trim())));
        }
    }
    Ok(found)
}

fn parse_prefix(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse().ok()?),
        None => (s, 32),
    };
    let ip: Ipv4Addr = addr.parse().ok()?;
    (len <= 32).then_some((u32::from(ip), len))
}

fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    a.0 & mask == b.0 & mask && len > 0
}

/// The run's /24, derived from the run id: in 10.128.0.0/9 first, then 172.16.0.0/12, then
/// 192.168.0.0/16, skipping any that overlaps an address or route of the root namespace.
/// If every candidate overlaps some broad route, the first one with no address or
/// specific route in it is used (see [`verify_root_clear_of`]).
fn choose_prefix(run_id: &str) -> Result<[u8; 3]> {
    let taken = root_ipv4_prefixes()?;
    let mut candidates = Vec::new();
    for attempt in 0u32..32 {
        let h = names::fnv1a(format!("{run_id}/{attempt}").as_bytes());
        candidates.push([10, 128 + (h % 128) as u8, (h >> 8) as u8]);
        candidates.push([172, 16 + (h % 16) as u8, (h >> 8) as u8]);
        candidates.push([192, 168, (h >> 8) as u8]);
    }
    candidates.sort_by_key(|c| c[0] != 10); // stable: all 10.x first, then the others
    let net = |c: &[u8; 3]| (u32::from(Ipv4Addr::new(c[0], c[1], c[2], 0)), 24);
    if let Some(c) = candidates.iter().find(|c| !taken.iter().any(|(p, _)| overlaps(*p, net(c)))) {
        return Ok(*c);
    }
    for c in &candidates {
        if verify_root_clear_of(*c).is_ok() {
            return Ok(*c);
        }
    }
    Err(NemesisError::Unsafe("no /24 for the test subnet is clear of the root namespace's addresses".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_only_when_sharing_the_shorter_mask() {
        let p = |s| parse_prefix(s).unwrap();
        assert!(overlaps(p("10.0.0.0/8"), p("10.200.3.0/24")));
        assert!(overlaps(p("10.200.3.7"), p("10.200.3.0/24")));
        assert!(!overlaps(p("10.200.4.0/24"), p("10.200.3.0/24")));
        assert!(!overlaps(p("0.0.0.0/0"), p("10.200.3.0/24")));
    }
}
