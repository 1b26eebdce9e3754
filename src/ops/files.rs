//! The shell commands of both front ends, each one resolved and confined
//! the same way and recorded in `shell_command.log` before the caller
//! replies: pwd, cd, mkdir, remove (`rm`; FTP's DELE and RMD), rename (FTP's
//! RNFR/RNTO; the native `mv` later), quota, stat (FTP's SIZE, MDTM, MLST,
//! HASH) and listings (`dir`; FTP's LIST, NLST, MLSD).
//!
//! Every function takes the command's name and its arguments as the client
//! gave them, for the record, and returns the result for the reply. A
//! removal is in two halves around a worker-pool job ([`remove`], then
//! [`removed`]); the front end hands the job to the driver and waits.

use super::{Authed, Origin, resolve, wire};
use crate::audit::{Log, Record};
use crate::home::{Meta, VPath};
use crate::protocol::messages::{EntryKind, QuotaInfo};
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::storage::{DirListing, FileId, Freed, HomeStore};
use crate::worker::{Job, JobOutput};
use std::sync::Arc;

/// Writes the command's record.
pub fn record(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    cmd: &str,
    args: &[String],
    path: Option<&VPath>,
    result: Result<(), &WireError>,
) {
    let shown = path.map(|p| p.to_string());
    let rec = Record::command(o.actor(Some(&a.user)), cmd, args, shown.as_deref(), result);
    svc.audit.record(Log::Commands, rec);
}

/// Records `result` (with the path it concerns, when it resolved) and returns it.
fn recorded<T>(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    cmd: &str,
    args: &[String],
    path: Option<&VPath>,
    result: Result<T, WireError>,
) -> Result<T, WireError> {
    record(o, a, svc, cmd, args, path, result.as_ref().map(|_| ()));
    result
}

pub fn pwd(o: &Origin, a: &Authed, svc: &mut Services, cmd: &str) -> VPath {
    let cwd = a.cwd.clone();
    record(o, a, svc, cmd, &[], Some(&cwd), Ok(()));
    cwd
}

/// `cd`: the new directory, which must be one (links inside are followed).
pub fn cd(
    o: &Origin,
    a: &mut Authed,
    svc: &mut Services,
    cmd: &str,
    args: &[String],
    input: &str,
) -> Result<VPath, WireError> {
    let target = resolve(a, input);
    let result = target.clone().and_then(|t| a.home.check_dir(&t).map_err(|e| wire(&e)).map(|()| t));
    if let Ok(t) = &result {
        a.cwd = t.clone();
    }
    recorded(o, a, svc, cmd, args, target.as_ref().ok(), result)
}

/// `mkdir`: the new directory's path and whether it was created (with
/// `parents`, an existing directory is not an error).
pub fn mkdir(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    cmd: &str,
    args: &[String],
    input: &str,
    parents: bool,
) -> Result<(VPath, bool), WireError> {
    let target = resolve(a, input);
    let result = target.clone().and_then(|t| {
        let created = a.home.mkdir(&t, parents).map_err(|e| wire(&e))?;
        Ok((t, created))
    });
    recorded(o, a, svc, cmd, args, target.as_ref().ok(), result)
}

/// What a removal may take: anything (`rm`), or only a file (FTP's DELE)
/// or only a directory (RMD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Any,
    File,
    Dir,
}

/// A removal checked and ready to run as a worker job ([`Removal::job`];
/// unlinking a big file or a deep tree is slow), and what its second half
/// ([`removed`]) needs.
pub struct Removal {
    args: Vec<String>,
    user: String,
    home: Arc<dyn HomeStore>,
    target: VPath,
    recursive: bool,
    /// The identity of the file removed, when an upload holds a credit for
    /// replacing some file (so that credit can go).
    credited: Option<FileId>,
}

impl Removal {
    /// The job: one entry, or the whole tree.
    pub fn job(&self) -> Job {
        let (home, path) = (self.home.clone(), self.target.clone());
        if self.recursive { Job::RemoveTree { home, path } } else { Job::Remove { home, path } }
    }

