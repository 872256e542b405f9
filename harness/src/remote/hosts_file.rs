//! The hosts file of `--hosts FILE`: which real host runs which node, and how to reach it
//! over SSH. TOML, one `[[host]]` table per node, with an optional `[defaults]` table whose
//! keys every host takes unless it says otherwise. docs/remote.md is the reference of every
//! key. Every error names the file, the line and the key: syntax, unknown keys and
//! ill-typed values come from the parser, what needs the whole file (an address that is not
//! an IP, a missing identity file, a node named twice) is checked here at the key's span.

use anyhow::{Result, anyhow, bail};
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use sunder_nemesis::ssh::{DEFAULT_WORKDIR, HostConfig};
use toml::Spanned;

/// The port nodes listen on when the hosts file names none (the netns backend's too).
pub const DEFAULT_NODE_PORT: u16 = 7000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostsFile {
    #[serde(default)]
    defaults: Option<Settings>,
    #[serde(default)]
    host: Vec<Spanned<HostEntry>>,
}

/// The keys a host and `[defaults]` share.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    port: Option<Spanned<u16>>,
    user: Option<Spanned<String>>,
    identity: Option<Spanned<String>>,
    known_hosts: Option<Spanned<String>>,
    strict_host_key_checking: Option<Spanned<String>>,
    workdir: Option<Spanned<String>>,
    sudo: Option<Spanned<bool>>,
    path: Option<Spanned<String>>,
    node_port: Option<Spanned<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HostEntry {
    node: Spanned<String>,
    address: Spanned<String>,
    port: Option<Spanned<u16>>,
    user: Option<Spanned<String>>,
    identity: Option<Spanned<String>>,
    known_hosts: Option<Spanned<String>>,
    strict_host_key_checking: Option<Spanned<String>>,
    workdir: Option<Spanned<String>>,
    sudo: Option<Spanned<bool>>,
    path: Option<Spanned<String>>,
    node_port: Option<Spanned<u16>>,
}

/// Reads the hosts file at `path`.
pub fn load(path: &Path) -> Result<Vec<HostConfig>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read hosts file {}: {e}", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &path.display().to_string(), &base)
}

