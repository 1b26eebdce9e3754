//! Formatting of directory listings and times for the FTP front end, pure
//! ("now" is an argument): LIST lines in the `ls -l` style that pyftpdlib,
//! vsftpd and ProFTPD emit, NLST lines, RFC 3659 MLSD/MLST fact lines, and
//! the 14-digit UTC time of MDTM and the `modify` fact.
//!
//! An [`Entry`] is what `home::Listing` yields (`DirEntry`: name, kind,
//! size, mtime) plus the optional device/inode pair for the `unique` fact.
//! All times are UTC. A name containing CR or LF cannot be sent on a
//! line-oriented listing without forging another line, so such an entry is
//! left out (the formatters return `None`); our own path rules never create
//! one, but a file made outside the server could have one.

use super::reply::Reply;
use crate::protocol::messages::EntryKind;

/// Six months, as GNU ls counts them (half of 365.2425 days): a LIST entry
/// older than this, or in the future, shows its year instead of its time.
pub const SIX_MONTHS: i64 = 31_556_952 / 2;

/// One entry to format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The bare name for LIST, NLST and MLSD; the path for MLST.
    pub name: &'a str,
    pub kind: EntryKind,
    /// Bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (UTC).
    pub mtime: i64,
    /// The RFC 3659 `perm` fact. [`Entry::new`] sets [`default_perm`].
    pub perm: &'static str,
    /// (device, inode), for the `unique` fact; left out when `None`.
    pub unique: Option<(u64, u64)>,
}

impl<'a> Entry<'a> {
    pub fn new(name: &'a str, kind: EntryKind, size: u64, mtime: i64) -> Entry<'a> {
        Entry { name, kind, size, mtime, perm: default_perm(kind), unique: None }
    }
}

/// What a logged-in user may do with an entry of this kind in their own home
/// (RFC 3659 §7.5.5): files can be appended to, deleted, renamed, read and
/// written; directories can have files created in them, be deleted, entered,
/// renamed, listed, have directories made in them and be purged. A symbolic
/// link is only claimed deletable and renamable.
pub fn default_perm(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "adfrw",
        EntryKind::Dir => "cdeflmp",
        EntryKind::Symlink | EntryKind::Other => "df",
    }
}

/// The RFC 3659 facts we can report, as a set. The session keeps the set
/// selected with `OPTS MLST` (all of them to begin with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactSet(u8);

impl FactSet {
    pub const TYPE: FactSet = FactSet(1);
    pub const SIZE: FactSet = FactSet(2);
    pub const MODIFY: FactSet = FactSet(4);
    pub const PERM: FactSet = FactSet(8);
    pub const UNIQUE: FactSet = FactSet(16);
    pub const NONE: FactSet = FactSet(0);
    pub const ALL: FactSet = FactSet(31);

    /// Every fact with its name, in the order facts are written.
    const NAMES: [(FactSet, &'static str); 5] = [
        (FactSet::TYPE, "type"),
        (FactSet::SIZE, "size"),
        (FactSet::MODIFY, "modify"),
        (FactSet::PERM, "perm"),
        (FactSet::UNIQUE, "unique"),
    ];

    pub fn contains(self, other: FactSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: FactSet) -> FactSet {
        FactSet(self.0 | other.0)
    }

    /// The argument of `OPTS MLST`: facts each followed by `;`, any case,
    /// unknown names ignored (RFC 3659 §7.9). An empty argument selects no
    /// facts. `None` (a 501) for an argument that is not a fact list: one
    /// with no `;` or with a space in it.
    pub fn parse_opts(arg: &str) -> Option<FactSet> {
        if arg.is_empty() {
            return Some(FactSet::NONE);
        }
        if !arg.contains(';') || arg.contains(' ') {
            return None;
        }
        let mut set = FactSet::NONE;
        for word in arg.split(';') {
            if let Some((f, _)) = FactSet::NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(word)) {
                set = set.union(*f);
            }
        }
        Some(set)
    }

    /// The selected facts as `OPTS MLST` confirms them: `type;size;`.
    pub fn selected(self) -> String {
        FactSet::NAMES.iter().filter(|(f, _)| self.contains(*f)).map(|(_, n)| format!("{n};")).collect()
    }

    /// The FEAT line's fact list: every fact we support, the selected ones
    /// marked with `*`: `type*;size*;modify*;perm*;unique*;`.
    pub fn feat_list(self) -> String {
        FactSet::NAMES.iter().map(|(f, n)| if self.contains(*f) { format!("{n}*;") } else { format!("{n};") }).collect()
    }
}

/// A UTC civil time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

