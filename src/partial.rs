//! Partial uploads: the bytes of an unfinished `put`, kept hidden inside the
//! user's home so they count toward the quota and can be renamed into place
//! on the same filesystem.
//!
//! Layout under the home: `.mioftp/partial/<id>.part` holds the data and
//! `.mioftp/partial/<id>.json` a checkpoint: the target path, the declared
//! length, an offset, and the SHA-256 state after exactly `offset` bytes.
//! `<id>` is derived from the virtual target path, so the next `put` of the
//! same path finds it. A checkpoint is written atomically (temp file + rename)
//! whenever an upload stops without finishing, and periodically while one
//! runs. Resuming truncates the data to the checkpoint's offset: bytes written
//! after the last checkpoint (say, before a kill -9) are simply sent again.
//! Because the hash state is restored rather than recomputed, resuming reads
//! nothing back, and the final digest still covers the whole file.
//!
//! A full disk must not lose the bytes received so far: the session writes
//! the checkpoint as soon as an upload is accepted (taking its space while
//! there is some), and every checkpoint of one upload has the same length
//! (padded JSON), so the storage can overwrite it in place when the disk is
//! full and the usual temp file + rename cannot get a block (see the disk
//! storage).
//!
//! This file is the policy; the files themselves are the storage's
//! (`crate::storage::HomeStore`'s partial-upload methods).

use crate::home::VPath;
use crate::protocol::scram;
use crate::storage::{HomeStore, WriteFile};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use std::io;
use std::time::Duration;

/// Where partials live, relative to the home.
pub const PARTIAL_DIR: &str = ".mioftp/partial";

/// The checkpoint of an unfinished upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    /// The virtual target path.
    pub path: String,
    /// The whole file's declared length.
    pub length: u64,
    /// Bytes of the data file covered by `state`.
    pub offset: u64,
    /// Base64 of the serialised SHA-256 state after `offset` bytes.
    pub state: String,
}

/// An upload's data file, open for appending.
pub struct Partial {
    pub id: String,
    pub file: Box<dyn WriteFile>,
    /// Where the data file ends (the resume offset at open).
    pub offset: u64,
    pub hasher: Sha256,
}

/// The partial's id for a target path.
pub fn id_for(path: &VPath) -> String {
    hex::encode(&scram::sha256(path.to_string().as_bytes())[..16])
}

/// Serialises a SHA-256 state (including its buffered tail) as base64.
pub fn save_state(hasher: &Sha256) -> String {
    scram::b64(hasher.serialize().as_slice())
}

/// Restores a state saved by [`save_state`]; `None` if it is damaged.
pub fn load_state(text: &str) -> Option<Sha256> {
    let bytes = scram::unb64(text)?;
    let state = SerializedState::<Sha256>::try_from(bytes.as_slice()).ok()?;
    Sha256::deserialize(&state).ok()
}

/// What [`open`] found and did.
pub struct Opened {
    pub partial: Partial,
    /// Bytes of earlier partial data deleted or truncated away (for usage).
    pub dropped: u64,
}

/// The `length` of a stream upload's checkpoint: an FTP STOR or APPE, whose
/// size is known only when its data connection ends.
pub const STREAM: u64 = u64::MAX;

/// Which earlier partial an upload may continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// None: start empty.
    No,
    /// The checkpointed one, if it was for the same declared length (a
    /// native `put`; for a stream, `STREAM`).
    IfLength(u64),
    /// The checkpointed stream partial if it holds exactly this many bytes
    /// (FTP's `REST n` then STOR); otherwise nothing is opened.
    ExactlyAt(u64),
}

/// Opens the partial for `path`: resumes the checkpointed one if `resume`
/// and it matches `length`, otherwise starts an empty one.
pub fn open(home: &dyn HomeStore, path: &VPath, length: u64, resume: bool) -> io::Result<Opened> {
    let how = if resume { Resume::IfLength(length) } else { Resume::No };
    open_with(home, path, how).map(|o| o.expect("only ExactlyAt can find nothing to open"))
}

/// Opens the partial for `path` as `how` says; `None` when `ExactlyAt(n)`
/// finds no stream partial of exactly `n` bytes (then nothing changed).
pub fn open_with(home: &dyn HomeStore, path: &VPath, how: Resume) -> io::Result<Option<Opened>> {
    let id = id_for(path);
    let on_disk = home.partial_len(&id).ok().flatten().unwrap_or(0);
    let saved = if how == Resume::No { None } else { read_checkpoint(home, &id) };
    let fits = |c: &Checkpoint| match how {
        Resume::No => false,
        Resume::IfLength(length) => c.length == length && (c.offset <= length || length == STREAM),
        Resume::ExactlyAt(n) => c.length == STREAM && c.offset == n,
    };
    let resumable = saved
        .filter(|c| c.path == path.to_string() && c.offset <= on_disk && fits(c))
        .and_then(|c| load_state(&c.state).map(|h| (c.offset, h)));
    if let (Resume::ExactlyAt(n), None) = (how, &resumable) {
        // REST 0 is a fresh start; any other offset must match exactly.
        if n > 0 {
            return Ok(None);
        }
    }
    let (offset, hasher) = resumable.unwrap_or((0, Sha256::default()));
    let file = home.open_partial(&id, offset)?;
    if offset == 0 {
        let _ = home.remove_checkpoint(&id);
    }
    Ok(Some(Opened { partial: Partial { id, file, offset, hasher }, dropped: on_disk.saturating_sub(offset) }))
}

