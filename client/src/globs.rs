//! Wildcards in file names: `*`, `?` and `[...]` (with `[!...]`), as a shell
//! has them. Local patterns are matched against local folder listings;
//! remote patterns are matched here, by the client, against `dir` listings
//! of the folders they name: the protocol has no wildcards, so the server
//! only ever sees plain paths. Both sides share one expansion, component by
//! component (`*/notes.txt` matches in every folder), with the `glob`
//! crate's `Pattern` for each name. (Its own walker is not used: it drops
//! every hidden name even for a pattern starting with `.`, offers `..` to
//! `.*`, and panics on a name that is not UTF-8.)
//!
//! As in a shell, `*` and `?` never match a `/` or a leading `.` (a pattern
//! starting with `.` matches hidden names), and `.`/`..` are never matched.
//! A word without wildcard characters, or one naming something that exists
//! exactly as written, is taken literally, so a file called `a[1].txt` can
//! still be named. Expansions are bounded in matches and in listings.

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::paths;
use crate::tree::safe_name;
use glob::{MatchOptions, Pattern};
use mioftp_proto::messages::EntryKind;
use mioftp_proto::{ErrorCode, WireError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Most names one pattern may expand to.
pub const MAX_MATCHES: usize = 100_000;
/// Most folder listings one pattern may take.
pub const MAX_LISTINGS: usize = 10_000;

const OPTIONS: MatchOptions =
    MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };

/// Whether `word` has wildcard characters.
pub fn has_wildcards(word: &str) -> bool {
    word.contains(['*', '?', '['])
}

fn pattern(text: &str) -> Result<Pattern> {
    Pattern::new(text).map_err(|e| ClientError::Usage(format!("bad pattern \"{text}\": {}", e.msg)))
}

/// One name a pattern matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The path: the pattern's literal start, then the matched names.
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
}

/// `folder` + `/` + `name`, where an empty `folder` is the current one.
fn child(folder: &str, name: &str) -> String {
    match folder {
        "" => name.to_owned(),
        f if f.ends_with('/') => format!("{f}{name}"),
        f => format!("{f}/{name}"),
    }
}

/// Expands `word` one component at a time; `list` gives a folder's entries
/// (full paths, as [`child`] makes them), empty for a folder that is gone.
fn expand(word: &str, mut list: impl FnMut(&str) -> Result<Vec<Found>>) -> Result<Vec<Found>> {
    let parts: Vec<&str> = word.split('/').filter(|p| !p.is_empty()).collect();
    // Leading names without wildcards need no listing.
    let literal = parts.iter().take_while(|p| !has_wildcards(p)).count();
    let start = match (word.starts_with('/'), literal) {
        (true, _) => format!("/{}", parts[..literal].join("/")),
        (false, 0) => String::new(),
        (false, _) => parts[..literal].join("/"),
    };
    let mut current = vec![Found { path: start, kind: EntryKind::Dir, size: 0 }];
    let mut listings: HashMap<String, Vec<Found>> = HashMap::new();
    for part in &parts[literal..] {
        let wanted = Match::new(part)?;
        let mut next = Vec::new();
        for folder in current.iter().filter(|m| m.kind == EntryKind::Dir) {
            if !listings.contains_key(&folder.path) {
                if listings.len() == MAX_LISTINGS {
                    return Err(ClientError::Usage(format!("\"{word}\" needs more than {MAX_LISTINGS} listings")));
                }
                listings.insert(folder.path.clone(), list(&folder.path)?);
            }
            for entry in &listings[&folder.path] {
                if wanted.matches(paths::base_name(&entry.path).unwrap_or_default()) {
                    if next.len() == MAX_MATCHES {
                        return Err(ClientError::Usage(format!("\"{word}\" matches more than {MAX_MATCHES} names")));
                    }
                    next.push(entry.clone());
                }
            }
        }
        current = next;
    }
    if literal == parts.len() {
        // Nothing to expand: not a pattern after all.
        current.clear();
    }
    current.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(current)
}

/// The local paths `word` names: itself if it has no wildcards or exists as
/// written, otherwise every match, sorted. No match is an error.
pub fn local(word: &str) -> Result<Vec<PathBuf>> {
    if !has_wildcards(word) || Path::new(word).symlink_metadata().is_ok() {
        return Ok(vec![PathBuf::from(word)]);
    }
    let found = expand(word, |folder| {
        let dir = if folder.is_empty() { Path::new(".") } else { Path::new(folder) };
        // A folder that cannot be read holds no matches we could copy
        // anyway: passed over, as a shell does.
        let Ok(items) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
        let mut entries = Vec::new();
        for item in items.flatten() {
            // A name that is not UTF-8 cannot be matched (or sent).
            let Ok(name) = item.file_name().into_string() else { continue };
            // Followed, as a shell does, so `*/x` looks inside linked folders.
            let Ok(meta) = std::fs::metadata(item.path()) else { continue };
            let kind = if meta.is_dir() { EntryKind::Dir } else { EntryKind::File };
            entries.push(Found { path: child(folder, &name), kind, size: meta.len() });
        }
        Ok(entries)
    })?;
    if found.is_empty() {
        return Err(ClientError::Usage(format!("no local file matches \"{word}\"")));
    }
    Ok(found.into_iter().map(|f| PathBuf::from(f.path)).collect())
}