/// Builds the hosts `text` describes (the contents of the file called `origin`, whose
/// relative paths are relative to `base`).
pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Vec<HostConfig>> {
    let file: HostsFile =
        toml::from_str(text).map_err(|e| anyhow!("{origin}: {}", e.to_string().trim_end()))?;
    let at = |span: Range<usize>, key: &str, problem: String| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        anyhow!("{origin}: line {line}: {key}: {problem}")
    };
    if file.host.is_empty() {
        bail!("{origin}: no [[host]] tables: list one per node");
    }
    let defaults = file.defaults.unwrap_or_default();
    // `~/` is the user's home, as in ssh's own config; other relative paths are the file's.
    let resolve = |p: &str| -> PathBuf {
        if let (Some(rest), Some(home)) = (p.strip_prefix("~/"), std::env::var_os("HOME")) {
            return PathBuf::from(home).join(rest);
        }
        let p = Path::new(p);
        if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
    };
    let mut hosts: Vec<HostConfig> = Vec::new();
    for entry in &file.host {
        let h = entry.get_ref();
        let pick = |own: &Option<Spanned<String>>, default: &Option<Spanned<String>>| {
            own.clone().or(default.clone())
        };
        let node = h.node.get_ref().clone();
        if let Err(e) = sunder_nemesis::net::names::validate_nodes(std::slice::from_ref(&node)) {
            return Err(at(h.node.span(), "node", e.to_string()));
        }
        if hosts.iter().any(|o| o.node == node) {
            return Err(at(h.node.span(), "node", format!("node {node:?} is given two hosts")));
        }
        let address = h.address.get_ref().parse().map_err(|_| {
            at(
                h.address.span(),
                "address",
                format!("{:?} is not an IP address (partitions name hosts by address)", h.address.get_ref()),
            )
        })?;
        if let Some(other) = hosts.iter().find(|o| o.address == address) {
            return Err(at(
                h.address.span(),
                "address",
                format!("{address} is also node {}'s host: each node needs a host of its own", other.node),
            ));
        }
        let identity = match pick(&h.identity, &defaults.identity) {
            Some(id) => {
                let p = resolve(id.get_ref());
                if !p.is_file() {
                    return Err(at(id.span(), "identity", format!("{} is not a file", p.display())));
                }
                Some(p)
            }
            None => None,
        };
        let known_hosts = pick(&h.known_hosts, &defaults.known_hosts).map(|k| resolve(k.get_ref()));
        let strict = match pick(&h.strict_host_key_checking, &defaults.strict_host_key_checking) {
            Some(s) if !["yes", "no", "accept-new"].contains(&s.get_ref().as_str()) => {
                return Err(at(
                    s.span(),
                    "strict-host-key-checking",
                    format!("{:?}: expected yes, accept-new or no", s.get_ref()),
                ));
            }
            s => s.map(|s| s.get_ref().clone()),
        };
        let workdir = match pick(&h.workdir, &defaults.workdir) {
            Some(w) if !w.get_ref().starts_with('/') || w.get_ref().trim_end_matches('/').is_empty() => {
                return Err(at(
                    w.span(),
                    "workdir",
                    format!("{:?} must be an absolute path other than /", w.get_ref()),
                ));
            }
            Some(w) => w.get_ref().clone(),
            None => DEFAULT_WORKDIR.to_string(),
        };
        let user = pick(&h.user, &defaults.user).map(|u| u.get_ref().clone()).unwrap_or_else(|| {
            std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".to_string())
        });
        if user.is_empty() || user.starts_with('-') || user.contains(char::is_whitespace) {
            let span = h.user.as_ref().or(defaults.user.as_ref()).map_or(entry.span(), |u| u.span());
            return Err(at(span, "user", format!("{user:?} is not a user name")));
        }
        let port_of = |own: &Option<Spanned<u16>>, default: &Option<Spanned<u16>>| {
            own.as_ref().or(default.as_ref()).map(|p| *p.get_ref())
        };
        hosts.push(HostConfig {
            node,
            address,
            ssh_port: port_of(&h.port, &defaults.port).unwrap_or(22),
            user,
            identity,
            known_hosts,
            strict_host_key_checking: strict,
            workdir,
            sudo: h.sudo.as_ref().or(defaults.sudo.as_ref()).is_some_and(|s| *s.get_ref()),
            path: pick(&h.path, &defaults.path).map(|p| p.get_ref().clone()),
            node_port: port_of(&h.node_port, &defaults.node_port).unwrap_or(DEFAULT_NODE_PORT),
        });
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_here(text: &str) -> Result<Vec<HostConfig>> {
        parse(text, "hosts.toml", Path::new("/"))
    }

    #[test]
    fn hosts_take_defaults_unless_they_say_otherwise() {
        let hosts = parse_here(
            "[defaults]\nuser = \"ops\"\nport = 2222\nsudo = true\n\n\
             [[host]]\nnode = \"n1\"\naddress = \"10.0.0.11\"\n\n\
             [[host]]\nnode = \"n2\"\naddress = \"10.0.0.12\"\nuser = \"root\"\nnode-port = 7100\n",
        )
        .unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!((hosts[0].user.as_str(), hosts[0].ssh_port, hosts[0].sudo), ("ops", 2222, true));
        assert_eq!((hosts[1].user.as_str(), hosts[1].node_port), ("root", 7100));
        assert_eq!(hosts[0].workdir, DEFAULT_WORKDIR);
        assert_eq!(hosts[0].node_port, DEFAULT_NODE_PORT);
    }

    #[test]
    fn known_hosts_paths_resolve_from_home_or_the_file() {
        let hosts = parse(
            "[[host]]\nnode = \"n1\"\naddress = \"10.0.0.1\"\nknown-hosts = \"kh\"\n\
             [[host]]\nnode = \"n2\"\naddress = \"10.0.0.2\"\nknown-hosts = \"~/.ssh/known_hosts\"\n",
            "hosts.toml",
            Path::new("/etc/sunder"),
        )
        .unwrap();
        assert_eq!(hosts[0].known_hosts.as_deref(), Some(Path::new("/etc/sunder/kh")));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(hosts[1].known_hosts, Some(PathBuf::from(home).join(".ssh/known_hosts")));
        }
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let e = parse_here("[[host]]\nnode = \"n1\"\naddress = \"db1.example\"\n").unwrap_err().to_string();
        assert!(e.starts_with("hosts.toml: line 3: address:"), "{e}");
        let e = parse_here(
            "[[host]]\nnode = \"n1\"\naddress = \"10.0.0.1\"\nstrict-host-key-checking = \"maybe\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("hosts.toml: line 4: strict-host-key-checking:"), "{e}");
        let e = parse_here("[[host]]\nnode = \"n1\"\naddress = \"10.0.0.1\"\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("colour"), "{e}");
        let e = parse_here(
            "[[host]]\nnode = \"n1\"\naddress = \"10.0.0.1\"\n[[host]]\nnode = \"n2\"\naddress = \"10.0.0.1\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("hosts.toml: line 6: address:"), "{e}");
        let e =
            parse_here("[[host]]\nnode = \"n1\"\naddress = \"10.0.0.1\"\nidentity = \"/nonexistent/key\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.starts_with("hosts.toml: line 4: identity:"), "{e}");
    }
}
