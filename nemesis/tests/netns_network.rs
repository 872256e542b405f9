//! The netns backend, for real: namespaces, veths, a bridge and iptables rules, observed
//! from inside the namespaces with TCP probes. Needs root (see `support::netns_allowed`).

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use sunder_nemesis::grudge::Grudge;
use sunder_nemesis::net::{CutStyle, NetKind, Network, NetworkConfig, netns};
use support::*;

const PORT: u16 = 7000;

fn netns_network(tag: &str, n: usize) -> Network {
    Network::create(&NetworkConfig {
        kind: NetKind::Netns,
        run_id: run_id(tag),
        nodes: nodes(n),
        port: PORT,
        seed: 1,
    })
    .expect("create netns network")
}

#[test]
fn netns_partition_shapes_cut_exactly_the_grudge_and_heal_restores_all() {
    if !netns_allowed("netns_partition_shapes_cut_exactly_the_grudge_and_heal_restores_all") {
        return;
    }
    let net = netns_network("shapes", 5);
    let _echo = echoes(&net);
    assert!(net.as_netns().is_some(), "the netns backend must have been built");
    assert_each_shape_cuts_exactly_its_grudge(&net, "n2");
    net.teardown().unwrap();
}

#[test]
fn netns_clients_in_the_control_namespace_reach_every_node_during_a_partition() {
    if !netns_allowed("netns_clients_in_the_control_namespace_reach_every_node_during_a_partition") {
        return;
    }
    let net = netns_network("ctl", 3);
    let _echo = echoes(&net);
    let g = Grudge::isolate(net.nodes(), "n1");
    net.partition(&g).unwrap();
    let ctl = net.as_netns().unwrap().control_namespace().clone();
    let probes = net
        .nodes()
        .iter()
        .map(|n| (format!("ctl->{n}"), Some(ctl.clone()), net.client_addr(n).unwrap(), true))
        .collect();
    assert!(mismatches(probes).is_empty());
}

#[test]
fn netns_held_connection_resumes_after_heal() {
    if !netns_allowed("netns_held_connection_resumes_after_heal") {
        return;
    }
    let net = netns_network("held", 2);
    let _echo = echoes(&net);
    let ns = net.as_netns().unwrap();
    let to = net.peer_addrs("n1").unwrap()["n2"];
    let n1 = ns.node_namespace("n1").unwrap().clone();
    let (went, came) = n1
        .run_inside(|| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect_timeout(&to, REACH_TIMEOUT).unwrap();
            net.partition(&Grudge::between(&["n1".into()], &["n2".into()])).unwrap();
            s.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
            s.write_all(&[1]).unwrap();
            let mut b = [0u8; 1];
            let during = s.read(&mut b).is_ok();
            net.heal().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            (during, s.read(&mut b).map(|n| n == 1 && b[0] == 1).unwrap_or(false))
        })
        .unwrap();
    assert!(!went, "a byte crossed a DROP partition");
    assert!(came, "the held byte never arrived after heal");
}

#[test]
fn netns_reset_style_refuses_instead_of_hanging() {
    if !netns_allowed("netns_reset_style_refuses_instead_of_hanging") {
        return;
    }
    let net = netns_network("rst", 2);
    let _echo = echoes(&net);
    let ns = net.as_netns().unwrap();
    net.partition_with(&Grudge::isolate(net.nodes(), "n2"), CutStyle::Reset).unwrap();
    let to = net.peer_addrs("n1").unwrap()["n2"];
    let (refused, took) = ns
        .node_namespace("n1")
        .unwrap()
        .run_inside(|| {
            let t = Instant::now();
            let r = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(3));
            (matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused), t.elapsed())
        })
        .unwrap();
    assert!(refused, "connection through a reset partition was not refused");
    assert!(took < Duration::from_secs(1), "refusal took {took:?}");
}

