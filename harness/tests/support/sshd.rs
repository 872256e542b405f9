//! Real remote hosts for the remote backend's tests: K network namespaces of the test's
//! own, each running a real `sshd`, on a bridge (in a namespace of its own) with a control
//! namespace the harness under test runs in. The layout follows the netns backend: veth
//! pairs are made from inside the bridge namespace, nothing is created in the root
//! namespace and no namespace has a default route, so every connection the test makes
//! stays on its private /24. Names carry a fixture id (`sfx<id>-h1`, `-br`, `-ctl`), never
//! Sunder's `sunder-` prefix, so they collide neither with a run's nor with `sunder
//! cleanup`'s view. Keys are made with `ssh-keygen` into the fixture's temp dir; the
//! known_hosts file it writes lets the harness check host keys strictly. Dropping the
//! fixture (also on panic) stops each sshd by the pid it started, ends whatever still lives
//! in its namespaces, and deletes them.
//!
//! The hosts share this machine's file system and process table: each gets a work dir of
//! its own under the temp dir.

use super::TempDir;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The port every fixture sshd listens on (not 22, so the hosts file's port is exercised).
pub const SSH_PORT: u16 = 2222;

static NEXT_FIXTURE: AtomicU32 = AtomicU32::new(0);

/// One fixture host.
pub struct FixtureHost {
    /// The node it is meant to run (`n1`, ...).
    pub node: String,
    /// Its network namespace.
    pub ns: String,
    /// Its address on the fixture's /24.
    pub ip: Ipv4Addr,
    /// Its remote work dir.
    pub workdir: PathBuf,
    sshd: Option<Child>,
}

/// K sshd hosts in namespaces, with a control namespace to run the harness in.
pub struct SshdHosts {
    dir: TempDir,
    bridge_ns: String,
    control_ns: String,
    hosts: Vec<FixtureHost>,
}

fn run_ip(args: &[&str], script: &str) {
    let mut child = Command::new("ip")
        .args(args)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ip");
    std::io::Write::write_all(child.stdin.as_mut().expect("piped"), script.as_bytes()).expect("feed ip");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait ip");
    assert!(out.status.success(), "ip {args:?} <<< {script:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "sunder-test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("start ssh-keygen");
    assert!(status.success(), "ssh-keygen {}", path.display());
}

/// A third byte for 10.231.X.0/24 that no root-namespace address or route mentions.
fn free_prefix(seed: u32) -> u8 {
    let listing = |what: &str| {
        let out = Command::new("ip").args(["-4", what, "show"]).output().expect("ip show");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let taken = format!("{}{}", listing("addr"), listing("route"));
    (0..256u32)
        .map(|i| ((seed + i) % 256) as u8)
        .find(|c| !taken.contains(&format!("10.231.{c}.")))
        .expect("a free 10.231.x.0/24")
}

impl SshdHosts {
    /// Builds the namespaces and starts one sshd on each of `k` hosts.
    pub fn start(tag: &str, k: usize) -> SshdHosts {
        let n = NEXT_FIXTURE.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:x}{n}", std::process::id() & 0xffff);
        let dir = TempDir::new(&format!("sshd-{tag}"));
        let c = free_prefix(std::process::id() + n);
        let bridge_ns = format!("sfx{id}-br");
        let control_ns = format!("sfx{id}-ctl");
        let mut fixture = SshdHosts { dir, bridge_ns, control_ns, hosts: Vec::new() };
        for i in 1..=k {
            let workdir = fixture.dir.path().join(format!("h{i}")).join("work");
            std::fs::create_dir_all(&workdir).expect("create host work dir");
            fixture.hosts.push(FixtureHost {
                node: format!("n{i}"),
                ns: format!("sfx{id}-h{i}"),
                ip: Ipv4Addr::new(10, 231, c, 10 + i as u8),
                workdir,
                sshd: None,
            });
        }
        // From here on, a panic drops `fixture`, which deletes whatever was made.
        let mut all = vec![fixture.bridge_ns.clone(), fixture.control_ns.clone()];
        all.extend(fixture.hosts.iter().map(|h| h.ns.clone()));
        run_ip(&[], &all.iter().map(|ns| format!("netns add {ns}\n")).collect::<String>());
        let mut members = vec![(fixture.control_ns.clone(), Ipv4Addr::new(10, 231, c, 1))];
        members.extend(fixture.hosts.iter().map(|h| (h.ns.clone(), h.ip)));
        let mut bridge = String::from("link add br0 type bridge\nlink set br0 up\n");
        for (i, (ns, _)) in members.iter().enumerate() {
            bridge.push_str(&format!("link add v{i} type veth peer name eth0 netns {ns}\n"));
            bridge.push_str(&format!("link set v{i} master br0\nlink set v{i} up\n"));
        }
        run_ip(&["-n", &fixture.bridge_ns], &bridge);
        for (ns, ip) in &members {
            run_ip(&["-n", ns], &format!("addr add {ip}/24 dev eth0\nlink set eth0 up\nlink set lo up\n"));
        }
        for ns in &all {
            let out =
                Command::new("ip").args(["-n", ns, "route", "show", "default"]).output().expect("ip route");
            assert!(out.stdout.is_empty(), "namespace {ns} has a default route");
        }

        let client_key = fixture.dir.path().join("client_key");
        keygen(&client_key);
        std::fs::copy(client_key.with_extension("pub"), fixture.dir.path().join("authorized_keys"))
            .expect("write authorized_keys");
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd (sshd's privilege separation dir)");
        let mut known_hosts = String::new();
        for i in 0..k {
            let hdir = fixture.dir.path().join(format!("h{}", i + 1));
            let host_key = hdir.join("host_key");
            keygen(&host_key);
            let public = std::fs::read_to_string(host_key.with_extension("pub")).expect("read host key");
            let mut fields = public.split_whitespace();
            let (kind, key) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
            known_hosts.push_str(&format!("[{}]:{SSH_PORT} {kind} {key}\n", fixture.hosts[i].ip));
            let config = format!(
                "ListenAddress {ip}:{SSH_PORT}\nHostKey {key}\nAuthorizedKeysFile {auth}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 StrictModes no\nUsePAM no\nPidFile {pid}\nMaxSessions 50\nMaxStartups 50\n",
                ip = fixture.hosts[i].ip,
                key = host_key.display(),
                auth = fixture.dir.path().join("authorized_keys").display(),
                pid = hdir.join("sshd.pid").display(),
            );
            std::fs::write(hdir.join("sshd_config"), config).expect("write sshd_config");
            let log = std::fs::File::create(hdir.join("sshd.log")).expect("create sshd.log");
            let child = Command::new("ip")
                .args(["netns", "exec", &fixture.hosts[i].ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
                .arg(hdir.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start sshd");
            fixture.hosts[i].sshd = Some(child);
        }
        std::fs::write(fixture.known_hosts(), known_hosts).expect("write known_hosts");
        for i in 0..k {
            fixture.wait_listening(i);
        }
        fixture
    }

    fn wait_listening(&mut self, i: usize) {
        let pid_file = self.dir.path().join(format!("h{}", i + 1)).join("sshd.pid");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !pid_file.exists() {
            let exited = self.hosts[i].sshd.as_mut().and_then(|c| c.try_wait().ok().flatten());
            let log = std::fs::read_to_string(pid_file.with_file_name("sshd.log")).unwrap_or_default();
            assert!(exited.is_none(), "sshd of {} exited ({exited:?}): {log}", self.hosts[i].ns);
            assert!(Instant::now() < deadline, "sshd of {} did not start: {log}", self.hosts[i].ns);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The hosts.
    pub fn hosts(&self) -> &[FixtureHost] {
        &self.hosts
    }

    /// The fixture's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The known_hosts file holding every host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// Writes a hosts file `name` for every host; `extra(i)` adds lines to host `i`'s table
    /// (a later key of the same name is a TOML error, so extras must be new keys, or use
    /// `port_of` to change the port).
    pub fn write_hosts_file(
        &self,
        name: &str,
        port_of: impl Fn(usize) -> u16,
        extra: impl Fn(usize) -> String,
    ) -> PathBuf {
        let mut text = format!(
            "[defaults]\nuser = \"root\"\nidentity = \"{}\"\nknown-hosts = \"{}\"\nstrict-host-key-checking = \"yes\"\n",
            self.dir.path().join("client_key").display(),
            self.known_hosts().display()
        );
        for (i, h) in self.hosts.iter().enumerate() {
            text.push_str(&format!(
                "\n[[host]]\nnode = \"{}\"\naddress = \"{}\"\nport = {}\nworkdir = \"{}\"\n{}",
                h.node,
                h.ip,
                port_of(i),
                h.workdir.display(),
                extra(i)
            ));
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write hosts file");
        path
    }

    /// The hosts file of every host as it is.
    pub fn hosts_file(&self) -> PathBuf {
        self.write_hosts_file("hosts.toml", |_| SSH_PORT, |_| String::new())
    }

    /// `program` to be run inside the control namespace (`ip netns exec` execs it in
    /// place, so the child's pid is the program's).
    pub fn in_control(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.control_ns]).arg(program);
        cmd
    }

    /// The control namespace's name (for `NamespaceFile::open`).
    pub fn control_ns(&self) -> &str {
        &self.control_ns
    }

    /// `iptables -S` inside host `i`'s namespace.
    pub fn iptables_rules(&self, i: usize) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.hosts[i].ns, "iptables", "-w", "-S"])
            .output()
            .expect("iptables -S");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Pids of the processes living in host `i`'s namespace, sshd excluded.
    pub fn processes_on(&self, i: usize) -> Vec<u32> {
        let sshd = self.hosts[i].sshd.as_ref().map(|c| c.id());
        pids_in(&self.hosts[i].ns).into_iter().filter(|p| Some(*p) != sshd).collect()
    }
}

/// Pids whose network namespace is the named one.
pub fn pids_in(ns: &str) -> Vec<u32> {
    let Ok(target) = std::fs::metadata(format!("/run/netns/{ns}")) else { return Vec::new() };
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}

/// Whether process `pid`'s environment carries `SUNDER_RUN_ID=<run_id>`.
pub fn carries_run_id(pid: u32, run_id: &str) -> bool {
    let marker = format!("SUNDER_RUN_ID={run_id}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
}

impl Drop for SshdHosts {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            if let Some(mut c) = h.sshd.take() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(c.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                let _ = c.wait();
            }
        }
        // Anything still inside the fixture's namespaces was started by this test
        // (through its sshds); a namespace lives on while a process is inside it.
        let mut all = vec![self.bridge_ns.clone(), self.control_ns.clone()];
        all.extend(self.hosts.iter().map(|h| h.ns.clone()));
        for ns in &all {
            for pid in pids_in(ns) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let script: String = all.iter().map(|ns| format!("netns del {ns}\n")).collect();
        let _ = Command::new("ip")
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut c| {
                std::io::Write::write_all(c.stdin.as_mut().expect("piped"), script.as_bytes())?;
                drop(c.stdin.take());
                c.wait()
            });
    }
}