fn read_checkpoint(home: &dyn HomeStore, id: &str) -> Option<Checkpoint> {
    let bytes = home.read_checkpoint(id).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Records that the data file's first `offset` bytes hash to `hasher`.
/// Atomic (temp + rename) but not fsynced: it guards against a crash of the
/// process, and a checkpoint lost to a power cut only costs a re-send (the
/// final digest check catches any mismatch).
pub fn checkpoint(
    home: &dyn HomeStore,
    id: &str,
    path: &VPath,
    length: u64,
    offset: u64,
    hasher: &Sha256,
) -> io::Result<()> {
    let cp = Checkpoint { v: 1, path: path.to_string(), length, offset, state: save_state(hasher) };
    home.write_checkpoint(id, &encode(&cp)?)
}

/// Most digits a `u64` offset takes.
const OFFSET_DIGITS: usize = 20;

/// A checkpoint as stored: its JSON padded with spaces to a length that is
/// the same for every checkpoint of one upload (only `offset` varies, and it
/// is padded to [`OFFSET_DIGITS`]; the hash state's encoding has a fixed size).
fn encode(cp: &Checkpoint) -> io::Result<Vec<u8>> {
    let mut json = serde_json::to_vec(cp).map_err(io::Error::other)?;
    let digits = cp.offset.to_string().len();
    json.resize(json.len() + OFFSET_DIGITS - digits, b' ');
    Ok(json)
}

/// Makes a verified upload durable under its final name: fsync the data,
/// rename it over the target in one step, drop the checkpoint, fsync the
/// target's directory so the rename survives a crash.
/// The verified digest is remembered on the file (see `crate::digest_cache`)
/// so downloads can send it without hashing it again.
/// Slow (two fsyncs): a worker job (`crate::worker::Job::Commit`).
pub fn commit(home: &dyn HomeStore, id: &str, file: &dyn WriteFile, target: &VPath, sha256: &str) -> io::Result<()> {
    file.remember_digest(sha256);
    file.sync()?;
    home.commit_partial(id, target)
}

/// Deletes a partial and its checkpoint; returns the bytes freed.
pub fn discard(home: &dyn HomeStore, id: &str) -> io::Result<u64> {
    home.discard_partial(id)
}

/// Deletes partials not modified for `max_age`, except those in `active`.
/// Returns the bytes freed. Bounded by the number of partials of one user.
pub fn sweep_stale(home: &dyn HomeStore, max_age: Duration, active: &[String]) -> io::Result<u64> {
    home.sweep_partials(max_age, active)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::storage::Storage;
    use crate::storage::disk::DiskStorage;
    use crate::storage::memory::MemoryStorage;
    use sha2::Digest;
    use std::sync::Arc;

    /// Runs `case` on a home on disk and on one in memory.
    fn on_both(case: impl Fn(&dyn HomeStore, &dyn Fn(Duration))) {
        let tmp = tempfile::tempdir().unwrap();
        let disk = DiskStorage::open(&Config::new(tmp.path())).unwrap();
        let home = disk.open_home("u").unwrap();
        let path = tmp.path().join("home/u").join(PARTIAL_DIR);
        // Ages every partial on disk by setting its mtime back.
        let age_disk = |by: Duration| {
            for e in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                let f = std::fs::File::options().write(true).open(e.path()).unwrap();
                f.set_modified(std::time::SystemTime::now() - by).unwrap();
            }
        };
        case(&*home, &age_disk);
        let mem = MemoryStorage::new();
        let home: Arc<dyn HomeStore> = mem.open_home("u").unwrap();
        case(&*home, &|by| mem.advance_clock(by));
    }

    fn vpath(s: &str) -> VPath {
        VPath::resolve(&VPath::root(), s).unwrap()
    }

    #[test]
    fn hash_state_survives_a_round_trip_at_any_length() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for cut in [0, 1, 63, 64, 65, 200, 300] {
            let mut h = Sha256::default();
            h.update(&data[..cut]);
            let mut back = load_state(&save_state(&h)).unwrap();
            back.update(&data[cut..]);
            assert_eq!(back.finalize(), Sha256::digest(&data), "cut {cut}");
        }
        assert!(load_state("not base64!").is_none());
        assert!(load_state(&scram::b64(&[1, 2, 3])).is_none());
    }

    #[test]
    fn an_interrupted_upload_resumes_from_its_checkpoint() {
        on_both(|home, _| {
            let path = vpath("/a/b.bin");
            let data = b"0123456789abcdefghij";
            let mut o = open(home, &path, 20, true).unwrap();
            assert_eq!(o.partial.offset, 0);
            o.partial.file.write_all(&data[..12]).unwrap();
            o.partial.hasher.update(&data[..12]);
            checkpoint(home, &o.partial.id, &path, 20, 12, &o.partial.hasher).unwrap();
            // Bytes written after the checkpoint (a crash) are dropped on resume.
            o.partial.file.write_all(&data[12..15]).unwrap();
            drop(o);

            let mut again = open(home, &path, 20, true).unwrap();
            assert_eq!(again.partial.offset, 12);
            assert_eq!(again.dropped, 3);
            again.partial.file.write_all(&data[12..]).unwrap();
            again.partial.hasher.update(&data[12..]);
            assert_eq!(again.partial.hasher.clone().finalize(), Sha256::digest(data));

            home.mkdir(&vpath("/a"), false).unwrap();
            commit(home, &again.partial.id, &*again.partial.file, &path, &hex::encode(Sha256::digest(data))).unwrap();
            let opened = home.open_read(&path).unwrap();
            let mut back = vec![0u8; data.len()];
            opened.file.read_exact_at(&mut back, 0).unwrap();
            assert_eq!(back, data);
            // The verified digest is remembered (on disk only where xattrs work).
            let sha = hex::encode(Sha256::digest(data));
            if let Some(cached) = opened.file.cached_digest() {
                assert_eq!(cached, sha);
            }
            assert!(home.read_checkpoint(&again.partial.id).unwrap().is_none());
            assert!(home.partial_len(&again.partial.id).unwrap().is_none());
        });
    }

    #[test]
    fn a_different_length_or_no_resume_starts_over() {
        on_both(|home, _| {
            let path = vpath("/f");
            let mut o = open(home, &path, 10, true).unwrap();
            o.partial.file.write_all(b"12345").unwrap();
            o.partial.hasher.update(b"12345");
            checkpoint(home, &o.partial.id, &path, 10, 5, &o.partial.hasher).unwrap();
            let other = open(home, &path, 11, true).unwrap();
            assert_eq!((other.partial.offset, other.dropped), (0, 5));
            let mut o = open(home, &path, 10, true).unwrap();
            o.partial.file.write_all(b"12345").unwrap();
            checkpoint(home, &o.partial.id, &path, 10, 5, &o.partial.hasher).unwrap();
            assert_eq!(open(home, &path, 10, false).unwrap().partial.offset, 0);
        });
    }

    #[test]
    fn a_checkpoint_beyond_the_data_is_not_trusted() {
        on_both(|home, _| {
            let path = vpath("/g");
            let o = open(home, &path, 100, true).unwrap();
            checkpoint(home, &o.partial.id, &path, 100, 50, &Sha256::default()).unwrap();
            assert_eq!(open(home, &path, 100, true).unwrap().partial.offset, 0);
        });
    }

    #[test]
    fn every_checkpoint_of_an_upload_has_the_same_length_and_reads_back() {
        let path = vpath("/some/file.bin");
        let mut h = Sha256::default();
        let lens: Vec<usize> = [0u64, 9, 10, 65_536, u64::MAX]
            .iter()
            .map(|&offset| {
                h.update(b"abc");
                let cp = Checkpoint { v: 1, path: path.to_string(), length: 7, offset, state: save_state(&h) };
                let bytes = encode(&cp).unwrap();
                let back: Checkpoint = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(back, cp);
                bytes.len()
            })
            .collect();
        assert!(lens.iter().all(|l| *l == lens[0]), "{lens:?}");
    }

    #[test]
    fn stale_partials_are_swept_but_active_ones_kept() {
        on_both(|home, age| {
            let mut a = open(home, &vpath("/a"), 5, true).unwrap().partial;
            let mut b = open(home, &vpath("/b"), 5, true).unwrap().partial;
            a.file.write_all(b"xx").unwrap();
            b.file.write_all(b"yyy").unwrap();
            let day = Duration::from_secs(24 * 3600);
            assert_eq!(sweep_stale(home, day, &[]).unwrap(), 0, "nothing is a day old yet");
            age(2 * day);
            let freed = sweep_stale(home, day, std::slice::from_ref(&a.id)).unwrap();
            assert_eq!(freed, 3);
            assert_eq!(home.partial_len(&a.id).unwrap(), Some(2));
            assert_eq!(home.partial_len(&b.id).unwrap(), None);
        });
    }
}
