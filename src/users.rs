//! Per-user state shared by all of a user's sessions: the open home, the
//! bytes used and promised against the quota, and the uploads in progress.
//!
//! An upload that replaces a file reserves only its growth: the replaced
//! file's size is credited against the new bytes (see
//! [`UserState::reserve_upload`]). The credit is keyed by the replaced file's
//! identity, so removing that file through any path (or link) while the
//! upload runs takes the credit back, and two uploads naming one file through
//! different paths cannot both be credited for it.
//!
//! Usage is computed once, when the first session of a user logs in, by a
//! walk of the whole home that runs as a worker job (`crate::worker`), so a
//! huge home cannot stall other clients; stale partial uploads are swept
//! first, in a job of their own. One session claims the scan
//! ([`Users::claim_scan`]) and reports its end ([`Users::scan_done`]); until
//! then every session of the user defers the requests that need usage (see
//! the session's deferred request). After that, usage is kept up to date by
//! every change, and dropped when the user's last session ends.

use crate::home::VPath;
use crate::protocol::messages::QuotaInfo;
use crate::storage::{FileId, HomeStore, Storage};
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;

/// Where a user's usage stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    /// Not computed yet; the first claim sweeps stale partials, then scans.
    Needed,
    /// A session's scan job is running.
    Scanning,
    /// Known, and kept up to date.
    Known,
    /// The last scan failed (why); the next request that needs usage
    /// starts another.
    Failed(String),
}

/// A claimed scan: what to walk, whether to sweep stale partials first, and
/// the state it belongs to (see [`Users::scan_done`]).
pub struct ScanClaim {
    pub home: Arc<dyn HomeStore>,
    pub sweep_first: bool,
    pub epoch: u64,
}

/// One user's shared state.
pub struct UserState {
    pub home: Arc<dyn HomeStore>,
    /// Bytes of regular files in the home, including partial uploads.
    /// Meaningful once `usage` is [`Usage::Known`].
    pub used: u64,
    /// Bytes promised to uploads in progress but not yet written.
    pub reserved: u64,
    /// The quota in bytes; `None` is unlimited.
    pub limit: Option<u64>,
    usage: Usage,
    /// Tells this state from a later one of the same user (after all its
    /// sessions ended), so a scan of the old one is not taken for the new.
    epoch: u64,
    sessions: usize,
    /// Target paths with an upload in progress (for `busy`).
    pub uploads: HashSet<VPath>,
    /// Bytes credited to uploads in progress for the files they will
    /// replace, by the replaced file's identity; `credited` is their sum.
    credits: HashMap<FileId, u64>,
    credited: u64,
}

impl UserState {
    /// Whether usage is known (a scan has finished without error).
    pub fn ready(&self) -> bool {
        self.usage == Usage::Known
    }

    /// Where usage stands.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Bytes still free, counting reservations less the credits for files
    /// that uploads will replace; `None` if unlimited.
    pub fn free(&self) -> Option<u64> {
        let promised = self.used.saturating_add(self.reserved).saturating_sub(self.credited);
        self.limit.map(|l| l.saturating_sub(promised))
    }

    /// Admits an upload with `needed` bytes still to write, replacing
    /// `replaced` (the identity and size of the regular file at its target),
    /// if the quota allows: reserves `needed`, and credits the replaced
    /// file's size (at most `needed`) so that only the growth has to be free.
    /// No credit if another upload already holds one for that file.
    ///
    /// The old file stays on disk until the new one is renamed over it, so
    /// while the upload runs the home really holds both: `used` can exceed
    /// the limit by up to the credit. That is the price of keeping the old
    /// file intact until the new one is committed.
    ///
    /// Returns the credited file (to give back with [`Self::release_upload`]),
    /// or the growth that did not fit.
    pub fn reserve_upload(
        &mut self,
        needed: u64,
        replaced: Option<(FileId, u64)>,
    ) -> Result<Option<FileId>, Shortfall> {
        let credit = replaced.filter(|(id, _)| !self.credits.contains_key(id)).map(|(id, size)| (id, size.min(needed)));
        let growth = needed - credit.map_or(0, |(_, c)| c);
        if let (Some(limit), Some(free)) = (self.limit, self.free()) {
            if growth > free {
                return Err(Shortfall { needed: growth, free, limit, used: self.used, reserved: self.reserved });
            }
        }
        // Saturating: with no quota, a peer may declare lengths near 2^63 on
        // several connections at once.
        self.reserved = self.reserved.saturating_add(needed);
        Ok(credit.map(|(id, c)| {
            self.credits.insert(id, c);
            self.credited = self.credited.saturating_add(c);
            id
        }))
    }

