//! A system described in a TOML file, for `sunder run --system path/to/system.toml`: the
//! file becomes the same [`SystemSpec`] a built-in system is, so the launcher, the nemesis,
//! the clients and `sunder cleanup` treat it exactly alike. Its node program is always an
//! [`Program::External`] whose argument templates the launcher fills. docs/systems.md is
//! the reference of every key.
//!
//! The spec's strings are leaked into `&'static` values: a CLI process loads one file per
//! run and exits. Every error names the file, the line and the key: TOML syntax, unknown
//! and missing keys and ill-typed values come from the parser (which points at them), and
//! what only makes sense once the whole file is read (a workload Sunder does not know, a
//! placeholder naming an undeclared port or option) is checked here, at the key's span.

use anyhow::{Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use sunder_systems::spec::{
    Capabilities, HealthProbe, LeaderProbe, OptionSpec, Program, Protocol, StopPolicy, StopSignal, SystemSpec,
};
use toml::Spanned;

/// Whether `--system` names a file rather than a built-in system.
pub fn names_a_file(system: &str) -> bool {
    system.ends_with(".toml") || system.contains('/')
}

/// Reads `path` and builds the system it describes.
pub fn load(path: &Path) -> Result<&'static SystemSpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read system file {}: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Builds the system described by `text` (the contents of the file called `origin`).
pub fn parse(text: &str, origin: &str) -> Result<&'static SystemSpec> {
    let file: SystemFile =
        toml::from_str(text).map_err(|e| anyhow!("{origin}: {}", e.to_string().trim_end()))?;
    let at = |span: Range<usize>, key: &str, problem: String| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        anyhow!("{origin}: line {line}: {key}: {problem}")
    };
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find the sunder executable: {e}"))?;
    let sunder = exe.display().to_string();

    let ports: Vec<&'static str> = file.ports.iter().map(|p| leak(p.get_ref().clone())).collect();
    if ports.is_empty() {
        bail!("{origin}: ports: list at least one port (the first is the one clients use)");
    }
    let options: Vec<OptionSpec> = file
        .options
        .iter()
        .map(|o| OptionSpec {
            key: leak(o.key.clone()),
            default: leak(o.default.clone()),
            doc: leak(o.doc.clone()),
        })
        .collect();

    // The environment rides on `env`, which execs the program in place (same pid, same
    // parent-death signal), so the launcher needs no notion of per-system variables.
    let mut command = file.start.command.get_ref().replace("{sunder}", &sunder);
    let mut args: Vec<(String, Range<usize>)> = Vec::new();
    if !file.start.env.is_empty() {
        for (k, v) in &file.start.env {
            args.push((format!("{k}={}", v.get_ref()), v.span()));
        }
        args.push((std::mem::replace(&mut command, "env".into()), file.start.command.span()));
    }
    args.extend(file.start.args.iter().map(|a| (a.get_ref().replace("{sunder}", &sunder), a.span())));
    for (arg, span) in &args {
        check_template(arg, &ports, &options).map_err(|why| at(span.clone(), "start.args", why))?;
    }

    let health = match (&file.health.get_ref().get, &file.health.get_ref().post) {
        (Some(path), None) => HealthProbe::HttpGet(leak(path.clone())),
        (None, Some(path)) => HealthProbe::HttpPost(leak(path.clone())),
        _ => {
            return Err(at(
                file.health.span(),
                "health",
                "give exactly one of get = \"/path\" or post = \"/path\"".into(),
            ));
        }
    };
    let leader = match file.leader.map(|l| l.probe) {
        None | Some(LeaderName::None) => LeaderProbe::None,
        Some(LeaderName::SunderStatus) => LeaderProbe::SunderStatus,
        Some(LeaderName::EtcdStatus) => LeaderProbe::EtcdStatus,
    };
    let stop = file.stop.map_or(StopPolicy::term(3000), |s| StopPolicy {
        signal: match s.signal {
            SignalName::Term => StopSignal::Term,
            SignalName::Int => StopSignal::Int,
        },
        grace: Duration::from_millis(s.grace_ms),
    });

    let supports = &file.supports;
    for w in &supports.workloads {
        if sunder_workloads::catalog::find(w.get_ref()).is_none() {
            return Err(at(
                w.span(),
                "supports.workloads",
                format!(
                    "unknown workload {:?}; known: {}",
                    w.get_ref(),
                    sunder_workloads::catalog::names().join(", ")
                ),
            ));
        }
    }
    let faults: Vec<&'static str> = supports.faults.iter().map(|f| f.name()).collect();
    let default_nemesis = file.default_nemesis.as_ref().map_or("none".to_string(), |n| n.get_ref().clone());
    if let Ok(kinds) = sunder_nemesis::schedule::parse_faults(&default_nemesis) {
        if let Some(k) = kinds.iter().find(|k| !faults.contains(&k.name())) {
            let span = file.default_nemesis.as_ref().map_or(0..0, |n| n.span());
            return Err(at(span, "default_nemesis", format!("{} is not in supports.faults", k.name())));
        }
    } else {
        let span = file.default_nemesis.as_ref().map_or(0..0, |n| n.span());
        return Err(at(span, "default_nemesis", format!("{default_nemesis:?} is not a list of faults")));
    }

    let nodes = *file.nodes.get_ref();
    let (min_nodes, max_nodes) = (file.min_nodes.unwrap_or(1), file.max_nodes.unwrap_or(nodes.max(1)));
    if !(min_nodes >= 1 && min_nodes <= nodes && nodes <= max_nodes) {
        return Err(at(
            file.nodes.span(),
            "nodes",
            format!("needs 1 <= min_nodes ({min_nodes}) <= nodes ({nodes}) <= max_nodes ({max_nodes})"),
        ));
    }

    let spec = SystemSpec {
        name: leak(file.name),
        doc: leak(file.doc.unwrap_or_else(|| format!("described in {origin}"))),
        min_nodes,
        max_nodes,
        default_nodes: nodes,
        default_nemesis: leak(default_nemesis),
        options: Box::leak(options.into_boxed_slice()),
        program: Program::External {
            command: leak(command),
            args: Box::leak(args.into_iter().map(|(a, _)| leak(a)).collect::<Vec<_>>().into_boxed_slice()),
        },
        ports: Box::leak(ports.into_boxed_slice()),
        health,
        leader,
        protocol: match file.protocol {
            ProtocolName::SunderHttp => Protocol::SunderHttp,
            ProtocolName::Etcd => Protocol::EtcdGateway,
        },
        stop,
        capabilities: Capabilities {
            workloads: Box::leak(
                supports
                    .workloads
                    .iter()
                    .map(|w| leak(w.get_ref().clone()))
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
            cas: supports.cas,
            cas_when: None,
            backends: Box::leak(
                supports.backends.iter().map(|b| b.name()).collect::<Vec<_>>().into_boxed_slice(),
            ),
            clock_faults: faults.contains(&"clock"),
            leader_hints: false,
            status_timeline: false,
            faults: Some(Box::leak(faults.into_boxed_slice())),
            limits: supports.limits.clone().map(leak),
        },
        // A described system offers no disk faults: Sunder cannot know which of its files
        // it checks.
        data_files: &[],
    };
    Ok(Box::leak(Box::new(spec)))
}

