//! Virtual paths: the names a client uses for things in its home, checked
//! and normalised before anything touches the disk.
//!
//! A [`VPath`] is a list of validated names; `/` (no names) is the user's
//! home. [`VPath::resolve`] is pure and lexical (protocol §5.1): `.` and `..`
//! are applied by name, repeated and trailing `/` vanish, and every limit is
//! checked here so that the filesystem code below only ever sees a relative
//! path of plain names. Symbolic links are *not* this module's business; they
//! are resolved beneath the home's directory handle by cap-std (see
//! [`super`]).

use super::{MAX_DEPTH, MAX_NAME_BYTES, MAX_PATH_BYTES, RESERVED_PREFIX};
use std::fmt;
use std::path::PathBuf;

/// A path that cannot be used, found before touching the disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Malformed: empty, too long, too deep, a control character (C0, DEL, C1
    /// or bidirectional), a reserved name.
    #[error("{0}")]
    Invalid(String),
    /// `..` would climb above the home.
    #[error("{0}")]
    Escape(String),
}

/// A validated, normalised virtual path ("/" is the user's home).
///
/// Invariants (kept by every constructor): at most [`MAX_DEPTH`] names, each
/// non-empty, not `.` or `..`, without `/` or control characters, at most
/// [`MAX_NAME_BYTES`] bytes, not starting with [`RESERVED_PREFIX`]; and the
/// displayed form is at most [`MAX_PATH_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VPath {
    names: Vec<String>,
}

/// The characters §5.1 refuses: C0 controls and DEL, C1 controls, and the
/// bidirectional controls (U+202E makes `evil\u{202e}txt.exe` read as
/// `evilexe.txt`). The same set that display escapes, so no name the server
/// creates needs escaping to be shown truthfully.
fn is_refused_control(c: char) -> bool {
    crate::protocol::display::is_unsafe(c)
}

/// Whether a name (as bytes, so it also works for names read from disk) is
/// reserved for the server's own bookkeeping.
pub(crate) fn is_reserved(name: &[u8]) -> bool {
    name.starts_with(RESERVED_PREFIX.as_bytes())
}

/// Checks one name that is neither `.` nor `..` nor empty.
fn check_name(name: &str) -> Result<(), PathError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(PathError::Invalid(format!(
            "a name in the path is {} bytes long; the limit is {MAX_NAME_BYTES} bytes",
            name.len()
        )));
    }
    if is_reserved(name.as_bytes()) {
        return Err(PathError::Invalid(format!(
            "names starting with \"{RESERVED_PREFIX}\" are reserved for the server"
        )));
    }
    Ok(())
}

impl VPath {
    /// The home itself, `/`.
    pub fn root() -> VPath {
        VPath { names: Vec::new() }
    }

