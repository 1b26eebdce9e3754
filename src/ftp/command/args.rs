//! The argument parsers behind [`super::parse`]: plain decimals, TYPE,
//! ALLO, OPTS, and the `ls` flags LIST and NLST ignore. Each returns `None`
//! (or an error kind) for an argument it refuses; the caller turns that into
//! the reply.

use super::{DataType, Opts, ParseErrorKind};
use crate::ftp::listing::FactSet;

/// A non-negative decimal of at most 20 digits that fits a u64. No sign,
/// no spaces, no fraction: `REST -1` and `REST 10.1` are 501s.
pub(super) fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `A`, `A N`, `AN`, `I`, `L 8`, `L8`. Other type codes (E, L 7, A T, A C)
/// are 504; anything else 501.
pub(super) fn parse_type(arg: &str) -> Result<DataType, ParseErrorKind> {
    let compact: String = arg.split_ascii_whitespace().collect::<String>().to_ascii_uppercase();
    match compact.as_str() {
        "A" | "AN" => Ok(DataType::Ascii),
        "I" | "L8" => Ok(DataType::Image),
        c if ["E", "EN", "AT", "AC", "ET", "EC"].contains(&c) => {
            Err(ParseErrorKind::ParameterNotImplemented("Unsupported type."))
        }
        c if c.starts_with('L') && c.len() > 1 && c[1..].bytes().all(|b| b.is_ascii_digit()) => {
            Err(ParseErrorKind::ParameterNotImplemented("Unsupported type."))
        }
        _ => Err(ParseErrorKind::BadArgument("Unrecognized TYPE.")),
    }
}

/// `ALLO n` or `ALLO n R m` (the record size is ignored).
pub(super) fn parse_allo(arg: &str) -> Option<u64> {
    let mut words = arg.split_ascii_whitespace();
    let n = decimal(words.next()?)?;
    match (words.next(), words.next(), words.next()) {
        (None, _, _) => Some(n),
        (Some(r), Some(m), None) if r.eq_ignore_ascii_case("R") && decimal(m).is_some() => Some(n),
        _ => None,
    }
}

/// `UTF8 [ON|OFF]`, `MLST [facts]`, `HASH [algorithm]`.
pub(super) fn parse_opts(arg: &str) -> Option<Opts> {
    let (name, rest) = arg.split_once(' ').unwrap_or((arg, ""));
    if name.eq_ignore_ascii_case("UTF8") || name.eq_ignore_ascii_case("UTF-8") {
        return match rest.trim().to_ascii_uppercase().as_str() {
            "" | "ON" => Some(Opts::Utf8(true)),
            "OFF" => Some(Opts::Utf8(false)),
            _ => None,
        };
    }
    if name.eq_ignore_ascii_case("MLST") {
        return FactSet::parse_opts(rest).map(Opts::Mlst);
    }
    if name.eq_ignore_ascii_case("HASH") {
        let algo = rest.trim();
        return Some(Opts::Hash((!algo.is_empty()).then(|| algo.to_owned())));
    }
    None
}

/// Removes leading `ls` flags (`-la`, `-a -l`, `--`) from a LIST or NLST
/// argument, returning the path left, if any. As in vsftpd, a name that
/// starts with `-` cannot be listed by name alone; `LIST -- -name` or
/// `LIST ./-name` can.
pub(super) fn strip_ls_flags(arg: &str) -> Option<&str> {
    let mut rest = arg;
    loop {
        let trimmed = rest.trim_start_matches(' ');
        let (word, after) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        if word == "--" {
            rest = after;
            break;
        }
        let is_flag = word.len() > 1 && word.starts_with('-') && word[1..].bytes().all(|b| b.is_ascii_alphanumeric());
        if !is_flag {
            rest = trimmed;
            break;
        }
        rest = after;
    }
    (!rest.is_empty()).then_some(rest)
}