    /// Admits a stream upload (FTP: its length is known only at its end),
    /// replacing `replaced` if any: reserves `reserve` (what ALLO asked
    /// for; 0 without), and credits the replaced file's whole size, since
    /// the old file goes when the new one is committed. Each write beyond
    /// the reservation must then fit [`Self::free`]; with the credit that
    /// means the home ends within the quota once the old file is gone.
    pub fn reserve_stream(
        &mut self,
        reserve: u64,
        replaced: Option<(FileId, u64)>,
    ) -> Result<Option<FileId>, Shortfall> {
        if let (Some(limit), Some(free)) = (self.limit, self.free()) {
            if reserve > free {
                return Err(Shortfall { needed: reserve, free, limit, used: self.used, reserved: self.reserved });
            }
        }
        self.reserved = self.reserved.saturating_add(reserve);
        let credit = replaced.filter(|(id, _)| !self.credits.contains_key(id));
        Ok(credit.map(|(id, size)| {
            self.credits.insert(id, size);
            self.credited = self.credited.saturating_add(size);
            id
        }))
    }

    /// An upload ended: gives back its unused reservation and its credit.
    /// (If the credit was revoked and the inode number since reused by a file
    /// another upload is credited for, that credit goes too: the error is on
    /// the safe side, a stricter quota, never a looser one.)
    pub fn release_upload(&mut self, unused: u64, credit: Option<FileId>) {
        self.reserved = self.reserved.saturating_sub(unused);
        if let Some(id) = credit {
            self.revoke_credit(id);
        }
    }

    /// The file `id` is gone (removed): an upload that was credited for
    /// replacing it will replace nothing, so it needs its whole size again.
    pub fn revoke_credit(&mut self, id: FileId) {
        if let Some(c) = self.credits.remove(&id) {
            self.credited = self.credited.saturating_sub(c);
        }
    }

    /// Keeps only the credits for files that `still` says are in place (after
    /// a recursive `rm`, which may have removed credited files).
    pub fn retain_credits(&mut self, still: impl Fn(&FileId) -> bool) {
        self.credits.retain(|id, _| still(id));
        self.credited = self.credits.values().fold(0u64, |sum, c| sum.saturating_add(*c));
    }

    /// Whether any upload holds a credit (so `rm` must look at identities).
    pub fn has_credits(&self) -> bool {
        !self.credits.is_empty()
    }

    /// Promises `n` bytes to an upload about to start, if they fit in what
    /// is free; otherwise nothing changes and the numbers say why.
    pub fn reserve(&mut self, n: u64) -> Result<(), Shortfall> {
        self.reserve_upload(n, None).map(|_| ())
    }

    /// An upload wrote `n` bytes, `promised` of them reserved earlier: they
    /// are used now, no longer promised.
    pub fn wrote(&mut self, n: u64, promised: u64) {
        self.reserved = self.reserved.saturating_sub(promised);
        self.grow(n);
    }

    /// An upload ended with `unused` of its reservation never written.
    pub fn release(&mut self, unused: u64) {
        self.release_upload(unused, None);
    }

    /// Records bytes added to the home.
    pub fn grow(&mut self, n: u64) {
        self.used = self.used.saturating_add(n);
    }

    /// Records bytes removed from the home (a file removed or replaced, a
    /// partial discarded).
    pub fn shrink(&mut self, n: u64) {
        self.used = self.used.saturating_sub(n);
    }

    /// The `quota` reply: bytes used and the limit.
    pub fn quota(&self) -> QuotaInfo {
        QuotaInfo { used: self.used, limit: self.limit }
    }
}

/// Why a reservation did not fit: the bytes asked for, and the quota's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub needed: u64,
    pub free: u64,
    pub limit: u64,
    pub used: u64,
    pub reserved: u64,
}

/// All logged-in users.
#[derive(Default)]
pub struct Users {
    map: HashMap<String, UserState>,
    /// Users whose scan is running.
    scanning: usize,
    /// The last epoch given to a new state.
    epochs: u64,
}

impl Users {
    /// A session of `user` logged in: opens the home (creating it if it is
    /// missing), and for the user's first session sets usage to
    /// [`Usage::Needed`]; the session then claims the scan.
    pub fn attach(&mut self, storage: &dyn Storage, user: &str, limit: Option<u64>) -> io::Result<Arc<dyn HomeStore>> {
        if let Some(state) = self.map.get_mut(user) {
            state.sessions += 1;
            state.limit = limit;
            return Ok(state.home.clone());
        }
        let home = storage.open_home(user)?;
        self.epochs += 1;
        self.map.insert(
            user.to_owned(),
            UserState {
                home: home.clone(),
                used: 0,
                reserved: 0,
                limit,
                usage: Usage::Needed,
                epoch: self.epochs,
                sessions: 1,
                uploads: HashSet::new(),
                credits: HashMap::new(),
                credited: 0,
            },
        );
        Ok(home)
    }

