//! Handles on named network namespaces (`/run/netns/NAME`, as `ip netns add` makes them)
//! and the three ways Sunder enters one: the calling thread (the harness moving into the
//! control namespace, a test probing from inside a node), a fresh scoped thread, and a
//! child between fork and exec (a node, an `iptables-restore`). `setns(CLONE_NEWNET)`
//! changes only the calling thread, which is what makes all three safe.

use crate::error::{NemesisError, Result};
use nix::sched::{CloneFlags, setns};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// Directory where `ip netns` keeps its namespace files.
pub const NETNS_DIR: &str = "/run/netns";

/// The file of the named namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// An open handle on a network namespace. Cloning shares the descriptor.
#[derive(Debug, Clone)]
pub struct NamespaceFile {
    name: String,
    fd: Arc<OwnedFd>,
}

impl NamespaceFile {
    /// Opens the namespace `name` under `/run/netns`.
    pub fn open(name: &str) -> Result<NamespaceFile> {
        let path = netns_path(name);
        // O_CLOEXEC (std's default) keeps the descriptor out of exec'd children.
        let file = File::open(&path).map_err(|e| NemesisError::io(format!("open {}", path.display()), e))?;
        Ok(NamespaceFile { name: name.to_string(), fd: Arc::new(file.into()) })
    }

    /// The namespace this process started in (its root namespace): captured from the
    /// calling thread the first time it is asked for, which [`crate::net::netns::Netns`]
    /// does when it creates its first network, before anything can enter a control
    /// namespace. Later runs in the same process check safety against this one, even
    /// from inside an earlier run's control namespace.
    pub fn origin() -> Result<NamespaceFile> {
        static ORIGIN: OnceLock<NamespaceFile> = OnceLock::new();
        if let Some(ns) = ORIGIN.get() {
            return Ok(ns.clone());
        }
        let file = File::open("/proc/thread-self/ns/net")
            .map_err(|e| NemesisError::io("open /proc/thread-self/ns/net", e))?;
        let ns = NamespaceFile { name: "origin".to_string(), fd: Arc::new(file.into()) };
        Ok(ORIGIN.get_or_init(|| ns).clone())
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the calling thread into this namespace; sockets it opens afterwards live
    /// there. Other threads are not affected; threads it spawns later inherit it.
    pub fn enter_current_thread(&self) -> Result<()> {
        setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| NemesisError::io(format!("setns into {}", self.name), e.into()))
    }

    /// Runs `f` on a new thread inside this namespace and returns its result; the caller's
    /// own namespace is untouched.
    pub fn run_inside<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter_current_thread()?;
                Ok(f())
            })
            .join()
            .map_err(|_| NemesisError::Invalid(format!("thread inside {} panicked", self.name)))?
        })
    }

    /// Arranges for `cmd`'s child to enter this namespace between fork and exec. Only the
    /// `setns` system call runs in the child (async-signal-safe); the descriptor was opened
    /// here, before the fork.
    pub fn place_command(&self, cmd: &mut Command) {
        let fd = Arc::clone(&self.fd);
        // SAFETY: the hook only performs the setns syscall on a descriptor opened before
        // the fork (kept alive by the Arc the closure owns); it allocates nothing and takes
        // no lock, so it is safe between fork and exec.
        unsafe {
            cmd.pre_exec(move || enter_fd_in_child(fd.as_raw_fd()));
        }
    }
}

/// Moves the calling thread into the network namespace open at `fd`, from a `pre_exec`
/// hook. Only a syscall: async-signal-safe.
fn enter_fd_in_child(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: plain syscall on a caller-provided descriptor.
    if unsafe { nix::libc::setns(fd, nix::libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