    /// Resolves `input` against `cwd`, purely lexically (protocol §5.1).
    ///
    /// `"/x"` is absolute, anything else relative to `cwd`; `.` and `..` are
    /// applied by name; repeated and trailing `/` are ignored. Every name the
    /// input spells is checked, even one a later `..` takes away again, so
    /// `"/.mioftp/.."` is refused like `"/.mioftp"`. Depth and length are
    /// checked on the result.
    pub fn resolve(cwd: &VPath, input: &str) -> Result<VPath, PathError> {
        if input.is_empty() {
            return Err(PathError::Invalid("the path is empty".to_owned()));
        }
        if input.len() > MAX_PATH_BYTES {
            return Err(PathError::Invalid(format!(
                "the path is {} bytes long; the limit is {MAX_PATH_BYTES} bytes",
                input.len()
            )));
        }
        if let Some(c) = input.chars().find(|c| is_refused_control(*c)) {
            return Err(PathError::Invalid(format!(
                "the path contains a control character (U+{:04X}), which is not allowed",
                u32::from(c)
            )));
        }
        let mut names = if input.starts_with('/') { Vec::new() } else { cwd.names.clone() };
        for part in input.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if names.pop().is_none() {
                        return Err(PathError::Escape(format!("\"{input}\" goes above your home folder \"/\"")));
                    }
                }
                name => {
                    check_name(name)?;
                    names.push(name.to_owned());
                }
            }
        }
        if names.len() > MAX_DEPTH {
            return Err(PathError::Invalid(format!(
                "the path is {} names deep; the limit is {MAX_DEPTH}",
                names.len()
            )));
        }
        let resolved = VPath { names };
        // The input was bounded, but a relative input on a deep cwd can make a
        // longer result. Bounding the result too keeps replies bounded and the
        // relative host path under the kernel's PATH_MAX.
        let len = resolved.display_len();
        if len > MAX_PATH_BYTES {
            return Err(PathError::Invalid(format!(
                "the resulting path is {len} bytes long; the limit is {MAX_PATH_BYTES} bytes"
            )));
        }
        Ok(resolved)
    }

    /// Whether this is the home itself.
    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// The containing directory; `None` for the root.
    pub fn parent(&self) -> Option<VPath> {
        let (_, init) = self.names.split_last()?;
        Some(VPath { names: init.to_vec() })
    }

    /// The last name; `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.names.last().map(String::as_str)
    }

    /// Number of names below the root (0 for `/`).
    pub fn depth(&self) -> usize {
        self.names.len()
    }

    /// The names below the root, outermost first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether this path lies strictly inside `ancestor`.
    pub fn is_within(&self, ancestor: &VPath) -> bool {
        self.names.len() > ancestor.names.len() && self.names.starts_with(&ancestor.names)
    }

    /// The first `depth` names (the ancestor at that depth, or self).
    pub(crate) fn prefix(&self, depth: usize) -> VPath {
        let depth = depth.min(self.names.len());
        VPath { names: self.names[..depth].to_vec() }
    }

    /// The relative host path for cap-std calls ("." for the root).
    pub fn rel(&self) -> PathBuf {
        if self.names.is_empty() { PathBuf::from(".") } else { self.names.iter().collect() }
    }

    /// Byte length of the displayed form.
    fn display_len(&self) -> usize {
        if self.names.is_empty() { 1 } else { self.names.iter().map(|n| n.len() + 1).sum() }
    }
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return f.write_str("/");
        }
        for name in &self.names {
            write!(f, "/{name}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cwd: &str) -> VPath {
        VPath::resolve(&VPath::root(), cwd).expect("test cwd is valid")
    }

    fn ok(cwd: &str, input: &str) -> String {
        match VPath::resolve(&at(cwd), input) {
            Ok(p) => p.to_string(),
            Err(e) => panic!("{input:?} in {cwd}: unexpected {e:?}"),
        }
    }

    fn invalid(cwd: &str, input: &str) -> String {
        match VPath::resolve(&at(cwd), input) {
            Err(PathError::Invalid(m)) => m,
            other => panic!("{input:?} in {cwd}: expected Invalid, got {other:?}"),
        }
    }

    fn escape(cwd: &str, input: &str) -> String {
        match VPath::resolve(&at(cwd), input) {
            Err(PathError::Escape(m)) => m,
            other => panic!("{input:?} in {cwd}: expected Escape, got {other:?}"),
        }
    }

    #[test]
    fn resolve_normalises_relative_and_absolute_paths() {
        let table = [
            ("/", "/", "/"),
            ("/", ".", "/"),
            ("/", "a", "/a"),
            ("/", "a/b/c", "/a/b/c"),
            ("/", "/a/b", "/a/b"),
            ("/x/y", "a", "/x/y/a"),
            ("/x/y", "/a", "/a"),
            ("/x/y", ".", "/x/y"),
            ("/x/y", "./a/./b/.", "/x/y/a/b"),
            ("/x/y", "..", "/x"),
            ("/x/y", "../..", "/"),
            ("/x/y", "../z", "/x/z"),
            ("/x/y", "/a/../b", "/b"),
            ("/", "a//b", "/a/b"),
            ("/", "a///b//", "/a/b"),
            ("/", "a/b/", "/a/b"),
            ("/", "//", "/"),
            ("/", "///a", "/a"),
            ("/", "a/..", "/"),
            ("/", "...", "/..."),
            ("/", "..a/a..", "/..a/a.."),
            ("/", ".hidden", "/.hidden"),
            ("/", "with space/ünïcødé", "/with space/ünïcødé"),
            ("/", "back\\slash", "/back\\slash"),
            ("/", "mioftp", "/mioftp"),
            ("/", "x.mioftp", "/x.mioftp"),
            ("/", ".mioft", "/.mioft"),
        ];
        for (cwd, input, want) in table {
            assert_eq!(ok(cwd, input), want, "{input:?} in {cwd}");
        }
    }

    #[test]
    fn resolve_refuses_dotdot_above_root() {
        escape("/", "..");
        escape("/", "../a");
        escape("/", "/..");
        escape("/", "/a/../..");
        escape("/x/y", "../../..");
        escape("/x/y", "a/../../../..");
        escape("/x/y", "/..");
        let m = escape("/", "..");
        assert!(m.contains("above your home"), "{m}");
    }

    #[test]
    fn resolve_refuses_empty_and_control_characters() {
        assert!(invalid("/", "").contains("empty"));
        let bidi = [0x61c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
        for c in (0u32..0x20).chain(0x7f..=0x9f).chain(bidi) {
            let ch = char::from_u32(c).expect("a character");
            let m = invalid("/", &format!("a{ch}b"));
            assert!(m.contains("control character"), "{m}");
            invalid("/x", &format!("ok/{ch}"));
        }
        // The neighbours of the refused ranges are ordinary characters.
        for fine in ["a~b", "a\u{a0}b", "a\u{200d}b", "a\u{202f}b", "a\u{206a}b", "caf\u{e9}"] {
            ok("/", fine);
        }
    }

    #[test]
    fn resolve_refuses_reserved_names_anywhere() {
        for input in [
            ".mioftp",
            "/.mioftp",
            ".mioftp/x",
            "a/.mioftp",
            "a/.mioftp/b",
            ".mioftp-partial",
            ".mioftpx/..",
            "/.mioftp/..",
            "a/b/c/.mioftp.d/",
        ] {
            let m = invalid("/", input);
            assert!(m.contains("reserved"), "{input}: {m}");
        }
        invalid("/deep/dir", ".mioftp");
    }

    #[test]
    fn resolve_name_length_limit_at_its_edge() {
        let n255 = "n".repeat(255);
        let n256 = "n".repeat(256);
        assert_eq!(ok("/", &n255), format!("/{n255}"));
        assert!(invalid("/", &n256).contains("256 bytes"));
        invalid("/", &format!("a/{n256}/b"));
        // 255 bytes of multi-byte characters: 51 × (2 + 3) bytes.
        let wide = "é€".repeat(51);
        assert_eq!(wide.len(), 255);
        ok("/", &wide);
        invalid("/", &format!("{wide}x"));
    }

    #[test]
    fn resolve_depth_limit_at_its_edge() {
        let d64 = vec!["d"; 64].join("/");
        let d65 = vec!["d"; 65].join("/");
        assert_eq!(VPath::resolve(&VPath::root(), &d64).map(|p| p.depth()), Ok(64));
        assert!(invalid("/", &d65).contains("65 names deep"));
        // Depth counts the result: 65 names then ".." is 64 deep.
        ok("/", &format!("{d65}/.."));
        // Relative to a deep cwd.
        let cwd63 = format!("/{}", vec!["c"; 63].join("/"));
        ok(&cwd63, "x");
        invalid(&cwd63, "x/y");
    }

    #[test]
    fn resolve_length_limit_at_its_edge() {
        // 4096 bytes of input exactly: 16 names of 255 bytes plus 16 slashes.
        let name = "a".repeat(255);
        let exact: String = (0..16).map(|_| format!("/{name}")).collect();
        assert_eq!(exact.len(), 4096);
        let p = VPath::resolve(&VPath::root(), &exact).expect("4096 bytes is allowed");
        assert_eq!(p.to_string(), exact);
        assert!(invalid("/", &format!("{exact}/")).contains("4097 bytes"));
        // Trailing slashes count towards the input limit even though they vanish.
        let padded = format!("a{}", "/".repeat(4095));
        assert_eq!(padded.len(), 4096);
        assert_eq!(ok("/", &padded), "/a");
        invalid("/", &format!("a{}", "/".repeat(4096)));
        // A short relative input on a long cwd may not make a result over 4096.
        let cwd: String = (0..15).map(|_| format!("/{name}")).collect();
        assert_eq!(cwd.len(), 3840);
        ok(&cwd, &"b".repeat(255));
        assert!(invalid(&cwd, &format!("b/{}", "c".repeat(255))).contains("resulting path"));
    }

    #[test]
    fn accessors_and_rel() {
        let p = at("/a/b/c");
        assert!(!p.is_root());
        assert_eq!(p.depth(), 3);
        assert_eq!(p.name(), Some("c"));
        assert_eq!(p.parent(), Some(at("/a/b")));
        assert_eq!(p.prefix(1), at("/a"));
        assert_eq!(p.prefix(9), p);
        assert_eq!(p.rel(), PathBuf::from("a/b/c"));
        let r = VPath::root();
        assert!(r.is_root());
        assert_eq!(r.parent(), None);
        assert_eq!(r.name(), None);
        assert_eq!(r.depth(), 0);
        assert_eq!(r.rel(), PathBuf::from("."));
        assert_eq!(r.to_string(), "/");
        assert_eq!(at("/a").parent(), Some(VPath::root()));
    }

    #[test]
    fn reserved_check_works_on_raw_bytes() {
        assert!(is_reserved(b".mioftp"));
        assert!(is_reserved(b".mioftp\xff"));
        assert!(!is_reserved(b"mioftp"));
        assert!(!is_reserved(b".mioft"));
    }
}
