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

use crate::home::VPath;
use crate::protocol::scram;
use cap_std::fs::{Dir, OpenOptions};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use std::io;
use std::time::{Duration, SystemTime};

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
    pub file: std::fs::File,
    /// Where the data file ends (the resume offset at open).
    pub offset: u64,
    pub hasher: Sha256,
}

/// The partial's id for a target path.
pub fn id_for(path: &VPath) -> String {
    hex::encode(&scram::sha256(path.to_string().as_bytes())[..16])
}

fn data_name(id: &str) -> String {
    format!("{PARTIAL_DIR}/{id}.part")
}

fn meta_name(id: &str) -> String {
    format!("{PARTIAL_DIR}/{id}.json")
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
pub fn open(home: &Dir, path: &VPath, length: u64, resume: bool) -> io::Result<Opened> {
    let how = if resume { Resume::IfLength(length) } else { Resume::No };
    open_with(home, path, how).map(|o| o.expect("only ExactlyAt can find nothing to open"))
}

/// Opens the partial for `path` as `how` says; `None` when `ExactlyAt(n)`
/// finds no stream partial of exactly `n` bytes (then nothing changed).
pub fn open_with(home: &Dir, path: &VPath, how: Resume) -> io::Result<Option<Opened>> {
    home.create_dir_all(PARTIAL_DIR)?;
    let id = id_for(path);
    let on_disk = home.symlink_metadata(data_name(&id)).map(|m| m.len()).unwrap_or(0);
    let checkpoint = if how == Resume::No { None } else { read_checkpoint(home, &id) };
    let fits = |c: &Checkpoint| match how {
        Resume::No => false,
        Resume::IfLength(length) => c.length == length && (c.offset <= length || length == STREAM),
        Resume::ExactlyAt(n) => c.length == STREAM && c.offset == n,
    };
    let resumable = checkpoint
        .filter(|c| c.path == path.to_string() && c.offset <= on_disk && fits(c))
        .and_then(|c| load_state(&c.state).map(|h| (c.offset, h)));
    if let (Resume::ExactlyAt(n), None) = (how, &resumable) {
        // REST 0 is a fresh start; any other offset must match exactly.
        if n > 0 {
            return Ok(None);
        }
    }
    let (offset, hasher) = resumable.unwrap_or((0, Sha256::default()));
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true);
    let file = home.open_with(data_name(&id), &opts)?.into_std();
    // Bytes after the checkpoint (or all of them, when starting over) are
    // dropped: their hash state was never recorded.
    file.set_len(offset)?;
    if offset == 0 {
        let _ = home.remove_file(meta_name(&id));
    }
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    Ok(Some(Opened { partial: Partial { id, file, offset, hasher }, dropped: on_disk - offset }))
}