    pub fn target(&self) -> &VPath {
        &self.target
    }
}

/// `rm` (FTP's DELE, RMD): checks a removal of one entry, or with
/// `recursive` the whole tree, and returns it to be run as a job. A refusal
/// is recorded here and returned.
pub fn remove(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    args: &[String],
    input: &str,
    expect: Expect,
    recursive: bool,
) -> Result<Removal, WireError> {
    let target = resolve(a, input);
    let checked = target.clone().and_then(|t| {
        if t.is_root() {
            return Err(WireError::new(ErrorCode::BadRequest, "cannot remove your home folder"));
        }
        match (expect, a.home.lstat(&t).map(|m| m.kind)) {
            (Expect::File, Ok(EntryKind::Dir)) => {
                return Err(WireError::new(ErrorCode::IsADirectory, format!("{t} is a directory; use RMD")));
            }
            (Expect::Dir, Ok(k)) if k != EntryKind::Dir => {
                return Err(WireError::new(ErrorCode::NotADirectory, format!("{t} is not a directory; use DELE")));
            }
            _ => {}
        }
        let user = svc.users.get(&a.user);
        // A folder that holds the target of an upload in progress is kept:
        // removing it would make that upload fail at its very end.
        let uploading = user.and_then(|u| u.uploads.iter().find(|up| up.is_within(&t)).cloned());
        if let Some(up) = uploading.filter(|_| recursive) {
            return Err(WireError::new(
                ErrorCode::Busy,
                format!("{t} holds {up}, which one of your sessions is uploading; finish or cancel that upload first"),
            ));
        }
        // Removing a file that an upload will replace is fine: the upload's
        // data is elsewhere until it is renamed into place. But the upload
        // was credited for that file's size, which this frees: the credit goes.
        let credited = if !recursive && user.is_some_and(|u| u.has_credits()) { a.home.file_id(&t) } else { None };
        Ok(Removal { args: args.to_vec(), user: a.user.clone(), home: a.home.clone(), target: t, recursive, credited })
    });
    if let Err(e) = &checked {
        let shown = target.as_ref().ok().map(|p| p.to_string());
        let rec = Record::removal(o.actor(Some(&a.user)), args, shown.as_deref(), Err(e), Freed::default());
        svc.audit.record(Log::Commands, rec);
    }
    checked
}

/// The removal job is back: usage shrinks by the bytes really freed, even
/// when a recursive removal stopped at an error part-way; the one record
/// (`rm`) tells the count and the bytes. Returns the path, the kind and
/// what was removed.
pub fn removed(
    o: &Origin,
    svc: &mut Services,
    r: Removal,
    output: JobOutput,
) -> Result<(VPath, EntryKind, Freed), WireError> {
    let (freed, result) = match output {
        JobOutput::Removed(Ok((kind, bytes))) => (Freed { count: 1, bytes }, Ok(kind)),
        JobOutput::Removed(Err(e)) => (Freed::default(), Err(wire(&e))),
        JobOutput::RemovedTree { freed, result } => (freed, result.map_err(|e| wire(&e))),
        JobOutput::Busy => (Freed::default(), Err(super::busy())),
        _ => (Freed::default(), Err(super::lost())),
    };
    if let Some(u) = svc.users.get_mut(&r.user) {
        u.shrink(freed.bytes);
        if let Some(id) = r.credited.filter(|_| freed.count > 0) {
            u.revoke_credit(id);
        }
        // A credited file may have been in the tree (reached by the upload
        // through a link): credits whose file is no longer at its upload's
        // target go.
        if r.recursive && freed.count > 0 && u.has_credits() {
            let live: Vec<_> = u.uploads.iter().filter_map(|up| r.home.file_id(up)).collect();
            u.retain_credits(|id| live.contains(id));
        }
    }
    let shown = r.target.to_string();
    let rec = Record::removal(o.actor(Some(&r.user)), &r.args, Some(&shown), result.as_ref().map(|_| ()), freed);
    svc.audit.record(Log::Commands, rec);
    result.map(|kind| (r.target, kind, freed))
}

