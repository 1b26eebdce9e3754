//! The server under test: a `mioftpd` process the benchmark starts on a fresh
//! temporary data root (the default), or one already running at `--addr`.
//!
//! A started server runs in its own process, never in the benchmark's: its
//! RSS and CPU time are then its own, and it can be profiled from outside
//! (`perf`, `strace`, `valgrind`) with `--server-wrapper`.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to reach (or start) servers for the scenarios.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Start `bin` (optionally under a wrapper command) per scenario.
    Spawn { bin: PathBuf, wrapper: Vec<String>, extra: Vec<String> },
    /// Use a server that is already running.
    External { addr: String, key: Vec<u8>, pid: Option<u32> },
}

/// One server for one scenario, plus a scratch folder for client-side files
/// on the same filesystem as its data root.
pub struct Target {
    pub addr: String,
    pub key: Vec<u8>,
    /// The server's pid, for RSS and CPU time (the wrapper's child is found
    /// when a wrapper is used).
    pub pid: Option<u32>,
    /// The data root (only for a server we started).
    pub root: Option<PathBuf>,
    /// Client-side files (sources, downloads, baseline outputs).
    pub local: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Target {
    /// Starts a server (or names the external one) with its scratch folders
    /// under `parent`, which decides the filesystem.
    pub fn start(launch: &Launch, parent: &Path) -> Result<Target> {
        Target::start_with(launch, parent, &[], &[])
    }

    /// [`Target::start`], with extra server flags and environment variables
    /// for this scenario (ignored for an external server).
    pub fn start_with(launch: &Launch, parent: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Target> {
        let dir = tempfile::Builder::new()
            .prefix("mioftp-bench-")
            .tempdir_in(parent)
            .with_context(|| format!("making a scratch folder in {}", parent.display()))?;
        let local = dir.path().join("local");
        std::fs::create_dir(&local)?;
        match launch {
            Launch::External { addr, key, pid } => Ok(Target {
                addr: addr.clone(),
                key: key.clone(),
                pid: *pid,
                root: None,
                local,
                child: None,
                _dir: dir,
            }),
            Launch::Spawn { bin, wrapper, extra } => {
                let root = dir.path().join("root");
                let addr = free_port()?;
                let stderr = File::create(dir.path().join("server.stderr"))?;
                let mut cmd = match wrapper.split_first() {
                    Some((program, args)) => {
                        let mut c = Command::new(program);
                        c.args(args).arg(bin);
                        c
                    }
                    None => Command::new(bin),
                };
                cmd.arg("--root").arg(&root).arg("--listen").arg(&addr);
                cmd.args(SERVER_FLAGS).args(extra).args(args).envs(env.iter().copied());
                cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
                let child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
                let mut target = Target {
                    addr: addr.clone(),
                    key: Vec::new(),
                    pid: Some(child.id()),
                    root: Some(root.clone()),
                    local,
                    child: Some(child),
                    _dir: dir,
                };
                target.wait_ready(&root)?;
                if !wrapper.is_empty() {
                    target.pid = target.pid.and_then(find_server_pid);
                }
                Ok(target)
            }
        }
    }

    /// Waits until the server accepts connections, then reads its key.
    fn wait_ready(&mut self, root: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    let log = std::fs::read_to_string(root.parent().unwrap_or(root).join("server.stderr"));
                    bail!("the server exited at start ({status}): {}", log.unwrap_or_default().trim());
                }
            }
            if TcpStream::connect(&self.addr).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("the server did not listen on {} within 60 s", self.addr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.key = mioftp_proto::keyfile::read_key(&root.join("server.key")).context("reading the server's key")?;
        Ok(())
    }

    /// The server's stderr (its log), for a server we started.
    pub fn log_path(&self) -> Option<PathBuf> {
        self.child.as_ref().map(|_| self._dir.path().join("server.stderr"))
    }

    /// The home folder of `user` on a server we started.
    pub fn home(&self, user: &str) -> Option<PathBuf> {
        self.root.as_ref().map(|r| r.join("home").join(user))
    }

    /// Stops a server we started: SIGTERM (graceful), then SIGKILL.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // The server itself, not a wrapper around it: it shuts down
        // gracefully and the wrapper (strace, perf) then writes its report.
        let pid = self.pid.unwrap_or(child.id());
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Flags for a started server: no per-address cap, no quota, no login
/// throttling, and timeouts long enough for the slowest scenario, so the
/// benchmark measures speed rather than policy.
const SERVER_FLAGS: &[&str] = &[
    "--max-connections",
    "10000",
    "--max-per-ip",
    "0",
    "--default-quota",
    "unlimited",
    "--login-max-failures",
    "0",
    "--handshake-timeout",
    "600",
    "--idle-timeout",
    "3600",
    "--transfer-timeout",
    "600",
    "--shutdown-grace",
    "2",
];

/// A loopback address with a port that was free a moment ago.
fn free_port() -> Result<String> {
    let probe = TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.to_string())
}

/// Under a wrapper (strace, valgrind, perf), the server is a descendant of
/// the process we started: the deepest one whose command line names mioftpd.
/// Wrappers that exec (valgrind) keep the same pid.
fn find_server_pid(top: u32) -> Option<u32> {
    let mut pid = top;
    for _ in 0..4 {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        match children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()).next() {
            Some(child) => pid = child,
            None => break,
        }
    }
    Some(pid)
}

/// Finds the release `mioftpd`: `--server-bin`, or built by cargo next to
/// this benchmark's own target folder.
pub fn server_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    release_binary(explicit, "mioftp", "mioftpd")
}

/// Finds the release `mioftp` client, the same way.
pub fn client_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    release_binary(explicit, "mioftp-client", "mioftp")
}

/// `explicit`, or `target/release/<bin>` next to this benchmark, built by
/// cargo first when the benchmark runs under `cargo run`.
fn release_binary(explicit: Option<&Path>, package: &str, name: &str) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/mioftp-bench -> target/release/<name>
    let target_dir = exe.parent().and_then(Path::parent).context("locating the target folder")?;
    let bin = target_dir.join("release").join(name);
    // Under `cargo run`, make sure the binary is built and current: the
    // bench package cannot depend on another package's binary.
    if let Ok(cargo) = std::env::var("CARGO") {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("Cargo.toml");
        eprintln!("building the release {name} (cargo build --release -p {package} --bin {name}) ...");
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", package, "--bin", name, "--manifest-path"])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", target_dir)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build of {name} failed ({status})");
        }
    }
    if !bin.exists() {
        bail!("{} not found: run `cargo build --release` first (or pass its path with a --*-bin flag)", bin.display());
    }
    Ok(bin)
}
