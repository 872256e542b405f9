//! `sunder node SYSTEM ...`: runs one node of a system in this process. The launcher starts
//! nodes this way so a fresh checkout needs no install step.

use crate::cli::{NodeArgs, key_value};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use sunder_systems::NodeConfig;

/// Runs the node until SIGTERM; exit code 0 on a clean stop.
pub fn run(args: NodeArgs) -> Result<u8> {
    let mut peers = BTreeMap::new();
    for p in &args.peers {
        let (id, addr) = key_value(p).context("--peer")?;
        peers.insert(id, addr.parse().with_context(|| format!("--peer {p}: bad address"))?);
    }
    let options =
        args.options.iter().map(|o| key_value(o)).collect::<Result<BTreeMap<_, _>>>().context("-o")?;
    // `--run-id` only tags the command line for `sunder cleanup`.
    let _ = args.run_id;
    let cfg = NodeConfig { id: args.id, listen: args.listen, peers, data: args.data, options };
    sunder_systems::run(&args.system, cfg)?;
    Ok(0)
}