/// Whether `p` is, holds, or lies in a path with an upload in progress
/// (of any of the user's sessions).
fn busy(svc: &Services, a: &Authed, p: &VPath) -> Option<VPath> {
    let u = svc.users.get(&a.user)?;
    u.uploads.iter().find(|up| *up == p || up.is_within(p) || p.is_within(up)).cloned()
}

/// The source of a rename (FTP's RNFR): it must exist, not be `/`, and not
/// be (or hold) an upload in progress. A refusal is recorded as a failed
/// `rename`; a good source is not recorded until the rename itself.
pub fn rename_source(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    args: &[String],
    input: &str,
) -> Result<VPath, WireError> {
    let target = resolve(a, input);
    let result = target.clone().and_then(|t| {
        if t.is_root() {
            return Err(WireError::new(ErrorCode::BadRequest, "your home folder cannot be renamed"));
        }
        a.home.lstat(&t).map_err(|e| wire(&e))?;
        if let Some(up) = busy(svc, a, &t) {
            return Err(WireError::new(ErrorCode::Busy, format!("{up} is being uploaded; wait for it to finish")));
        }
        Ok(t)
    });
    if let Err(e) = &result {
        record(o, a, svc, "rename", args, target.as_ref().ok(), Err(e));
    }
    result
}

/// `rename` (RNFR/RNTO): moves `from` to `input` in one step. A file at the
/// destination is replaced atomically (its bytes are given back to the
/// quota); directories move too; nothing with an upload in progress moves
/// or is replaced (`busy`). The cached digest is the file's own and moves
/// with it. Returns the destination.
pub fn rename(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    args: &[String],
    from: &VPath,
    input: &str,
) -> Result<VPath, WireError> {
    let target = resolve(a, input);
    let result = target.clone().and_then(|to| {
        for p in [from, &to] {
            if let Some(up) = busy(svc, a, p) {
                return Err(WireError::new(ErrorCode::Busy, format!("{up} is being uploaded; wait for it to finish")));
            }
        }
        let credited = svc.users.get(&a.user).is_some_and(|u| u.has_credits());
        let replaced_id = if credited { a.home.file_id(&to) } else { None };
        let freed = a.home.rename(from, &to).map_err(|e| wire(&e))?;
        if let Some(u) = svc.users.get_mut(&a.user) {
            u.shrink(freed);
            if let Some(id) = replaced_id {
                u.revoke_credit(id);
            }
        }
        Ok(to)
    });
    recorded(o, a, svc, "rename", args, target.as_ref().ok(), result)
}

pub fn quota(o: &Origin, a: &Authed, svc: &mut Services, cmd: &str) -> Result<QuotaInfo, WireError> {
    let info = svc.users.get(&a.user).map(|u| u.quota());
    let result = info.ok_or_else(|| WireError::new(ErrorCode::Internal, "usage is not available"));
    recorded(o, a, svc, cmd, &[], None, result)
}

/// Kind, size and mtime of one path (FTP's SIZE, MDTM, MLST), following
/// links that stay inside.
pub fn stat(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    cmd: &str,
    args: &[String],
    input: &str,
) -> Result<(VPath, Meta), WireError> {
    let target = resolve(a, input);
    let result = target.clone().and_then(|t| a.home.stat(&t).map(|m| (t, m)).map_err(|e| wire(&e)));
    recorded(o, a, svc, cmd, args, target.as_ref().ok(), result)
}

/// Starts a listing of `input` (the current directory if `None`): a
/// directory's entries, or a file alone.
pub fn list(
    o: &Origin,
    a: &Authed,
    svc: &mut Services,
    cmd: &str,
    args: &[String],
    input: Option<&str>,
) -> Result<(VPath, Box<dyn DirListing>), WireError> {
    let target = match input {
        Some(p) => resolve(a, p),
        None => Ok(a.cwd.clone()),
    };
    let result = target.clone().and_then(|t| a.home.list(&t).map(|l| (t, l)).map_err(|e| wire(&e)));
    recorded(o, a, svc, cmd, args, target.as_ref().ok(), result)
}
