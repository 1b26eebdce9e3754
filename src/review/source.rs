//! Where one kind of record comes from: the log's rotated files, oldest first,
//! then the live file, read as one stream of [`Entry`] values.
//!
//! Rotation follows logrotate's numbering: `NAME.log.1`, `NAME.log.2.gz`, ...
//! where a higher number is older. Each file is in time order and older
//! files hold older records, so reading them in that order yields one
//! time-ordered stream per kind without sorting; only the streams of
//! different kinds need merging (see `merge`). One file is open at a time
//! and one line is held, so memory does not grow with the log.
//!
//! A line that is not a record (torn by a crash, garbage, too long, not
//! UTF-8) is reported once on stderr as `file:line` and skipped. A file that
//! cannot be read is reported and the stream moves on to the next file.

use super::lines::{Line, LineReader};
use super::record::{Entry, Kind, Record};
use flate2::read::MultiGzDecoder;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Identity of a file on disk, to notice that a path now names another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// `None` where the platform has no inode numbers; `--follow` then relies
    /// on the file shrinking to notice a rotation.
    pub fn of(meta: &std::fs::Metadata) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileId { dev: meta.dev(), ino: meta.ino() })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

/// Prints a warning about the input on stderr. Output goes to stdout, so a
/// pipe into jq never sees these. A parse error can quote the bad line, so
/// the text is escaped for the terminal like the table.
pub fn warn(text: std::fmt::Arguments<'_>) {
    eprintln!("mioftpd audit: warning: {}", crate::protocol::display::escape(&text.to_string()));
}

/// One open log file, read line by line.
pub struct OpenLog {
    pub kind: Kind,
    pub path: PathBuf,
    pub id: Option<FileId>,
    reader: LineReader<Box<dyn Read>>,
}

impl OpenLog {
    /// Opens `path`, decompressing it when its name ends in `.gz`.
    pub fn open(kind: Kind, path: &Path) -> io::Result<OpenLog> {
        let file = File::open(path)?;
        let id = FileId::of(&file.metadata()?);
        let gz = path.extension().is_some_and(|ext| ext == "gz");
        let inner: Box<dyn Read> = if gz { Box::new(MultiGzDecoder::new(file)) } else { Box::new(file) };
        Ok(OpenLog { kind, path: path.to_owned(), id, reader: LineReader::new(inner) })
    }

    /// The next record among the complete lines available now, skipping (with
    /// a warning) lines that are not records. `Ok(None)` at the current end.
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        loop {
            let Some((line_no, line)) = self.reader.next_line()? else { return Ok(None) };
            if let Some(entry) = to_entry(self.kind, &self.path, line_no, line, "") {
                return Ok(Some(entry));
            }
        }
    }

    /// The unterminated last line, if any, when this file will not grow any more.
    pub fn finish(&mut self) -> Option<Entry> {
        let (line_no, line) = self.reader.take_partial()?;
        to_entry(self.kind, &self.path, line_no, line, "last line has no newline (torn write?); ")
    }

    /// Bytes consumed from the (decompressed) file so far.
    pub fn consumed(&self) -> u64 {
        self.reader.consumed()
    }

    /// Reports a read error and the line it happened after.
    pub fn warn_read_error(&self, e: &io::Error) {
        warn(format_args!(
            "{}:{}: read error, rest of file skipped: {e}",
            self.path.display(),
            self.reader.line_no() + 1
        ));
    }
}

/// Parses one line, or warns (with `note` before the reason) and returns `None`.
fn to_entry(kind: Kind, path: &Path, line_no: u64, line: Line<'_>, note: &str) -> Option<Entry> {
    let problem = match line {
        Line::TooLong(len) => format!("line of {len} bytes is longer than {} bytes", super::lines::MAX_LINE),
        Line::Whole(bytes) => match std::str::from_utf8(bytes) {
            Err(_) => "not UTF-8".to_owned(),
            Ok(text) => match Record::parse(bytes) {
                Ok(record) => return Some(Entry { kind, record, raw: text.to_owned() }),
                Err(e) => e,
            },
        },
    };
    warn(format_args!("{}:{line_no}: skipped, not an audit record: {note}{problem}", path.display()));
    None
}

/// The rotated files of `kind` in `dir`, oldest first. When both `NAME.N` and
/// `NAME.N.gz` exist (logrotate is compressing right now) the plain one is
/// taken: the `.gz` may still be partial.
pub fn rotated_files(dir: &Path, kind: Kind) -> io::Result<Vec<PathBuf>> {
    let prefix = format!("{}.", kind.file_name());
    let mut found: Vec<(u64, bool, PathBuf)> = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let (number, gz) = match rest.strip_suffix(".gz") {
            Some(number) => (number, true),
            None => (rest, false),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(number) = number.parse::<u64>() else { continue };
        found.push((number, gz, item.path()));
    }
    // Oldest (highest number) first; for one number the plain file sorts first.
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    found.dedup_by_key(|f| f.0);
    Ok(found.into_iter().map(|(_, _, path)| path).collect())
}

/// The time-ordered stream of one kind's records, across its files.
pub struct Source {
    kind: Kind,
    live: PathBuf,
    pending: VecDeque<PathBuf>,
    live_opened: bool,
    current: Option<OpenLog>,
    /// Keep the live file open at its end (for `--follow`) instead of closing it.
    follow: bool,
}

