//! Per-user state shared by all of a user's sessions: the open home, the
//! bytes used and promised against the quota, and the uploads in progress.
//!
//! Usage is computed once, when the first session of a user logs in, by an
//! incremental scan that the event loop advances a bounded number of entries
//! per turn ([`Users::tick`]), so a huge home cannot stall other clients.
//! Until it completes, that user's file requests wait (see the session's
//! deferred request). After that it is kept up to date by every change, and
//! dropped when the user's last session ends.

use crate::home::VPath;
use crate::partial;
use crate::storage::{HomeStore, Storage, UsageWalk};
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Directory entries the usage scans may visit per loop turn, in total.
pub const SCAN_BUDGET: usize = 2048;

/// One user's shared state.
pub struct UserState {
    pub home: Arc<dyn HomeStore>,
    /// Bytes of regular files in the home, including partial uploads.
    /// Meaningful once `scan` is `None`.
    pub used: u64,
    /// Bytes promised to uploads in progress but not yet written.
    pub reserved: u64,
    /// The quota in bytes; `None` is unlimited.
    pub limit: Option<u64>,
    scan: Option<Box<dyn UsageWalk>>,
    /// Why the last scan failed; usage is unknown until a new scan succeeds.
    pub scan_error: Option<String>,
    sessions: usize,
    /// Target paths with an upload in progress (for `busy`).
    pub uploads: HashSet<VPath>,
}

impl UserState {
    /// Whether usage is known (a scan has finished without error).
    pub fn ready(&self) -> bool {
        self.scan.is_none() && self.scan_error.is_none()
    }

    /// Bytes still free, counting reservations; `None` if unlimited.
    pub fn free(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.used.saturating_add(self.reserved)))
    }

    /// Records bytes added to (or removed from) the home.
    pub fn grow(&mut self, n: u64) {
        self.used = self.used.saturating_add(n);
    }

    pub fn shrink(&mut self, n: u64) {
        self.used = self.used.saturating_sub(n);
    }
}

/// All logged-in users.
#[derive(Default)]
pub struct Users {
    map: HashMap<String, UserState>,
    /// Users whose scan is running, so a loop turn never walks every user.
    scanning: Vec<String>,
}

impl Users {
    /// A session of `user` logged in: opens the home and starts the usage
    /// scan if this is the user's first session.
    /// Stale partial uploads are swept first (no other session of the user
    /// can be uploading), so the scan counts what remains.
    pub fn attach(
        &mut self,
        storage: &dyn Storage,
        user: &str,
        limit: Option<u64>,
        partial_max_age: Duration,
    ) -> io::Result<Arc<dyn HomeStore>> {
        if let Some(state) = self.map.get_mut(user) {
            state.sessions += 1;
            state.limit = limit;
            return Ok(state.home.clone());
        }
        let home = storage.open_home(user)?;
        if let Err(e) = partial::sweep_stale(&*home, partial_max_age, &[]) {
            log::warn!("sweeping stale partial uploads of {user}: {e}");
        }
        let scan = home.usage_walk()?;
        self.map.insert(
            user.to_owned(),
            UserState {
                home: home.clone(),
                used: 0,
                reserved: 0,
                limit,
                scan: Some(scan),
                scan_error: None,
                sessions: 1,
                uploads: HashSet::new(),
            },
        );
        self.scanning.push(user.to_owned());
        Ok(home)
    }

    /// A session of `user` ended; the state goes with the last one.
    pub fn detach(&mut self, user: &str) {
        if let Some(state) = self.map.get_mut(user) {
            state.sessions = state.sessions.saturating_sub(1);
            if state.sessions == 0 {
                if state.scan.is_some() {
                    self.scanning.retain(|u| u != user);
                }
                self.map.remove(user);
            }
        }
    }

    pub fn get(&self, user: &str) -> Option<&UserState> {
        self.map.get(user)
    }

