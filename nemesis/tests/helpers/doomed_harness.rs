//! The "harness" that `tests/cleanup.rs` SIGKILLs: builds a netns network for the run id in
//! `SUNDER_CLEANUP_CHILD_RUN`, starts a fake node (`SUNDER_FAKE_NODE_EXE`) in each node
//! namespace with a pid file in `SUNDER_CLEANUP_CHILD_DIR`, cuts the network, writes
//! `ready` and waits to be killed, leaving everything behind as a dead harness would.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use sunder_nemesis::grudge::Grudge;
use sunder_nemesis::net::{NetKind, Network, NetworkConfig};

fn required(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} must be set: this helper is started by tests/cleanup.rs"))
}

fn main() {
    let run_id = required("SUNDER_CLEANUP_CHILD_RUN");
    let dir = PathBuf::from(required("SUNDER_CLEANUP_CHILD_DIR"));
    let fake_node = required("SUNDER_FAKE_NODE_EXE");
    let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
    let net = Network::create(&NetworkConfig {
        kind: NetKind::Netns,
        run_id: run_id.clone(),
        nodes,
        port: 7000,
        seed: 1,
    })
    .expect("create the doomed run's network");
    for n in net.nodes() {
        let mut cmd = Command::new(&fake_node);
        cmd.arg0("sunder").args(["node", &run_id]);
        net.prepare_node_command(n, &mut cmd).expect("place the fake node");
        let child = cmd.spawn().expect("start a fake node");
        std::fs::write(dir.join(format!("{n}.pid")), format!("{}\n", child.id())).expect("write a pid file");
        // Left running on purpose: the test checks that cleanup finds it.
        std::mem::forget(child);
    }
    net.partition(&Grudge::isolate(net.nodes(), "n1")).expect("cut the network");
    std::fs::write(dir.join("ready"), "").expect("write ready");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