#[test]
fn netns_loss_rules_come_and_go_without_touching_partition_rules() {
    if !netns_allowed("netns_loss_rules_come_and_go_without_touching_partition_rules") {
        return;
    }
    let net = netns_network("loss", 3);
    let ns = net.as_netns().unwrap();
    let chain = ns.chain().to_string();
    net.partition(&Grudge::isolate(net.nodes(), "n3")).unwrap();
    net.loss(&BTreeSet::from(["n1".to_string()]), 0.25).unwrap();
    let rules = ns.listed_rules("n1").unwrap();
    let n2 = ns.ip("n2").unwrap();
    assert!(
        rules.contains(&format!("-A {chain} -s {n2}/32 -m statistic --mode random --probability 0.25")),
        "{rules}"
    );
    assert!(rules.contains(&format!("-A {chain} -s {}/32 -j DROP", ns.ip("n3").unwrap())), "{rules}");
    assert!(!ns.listed_rules("n2").unwrap().contains("statistic"));
    net.clear_loss().unwrap();
    let rules = ns.listed_rules("n1").unwrap();
    assert!(!rules.contains("statistic"), "{rules}");
    assert!(rules.contains("-j DROP"), "clearing loss removed the partition: {rules}");
    net.heal().unwrap();
    let rules = ns.listed_rules("n1").unwrap();
    assert_eq!(rules.trim(), format!("-N {chain}"), "heal left rules behind");
}

