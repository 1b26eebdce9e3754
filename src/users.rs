//! Per-user state shared by all of a user's sessions: the open home, the
//! bytes used and promised against the quota, and the uploads in progress.
//!
//! Usage is computed once, when the first session of a user logs in, by an
//! incremental scan that the event loop advances a bounded number of entries
//! per turn ([`Users::tick`]), so a huge home cannot stall other clients.
//! Until it completes, that user's file requests wait (see the session's
//! deferred request). After that it is kept up to date by every change, and
//! dropped when the user's last session ends.

use crate::home::{Home, UsageScan, VPath};
use crate::partial;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Directory entries the usage scans may visit per loop turn, in total.
pub const SCAN_BUDGET: usize = 2048;

/// One user's shared state.
pub struct UserState {
    pub home: Arc<Home>,
    /// Bytes of regular files in the home, including partial uploads.
    /// Meaningful once `scan` is `None`.
    pub used: u64,
    /// Bytes promised to uploads in progress but not yet written.
    pub reserved: u64,
    /// The quota in bytes; `None` is unlimited.
    pub limit: Option<u64>,
    scan: Option<UsageScan>,
    sessions: usize,
    /// Target paths with an upload in progress (for `busy`).
    pub uploads: HashSet<VPath>,
}

impl UserState {
    /// Whether usage is known (the first scan has finished).
    pub fn ready(&self) -> bool {
        self.scan.is_none()
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
}

impl Users {
    /// A session of `user` logged in: opens the home and starts the usage
    /// scan if this is the user's first session.
    /// Stale partial uploads are swept first (no other session of the user
    /// can be uploading), so the scan counts what remains.
    pub fn attach(
        &mut self,
        homes: &Path,
        user: &str,
        limit: Option<u64>,
        partial_max_age: Duration,
    ) -> io::Result<Arc<Home>> {
        if let Some(state) = self.map.get_mut(user) {
            state.sessions += 1;
            state.limit = limit;
            return Ok(state.home.clone());
        }
        let home = Arc::new(Home::open(homes, user)?);
        if let Err(e) = partial::sweep_stale(home.dir(), partial_max_age, &[]) {
            log::warn!("sweeping stale partial uploads of {user}: {e}");
        }
        let scan = home.usage_scan()?;
        self.map.insert(
            user.to_owned(),
            UserState {
                home: home.clone(),
                used: 0,
                reserved: 0,
                limit,
                scan: Some(scan),
                sessions: 1,
                uploads: HashSet::new(),
            },
        );
        Ok(home)
    }

    /// A session of `user` ended; the state goes with the last one.
    pub fn detach(&mut self, user: &str) {
        if let Some(state) = self.map.get_mut(user) {
            state.sessions = state.sessions.saturating_sub(1);
            if state.sessions == 0 {
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

    /// Whether any usage scan is still running.
    pub fn scanning(&self) -> bool {
        self.map.values().any(|s| s.scan.is_some())
    }

    /// Advances the running scans by at most `budget` entries in total.
    /// Returns whether any scan finished (waiting sessions may continue).
    pub fn tick(&mut self, budget: usize) -> bool {
        let mut left = budget;
        let mut finished = false;
        for (user, state) in self.map.iter_mut() {
            let Some(scan) = state.scan.as_mut() else { continue };
            if left == 0 {
                break;
            }
            let step = left.min(budget / 2).max(1);
            left = left.saturating_sub(step);
            match scan.step(step) {
                Ok(None) => {}
                Ok(Some(total)) => {
                    log::debug!("usage of {user}: {total} bytes");
                    state.used = total;
                    state.scan = None;
                    finished = true;
                }
                Err(e) => {
                    // An unreadable corner of the home must not lock the user
                    // out; count what could be read and say so.
                    log::error!("usage scan of {user} failed: {e}; its usage may be undercounted");
                    state.scan = None;
                    finished = true;
                }
            }
        }
        finished
    }
}
