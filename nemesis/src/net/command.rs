//! Running the system tools the netns backend drives (`ip`, `iptables-restore`,
//! `iptables`): each call is a real process, optionally placed in a namespace and fed a
//! script on stdin, and any failure comes back as an error carrying the command line and
//! its stderr. Calls can be started together and awaited together, so a partition touching
//! five namespaces costs one round of process start-up, not five.

use crate::error::{NemesisError, Result};
use crate::net::namespace::NamespaceFile;
use std::io::Write;
use std::process::{Child, Command, Stdio};

/// One tool invocation being prepared.
#[derive(Debug)]
pub struct ToolCall {
    program: String,
    args: Vec<String>,
    stdin: Option<String>,
    netns: Option<NamespaceFile>,
}

impl ToolCall {
    /// Calls `program` with `args`.
    pub fn new(program: &str, args: &[&str]) -> ToolCall {
        ToolCall {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: None,
            netns: None,
        }
    }

    /// Feeds `script` on the tool's stdin.
    pub fn stdin(mut self, script: String) -> ToolCall {
        self.stdin = Some(script);
        self
    }

    /// Runs the tool inside `netns`.
    pub fn inside(mut self, netns: &NamespaceFile) -> ToolCall {
        self.netns = Some(netns.clone());
        self
    }

    /// The command line, for error messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(ns) = &self.netns {
            s.push_str(&format!("[netns {}] ", ns.name()));
        }
        s.push_str(&self.program);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        if let Some(script) = &self.stdin {
            s.push_str(&format!(" <<< {:?}", script));
        }
        s
    }

    /// Starts the tool without waiting for it.
    pub fn start(self) -> Result<Running> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("LC_ALL", "C");
        if let Some(ns) = &self.netns {
            ns.place_command(&mut cmd);
        }
        let mut child = cmd.spawn().map_err(|e| NemesisError::Command {
            command: self.describe(),
            detail: format!("cannot start: {e}"),
        })?;
        if let Some(script) = &self.stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            if let Err(e) = pipe.write_all(script.as_bytes()) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NemesisError::Command {
                    command: self.describe(),
                    detail: format!("writing stdin: {e}"),
                });
            }
        }
        Ok(Running { call: self, child })
    }

    /// Runs the tool to completion and returns its stdout.
    pub fn run(self) -> Result<String> {
        self.start()?.wait()
    }
}

/// A started tool.
#[derive(Debug)]
pub struct Running {
    call: ToolCall,
    child: Child,
}

impl Running {
    /// Waits for the tool; a non-zero exit is an error carrying its stderr.
    pub fn wait(self) -> Result<String> {
        let Running { call, child } = self;
        let out = child.wait_with_output().map_err(|e| NemesisError::Command {
            command: call.describe(),
            detail: format!("waiting: {e}"),
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NemesisError::Command {
                command: call.describe(),
                detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
            })
        }
    }
}

/// Starts every call, then waits for all of them; the first error wins, but every process
/// is still reaped.
pub fn run_all(calls: Vec<ToolCall>) -> Result<Vec<String>> {
    let mut started = Vec::new();
    let mut first_err = None;
    for c in calls {
        match c.start() {
            Ok(r) => started.push(r),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let mut outs = Vec::new();
    for r in started {
        match r.wait() {
            Ok(o) => outs.push(o),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(outs),
    }
}

/// Whether `program` is an executable somewhere on `PATH`.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).any(|d| {
        std::fs::metadata(d.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}
