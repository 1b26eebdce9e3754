//! Shell commands on the local side: `lcd`, `lpwd`, `lls`. They change and
//! show the directory `put` reads from and `get` writes to by default.

use crate::format;
use crate::shell::{Flow, Shell};
use crate::words::Spec;
use mioftp_client::{ClientError, Result, files::sort_entries};
use mioftp_proto::messages::{DirEntry, EntryKind};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub const LCD: Spec = Spec { usage: "lcd DIR", flags: &[], min: 1, max: 1 };
pub const LPWD: Spec = Spec { usage: "lpwd", flags: &[], min: 0, max: 0 };
pub const LLS: Spec = Spec { usage: "lls [DIR]", flags: &[], min: 0, max: 1 };

pub fn lcd(_: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = LCD.parse(words)?;
    let dir = Path::new(p.arg(0).unwrap_or("."));
    std::env::set_current_dir(dir).map_err(|e| ClientError::local(dir, e))?;
    Ok(Flow::Continue)
}

pub fn lpwd(_: &mut Shell, words: &[String]) -> Result<Flow> {
    LPWD.parse(words)?;
    println!("{}", current()?.display());
    Ok(Flow::Continue)
}

pub fn lls(_: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = LLS.parse(words)?;
    let dir = p.arg(0).map_or_else(current, |d| Ok(PathBuf::from(d)))?;
    let mut entries = Vec::new();
    for item in std::fs::read_dir(&dir).map_err(|e| ClientError::local(&dir, e))? {
        let item = item.map_err(|e| ClientError::local(&dir, e))?;
        // Lists like `dir` does: symlinks as themselves, not their targets.
        let Ok(meta) = item.path().symlink_metadata() else {
            continue; // removed while we listed: not worth failing the listing
        };
        let kind = match meta.file_type() {
            t if t.is_dir() => EntryKind::Dir,
            t if t.is_file() => EntryKind::File,
            t if t.is_symlink() => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        entries.push(DirEntry {
            name: item.file_name().to_string_lossy().into_owned(),
            kind,
            size: meta.len(),
            mtime: i64::try_from(mtime).unwrap_or(i64::MAX),
        });
    }
    sort_entries(&mut entries);
    for line in format::table(&entries) {
        println!("{line}");
    }
    let noun = if entries.len() == 1 { "entry" } else { "entries" };
    println!("{} {noun}", entries.len());
    Ok(Flow::Continue)
}

fn current() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| ClientError::local(Path::new("."), e))
}
