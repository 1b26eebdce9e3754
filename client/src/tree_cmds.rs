//! `put -r` and `get -r`: whole folders (and any plain files named beside
//! them) in one command. First every source is walked (see
//! `mioftp_client::tree`), so one progress bar can show the whole copy:
//! files done of the total in its label, bytes in the bar. Then the folders
//! are made on the receiving side, parents first, and each file goes
//! through the same `put`/`get` as a single file, resume included.
//!
//! Links are never followed and special files are left out; both are named
//! on stderr as they are met. How a failure is handled is the `Tally`'s
//! business (stop in batch mode, carry on and sum up at the prompt). A file
//! whose folder could not be made is not attempted.

use crate::format;
use crate::overall::Overall;
use crate::shell::{Flow, Shell};
use crate::tally::{Tally, skipped};
use crate::{bar::Bar, transfer_cmds::summary};
use mioftp_client::globs::Found;
use mioftp_client::tree::{self, Skip, Tree};
use mioftp_client::{ClientError, GetOptions, PutOptions, Result, paths};
use mioftp_proto::messages::EntryKind;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which way files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

/// One file to copy, with its size when walked.
struct Job {
    local: String,
    remote: String,
    size: u64,
}

impl Job {
    /// Where it lands (to tell whether its folder failed).
    fn dest(&self, way: Way) -> &str {
        if way == Way::Up { &self.remote } else { &self.local }
    }
}

/// Everything one command copies.
struct Plan {
    way: Way,
    /// Folders to make where the files land, parents first.
    dirs: Vec<String>,
    files: Vec<Job>,
    skipped: usize,
}

impl Plan {
    fn new(way: Way) -> Plan {
        Plan { way, dirs: Vec::new(), files: Vec::new(), skipped: 0 }
    }

    /// Adds a walked tree rooted at `local` and `remote`; names what it
    /// leaves out, and records the folders it could not read.
    fn add_tree(&mut self, t: Tree, local: &str, remote: &str, tally: &mut Tally) -> Result<()> {
        let (from, to) = if self.way == Way::Up { (local, remote) } else { (remote, local) };
        self.dirs.push(to.to_owned());
        self.dirs.extend(t.dirs.iter().map(|d| under(to, d)));
        self.files.extend(t.files.into_iter().map(|f| Job {
            local: under(local, &f.rel),
            remote: under(remote, &f.rel),
            size: f.size,
        }));
        for (rel, why) in &t.skipped {
            skipped(&under(from, rel), &why.to_string());
        }
        self.skipped += t.skipped.len();
        for (rel, e) in t.unreadable {
            tally.fail(e, &format!("list {}", under(from, &rel)))?;
        }
        Ok(())
    }

    fn skip(&mut self, what: &str, why: Skip) {
        skipped(what, &why.to_string());
        self.skipped += 1;
    }
}

/// Where a source goes: into a folder under its own name, or to exactly
/// the path given.
enum Dest<T> {
    Into(T),
    Exactly(T),
}

/// `folder/rel`.
fn under(folder: &str, rel: &str) -> String {
    format!("{}/{rel}", folder.trim_end_matches('/'))
}