    /// A session of `user` ended; the state goes with the last one.
    pub fn detach(&mut self, user: &str) {
        if let Some(state) = self.map.get_mut(user) {
            state.sessions = state.sessions.saturating_sub(1);
            if state.sessions == 0 {
                if state.usage == Usage::Scanning {
                    self.scanning -= 1;
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

    /// Claims `user`'s scan for the calling session, if usage is needed or
    /// the last scan failed: usage is [`Usage::Scanning`] until
    /// [`Users::scan_done`]. Stale partials are swept first only at the
    /// first login, when no session can have an upload in progress.
    pub fn claim_scan(&mut self, user: &str) -> Option<ScanClaim> {
        let state = self.map.get_mut(user)?;
        let sweep_first = match state.usage {
            Usage::Needed => true,
            Usage::Failed(_) => false,
            Usage::Scanning | Usage::Known => return None,
        };
        state.usage = Usage::Scanning;
        self.scanning += 1;
        Some(ScanClaim { home: state.home.clone(), sweep_first, epoch: state.epoch })
    }

    /// The scan claimed with `epoch` ended: usage is `result`'s total, or
    /// unknown with the error (never guessed low, which would void the
    /// quota; the next request that needs it starts a new scan). A result
    /// for a state that is gone (its sessions all ended) is dropped.
    pub fn scan_done(&mut self, user: &str, epoch: u64, result: Result<u64, String>) {
        let Some(state) = self.map.get_mut(user).filter(|s| s.epoch == epoch && s.usage == Usage::Scanning) else {
            return;
        };
        self.scanning -= 1;
        match result {
            Ok(total) => {
                log::debug!("usage of {user}: {total} bytes");
                state.used = total;
                state.usage = Usage::Known;
            }
            Err(why) => {
                log::error!("usage scan of {user} failed: {why}");
                state.usage = Usage::Failed(why);
            }
        }
    }

    /// Whether any usage scan is running. O(1).
    pub fn scanning(&self) -> bool {
        self.scanning > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Config;
    use crate::storage::disk::DiskStorage;
    use crate::storage::memory::MemoryStorage;
    use crate::worker::{Job, JobOutput};

    /// Runs a claimed scan to its end, as a worker would.
    fn scan(users: &mut Users, user: &str) {
        let claim = users.claim_scan(user).expect("a scan to claim");
        let result = match (Job::Scan { home: claim.home }).run() {
            JobOutput::Scanned(r) => r.map_err(|e| e.to_string()),
            other => panic!("{other:?}"),
        };
        users.scan_done(user, claim.epoch, result);
    }

    /// A user with usage known.
    fn ready_user(users: &mut Users, storage: &dyn Storage, user: &str, limit: u64) {
        users.attach(storage, user, Some(limit)).unwrap();
        scan(users, user);
        assert!(users.get(user).unwrap().ready());
    }

    #[test]
    fn reservations_fit_in_what_is_free_and_become_used_as_written() {
        let storage = MemoryStorage::new();
        let mut users = Users::default();
        ready_user(&mut users, &storage, "q", 1000);
        let u = users.get_mut("q").unwrap();
        u.grow(100);
        assert_eq!(u.reserve(600), Ok(()));
        assert_eq!(u.free(), Some(300));
        let short = Shortfall { needed: 301, free: 300, limit: 1000, used: 100, reserved: 600 };
        assert_eq!(u.reserve(301), Err(short), "a refused reservation changes nothing");
        assert_eq!(u.reserve(300), Ok(()));
        assert_eq!(u.free(), Some(0));
        u.wrote(250, 250);
        assert_eq!((u.used, u.reserved, u.free()), (350, 650, Some(0)));
        u.release(650);
        u.shrink(50);
        assert_eq!((u.used, u.reserved, u.free()), (300, 0, Some(700)));
        assert_eq!(u.quota(), QuotaInfo { used: 300, limit: Some(1000) });
    }

    #[test]
    fn one_session_claims_the_scan_and_the_state_goes_with_the_last_session_on_disk() {
        let root = tempfile::tempdir().unwrap();
        let storage = DiskStorage::open(&Config::new(root.path())).unwrap();
        for (user, files) in [("a", 50), ("b", 3)] {
            let dir = root.path().join("home").join(user);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..files {
                std::fs::write(dir.join(format!("f{i}")), [0u8; 10]).unwrap();
            }
        }
        claims_and_sessions(&storage);
    }

    #[test]
    fn one_session_claims_the_scan_and_the_state_goes_with_the_last_session_in_memory() {
        let storage = MemoryStorage::new();
        for (user, files) in [("a", 50), ("b", 3)] {
            for i in 0..files {
                storage.write_file(user, &format!("f{i}"), &[0u8; 10]).unwrap();
            }
        }
        claims_and_sessions(&storage);
    }

    fn claims_and_sessions(storage: &dyn Storage) {
        let mut users = Users::default();
        users.attach(storage, "a", Some(1000)).unwrap();
        users.attach(storage, "b", None).unwrap();
        users.attach(storage, "b", None).unwrap();
        assert_eq!(users.get("a").unwrap().usage(), &Usage::Needed);
        assert!(!users.scanning());
        let claim = users.claim_scan("a").expect("the first claim");
        assert!(claim.sweep_first, "stale partials are swept at the first login");
        assert!(users.claim_scan("a").is_none(), "one scan at a time");
        assert!(users.scanning() && !users.get("a").unwrap().ready());
        users.scan_done("a", claim.epoch, Err("disk on fire".into()));
        assert_eq!(users.get("a").unwrap().usage(), &Usage::Failed("disk on fire".into()));
        assert!(!users.scanning());
        let again = users.claim_scan("a").expect("a failed scan is claimed again");
        assert!(!again.sweep_first, "only the first login sweeps");
        users.scan_done("a", again.epoch, Ok(500));
        scan(&mut users, "b");
        assert_eq!(users.get("a").unwrap().used, 500);
        assert_eq!(users.get("a").unwrap().free(), Some(500));
        assert_eq!(users.get("b").unwrap().used, 30);
        assert_eq!(users.get("b").unwrap().free(), None);
        let b = users.get_mut("b").unwrap();
        assert_eq!(b.reserve(u64::MAX), Ok(()), "unlimited: any reservation fits");
        b.release(u64::MAX);
        users.detach("b");
        assert!(users.get("b").is_some(), "one session of b remains");
        users.detach("b");
        assert!(users.get("b").is_none());
        // A scan of a state whose sessions all ended is not taken for the next.
        let old = users.claim_scan("a");
        assert!(old.is_none(), "a's usage is known");
        users.detach("a");
        users.attach(storage, "a", Some(1000)).unwrap();
        let stale = users.claim_scan("a").unwrap();
        users.detach("a");
        users.attach(storage, "a", Some(1000)).unwrap();
        users.scan_done("a", stale.epoch, Ok(1));
        assert_eq!(users.get("a").unwrap().usage(), &Usage::Needed, "a stale result is dropped");
        assert!(!users.scanning());
    }

    #[test]
    fn a_replacement_reserves_only_its_growth_and_one_file_backs_one_credit() {
        let storage = MemoryStorage::new();
        storage.write_file("a", "old", &[0u8; 70]).unwrap();
        let mut users = Users::default();
        ready_user(&mut users, &storage, "a", 100);
        let u = users.get_mut("a").unwrap();
        let old = Some((FileId { dev: 1, ino: 2 }, 70));
        // 70 more bytes do not fit beside 70 used, unless they replace them.
        assert_eq!(u.reserve_upload(70, None).map_err(|s| s.needed), Err(70));
        let credit = u.reserve_upload(70, old).expect("no growth");
        assert_eq!((u.reserved, u.free()), (70, Some(30)));
        // A second upload naming the same file gets no second credit.
        assert_eq!(u.reserve_upload(40, old).map_err(|s| s.needed), Err(40));
        assert_eq!(u.reserve_upload(30, old), Ok(None));
        assert_eq!(u.free(), Some(0));
        u.release_upload(30, None);
        // The old file is removed: the upload needs its whole size again.
        u.shrink(70);
        u.revoke_credit(credit.unwrap());
        assert_eq!((u.used, u.free()), (0, Some(30)));
        u.release_upload(70, credit);
        assert_eq!((u.reserved, u.free()), (0, Some(100)));
        // A replacement larger than the old file reserves the difference.
        u.grow(70);
        assert_eq!(u.reserve_upload(90, old), Ok(credit));
        assert_eq!(u.free(), Some(10));
    }

    #[test]
    fn credits_whose_file_is_gone_are_retained_no_longer() {
        let storage = MemoryStorage::new();
        let mut users = Users::default();
        ready_user(&mut users, &storage, "a", 100);
        let u = users.get_mut("a").unwrap();
        u.grow(20);
        let (one, two) = (FileId { dev: 1, ino: 2 }, FileId { dev: 1, ino: 3 });
        assert_eq!(u.reserve_upload(40, Some((one, 40))), Ok(Some(one)));
        assert_eq!(u.reserve_upload(30, Some((two, 30))), Ok(Some(two)));
        assert_eq!(u.free(), Some(80), "both replacements are credited");
        u.retain_credits(|id| *id == two);
        assert!(u.has_credits());
        assert_eq!(u.free(), Some(40), "the upload credited for `one` needs its 40 bytes again");
        u.retain_credits(|_| false);
        assert!(!u.has_credits());
        assert_eq!(u.free(), Some(10));
    }
}
