//! Text that came from a peer (a user name, a path, a server's message) made
//! safe to show on a terminal.
//!
//! A terminal acts on some characters instead of showing them: C0 controls
//! and DEL (ESC starts sequences that set the window title, paint, move the
//! cursor, or on some terminals write files), C1 controls (U+0080 to U+009F;
//! U+009B is a one-character CSI for terminals that honour 8-bit controls),
//! and the Unicode bidirectional controls, which reorder what follows them so
//! that `evil\u{202e}txt.exe` reads as `evilexe.txt`. [`escape`] writes each
//! of these visibly (`\x1b`, `\u{202e}`) and leaves every other character
//! alone. It is for display only: machine output (`--json`) keeps the exact
//! text. Pure, no allocation when there is nothing to escape.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a terminal could act on `c` rather than show it: C0, DEL, C1, or
/// a bidirectional control (U+061C, U+200E, U+200F, U+202A to U+202E,
/// U+2066 to U+2069). The server refuses these in paths (§5.1).
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every [`is_unsafe`] character written visibly: `\n`, `\r` and
/// `\t` by name, other ASCII controls as `\x1b`, the rest as `\u{202e}`.
/// A backslash is left as it is, so the result is for people to read, not
/// for programs to parse back.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if !is_unsafe(c) => out.push(c),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_are_written_visibly() {
        assert_eq!(escape("\x1b]0;pwned\x07\x1b[31mRED\x1b[0m"), r"\x1b]0;pwned\x07\x1b[31mRED\x1b[0m");
        assert_eq!(escape("a\nb\rc\td\0e\x7f"), r"a\nb\rc\td\x00e\x7f");
        assert_eq!(escape("\u{9b}31m\u{85}"), r"\u{9b}31m\u{85}");
    }

    #[test]
    fn every_bidirectional_control_is_escaped() {
        let bidi = ['\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'];
        let isolates = ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'];
        for c in bidi.into_iter().chain(isolates) {
            let shown = escape(&format!("x{c}y")).into_owned();
            assert_eq!(shown, format!("x\\u{{{:x}}}y", u32::from(c)));
            assert!(is_unsafe(c));
        }
        assert_eq!(escape("evil\u{202e}txt.exe"), r"evil\u{202e}txt.exe");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in ["alice", "café ☕ 日本", "a\\x1b", "emoji 👩‍👩‍👧 with joiners", "\u{a0}nbsp", ""] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text), "{text:?}");
        }
        // The neighbours of the refused ranges pass.
        for c in [' ', '~', '\u{a0}', '\u{200d}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}'] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }
}
