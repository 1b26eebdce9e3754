//! The usage and quota checks at the end of a session run, and the quota
//! rule they hold the server to.
//!
//! Usage is exact: each logged-in user's `used` equals the bytes of the files
//! in the storage (partial uploads' data included, their checkpoints not).
//!
//! The quota is not a plain `used + reserved <= limit`. Since issue 13.5 an
//! upload that replaces a file reserves only its growth, and the old file
//! stays intact until the new one is renamed over it, so while the upload
//! runs, and after it is abandoned (its partial is kept), the home holds both
//! copies (PROTOCOL.md §5.7 "Quota": `used` can exceed the limit by up to the
//! size of the file being replaced). So the check allows, for each partial
//! upload whose target is a regular file, the smaller of the old file and the
//! new copy: its declared length while its upload runs (written plus still
//! promised), its bytes once abandoned. Anything beyond that is a real
//! breach. (The memory storage has no links, so each file has one path and
//! at most one partial.)

use crate::session::Run;
use mioftp::partial::Checkpoint;
use mioftp::storage::Storage;
use mioftp::users::UserState;

impl Run<'_> {
    /// Every logged-in user's usage, once known, is what the storage holds,
    /// and within the quota as the rule above allows.
    pub(crate) fn check_usage(&self) {
        for user in self.w.storage.users() {
            let Some(state) = self.w.svc.users.get(&user) else { continue };
            if !state.ready() {
                continue;
            }
            let held = self.w.storage.usage(&user);
            let used = state.used;
            assert_eq!(used, held, "usage of {user} is {used} but {held} bytes are in the storage");
            if let Some(limit) = state.limit {
                let both = self.both_copies(&user, state);
                assert!(
                    used + state.reserved <= limit + both,
                    "{user} is over quota: {used} used + {} reserved > {limit} limit + {both} \
                     (replaced files still stored beside their new copy)",
                    state.reserved
                );
            }
        }
    }

    /// The bytes by which `user`'s home may exceed the quota: for each
    /// partial upload whose target is a regular file, the smaller of that
    /// file and the new copy.
    fn both_copies(&self, user: &str, state: &UserState) -> u64 {
        let storage = &self.w.storage;
        let home = storage.open_home(user).expect("the memory storage opens any home");
        let mut sum = 0;
        for id in storage.partial_ids(user) {
            let Some(cp) = home.read_checkpoint(&id).ok().flatten() else { continue };
            let cp: Checkpoint = serde_json::from_slice(&cp).expect("checkpoints are the server's JSON");
            let Some(old) = storage.read_file(user, &cp.path).map(|b| b.len() as u64) else { continue };
            let written = home.partial_len(&id).ok().flatten().unwrap_or(0);
            let running = state.uploads.iter().any(|p| p.to_string() == cp.path);
            let new = if running { cp.length } else { written };
            sum += old.min(new);
        }
        sum
    }
}
