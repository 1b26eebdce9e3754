//! External tools the tests drive (tmux, jq, haproxy, logrotate, lftp,
//! systemd-analyze, curl, openssl): [`require`] makes sure one is on PATH,
//! installing its Debian package with apt-get when it is missing, so that
//! `cargo test --workspace` passes on a fresh machine with nothing installed
//! by hand. A tool that still cannot be had FAILS the test that needs it,
//! loudly: no test is ever skipped silently.
//!
//! apt-get takes dpkg's lock, so concurrent installs (tests run in parallel
//! threads, and test binaries may run in parallel too) are serialised by an
//! exclusive `flock` on a file in the temporary folder, and `apt-get update`
//! runs at most once per process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Whether `tool` is an executable on PATH (or in /usr/sbin, /sbin, where
/// Debian puts some tools that a non-login PATH may miss).
pub fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path).chain(extra).map(|d| d.join(tool)).find(|p| p.is_file())
}

/// The path of `tool`, installing Debian package `package` if it is missing.
/// Panics, naming the tool and the package, when it cannot be had.
pub fn require(tool: &str, package: &str) -> PathBuf {
    if let Some(p) = find(tool) {
        return p;
    }
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = find(tool) {
        return p; // another thread installed it meanwhile
    }
    let outcome = install(package);
    find(tool).unwrap_or_else(|| {
        panic!(
            "this test needs `{tool}` (Debian package `{package}`), which is not installed and could not be \
             installed with apt-get ({outcome}); install it and run the tests again"
        )
    })
}

/// Runs `apt-get install` for `package` under a machine-wide lock; returns a
/// short account of what happened, for the panic message.
fn install(package: &str) -> String {
    let lock_path = std::env::temp_dir().join("mioftp-tests-apt.lock");
    let lock = match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path) {
        Ok(f) => f,
        Err(e) => return format!("cannot open {}: {e}", lock_path.display()),
    };
    if let Err(e) = rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive) {
        return format!("cannot lock {}: {e}", lock_path.display());
    }
    let apt =
        |args: &[&str]| {
            Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").output().map(|o| {
                (o.status.success(), String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").to_owned())
            })
        };
    static UPDATED: OnceLock<bool> = OnceLock::new();
    UPDATED.get_or_init(|| apt(&["update", "-qq"]).is_ok_and(|(ok, _)| ok));
    match apt(&["install", "-y", "-qq", "--no-install-recommends", package]) {
        Ok((true, _)) => "installed".to_owned(),
        Ok((false, last)) => format!("apt-get failed: {last}"),
        Err(e) => format!("apt-get could not run: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_is_there_is_found_without_installing() {
        assert!(require("sh", "dash").ends_with("sh"));
    }

    #[test]
    #[should_panic(expected = "could not be installed")]
    fn a_tool_that_cannot_be_had_fails_loudly() {
        require("mioftp-no-such-tool", "mioftp-no-such-package");
    }
}
