//! The session harness's world: one `Services` per thread, homes and
//! accounts in the memory storage, keys and logs on a temporary folder; the
//! standing accounts, and the checks and clean-up after each run (see
//! [`crate::session`] for what a run does).

use crate::session::{ITER, LOG_LIMIT, PASSWORD, Run, SALT, STANDING, Start};
use mioftp::config::Config;
use mioftp::services::Services;
use mioftp::storage::memory::MemoryStorage;
use mioftp_proto::scram::{self, ClientKeys};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct World {
    /// Kept for its lifetime: the folder goes when the thread's world does.
    pub(crate) dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    /// Homes and accounts (shared with `svc`).
    pub(crate) storage: MemoryStorage,
    pub(crate) svc: Services,
    pub(crate) base: Instant,
    /// SCRAM keys for [`PASSWORD`] with [`SALT`] and [`ITER`].
    pub(crate) keys: ClientKeys,
    pub(crate) sessions: u64,
}

fn temp_parent() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() }
}

/// Prefix of the temporary folders; the process id follows it.
const TEMP_PREFIX: &str = "mioftp-fuzz-";

/// Removes the temporary folders of harness processes that are gone. A
/// process that ends normally removes its own, but a crash (the point of
/// fuzzing) leaves it behind.
fn sweep_dead_worlds(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(TEMP_PREFIX).and_then(|rest| rest.split('-').next()) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

impl World {
    pub(crate) fn new() -> World {
        let parent = temp_parent();
        sweep_dead_worlds(&parent);
        let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).expect("temp folder");
        let root = dir.path().join("root");
        let mut cfg = Config::new(&root);
        cfg.min_iterations = ITER;
        cfg.handshake_timeout = Duration::from_secs(5);
        cfg.idle_timeout = Duration::from_secs(10);
        cfg.transfer_timeout = Duration::from_secs(3);
        cfg.default_quota = None;
        let storage = MemoryStorage::new();
        let svc = Services::with_storage(cfg, Arc::new(storage.clone())).expect("services on a temporary root");
        let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), SALT, ITER));
        let mut w = World { dir, root, storage, svc, base: Instant::now(), keys, sessions: 0 };
        // Register the standing accounts through a real session.
        let mut run = Run { start: Start::Hello, now: w.base, user: "fuzz", slots: [None, None], cur: 0, w: &mut w };
        run.open(0);
        run.auth(true);
        for (name, _) in STANDING {
            run.register(name);
            run.pump();
            let reply = run.conn().and_then(|c| c.out.recent.back().cloned());
            assert_eq!(reply, Some(json!({"ok": true, "user": name})), "registering {name}");
        }
        run.finish(0);
        for (name, quota) in STANDING {
            assert!(w.storage.set_quota(name, quota), "account {name}");
        }
        w
    }

    pub(crate) fn run(&mut self, script: &crate::script::Script, start: Start) {
        let p = &script.prologue;
        let user = STANDING[p.user as usize % STANDING.len()].0;
        let mut run = Run { start, now: self.base, user, slots: [None, None], cur: 0, w: self };
        run.open(0);
        if start == Start::Authed && p.scan_first {
            run.finish_scans();
        }
        for op in &script.ops {
            run.apply(op);
        }
        run.finish(p.final_close);
        self.check_and_clean();
    }

    /// After a run: the layout holds nothing unexpected; then the run's
    /// accounts and homes are removed.
    pub(crate) fn check_and_clean(&mut self) {
        // The login throttle counts failures on the fake clock, which starts
        // at the same instant every run: a fresh one, or failures of earlier
        // runs would lock the next run's logins.
        self.svc.throttle = mioftp::throttle::Throttle::new(self.svc.config.login_policy);
        let top = names(self.dir.path());
        assert_eq!(top, ["root"], "something appeared beside the data root");
        for name in names(&self.root) {
            // No `home`: every user file goes to the storage, never the disk.
            // `.lock`: the data root's lock, held by `svc` for its life.
            assert!([".lock", "accounts", "logs", "server.key"].contains(&name.as_str()), "unexpected root/{name}");
        }
        // `.tokens`: the token store is on disk whatever the storage. No run
        // issues a token, and trying an unknown one changes nothing, so it
        // stays empty.
        assert_eq!(names(&self.root.join("accounts")), [".secret", ".tokens"], "an account record reached the disk");
        assert!(names(&self.root.join("accounts/.tokens")).is_empty(), "a token record appeared");
        let users = self.storage.accounts();
        for user in &users {
            assert!(mioftp_proto::check_username(user).is_ok(), "account for an invalid name {user:?}");
        }
        assert!(!self.svc.users.scanning(), "a usage scan outlived its sessions");
        for user in &users {
            assert!(self.svc.users.get(user).is_none(), "state of {user} outlived its sessions");
        }
        for name in self.storage.users() {
            assert!(users.contains(&name), "home {name} belongs to no account");
        }
        for name in names(&self.root.join("logs")) {
            let known = ["register_login_accounts.log", "shell_command.log", "upload_file.log", "download_file.log"];
            assert!(known.contains(&name.as_str()), "unexpected logs/{name}");
            let path = self.root.join("logs").join(&name);
            if fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > LOG_LIMIT {
                // The audit log appends (O_APPEND), so it carries on at 0.
                fs::OpenOptions::new().write(true).open(&path).and_then(|f| f.set_len(0)).expect("truncate log");
            }
        }
        // Back to the standing accounts with empty homes.
        for user in users {
            if STANDING.iter().any(|(n, _)| *n == user) {
                self.storage.clear_home(&user);
            } else {
                self.storage.remove_account(&user);
                self.storage.remove_home(&user);
            }
        }
    }
}

/// Entry names of a folder, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