/// `put -r SOURCES [REMOTE]`. `remote` is where the only source goes (or
/// the folder it goes into, if that exists), or the folder several go into.
pub fn put(sh: &mut Shell, sources: &[PathBuf], remote: Option<&str>, resume: bool) -> Result<Flow> {
    let mut tally = Tally::new(sh.interactive);
    let mut plan = Plan::new(Way::Up);
    let cwd = sh.client.cwd().to_owned();
    let dest = match remote {
        None => Dest::Into(cwd.clone()),
        Some(r) if sources.len() > 1 || r.ends_with('/') => Dest::Into(r.to_owned()),
        Some(r) if sh.client.stat(r)? == Some(EntryKind::Dir) => Dest::Into(r.to_owned()),
        Some(r) => Dest::Exactly(r.to_owned()),
    };
    for source in sources {
        let shown = source.display().to_string();
        // "." and ".." have no name of their own: that of the folder they are.
        let named = source.file_name().map(PathBuf::from).or_else(|| source.canonicalize().ok());
        let name = match named.as_deref().and_then(Path::file_name).and_then(|n| n.to_str()) {
            Some(name) => name.to_owned(),
            None => {
                tally.fail(ClientError::Usage("no UTF-8 file name; give a remote name".into()), &shown)?;
                continue;
            }
        };
        let to = match &dest {
            Dest::Into(folder) => resolve(&cwd, &under(folder, &name))?,
            Dest::Exactly(path) => resolve(&cwd, path)?,
        };
        let meta = match source.symlink_metadata() {
            Ok(meta) => meta,
            // The only source: its own error, as a single put would say it.
            Err(e) if sources.len() == 1 => return Err(ClientError::local(source, e)),
            Err(e) => {
                tally.fail(ClientError::local(source, e), &format!("put {shown}"))?;
                continue;
            }
        };
        let kind = meta.file_type();
        // (A link written with a trailing '/' reads as its folder here.)
        if kind.is_dir() {
            match tree::local(source) {
                Ok(t) => plan.add_tree(t, &shown, &to, &mut tally)?,
                Err(e) if sources.len() == 1 => return Err(e),
                Err(e) => tally.fail(e, &format!("put {shown}"))?,
            }
        } else if kind.is_file() {
            plan.files.push(Job { local: shown, remote: to, size: meta.len() });
        } else if kind.is_symlink() {
            plan.skip(&shown, Skip::Symlink);
        } else {
            plan.skip(&shown, Skip::Special("special file"));
        }
    }
    let label = label("put -r", sources.iter().map(|s| s.display().to_string()).collect());
    run(sh, plan, tally, &label, resume)
}

/// `get -r SOURCES [LOCAL]`: `sources` are remote paths with their kinds.
pub fn get(sh: &mut Shell, sources: &[Found], local: Option<&Path>, resume: bool) -> Result<Flow> {
    let mut tally = Tally::new(sh.interactive);
    let mut plan = Plan::new(Way::Down);
    let dest = match local {
        // The current folder: names stay relative ("tree/a.bin").
        None => Dest::Into(String::new()),
        Some(l) if l.is_dir() => Dest::Into(l.display().to_string()),
        Some(l) if sources.len() > 1 => {
            return Err(ClientError::Usage(format!("{} is not a local folder; several files need one", l.display())));
        }
        Some(l) => Dest::Exactly(l.display().to_string()),
    };
    for source in sources {
        let Some(name) = paths::base_name(&source.path) else {
            tally.fail(ClientError::Usage("no file name; give a local name".into()), &source.path)?;
            continue;
        };
        let to = match &dest {
            Dest::Into(folder) if folder.is_empty() => name.to_owned(),
            Dest::Into(folder) => under(folder, name),
            Dest::Exactly(path) => path.clone(),
        };
        match source.kind {
            EntryKind::Dir => match sh.client.remote_tree(&source.path) {
                Ok(t) => plan.add_tree(t, &to, &source.path, &mut tally)?,
                Err(e) if sources.len() == 1 => return Err(e),
                Err(e) => tally.fail(e, &format!("get {}", source.path))?,
            },
            EntryKind::File => plan.files.push(Job { local: to, remote: source.path.clone(), size: source.size }),
            EntryKind::Symlink => plan.skip(&source.path, Skip::Symlink),
            EntryKind::Other => plan.skip(&source.path, Skip::Special("special file")),
        }
    }
    let label = label("get -r", sources.iter().map(|s| s.path.clone()).collect());
    run(sh, plan, tally, &label, resume)
}

fn resolve(cwd: &str, path: &str) -> Result<String> {
    paths::resolve(cwd, path).ok_or_else(|| ClientError::Usage(format!("\"{path}\" is not a path inside your home")))
}

/// "put -r photos", or "put -r 3 sources".
fn label(verb: &str, sources: Vec<String>) -> String {
    match sources.as_slice() {
        [one] => format!("{verb} {one}"),
        many => format!("{verb} {} sources", many.len()),
    }
}