#[test]
fn netns_has_no_default_route_and_root_has_nothing_in_the_test_subnet() {
    if !netns_allowed("netns_has_no_default_route_and_root_has_nothing_in_the_test_subnet") {
        return;
    }
    let net = netns_network("safe", 3);
    let ns = net.as_netns().unwrap();
    ns.verify_safety().unwrap();
    for name in ns.namespace_names() {
        for family in ["-4", "-6"] {
            let out = std::process::Command::new("ip")
                .args(["-n", &name, family, "route", "show", "default"])
                .output()
                .unwrap();
            assert!(out.status.success());
            assert!(
                out.stdout.is_empty(),
                "{name} has a default route: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    let subnet = ns.subnet();
    let prefix = subnet.trim_end_matches("0/24");
    let addrs = String::from_utf8(
        std::process::Command::new("ip").args(["-4", "-o", "addr"]).output().unwrap().stdout,
    )
    .unwrap();
    assert!(!addrs.contains(prefix), "root has an address in {subnet}: {addrs}");
    let routes = String::from_utf8(
        std::process::Command::new("ip")
            .args(["-4", "route", "show", "table", "all"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!routes.contains(prefix), "root has a route into {subnet}: {routes}");
    // A stray dial to a node from a namespace without the node's subnet fails locally.
    let br =
        sunder_nemesis::net::namespace::NamespaceFile::open(&format!("sunder-{}-br", ns.run_id())).unwrap();
    let to = net.client_addr("n1").unwrap();
    let err = br.run_inside(|| std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2))).unwrap();
    assert!(err.is_err(), "the bridge namespace must have no route to the nodes");
}

#[test]
fn netns_teardown_leaves_no_namespace_chain_or_root_change() {
    if !netns_allowed("netns_teardown_leaves_no_namespace_chain_or_root_change") {
        return;
    }
    let iptables_before = std::process::Command::new("iptables").args(["-w", "-S"]).output().unwrap().stdout;
    let net = netns_network("down", 3);
    let names = net.as_netns().unwrap().namespace_names();
    let run = net.as_netns().unwrap().run_id().to_string();
    net.partition(&Grudge::isolate(net.nodes(), "n1")).unwrap();
    net.teardown().unwrap();
    net.teardown().unwrap(); // idempotent
    for n in &names {
        assert!(!std::path::Path::new("/run/netns").join(n).exists(), "{n} survived teardown");
    }
    let list =
        String::from_utf8(std::process::Command::new("ip").args(["netns", "list"]).output().unwrap().stdout)
            .unwrap();
    assert!(!list.contains(&format!("sunder-{run}-")), "{list}");
    let iptables_after = std::process::Command::new("iptables").args(["-w", "-S"]).output().unwrap().stdout;
    assert_eq!(iptables_before, iptables_after, "the root namespace's iptables changed");
    assert!(net.partition(&Grudge::none()).is_err(), "faults after teardown must be refused");
}

#[test]
fn netns_chain_removal_takes_only_sunders_jump_and_chain() {
    if !netns_allowed("netns_chain_removal_takes_only_sunders_jump_and_chain") {
        return;
    }
    let net = netns_network("chain", 2);
    let ns = net.as_netns().unwrap();
    let n1 = ns.node_namespace("n1").unwrap();
    // Someone else's chain and rule in the same namespace must survive Sunder's teardown steps.
    let foreign = "*filter\n:OTHER - [0:0]\n-A INPUT -p udp --dport 9 -j OTHER\nCOMMIT\n".to_string();
    sunder_nemesis::net::command::ToolCall::new("iptables-restore", &["--noflush", "-w"])
        .stdin(foreign)
        .inside(n1)
        .run()
        .unwrap();
    net.partition(&Grudge::isolate(net.nodes(), "n2")).unwrap();
    net.heal().unwrap();
    netns::remove_chains(ns.run_id(), net.nodes()).unwrap();
    let listed =
        sunder_nemesis::net::command::ToolCall::new("iptables", &["-w", "-S"]).inside(n1).run().unwrap();
    assert!(listed.contains("-N OTHER") && listed.contains("-j OTHER"), "{listed}");
    assert!(!listed.contains(ns.chain()), "{listed}");
}

#[test]
fn netns_node_command_starts_inside_the_node_namespace() {
    if !netns_allowed("netns_node_command_starts_inside_the_node_namespace") {
        return;
    }
    let net = netns_network("cmd", 2);
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["-4", "-o", "addr", "show", "dev", "eth0"]);
    net.prepare_node_command("n2", &mut cmd).unwrap();
    let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
    let ip = net.as_netns().unwrap().ip("n2").unwrap();
    assert!(out.contains(&format!("inet {ip}/24")), "{out}");
}

#[test]
fn latency_on_netns_says_netem_is_unavailable() {
    if !netns_allowed("latency_on_netns_says_netem_is_unavailable") {
        return;
    }
    let net = netns_network("lat", 2);
    let err = net.latency(&BTreeSet::from(["n1".to_string()]), Duration::from_millis(50)).unwrap_err();
    assert!(err.to_string().contains("netem"), "{err}");
}

#[test]
fn netns_refuses_a_run_id_whose_namespaces_exist() {
    if !netns_allowed("netns_refuses_a_run_id_whose_namespaces_exist") {
        return;
    }
    let net = netns_network("dup", 2);
    let again = Network::create(&NetworkConfig {
        kind: NetKind::Netns,
        run_id: net.as_netns().unwrap().run_id().to_string(),
        nodes: nodes(2),
        port: PORT,
        seed: 1,
    });
    assert!(again.is_err());
    // The failed attempt must not have removed the live run's namespaces.
    net.as_netns().unwrap().verify_safety().unwrap();
    assert!(
        std::path::Path::new("/run/netns")
            .join(format!("sunder-{}-n1", net.as_netns().unwrap().run_id()))
            .exists()
    );
}

#[test]
fn enter_control_refuses_once_other_threads_exist() {
    if !netns_allowed("enter_control_refuses_once_other_threads_exist") {
        return;
    }
    let net = netns_network("enter", 2);
    // libtest runs this body on a thread of its own, so the process has several.
    let err = net.enter_control().unwrap_err().to_string();
    assert!(err.contains("before any other thread"), "{err}");
}

#[test]
fn safety_checks_read_the_root_namespace_even_from_a_control_namespace() {
    if !netns_allowed("safety_checks_read_the_root_namespace_even_from_a_control_namespace") {
        return;
    }
    let first = netns_network("first", 2);
    let ctl = first.as_netns().unwrap().control_namespace().clone();
    let first_subnet = first.as_netns().unwrap().subnet();
    let second = ctl
        .run_inside(|| {
            // From inside the first run's control namespace, its subnet is a local route;
            // the root check must not see it, and a second run must still build safely.
            let prefixes = netns::root_ipv4_prefixes().unwrap();
            assert!(!prefixes.iter().any(|(_, what)| what.contains(first_subnet.trim_end_matches("0/24"))));
            netns_network("second", 2)
        })
        .unwrap();
    second.as_netns().unwrap().verify_safety().unwrap();
}