/// Checks the placeholders of one argument template against the declared ports and options
/// (the launcher's own set: see [`Program::External`]).
fn check_template(template: &str, ports: &[&str], options: &[OptionSpec]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or_else(|| format!("unclosed {{ in {template:?}"))? + open;
        let name = &rest[open + 1..close];
        let (what, arg) = name.split_once(':').unwrap_or((name, ""));
        match what {
            "id" | "data" if arg.is_empty() => {}
            "listen" | "addr" | "cluster" | "cluster_urls" => {
                if !arg.is_empty() && !ports.contains(&arg) {
                    return Err(format!("{{{name}}} names port {arg:?}, but ports are {ports:?}"));
                }
            }
            "option" => {
                if !options.iter().any(|o| o.key == arg) {
                    return Err(format!(
                        "{{{name}}} names option {arg:?}, which [[options]] does not declare"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "unknown placeholder {{{name}}}; known: {{id}} {{data}} {{sunder}} {{listen:PORT}} {{addr:PORT}} \
                     {{cluster:PORT}} {{cluster_urls:PORT}} {{option:KEY}}"
                ));
            }
        }
        rest = &rest[close + 1..];
    }
    Ok(())
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The file, as the parser reads it (docs/systems.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemFile {
    name: String,
    doc: Option<String>,
    nodes: Spanned<usize>,
    min_nodes: Option<usize>,
    max_nodes: Option<usize>,
    protocol: ProtocolName,
    ports: Vec<Spanned<String>>,
    default_nemesis: Option<Spanned<String>>,
    start: Start,
    health: Spanned<Health>,
    leader: Option<Leader>,
    stop: Option<Stop>,
    supports: Supports,
    #[serde(default)]
    options: Vec<OptionEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    command: Spanned<String>,
    args: Vec<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Health {
    get: Option<String>,
    post: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Leader {
    probe: LeaderName,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum LeaderName {
    None,
    SunderStatus,
    EtcdStatus,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stop {
    signal: SignalName,
    grace_ms: u64,
}

#[derive(Debug, Deserialize)]
enum SignalName {
    #[serde(rename = "TERM")]
    Term,
    #[serde(rename = "INT")]
    Int,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ProtocolName {
    SunderHttp,
    Etcd,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Supports {
    workloads: Vec<Spanned<String>>,
    #[serde(default)]
    cas: bool,
    backends: Vec<BackendName>,
    faults: Vec<FaultName>,
    limits: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum BackendName {
    Netns,
    Local,
}

impl BackendName {
    fn name(&self) -> &'static str {
        match self {
            BackendName::Netns => "netns",
            BackendName::Local => "local",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FaultName {
    Partition,
    Kill,
    Pause,
    Clock,
    Loss,
    Latency,
}

impl FaultName {
    fn name(&self) -> &'static str {
        match self {
            FaultName::Partition => "partition",
            FaultName::Kill => "kill",
            FaultName::Pause => "pause",
            FaultName::Clock => "clock",
            FaultName::Loss => "loss",
            FaultName::Latency => "latency",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionEntry {
    key: String,
    default: String,
    #[serde(default)]
    doc: String,
}