impl Source {
    /// Lists the files of `kind` in the logs folder `dir`; opens them lazily.
    pub fn new(dir: &Path, kind: Kind, follow: bool) -> io::Result<Source> {
        Ok(Source {
            kind,
            live: dir.join(kind.file_name()),
            pending: rotated_files(dir, kind)?.into(),
            live_opened: false,
            current: None,
            follow,
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The live file's path.
    pub fn live_path(&self) -> &Path {
        &self.live
    }

    /// After the stream ended in follow mode: the live file, still open at
    /// the point reading stopped, for `tail` to continue from.
    pub fn into_live(self) -> Option<OpenLog> {
        self.current
    }

    fn open_next(&mut self) -> bool {
        loop {
            let path = match self.pending.pop_front() {
                Some(path) => path,
                None if !self.live_opened => {
                    self.live_opened = true;
                    self.live.clone()
                }
                None => return false,
            };
            match OpenLog::open(self.kind, &path) {
                Ok(log) => {
                    self.current = Some(log);
                    return true;
                }
                // No live log yet (nothing of this kind ever happened), or a
                // rotated file removed since the listing: nothing to read.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => warn(format_args!("{}: cannot open, skipped: {e}", path.display())),
            }
        }
    }
}

impl Iterator for Source {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if self.current.is_none() && !self.open_next() {
                return None;
            }
            let log = self.current.as_mut()?;
            match log.next_entry() {
                Ok(Some(entry)) => return Some(entry),
                Ok(None) => {
                    let is_live = self.pending.is_empty() && self.live_opened;
                    if is_live && self.follow {
                        // Stay open: the tail may be a record still being written.
                        return None;
                    }
                    let last = log.finish();
                    self.current = None;
                    if last.is_some() {
                        return last;
                    }
                }
                Err(e) => {
                    log.warn_read_error(&e);
                    self.current = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(ts: &str, session: u64) -> String {
        format!(
            "{{\"ts\":\"{ts}\",\"peer\":\"10.0.0.5:1\",\"session\":{session},\"user\":\"u\",\"event\":\"upload\",\"outcome\":\"complete\"}}\n"
        )
    }

    fn gz(path: &Path, text: &str) {
        let mut enc = flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
    }

    fn sessions(source: Source) -> Vec<u64> {
        source.map(|e| e.record.session.unwrap()).collect()
    }

    #[test]
    fn rotated_files_are_listed_oldest_first_preferring_plain_over_gz() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "upload_file.log",
            "upload_file.log.1",
            "upload_file.log.2.gz",
            "upload_file.log.10.gz",
            "upload_file.log.3",
            "upload_file.log.3.gz",
            "upload_file.log.x",
            "upload_file.log.1.bak",
            "download_file.log.4",
        ] {
            File::create(dir.path().join(name)).unwrap();
        }
        let names: Vec<String> = rotated_files(dir.path(), Kind::Uploads)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["upload_file.log.10.gz", "upload_file.log.3", "upload_file.log.2.gz", "upload_file.log.1"]);
    }

    #[test]
    fn a_source_reads_gz_then_plain_rotations_then_the_live_file() {
        let dir = tempfile::tempdir().unwrap();
        gz(
            &dir.path().join("upload_file.log.2.gz"),
            &(line("2026-11-20T00:00:00Z", 1) + &line("2026-11-20T00:00:01Z", 2)),
        );
        std::fs::write(dir.path().join("upload_file.log.1"), line("2026-11-21T00:00:00Z", 3)).unwrap();
        std::fs::write(dir.path().join("upload_file.log"), line("2026-11-22T00:00:00Z", 4)).unwrap();
        assert_eq!(sessions(Source::new(dir.path(), Kind::Uploads, false).unwrap()), [1, 2, 3, 4]);
    }

    #[test]
    fn bad_lines_and_a_torn_tail_are_skipped_and_good_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "garbage\n{}\u{0}\n{}{{\"ts\":\"2026-11-22T00:00:02Z\",\"pe",
            line("2026-11-22T00:00:00Z", 1).trim_end(),
            line("2026-11-22T00:00:01Z", 2)
        );
        std::fs::write(dir.path().join("upload_file.log"), text).unwrap();
        // Line 2 has a NUL after the object: not JSON, skipped like garbage.
        assert_eq!(sessions(Source::new(dir.path(), Kind::Uploads, false).unwrap()), [2]);
    }

    #[test]
    fn a_corrupt_gz_is_reported_and_the_next_file_still_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("upload_file.log.2.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
        let whole = dir.path().join("upload_file.log.1.gz");
        gz(&whole, &(line("2026-11-20T00:00:00Z", 1) + &line("2026-11-20T00:00:01Z", 2)));
        let mut bytes = std::fs::read(&whole).unwrap();
        bytes.truncate(bytes.len() - 10);
        std::fs::write(&whole, bytes).unwrap();
        std::fs::write(dir.path().join("upload_file.log"), line("2026-11-22T00:00:00Z", 3)).unwrap();
        let got = sessions(Source::new(dir.path(), Kind::Uploads, false).unwrap());
        assert_eq!(got.last(), Some(&3), "{got:?}");
    }

    #[test]
    fn a_missing_live_file_is_an_empty_stream() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sessions(Source::new(dir.path(), Kind::Downloads, false).unwrap()), Vec::<u64>::new());
    }

    #[test]
    fn in_follow_mode_the_live_file_stays_open_with_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload_file.log");
        std::fs::write(&path, line("2026-11-22T00:00:00Z", 1) + "{\"ts\"").unwrap();
        let mut source = Source::new(dir.path(), Kind::Uploads, true).unwrap();
        assert_eq!(source.next().map(|e| e.record.session), Some(Some(1)));
        assert!(source.next().is_none());
        let mut live = source.into_live().unwrap();
        let rest = line("2026-11-22T00:00:01Z", 2);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&rest.as_bytes()[5..]).unwrap();
        assert_eq!(live.next_entry().unwrap().map(|e| e.record.session), Some(Some(2)));
    }
}
