//! Shell commands that move file data: `put`, `get`, `mput` and `mget`.
//! One file goes with its own progress bar and one summary line. A pattern
//! (`*`, `?`, `[...]`, see `mioftp_client::globs`) or several names send
//! each file the same way, into one folder, under the failure rules of
//! `tally`. `-r` hands whole folders to `tree_cmds`.

use crate::bar::Bar;
use crate::format;
use crate::local_cmds::expand_tilde;
use crate::shell::{Flow, Shell};
use crate::tally::{Tally, skipped};
use crate::tree_cmds;
use crate::words::{Parsed, Spec};
use mioftp_client::globs::{self, Found, has_wildcards};
use mioftp_client::{ClientError, GetOptions, PutOptions, Result, local_target, paths};
use mioftp_proto::messages::EntryKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PUT_FLAGS: &[&str] = &["-r", "--recursive", "-p", "--parents", "--no-resume"];
const GET_FLAGS: &[&str] = &["-r", "--recursive", "--no-resume"];

pub const PUT: Spec = Spec { usage: "put [-r] [-p] [--no-resume] LOCAL [REMOTE]", flags: PUT_FLAGS, min: 1, max: 2 };
pub const GET: Spec = Spec { usage: "get [-r] [--no-resume] REMOTE [LOCAL]", flags: GET_FLAGS, min: 1, max: 2 };
pub const MPUT: Spec = Spec { usage: "mput [-r] [--no-resume] LOCAL...", flags: GET_FLAGS, min: 1, max: usize::MAX };
pub const MGET: Spec = Spec { usage: "mget [-r] [--no-resume] REMOTE...", flags: GET_FLAGS, min: 1, max: usize::MAX };

/// The options all four share.
#[derive(Debug, Clone, Copy)]
struct Flags {
    recursive: bool,
    parents: bool,
    resume: bool,
}

impl Flags {
    fn of(p: &Parsed) -> Flags {
        Flags {
            recursive: p.has("-r") || p.has("--recursive"),
            parents: p.has("-p") || p.has("--parents"),
            resume: !p.has("--no-resume"),
        }
    }
}

pub fn put(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = PUT.parse(words)?;
    send(sh, &[expand_tilde(p.arg(0).unwrap_or_default())?], p.arg(1), Flags::of(&p))
}

pub fn mput(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = MPUT.parse(words)?;
    let locals = p.args.iter().map(|w| expand_tilde(w)).collect::<Result<Vec<_>>>()?;
    send(sh, &locals, None, Flags::of(&p))
}

pub fn get(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = GET.parse(words)?;
    let local = p.arg(1).map(expand_tilde).transpose()?;
    receive(sh, &p.args[..1], local.as_deref().map(Path::new), Flags::of(&p))
}

pub fn mget(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = MGET.parse(words)?;
    receive(sh, &p.args, None, Flags::of(&p))
}

/// Uploads what the local `words` name (patterns expanded) to `remote`.
fn send(sh: &mut Shell, words: &[String], remote: Option<&str>, f: Flags) -> Result<Flow> {
    let mut sources = Vec::new();
    for word in words {
        sources.extend(globs::local(word)?);
    }
    if f.recursive {
        return tree_cmds::put(sh, &sources, remote, f.resume);
    }
    if let [only] = sources.as_slice() {
        return put_one(sh, only, remote, f);
    }
    // Several files: REMOTE must be a folder (made with -p).
    let folder = match remote {
        None => None,
        Some(r) if f.parents => Some(sh.client.mkdir(r, true)?.path),
        Some(r) if sh.client.stat(r)? == Some(EntryKind::Dir) => Some(r.to_owned()),
        Some(r) => return Err(ClientError::Usage(format!("{r} is not a remote folder; several files need one"))),
    };
    let into = folder.map(|d| format!("{}/", d.trim_end_matches('/')));
    let mut tally = Tally::new(sh.interactive);
    let mut count = 0;
    for source in &sources {
        match std::fs::metadata(source) {
            Ok(m) if m.is_dir() => skipped(&source.display().to_string(), "a folder (put -r copies folders)"),
            Ok(m) if !m.is_file() => skipped(&source.display().to_string(), "not a regular file"),
            _ => {
                count += 1;
                let f = Flags { parents: false, ..f };
                if let Err(e) = put_one(sh, source, into.as_deref(), f) {
                    tally.fail(e, &format!("put {}", source.display()))?;
                }
            }
        }
    }
    tally.finish(count, "files")?;
    Ok(Flow::Continue)
}

