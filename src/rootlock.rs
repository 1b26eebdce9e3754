//! One process per data root: an exclusive `flock(2)` on `<root>/.lock`,
//! held for the life of the process (or of an offline admin command).
//!
//! Two servers on one root would each believe they own the quota ledger,
//! the partial uploads and the throttles; this makes the second one stop at
//! start with an error naming the root and, when recorded, the holder's pid.
//! `flock` is released by the kernel when the holder exits or crashes, so a
//! stale lock file never blocks a restart; the file itself is left in place
//! (unlinking it would let a third process lock a fresh inode while a second
//! still holds the old one). The lock belongs to the open file description,
//! so two opens in one process also conflict, and the descriptor is
//! close-on-exec, so child processes do not inherit it.

use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The lock file's name under the data root.
pub const LOCK_FILE: &str = ".lock";

/// Longest holder line read back from the lock file.
const MAX_HOLDER_LINE: u64 = 256;

/// An exclusive lock on a data root; released when dropped.
#[derive(Debug)]
pub struct RootLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("{}", held_message(.root, *.pid, .role.as_deref()))]
    Held { root: PathBuf, pid: Option<u32>, role: Option<String> },
    #[error("cannot lock the data root {}: {source} ({})", .root.display(), .path.display())]
    Io { root: PathBuf, path: PathBuf, source: io::Error },
}

fn held_message(root: &Path, pid: Option<u32>, role: Option<&str>) -> String {
    let who = match (pid, role) {
        (Some(pid), Some(role)) => format!("another mioftpd process (pid {pid}, {role})"),
        (Some(pid), None) => format!("another mioftpd process (pid {pid})"),
        _ => "another mioftpd process".to_owned(),
    };
    format!(
        "{who} is already using the data root {}; only one process may use a data root at a time (lock: {})",
        root.display(),
        root.join(LOCK_FILE).display()
    )
}

impl RootLock {
    /// Takes the lock on `root` (which must exist) without waiting, and
    /// records `<pid> <role>` in the file for a later contender's message.
    /// `role` is a short word such as `server` or `admin`.
    pub fn acquire(root: &Path, role: &str) -> Result<RootLock, LockError> {
        let path = root.join(LOCK_FILE);
        let io_err = |source| LockError::Io { root: root.to_owned(), path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(crate::perms::LOCK_FILE_MODE)
            .open(&path)
            .map_err(io_err)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let (pid, role) = read_holder(&mut file);
                return Err(LockError::Held { root: root.to_owned(), pid, role });
            }
            Err(e) => return Err(io_err(e.into())),
        }
        // Ours now: say who we are. A failure here is not worth refusing to
        // run for; the lock itself is what matters.
        let record = format!("{} {}\n", std::process::id(), role);
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(record.as_bytes()));
        if let Err(e) = written {
            log::warn!("could not record the pid in {}: {e}", path.display());
        }
        Ok(RootLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads `<pid> <role>` from a lock file someone else holds. The holder may
/// be writing it right now, or an old version may not have written it: any
/// doubt gives `None`.
fn read_holder(file: &mut File) -> (Option<u32>, Option<String>) {
    let mut text = String::new();
    if file.seek(SeekFrom::Start(0)).is_err() || file.take(MAX_HOLDER_LINE).read_to_string(&mut text).is_err() {
        return (None, None);
    }
    let Some(line) = text.strip_suffix('\n') else { return (None, None) };
    let mut parts = line.splitn(2, ' ');
    let pid = parts.next().and_then(|p| p.parse().ok());
    let role = parts.next().filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_graphic())).map(str::to_owned);
    (pid, role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    #[test]
    fn a_second_lock_on_the_same_root_fails_naming_the_root_and_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = RootLock::acquire(dir.path(), "server").unwrap();
        let err = RootLock::acquire(dir.path(), "admin").unwrap_err();
        match &err {
            LockError::Held { root, pid, role } => {
                assert_eq!(root, dir.path());
                assert_eq!(*pid, Some(std::process::id()));
                assert_eq!(role.as_deref(), Some("server"));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
        drop(first);
        let again = RootLock::acquire(dir.path(), "admin").unwrap();
        assert_eq!(std::fs::read_to_string(again.path()).unwrap(), format!("{} admin\n", std::process::id()));
    }

    #[test]
    fn a_missing_root_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = RootLock::acquire(&missing, "server").unwrap_err();
        assert!(matches!(err, LockError::Io { .. }));
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn an_unreadable_holder_record_still_gives_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let _held = RootLock::acquire(dir.path(), "server").unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), b"garbage without newline").unwrap();
        let err = RootLock::acquire(dir.path(), "admin").unwrap_err();
        assert!(matches!(err, LockError::Held { pid: None, role: None, .. }), "{err:?}");
        assert!(err.to_string().starts_with("another mioftpd process is already using the data root"));
    }

    /// Not a test of its own: the child half of the next test. It locks the
    /// root named in the environment, says so, and holds the lock until its
    /// stdin closes.
    #[test]
    #[ignore = "helper run by a_lock_held_by_another_process_is_refused_until_it_exits"]
    fn child_holds_lock_until_stdin_closes() {
        // Run on its own (`--include-ignored`) it has nothing to do.
        let Some(root) = std::env::var_os("MIOFTP_ROOTLOCK_CHILD") else { return };
        let _lock = RootLock::acquire(Path::new(&root), "server").unwrap();
        println!("locked");
        io::stdout().flush().unwrap();
        let _ = io::stdin().read_to_end(&mut Vec::new());
    }

    #[test]
    fn a_lock_held_by_another_process_is_refused_until_it_exits() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "rootlock::tests::child_holds_lock_until_stdin_closes", "--ignored", "--nocapture"])
            .env("MIOFTP_ROOTLOCK_CHILD", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The test harness prints its own lines first; wait for the child's.
        while line.trim() != "locked" {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "child exited before locking");
        }
        let err = RootLock::acquire(dir.path(), "admin").unwrap_err();
        assert!(matches!(err, LockError::Held { pid: Some(p), .. } if p == child.id()), "{err:?}");
        drop(child.stdin.take()); // the child exits, and the kernel drops its lock
        assert!(child.wait().unwrap().success());
        RootLock::acquire(dir.path(), "admin").unwrap();
    }
}