impl Client {
    /// The remote paths (absolute) `word` matches, relative to the remote
    /// current folder or absolute, sorted. No match is a `not_found` refusal,
    /// as for a missing file.
    pub fn remote_glob(&mut self, word: &str) -> Result<Vec<Found>> {
        let abs = paths::resolve(&self.cwd, word)
            .ok_or_else(|| ClientError::Usage(format!("\"{word}\" is not a path inside your home")))?;
        let found = expand(&abs, |folder| match self.dir(Some(folder)) {
            Ok(listing) => Ok(listing
                .entries
                .into_iter()
                // A hostile listing's "../x" must not become a path.
                .filter(|e| safe_name(&e.name))
                .map(|e| Found { path: child(folder, &e.name), kind: e.kind, size: e.size })
                .collect()),
            Err(e) if matches!(e.code(), Some(ErrorCode::NotFound | ErrorCode::NotADirectory)) => Ok(Vec::new()),
            Err(e) => Err(e),
        })?;
        if found.is_empty() {
            return Err(ClientError::Server(WireError::new(
                ErrorCode::NotFound,
                format!("no remote file matches \"{word}\""),
            )));
        }
        Ok(found)
    }
}

/// One path component of a pattern: a plain name or a pattern.
enum Match {
    Exact(String),
    Pattern(String, Pattern),
}

impl Match {
    fn new(part: &str) -> Result<Match> {
        if has_wildcards(part) {
            Ok(Match::Pattern(part.to_owned(), pattern(part)?))
        } else {
            Ok(Match::Exact(part.to_owned()))
        }
    }

    /// An exact name matches itself, even one with wildcard characters;
    /// `.` and `..` match nothing.
    fn matches(&self, name: &str) -> bool {
        match self {
            _ if matches!(name, "." | "..") => false,
            Match::Exact(want) => want == name,
            Match::Pattern(text, p) => text == name || p.matches_with(name, OPTIONS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_characters_are_star_question_mark_and_brackets() {
        for w in ["*.pdf", "a?c", "[ab].txt", "dir/*/x"] {
            assert!(has_wildcards(w), "{w}");
        }
        for w in ["plain.txt", "dir/sub", "a-b_c~"] {
            assert!(!has_wildcards(w), "{w}");
        }
    }

    #[test]
    fn components_match_like_a_shell() {
        let m = Match::new("*.txt").unwrap();
        assert!(m.matches("a.txt") && !m.matches(".hidden.txt") && !m.matches("a.txt.bak"));
        assert!(Match::new(".*").unwrap().matches(".hidden"));
        let m = Match::new("[ab]?.bin").unwrap();
        assert!(m.matches("a1.bin") && m.matches("bz.bin") && !m.matches("c1.bin") && !m.matches("a12.bin"));
        assert!(Match::new("[!a]*").unwrap().matches("b") && !Match::new("[!a]*").unwrap().matches("a"));
        // A name that really has wildcard characters matches itself.
        assert!(Match::new("a[1].txt").unwrap().matches("a[1].txt"));
        assert!(matches!(Match::new("[oops"), Err(ClientError::Usage(_))));
    }

    #[test]
    fn local_patterns_expand_sorted_and_literal_names_win() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.txt", "a.txt", "c.bin", ".h.txt", "x[1].txt"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let at = |p: &str| format!("{}/{p}", dir.path().display());
        let names = |p: &str| -> Vec<String> {
            local(&at(p)).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
        };
        assert_eq!(names("*.txt"), ["a.txt", "b.txt", "x[1].txt"]);
        assert_eq!(names("?.*"), ["a.txt", "b.txt", "c.bin"]);
        assert_eq!(names(".*.txt"), [".h.txt"]);
        assert_eq!(names("x[1].txt"), ["x[1].txt"]);
        assert_eq!(names(".*"), [".h.txt"], "never . or ..");
        assert_eq!(names("plain-missing"), ["plain-missing"], "no wildcard: the command reports it missing");
        let err = local(&at("*.pdf")).unwrap_err().to_string();
        assert!(err.starts_with("no local file matches") && err.ends_with("*.pdf\""), "{err}");
    }

    #[test]
    fn every_component_may_be_a_pattern_and_literal_starts_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["2025", "2026", "notes"] {
            std::fs::create_dir_all(dir.path().join("docs").join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("docs/2025/a.pdf"), b"a").unwrap();
        std::fs::write(dir.path().join("docs/2026/b.pdf"), b"b").unwrap();
        std::fs::write(dir.path().join("docs/2026/c.txt"), b"c").unwrap();
        let base = dir.path().display().to_string();
        let mut listed = Vec::new();
        let found = expand(&format!("{base}/docs/20*/*.pdf"), |folder| {
            listed.push(folder.to_owned());
            let mut v = Vec::new();
            for item in std::fs::read_dir(folder).unwrap() {
                let item = item.unwrap();
                let kind = if item.file_type().unwrap().is_dir() { EntryKind::Dir } else { EntryKind::File };
                v.push(Found { path: child(folder, &item.file_name().into_string().unwrap()), kind, size: 1 });
            }
            Ok(v)
        })
        .unwrap();
        let paths: Vec<&str> = found.iter().map(|f| f.path.strip_prefix(&base).unwrap()).collect();
        assert_eq!(paths, ["/docs/2025/a.pdf", "/docs/2026/b.pdf"]);
        listed.sort();
        assert_eq!(listed, [format!("{base}/docs"), format!("{base}/docs/2025"), format!("{base}/docs/2026")]);
        assert_eq!(child("", "a"), "a");
        assert_eq!(child("/", "a"), "/a");
        assert_eq!(child("x/y", "a"), "x/y/a");
    }
}