/// Downloads what the remote `words` name (patterns matched on listings).
fn receive(sh: &mut Shell, words: &[String], local: Option<&Path>, f: Flags) -> Result<Flow> {
    if let [only] = words {
        if !f.recursive && !has_wildcards(only) {
            return get_one(sh, only, local, f.resume);
        }
    }
    let mut sources: Vec<Found> = Vec::new();
    for word in words {
        if has_wildcards(word) {
            sources.extend(sh.client.remote_glob(word)?);
        } else {
            let path = paths::resolve(sh.client.cwd(), word)
                .ok_or_else(|| ClientError::Usage(format!("\"{word}\" is not a path inside your home")))?;
            // What it is decides whether to walk it; a name that is not
            // there is left for `get` to report as the server does.
            let kind = if f.recursive { sh.client.stat(word)?.unwrap_or(EntryKind::File) } else { EntryKind::File };
            sources.push(Found { path, kind, size: 0 });
        }
    }
    if f.recursive {
        return tree_cmds::get(sh, &sources, local, f.resume);
    }
    if let [only] = sources.as_slice() {
        if only.kind != EntryKind::Dir {
            return get_one(sh, &only.path, local, f.resume);
        }
    }
    if let Some(l) = local.filter(|l| !l.is_dir()) {
        return Err(ClientError::Usage(format!("{} is not a local folder; several files need one", l.display())));
    }
    let mut tally = Tally::new(sh.interactive);
    let mut count = 0;
    for source in &sources {
        match source.kind {
            EntryKind::Dir => skipped(&source.path, "a folder (get -r copies folders)"),
            EntryKind::Other => skipped(&source.path, "not a regular file"),
            EntryKind::File | EntryKind::Symlink => {
                count += 1;
                if let Err(e) = get_one(sh, &source.path, local, f.resume) {
                    tally.fail(e, &format!("get {}", source.path))?;
                }
            }
        }
    }
    tally.finish(count, "files")?;
    Ok(Flow::Continue)
}

/// One upload, with its bar and summary line. No `remote`: the local base
/// name in the remote current folder; one ending in '/' names a folder.
fn put_one(sh: &mut Shell, local: &Path, remote: Option<&str>, f: Flags) -> Result<Flow> {
    let base = || {
        local.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            ClientError::Usage(format!("{} has no UTF-8 file name; give a remote name", local.display()))
        })
    };
    let remote = match remote {
        None => base()?.to_owned(),
        Some(dir) if dir.ends_with('/') => format!("{dir}{}", base()?),
        Some(remote) => remote.to_owned(),
    };
    if f.parents {
        // The folder part of REMOTE (all of it when it ends in '/').
        if let Some((folder, _)) = remote.rsplit_once('/').filter(|(f, _)| !f.is_empty()) {
            sh.client.mkdir(folder, true)?;
        }
    }
    let opts = PutOptions { resume: f.resume };
    let mut bar = Bar::new(&format!("put {}", format::name(&remote)));
    let report = sh.client.put(local, &remote, &opts, &mut bar)?;
    let how = how(report.offset, report.restarted, "local file changed");
    println!(
        "put {} -> {}: {}{how}, sha256 verified",
        local.display(),
        format::name(&report.path),
        summary(report.size, report.sent, report.duration)
    );
    Ok(Flow::Continue)
}

/// One download, with its bar and summary line.
fn get_one(sh: &mut Shell, remote: &str, local: Option<&Path>, resume: bool) -> Result<Flow> {
    let target: PathBuf = local_target(remote, local)?;
    let opts = GetOptions { resume };
    let mut bar = Bar::new(&format!("get {}", format::name(remote)));
    let report = sh.client.get(remote, &target, &opts, &mut bar)?;
    let how = how(report.offset, report.restarted, "partial was stale");
    println!(
        "get {} -> {}: {}{how}, sha256 verified",
        format::name(&report.remote),
        report.local.display(),
        summary(report.size, report.received, report.duration)
    );
    Ok(Flow::Continue)
}

/// "1.0 MiB in 0.50 s (2.0 MiB/s)", or with the bytes actually moved when a
/// resume skipped some.
pub fn summary(size: u64, moved: u64, took: Duration) -> String {
    if moved == size {
        format::throughput(size, took)
    } else {
        format!("{} ({})", format::size(size), format::throughput(moved, took))
    }
}

fn how(offset: u64, restarted: bool, why: &str) -> String {
    match (offset, restarted) {
        (_, true) => format!(", restarted from 0 ({why})"),
        (0, false) => String::new(),
        (at, false) => format!(", resumed at {}", format::size(at)),
    }
}