/// Earliest and latest times with a four-digit year (0000-01-01T00:00:00Z
/// and 9999-12-31T23:59:59Z); times outside are clamped to them.
const MIN_TIME: i64 = -62_167_219_200;
const MAX_TIME: i64 = 253_402_300_799;

/// Seconds since the epoch to UTC calendar fields (the proleptic Gregorian
/// "days from civil" inverse of Howard Hinnant's date algorithms).
fn civil(t: i64) -> Civil {
    let t = t.clamp(MIN_TIME, MAX_TIME);
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil { year, month, day, hour: secs / 3600, minute: secs / 60 % 60, second: secs % 60 }
}

/// `YYYYMMDDHHMMSS` in UTC (RFC 3659 time-val), as MDTM and `modify=` use.
pub fn ftp_time(mtime: i64) -> String {
    let c = civil(mtime);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// The reply to MDTM: `213 YYYYMMDDHHMMSS`.
pub fn mdtm_reply(mtime: i64) -> Reply {
    Reply::new(213, ftp_time(mtime))
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The `ls -l` time column: `Mon DD HH:MM` within the last six months,
/// `Mon DD  YYYY` otherwise (older, or in the future).
fn ls_time(mtime: i64, now: i64) -> String {
    let c = civil(mtime);
    let month = MONTHS[(c.month - 1) as usize];
    if mtime <= now && now - mtime < SIX_MONTHS {
        format!("{month} {:02} {:02}:{:02}", c.day, c.hour, c.minute)
    } else {
        format!("{month} {:02}  {:04}", c.day, c.year)
    }
}

fn listable(name: &str) -> bool {
    !name.is_empty() && !name.contains(['\r', '\n'])
}

/// One LIST line, without its CRLF, in the format pyftpdlib takes from
/// ProFTPD: `-rw-r--r--   1 ftp      ftp          1234 Jan 05 13:45 name`.
/// We show fixed modes, one link, and owner and group `ftp`: the real ones
/// belong to the server's account and mean nothing to the client.
pub fn list_line(e: &Entry, now: i64) -> Option<String> {
    if !listable(e.name) {
        return None;
    }
    let mode = match e.kind {
        EntryKind::Dir => "drwxr-xr-x",
        EntryKind::File | EntryKind::Other => "-rw-r--r--",
        EntryKind::Symlink => "lrwxrwxrwx",
    };
    Some(format!("{mode} {:>3} {:<8} {:<8} {:>8} {} {}", 1, "ftp", "ftp", e.size, ls_time(e.mtime, now), e.name))
}

/// One NLST line, without its CRLF: the name alone.
pub fn nlst_line(e: &Entry) -> Option<String> {
    listable(e.name).then(|| e.name.to_owned())
}

/// One MLSD/MLST fact line, without its CRLF and without the leading space
/// that MLST's reply adds: the selected facts, each `name=value;`, then one
/// space, then the name (RFC 3659 §7.2). With no facts selected it is a
/// space and the name.
pub fn fact_line(e: &Entry, facts: FactSet) -> Option<String> {
    if !listable(e.name) {
        return None;
    }
    let mut line = String::new();
    if facts.contains(FactSet::TYPE) {
        let t = match e.kind {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "OS.unix=symlink",
            EntryKind::Other => "OS.unix=other",
        };
        line.push_str(&format!("type={t};"));
    }
    // RFC 3659 §7.5.7: `size` is for files (directories would use `sizd`).
    if facts.contains(FactSet::SIZE) && e.kind == EntryKind::File {
        line.push_str(&format!("size={};", e.size));
    }
    if facts.contains(FactSet::MODIFY) {
        line.push_str(&format!("modify={};", ftp_time(e.mtime)));
    }
    if facts.contains(FactSet::PERM) {
        line.push_str(&format!("perm={};", e.perm));
    }
    if let (true, Some((dev, ino))) = (facts.contains(FactSet::UNIQUE), e.unique) {
        line.push_str(&format!("unique={dev:x}g{ino:x};"));
    }
    line.push(' ');
    line.push_str(e.name);
    Some(line)
}

/// Appends `line` and a CRLF to a data-connection buffer; false (and nothing
/// written) for an entry that cannot be listed.
pub fn push_line(out: &mut Vec<u8>, line: Option<String>) -> bool {
    match line {
        Some(l) => {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\r\n");
            true
        }
        None => false,
    }
}

/// The reply to MLST (RFC 3659 §7.2): `250-Listing <path>`, the fact line
/// for `e` (whose `name` is the path), `250 End.`. `None` if the path
/// cannot be shown on a line.
pub fn mlst_reply(e: &Entry, facts: FactSet) -> Option<Reply> {
    let line = fact_line(e, facts)?;
    Some(Reply::multi(250, format!("Listing {}", e.name), vec![line], "End."))
}

#[cfg(test)]
mod tests;