    pub fn get_mut(&mut self, user: &str) -> Option<&mut UserState> {
        self.map.get_mut(user)
    }

    /// Starts a fresh scan for a user whose last one failed.
    pub fn restart_scan(&mut self, user: &str) -> io::Result<()> {
        let Some(state) = self.map.get_mut(user) else { return Ok(()) };
        if state.scan.is_some() {
            return Ok(());
        }
        state.scan = Some(state.home.usage_walk()?);
        state.scan_error = None;
        self.scanning.push(user.to_owned());
        Ok(())
    }

    /// Whether any usage scan is still running. O(1).
    pub fn scanning(&self) -> bool {
        !self.scanning.is_empty()
    }

    /// Advances the running scans by at most `budget` entries in total,
    /// shared among them. Returns whether any scan finished (waiting sessions
    /// may continue). Costs O(running scans), never O(users).
    pub fn tick(&mut self, budget: usize) -> bool {
        let share = (budget / self.scanning.len().max(1)).max(1);
        let mut finished = false;
        let map = &mut self.map;
        self.scanning.retain(|user| {
            let Some(state) = map.get_mut(user) else { return false };
            let Some(scan) = state.scan.as_mut() else { return false };
            let result = scan.step(share);
            let done = match result {
                Ok(None) => false,
                Ok(Some(total)) => {
                    log::debug!("usage of {user}: {total} bytes");
                    state.used = total;
                    true
                }
                Err(e) => {
                    // Usage stays unknown (never guessed low, which would void
                    // the quota); requests that need it get an error, and the
                    // next one starts a new scan.
                    log::error!("usage scan of {user} failed: {e}");
                    state.scan_error = Some(e.to_string());
                    true
                }
            };
            if done {
                state.scan = None;
                finished = true;
            }
            !done
        });
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Config;
    use crate::storage::disk::DiskStorage;
    use crate::storage::memory::MemoryStorage;

    #[test]
    fn scans_finish_in_bounded_steps_and_state_goes_with_the_last_session_on_disk() {
        let root = tempfile::tempdir().unwrap();
        let storage = DiskStorage::open(&Config::new(root.path())).unwrap();
        for (user, files) in [("a", 50), ("b", 3)] {
            let dir = root.path().join("home").join(user);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..files {
                std::fs::write(dir.join(format!("f{i}")), [0u8; 10]).unwrap();
            }
        }
        scans_finish_in_bounded_steps(&storage);
    }

    #[test]
    fn scans_finish_in_bounded_steps_and_state_goes_with_the_last_session_in_memory() {
        let storage = MemoryStorage::new();
        for (user, files) in [("a", 50), ("b", 3)] {
            for i in 0..files {
                storage.write_file(user, &format!("f{i}"), &[0u8; 10]).unwrap();
            }
        }
        scans_finish_in_bounded_steps(&storage);
    }

    fn scans_finish_in_bounded_steps(storage: &dyn Storage) {
        let mut users = Users::default();
        let age = Duration::from_secs(3600);
        users.attach(storage, "a", Some(1000), age).unwrap();
        users.attach(storage, "b", None, age).unwrap();
        users.attach(storage, "b", None, age).unwrap();
        assert!(users.scanning());
        assert!(!users.get("a").unwrap().ready());
        let mut turns = 0;
        while users.scanning() {
            users.tick(8);
            turns += 1;
            assert!(turns < 100, "scans never finish");
        }
        assert!(turns > 1, "a budget of 8 entries cannot finish 53 files in one turn");
        assert_eq!(users.get("a").unwrap().used, 500);
        assert_eq!(users.get("a").unwrap().free(), Some(500));
        assert_eq!(users.get("b").unwrap().used, 30);
        assert_eq!(users.get("b").unwrap().free(), None);
        users.detach("b");
        assert!(users.get("b").is_some(), "one session of b remains");
        users.detach("b");
        assert!(users.get("b").is_none());
    }
}
