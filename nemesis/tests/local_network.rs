//! The local backend, for real: loopback listeners and the link proxies, observed with TCP
//! probes through each node's peer addresses. Needs no privileges.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use sunder_nemesis::grudge::Grudge;
use sunder_nemesis::net::{CutStyle, NetKind, Network, NetworkConfig};
use support::*;

fn local_network(n: usize) -> Network {
    Network::create(&NetworkConfig {
        kind: NetKind::Local,
        run_id: "local".into(),
        nodes: nodes(n),
        port: 0,
        seed: 3,
    })
    .expect("create local network")
}

#[test]
fn local_partition_shapes_cut_exactly_the_grudge_and_heal_restores_all() {
    let net = local_network(5);
    assert_eq!(net.kind(), NetKind::Local);
    let _echo = echoes(&net);
    assert_each_shape_cuts_exactly_its_grudge(&net, "n4");
    net.teardown().unwrap();
    net.teardown().unwrap();
}

#[test]
fn local_clients_dial_nodes_directly_during_a_partition() {
    let net = local_network(3);
    let _echo = echoes(&net);
    net.partition(&Grudge::isolate(net.nodes(), "n1")).unwrap();
    let probes = net
        .nodes()
        .iter()
        .map(|n| (format!("client->{n}"), None, net.client_addr(n).unwrap(), true))
        .collect();
    assert!(mismatches(probes).is_empty());
}

#[test]
fn local_held_bytes_flow_after_heal() {
    let net = local_network(2);
    let _echo = echoes(&net);
    let mut s = std::net::TcpStream::connect(net.peer_addrs("n1").unwrap()["n2"]).unwrap();
    s.write_all(&[5]).unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    net.partition(&Grudge::between(&["n1".into()], &["n2".into()])).unwrap();
    s.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
    s.write_all(&[6]).unwrap();
    assert!(s.read(&mut b).is_err(), "a byte crossed the cut");
    net.heal().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_exact(&mut b).unwrap();
    assert_eq!(b[0], 6);
}

#[test]
fn local_reset_style_aborts_open_connections_and_refuses_new_ones() {
    let net = local_network(2);
    let _echo = echoes(&net);
    let to = net.peer_addrs("n1").unwrap()["n2"];
    let mut open = std::net::TcpStream::connect(to).unwrap();
    open.write_all(&[1]).unwrap();
    let mut b = [0u8; 1];
    open.read_exact(&mut b).unwrap();
    net.partition_with(&Grudge::isolate(net.nodes(), "n2"), CutStyle::Reset).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let r = open.read(&mut b);
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "open connection not reset: {r:?}"
    );
    // Refused means told so at once: the connect refused, or the connection reset or closed.
    // A read that times out is a hang, which is what the reset style exists to avoid.
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, UnexpectedEof};
    let refused = |e: &std::io::Error| {
        matches!(e.kind(), ConnectionRefused | ConnectionReset | ConnectionAborted | UnexpectedEof)
    };
    match std::net::TcpStream::connect(to) {
        Err(e) => assert!(refused(&e), "connect through a reset cut failed oddly: {e}"),
        Ok(mut fresh) => {
            fresh.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = fresh.write_all(&[1]);
            let t = Instant::now();
            let r = fresh.read(&mut b);
            assert!(
                matches!(&r, Ok(0)) || matches!(&r, Err(e) if refused(e)),
                "new connection through a reset cut was not refused: {r:?} after {:?}",
                t.elapsed()
            );
        }
    }
}

#[test]
fn local_latency_delays_each_round_trip_and_clears() {
    let net = local_network(2);
    let _echo = echoes(&net);
    let to = net.peer_addrs("n1").unwrap()["n2"];
    net.latency(&BTreeSet::from(["n2".to_string()]), Duration::from_millis(150)).unwrap();
    let mut s = std::net::TcpStream::connect(to).unwrap();
    let t = Instant::now();
    s.write_all(&[1]).unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    let slow = t.elapsed();
    assert!(slow >= Duration::from_millis(300), "round trip with 150 ms each way took {slow:?}");
    net.clear_latency().unwrap();
    let t = Instant::now();
    s.write_all(&[1]).unwrap();
    s.read_exact(&mut b).unwrap();
    assert!(t.elapsed() < Duration::from_millis(300), "latency did not clear: {:?}", t.elapsed());
}

#[test]
fn local_total_loss_stalls_the_link_and_clearing_it_restores() {
    let net = local_network(2);
    let _echo = echoes(&net);
    net.loss(&BTreeSet::from(["n2".to_string()]), 1.0).unwrap();
    let to = net.peer_addrs("n1").unwrap()["n2"];
    assert!(!echo_round_trip(to, PROBE_TIMEOUT), "a fully lossy link answered within the probe timeout");
    net.clear_loss().unwrap();
    assert!(echo_round_trip(to, REACH_TIMEOUT));
    assert!(net.loss(&BTreeSet::from(["n2".to_string()]), 1.5).is_err());
}

#[test]
fn auto_says_which_backend_it_picked() {
    let net = Network::create(&NetworkConfig {
        kind: NetKind::Auto,
        run_id: run_id("auto"),
        nodes: nodes(2),
        port: 7001,
        seed: 0,
    })
    .unwrap();
    let expected =
        if sunder_nemesis::net::netns_available().is_ok() { NetKind::Netns } else { NetKind::Local };
    assert_eq!(net.kind(), expected);
    assert!(net.choice().starts_with(&expected.to_string()), "{}", net.choice());
    assert!(net.choice().contains("auto"));
}

#[test]
fn peer_maps_name_every_other_node() {
    let net = local_network(3);
    let peers = net.peer_addrs("n2").unwrap();
    assert_eq!(peers.keys().cloned().collect::<Vec<_>>(), vec!["n1".to_string(), "n3".to_string()]);
    assert!(peers.values().all(|a| a.ip().is_loopback()));
    assert!(net.peer_addrs("n9").is_err());
}