fn read_checkpoint(home: &Dir, id: &str) -> Option<Checkpoint> {
    let bytes = home.read(meta_name(id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Records that the data file's first `offset` bytes hash to `hasher`.
/// Atomic (temp + rename) but not fsynced: it guards against a crash of the
/// process, and a checkpoint lost to a power cut only costs a re-send (the
/// final digest check catches any mismatch).
pub fn checkpoint(home: &Dir, id: &str, path: &VPath, length: u64, offset: u64, hasher: &Sha256) -> io::Result<()> {
    let cp = Checkpoint { v: 1, path: path.to_string(), length, offset, state: save_state(hasher) };
    let tmp = format!("{PARTIAL_DIR}/{id}.json.tmp");
    home.write(&tmp, serde_json::to_vec(&cp).map_err(io::Error::other)?)?;
    home.rename(&tmp, home, meta_name(id))
}

/// Makes a verified upload durable under its final name: fsync the data,
/// rename it over the target in one step, drop the checkpoint, fsync the
/// target's directory so the rename survives a crash.
/// The verified digest is remembered on the file (see `crate::digest_cache`)
/// so downloads can send it without hashing it again.
pub fn commit(home: &Dir, partial: &Partial, target: &VPath, sha256: &str) -> io::Result<()> {
    crate::digest_cache::store(&partial.file, sha256);
    partial.file.sync_all()?;
    home.rename(data_name(&partial.id), home, target.rel())?;
    let _ = home.remove_file(meta_name(&partial.id));
    sync_dir(home, &target.parent().unwrap_or_else(VPath::root))
}

/// fsyncs a directory of the home. (cap-std's `open_dir` handles may be
/// O_PATH, which cannot be fsynced, so the directory is opened for reading.)
pub fn sync_dir(home: &Dir, dir: &VPath) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    home.open_with(dir.rel(), &opts)?.sync_all()
}

/// Deletes a partial and its checkpoint; returns the bytes freed.
pub fn discard(home: &Dir, id: &str) -> io::Result<u64> {
    let size = home.symlink_metadata(data_name(id)).map(|m| m.len()).unwrap_or(0);
    match home.remove_file(data_name(id)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let _ = home.remove_file(meta_name(id));
    Ok(size)
}

/// Deletes partials not modified for `max_age`, except those in `active`.
/// Returns the bytes freed. Bounded by the number of partials of one user.
pub fn sweep_stale(home: &Dir, max_age: Duration, active: &[String]) -> io::Result<u64> {
    let entries = match home.read_dir(PARTIAL_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut freed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".part") else { continue };
        if active.iter().any(|a| a == id) {
            continue;
        }
        let meta = entry.metadata()?;
        let modified = meta.modified().map(|m| m.into_std()).unwrap_or(now);
        if now.duration_since(modified).unwrap_or_default() >= max_age {
            log::info!("removing stale partial upload {name} ({} bytes)", meta.len());
            freed += discard(home, id)?;
        }
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;
    use std::io::Write;

    fn home() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        (tmp, dir)
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
        let (_t, home) = home();
        let path = vpath("/a/b.bin");
        let data = b"0123456789abcdefghij";
        let mut o = open(&home, &path, 20, true).unwrap();
        assert_eq!(o.partial.offset, 0);
        o.partial.file.write_all(&data[..12]).unwrap();
        o.partial.hasher.update(&data[..12]);
        checkpoint(&home, &o.partial.id, &path, 20, 12, &o.partial.hasher).unwrap();
        // Bytes written after the checkpoint (a crash) are dropped on resume.
        o.partial.file.write_all(&data[12..15]).unwrap();
        drop(o);

        let mut again = open(&home, &path, 20, true).unwrap();
        assert_eq!(again.partial.offset, 12);
        assert_eq!(again.dropped, 3);
        again.partial.file.write_all(&data[12..]).unwrap();
        again.partial.hasher.update(&data[12..]);
        assert_eq!(again.partial.hasher.clone().finalize(), Sha256::digest(data));

        home.create_dir_all("a").unwrap();
        commit(&home, &again.partial, &path, &hex::encode(Sha256::digest(data))).unwrap();
        assert_eq!(home.read("a/b.bin").unwrap(), data);
        assert!(!home.exists(meta_name(&again.partial.id)));
        assert!(!home.exists(data_name(&again.partial.id)));
    }

    #[test]
    fn a_different_length_or_no_resume_starts_over() {
        let (_t, home) = home();
        let path = vpath("/f");
        let mut o = open(&home, &path, 10, true).unwrap();
        o.partial.file.write_all(b"12345").unwrap();
        o.partial.hasher.update(b"12345");
        checkpoint(&home, &o.partial.id, &path, 10, 5, &o.partial.hasher).unwrap();
        let other = open(&home, &path, 11, true).unwrap();
        assert_eq!((other.partial.offset, other.dropped), (0, 5));
        let mut o = open(&home, &path, 10, true).unwrap();
        o.partial.file.write_all(b"12345").unwrap();
        checkpoint(&home, &o.partial.id, &path, 10, 5, &o.partial.hasher).unwrap();
        assert_eq!(open(&home, &path, 10, false).unwrap().partial.offset, 0);
    }

    #[test]
    fn a_checkpoint_beyond_the_data_is_not_trusted() {
        let (_t, home) = home();
        let path = vpath("/g");
        let o = open(&home, &path, 100, true).unwrap();
        checkpoint(&home, &o.partial.id, &path, 100, 50, &Sha256::default()).unwrap();
        assert_eq!(open(&home, &path, 100, true).unwrap().partial.offset, 0);
    }

    #[test]
    fn stale_partials_are_swept_but_active_ones_kept() {
        let (_t, home) = home();
        let a = open(&home, &vpath("/a"), 5, true).unwrap().partial;
        let b = open(&home, &vpath("/b"), 5, true).unwrap().partial;
        (&a.file).write_all(b"xx").unwrap();
        (&b.file).write_all(b"yyy").unwrap();
        let freed = sweep_stale(&home, Duration::ZERO, std::slice::from_ref(&a.id)).unwrap();
        assert_eq!(freed, 3);
        assert!(home.exists(data_name(&a.id)));
        assert!(!home.exists(data_name(&b.id)));
        assert_eq!(sweep_stale(&home, Duration::from_secs(3600), &[]).unwrap(), 0);
    }
}
