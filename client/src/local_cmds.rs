//! Shell commands on the local side: `lcd`, `lpwd`, `lls`. They change and
//! show the directory `put` reads from and `get` writes to by default.
//! `lcd -` goes back to the previous one; `~` at the start of a local path
//! is your home folder (`$HOME`), as in a shell, for every command.

use crate::format;
use crate::shell::{Flow, Shell};
use crate::words::Spec;
use mioftp_client::{ClientError, Result, files::sort_entries};
use mioftp_proto::messages::{DirEntry, EntryKind};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub const LCD: Spec = Spec { usage: "lcd [DIR | -]", flags: &[], min: 0, max: 1 };
pub const LPWD: Spec = Spec { usage: "lpwd", flags: &[], min: 0, max: 0 };
/// `-l` and `-a` are accepted out of habit: the listing is always long and
/// always shows hidden names.
pub const LLS: Spec = Spec { usage: "lls [-l] [DIR]", flags: crate::remote_cmds::LS_HABITS, min: 0, max: 1 };

/// `~` or `~/...` at the start of `word` made your home folder; anything
/// else (including `~user`) unchanged.
pub fn expand_tilde(word: &str) -> Result<String> {
    let rest = match word.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Ok(word.to_owned()),
    };
    let home = std::env::var("HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ClientError::Usage("~ needs HOME to be set".into()))?;
    Ok(format!("{home}{rest}"))
}

pub fn lcd(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = LCD.parse(words)?;
    let dir = match p.arg(0) {
        Some("-") => {
            sh.previous_local.clone().ok_or_else(|| ClientError::Usage("no previous local folder yet".into()))?
        }
        Some(word) => PathBuf::from(expand_tilde(word)?),
        None => PathBuf::from(expand_tilde("~")?),
    };
    let before = current()?;
    std::env::set_current_dir(&dir).map_err(|e| ClientError::local(&dir, e))?;
    sh.previous_local = Some(before);
    if p.arg(0) == Some("-") {
        println!("{}", current()?.display());
    }
    Ok(Flow::Continue)
}

pub fn lpwd(_: &mut Shell, words: &[String]) -> Result<Flow> {
    LPWD.parse(words)?;
    println!("{}", current()?.display());
    Ok(Flow::Continue)
}

pub fn lls(_: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = LLS.parse(words)?;
    let dir = p.arg(0).map_or_else(current, |d| Ok(PathBuf::from(expand_tilde(d)?)))?;
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