/// Makes the folders, copies the files, and sums up.
fn run(sh: &mut Shell, plan: Plan, mut tally: Tally, label: &str, resume: bool) -> Result<Flow> {
    let started = Instant::now();
    let way = plan.way;
    // Folders that could not be made, and remote folders that already hold
    // a folder where a file would go (`put` would put the file inside it).
    let mut failed_dirs: Vec<String> = Vec::new();
    let mut remote_dirs: HashSet<String> = HashSet::new();
    for dir in &plan.dirs {
        if failed_dirs.iter().any(|f| dir.starts_with(&format!("{f}/"))) {
            continue; // its parent failed: said once, for the parent
        }
        let made = match way {
            Way::Up => make_remote(sh, dir, &mut remote_dirs),
            Way::Down => std::fs::create_dir_all(dir).map_err(|e| ClientError::local(Path::new(dir), e)),
        };
        if let Err(e) = made {
            tally.fail(e, &format!("mkdir {dir}"))?;
            failed_dirs.push(dir.clone());
        }
    }
    let total: u64 = plan.files.iter().map(|f| f.size).sum();
    let mut overall = Overall::new(Bar::new(label), label, plan.files.len(), total);
    let (mut done, mut bytes, mut moved, mut resumed) = (0usize, 0u64, 0u64, 0usize);
    for job in &plan.files {
        let dest = job.dest(way);
        if failed_dirs.iter().any(|f| dest.starts_with(&format!("{f}/"))) {
            tally.not_attempted += 1;
            continue;
        }
        let what = match way {
            Way::Up => format!("put {}", job.local),
            Way::Down => format!("get {}", job.remote),
        };
        if way == Way::Up && remote_dirs.contains(&job.remote) {
            let e = ClientError::Usage(format!("{} is a folder on the server; the file was not sent", job.remote));
            tally.fail(e, &what)?;
            continue;
        }
        overall.next_file(job.size);
        let result = match way {
            Way::Up => sh
                .client
                .put(Path::new(&job.local), &job.remote, &PutOptions { resume }, &mut overall)
                .map(|r| (r.size, r.sent, r.offset > 0)),
            Way::Down => sh
                .client
                .get(&job.remote, Path::new(&job.local), &GetOptions { resume }, &mut overall)
                .map(|r| (r.size, r.received, r.offset > 0)),
        };
        match result {
            Ok((size, sent, was_resumed)) => {
                done += 1;
                bytes += size;
                moved += sent;
                resumed += usize::from(was_resumed);
            }
            Err(e) => {
                overall.failed();
                tally.fail(e, &what)?;
            }
        }
    }
    drop(overall);
    let files = plan.files.len();
    let count = if done == files { plural(files, "file") } else { format!("{done} of {}", plural(files, "file")) };
    let folders = plural(plan.dirs.len() - failed_dirs.len(), "folder");
    let mut line = format!("{label}: {count}, {folders}, {}", summary(bytes, moved, started.elapsed()));
    if done > 0 {
        line.push_str(", sha256 verified");
    }
    if resumed > 0 {
        line.push_str(&format!(", {resumed} resumed"));
    }
    if plan.skipped > 0 {
        line.push_str(&format!(", {} skipped", plan.skipped));
    }
    println!("{}", format::name(&line));
    tally.finish(files, "files")?;
    Ok(Flow::Continue)
}

/// Makes remote folder `dir` (with its parents). If it was there already,
/// notes the folders in it, where no file may be put.
fn make_remote(sh: &mut Shell, dir: &str, folders: &mut HashSet<String>) -> Result<()> {
    if sh.client.mkdir(dir, true)?.created {
        return Ok(());
    }
    let listing = sh.client.dir(Some(dir))?;
    folders.extend(listing.entries.iter().filter(|e| e.kind == EntryKind::Dir).map(|e| under(dir, &e.name)));
    Ok(())
}

/// "1 file", "2 files".
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
