//! Times the nemesis's network operations on this machine: creating and destroying a
//! 5-node netns cluster, a partition op until its rules are in force (the atomic
//! `iptables-restore` in every node namespace has returned), heal, and the same for the
//! local backend. Run as root: `cargo run --release -p sunder-nemesis --example
//! nemesis_timings [ITERATIONS]`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use sunder_nemesis::grudge::{self, PartitionShape};
use sunder_nemesis::net::{NetKind, Network, NetworkConfig, netns_available};

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<44} n={:<3} min {:>8.2} ms  median {:>8.2} ms  p90 {:>8.2} ms  max {:>8.2} ms",
        samples.len(),
        ms(samples[0]),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(*samples.last().unwrap())
    );
}

fn measure(kind: NetKind, iterations: usize) {
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let (mut create, mut part, mut heal, mut down) = (vec![], vec![], vec![], vec![]);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for i in 0..iterations {
        let cfg = NetworkConfig {
            kind,
            run_id: format!("bench{}x{i}", std::process::id()),
            nodes: nodes.clone(),
            port: 7000,
            seed: 1,
        };
        let t = Instant::now();
        let net = Network::create(&cfg).expect("create");
        create.push(t.elapsed());
        for shape in [PartitionShape::Halves, PartitionShape::MajoritiesRing, PartitionShape::One] {
            let g = grudge::build(shape, false, &nodes, None, &mut rng).unwrap();
            let t = Instant::now();
            net.partition(&g).expect("partition");
            part.push(t.elapsed());
            if let Some(ns) = net.as_netns() {
                // Confirm the kernel holds the rules the call promised.
                for n in &nodes {
                    let listed = ns.listed_rules(n).unwrap();
                    assert_eq!(listed.matches("-j DROP").count(), g.dropped_by(n).count(), "{n}: {listed}");
                }
            }
            let t = Instant::now();
            net.heal().expect("heal");
            heal.push(t.elapsed());
        }
        let t = Instant::now();
        net.teardown().expect("teardown");
        down.push(t.elapsed());
    }
    summary(&format!("{kind}: create 5-node cluster"), create);
    summary(&format!("{kind}: partition op to rules in force"), part);
    summary(&format!("{kind}: heal op to rules removed"), heal);
    summary(&format!("{kind}: destroy 5-node cluster"), down);
}

fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    println!(
        "sunder-nemesis timings, {iterations} iterations, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    match netns_available() {
        Ok(()) => measure(NetKind::Netns, iterations),
        Err(why) => println!("SKIP netns timings: {why}"),
    }
    measure(NetKind::Local, iterations);
}
