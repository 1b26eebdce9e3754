//! Parsing of one control line into a typed [`Command`], pure.
//!
//! A line is `VERB` or `VERB SP argument`. The verb is matched without
//! regard to ASCII case, X-aliases included ([`Verb::lookup`]). Path
//! arguments are kept byte for byte (a file name may start or end with
//! spaces); other arguments are trimmed. Errors say which reply they need:
//! 500 for an unknown verb, 501 for a missing, unexpected or malformed
//! argument, 502 for a known verb we do not implement, 504 for a parameter
//! we do not implement (`TYPE E`, `MODE B`), 522 for an unsupported network
//! protocol (`EPRT |3|..`, `EPSV 3`).
//!
//! Order of checks, as pyftpdlib has it: unknown verb (500), then the
//! presence or absence of an argument (501), and only then the login check
//! (530), which the session makes with [`Command::needs_login`] or, for a
//! refused line, [`ParseError::verb`].

use super::addr::{self, AddrError};
use super::listing::FactSet;
use super::reply::Reply;
pub use super::verb::{Arity, Verb};
use args::{decimal, parse_allo, parse_opts, parse_type, strip_ls_flags};
use std::net::SocketAddr;

/// TYPE: both are served as binary (docs/FTP.md says why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Ascii,
    Image,
}

/// EPSV's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: the control connection's protocol.
    Any,
    /// `EPSV 1` (IPv4) or `EPSV 2` (IPv6).
    Family(u8),
    /// `EPSV ALL`: from now on refuse PASV, PORT and EPRT (RFC 2428 §4).
    All,
}

/// The OPTS this server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opts {
    /// `OPTS UTF8 ON|OFF` (no word means ON). We are always UTF-8.
    Utf8(bool),
    /// `OPTS MLST fact;fact;`: the facts MLSD and MLST give from now on.
    Mlst(FactSet),
    /// `OPTS HASH [algorithm]`: query or select the HASH algorithm. Only
    /// SHA-256 exists; the session answers 501 for any other.
    Hash(Option<String>),
}

/// AUTH mechanisms (RFC 4217 §4): `TLS` (also `TLS-C`) and the old `SSL` (also `TLS-P`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Tls,
    Ssl,
}

/// PROT levels (RFC 2228). Only Clear and Private make sense with TLS; the
/// session answers 536 to Safe and Confidential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtLevel {
    Clear,
    Safe,
    Confidential,
    Private,
}

/// A parsed command. Path arguments are raw (not yet confined or checked);
/// the session resolves them through the same path rules as the native
/// protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    /// The password; may be empty.
    Pass(String),
    Quit,
    Noop,
    Syst,
    Feat,
    Opts(Opts),
    Help(Option<Verb>),
    Pwd,
    /// No argument: go to the home (`/`), as pyftpdlib does.
    Cwd(Option<String>),
    Cdup,
    Type(DataType),
    /// `MODE S`, the only mode.
    ModeStream,
    /// `STRU F`, the only structure.
    StruFile,
    /// Bytes to reserve for the next upload.
    Allo(u64),
    Pasv,
    Epsv(EpsvArg),
    Port(SocketAddr),
    Eprt(SocketAddr),
    /// The path, `ls`-style flags removed.
    List(Option<String>),
    Nlst(Option<String>),
    Mlsd(Option<String>),
    Mlst(Option<String>),
    Retr(String),
    Stor(String),
    Appe(String),
    Rest(u64),
    Size(String),
    Mdtm(String),
    Dele(String),
    Mkd(String),
    Rmd(String),
    Rnfr(String),
    Rnto(String),
    Abor,
    Stat(Option<String>),
    Hash(String),
    Auth(AuthMechanism),
    Pbsz(u64),
    Prot(ProtLevel),
    Ccc,
}

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// 500: not a verb we know.
    UnknownCommand,
    /// 501: the verb needs an argument.
    MissingArgument,
    /// 501: the verb takes no argument.
    UnexpectedArgument,
    /// 501: the argument is malformed; the text says how.
    BadArgument(&'static str),
    /// 502: a verb we know but do not implement.
    NotImplemented,
    /// 504: a parameter value we do not implement; the text says which.
    ParameterNotImplemented(&'static str),
    /// 522: EPRT or EPSV with a network protocol other than 1 or 2.
    ProtocolNotSupported,
}

/// A refused line: what is wrong, and the verb if it was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub verb: Option<Verb>,
}

impl ParseError {
    fn new(kind: ParseErrorKind, verb: Verb) -> ParseError {
        ParseError { kind, verb: Some(verb) }
    }

    /// The reply code: 500, 501, 502, 504 or 522.
    pub fn code(&self) -> u16 {
        match self.kind {
            ParseErrorKind::UnknownCommand => 500,
            ParseErrorKind::MissingArgument | ParseErrorKind::UnexpectedArgument | ParseErrorKind::BadArgument(_) => {
                501
            }
            ParseErrorKind::NotImplemented => 502,
            ParseErrorKind::ParameterNotImplemented(_) => 504,
            ParseErrorKind::ProtocolNotSupported => 522,
        }
    }

    /// Whether the refusal is about the line's shape (500, or 501 for a
    /// missing or unexpected argument), which is answered before the login
    /// check; any other refusal of a verb that needs login is answered 530
    /// before login.
    pub fn precedes_login_check(&self) -> bool {
        matches!(
            self.kind,
            ParseErrorKind::UnknownCommand | ParseErrorKind::MissingArgument | ParseErrorKind::UnexpectedArgument
        )
    }

    /// The reply to send.
    pub fn reply(&self) -> Reply {
        let text = match self.kind {
            ParseErrorKind::UnknownCommand => "Command not understood.",
            ParseErrorKind::MissingArgument => "Syntax error: command needs an argument.",
            ParseErrorKind::UnexpectedArgument => "Syntax error: command does not accept arguments.",
            ParseErrorKind::BadArgument(why) => why,
            ParseErrorKind::NotImplemented => "Command not implemented.",
            ParseErrorKind::ParameterNotImplemented(why) => why,
            ParseErrorKind::ProtocolNotSupported => "Network protocol not supported, use (1,2)",
        };
        Reply::new(self.code(), text)
    }
}

impl Command {
    /// The verb this command was given as.
    pub fn verb(&self) -> Verb {
        use Command::*;
        match self {
            User(_) => Verb::User,
            Pass(_) => Verb::Pass,
            Quit => Verb::Quit,
            Noop => Verb::Noop,
            Syst => Verb::Syst,
            Feat => Verb::Feat,
            Opts(_) => Verb::Opts,
            Help(_) => Verb::Help,
            Pwd => Verb::Pwd,
            Cwd(_) => Verb::Cwd,
            Cdup => Verb::Cdup,
            Type(_) => Verb::Type,
            ModeStream => Verb::Mode,
            StruFile => Verb::Stru,
            Allo(_) => Verb::Allo,
            Pasv => Verb::Pasv,
            Epsv(_) => Verb::Epsv,
            Port(_) => Verb::Port,
            Eprt(_) => Verb::Eprt,
            List(_) => Verb::List,
            Nlst(_) => Verb::Nlst,
            Mlsd(_) => Verb::Mlsd,
            Mlst(_) => Verb::Mlst,
            Retr(_) => Verb::Retr,
            Stor(_) => Verb::Stor,
            Appe(_) => Verb::Appe,
            Rest(_) => Verb::Rest,
            Size(_) => Verb::Size,
            Mdtm(_) => Verb::Mdtm,
            Dele(_) => Verb::Dele,
            Mkd(_) => Verb::Mkd,
            Rmd(_) => Verb::Rmd,
            Rnfr(_) => Verb::Rnfr,
            Rnto(_) => Verb::Rnto,
            Abor => Verb::Abor,
            Stat(_) => Verb::Stat,
            Hash(_) => Verb::Hash,
            Auth(_) => Verb::Auth,
            Pbsz(_) => Verb::Pbsz,
            Prot(_) => Verb::Prot,
            Ccc => Verb::Ccc,
        }
    }

    /// Whether the command needs a logged-in session (530 otherwise). STAT
    /// alone reports the session; STAT with a path is a listing.
    pub fn needs_login(&self) -> bool {
        match self {
            Command::Stat(arg) => arg.is_some(),
            c => c.verb().needs_login(),
        }
    }
}

/// Splits `VERB[ SP arg]`. An empty argument (`"PASS "`) counts as absent.
fn split(line: &str) -> (&str, Option<&str>) {
    match line.split_once(' ') {
        Some((verb, arg)) if !arg.is_empty() => (verb, Some(arg)),
        Some((verb, _)) => (verb, None),
        None => (line, None),
    }
}

/// Finds the verb. As pyftpdlib does, a word ending in ABOR, STAT or QUIT
/// after bytes that are not letters is taken as that verb: the leftovers
/// of a Telnet synch some clients send in band.
fn find_verb(word: &str) -> Option<Verb> {
    if let Some(v) = Verb::lookup(word) {
        return Some(v);
    }
    let n = word.len();
    if n > 4 && word.is_char_boundary(n - 4) {
        let (junk, tail) = word.split_at(n - 4);
        if !junk.chars().any(|c| c.is_ascii_alphabetic()) {
            return Verb::lookup(tail).filter(|v| matches!(v, Verb::Abor | Verb::Stat | Verb::Quit));
        }
    }
    None
}

/// Parses one control line (as the line decoder gives it, without CRLF).
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let (word, arg) = split(line);
    let verb = find_verb(word).ok_or(ParseError { kind: ParseErrorKind::UnknownCommand, verb: None })?;
    let err = |kind| ParseError::new(kind, verb);
    match (verb.arity(), arg) {
        (Arity::Required, None) => return Err(err(ParseErrorKind::MissingArgument)),
        (Arity::None, Some(_)) => return Err(err(ParseErrorKind::UnexpectedArgument)),
        _ => {}
    }
    if !verb.supported() {
        return Err(err(ParseErrorKind::NotImplemented));
    }
    let path = || arg.unwrap_or_default().to_owned();
    let opt_path = || arg.map(str::to_owned);
    let bad = |why| err(ParseErrorKind::BadArgument(why));
    let word_arg = arg.unwrap_or_default().trim();
    Ok(match verb {
        Verb::User => Command::User(path()),
        Verb::Pass => Command::Pass(path()),
        Verb::Quit => Command::Quit,
        Verb::Noop => Command::Noop,
        Verb::Syst => Command::Syst,
        Verb::Feat => Command::Feat,
        Verb::Opts => Command::Opts(parse_opts(word_arg).ok_or_else(|| bad("Unsupported option or bad argument."))?),
        Verb::Help => match arg {
            None => Command::Help(None),
            Some(a) => Command::Help(Some(Verb::lookup(a.trim()).ok_or_else(|| bad("Unrecognized command."))?)),
        },
        Verb::Pwd => Command::Pwd,
        Verb::Cwd => Command::Cwd(opt_path()),
        Verb::Cdup => Command::Cdup,
        Verb::Type => Command::Type(parse_type(word_arg).map_err(err)?),
        Verb::Mode => match word_arg.to_ascii_uppercase().as_str() {
            "S" => Command::ModeStream,
            "B" | "C" => return Err(err(ParseErrorKind::ParameterNotImplemented("Unimplemented MODE type."))),
            _ => return Err(bad("Unrecognized MODE type.")),
        },
        Verb::Stru => match word_arg.to_ascii_uppercase().as_str() {
            "F" => Command::StruFile,
            "R" | "P" => return Err(err(ParseErrorKind::ParameterNotImplemented("Unimplemented STRU type."))),
            _ => return Err(bad("Unrecognized STRU type.")),
        },
        Verb::Allo => Command::Allo(parse_allo(word_arg).ok_or_else(|| bad("Invalid ALLO parameter."))?),
        Verb::Pasv => Command::Pasv,
        Verb::Epsv => Command::Epsv(match word_arg {
            "" => EpsvArg::Any,
            "1" => EpsvArg::Family(1),
            "2" => EpsvArg::Family(2),
            a if a.eq_ignore_ascii_case("ALL") => EpsvArg::All,
            a if decimal(a).is_some() => return Err(err(ParseErrorKind::ProtocolNotSupported)),
            _ => return Err(bad("Invalid EPSV argument.")),
        }),
        Verb::Port => Command::Port(addr::parse_port(word_arg).map_err(|_| bad("Invalid PORT format."))?.into()),
        Verb::Eprt => Command::Eprt(addr::parse_eprt(word_arg).map_err(|e| match e {
            AddrError::Syntax => bad("Invalid EPRT format."),
            AddrError::UnsupportedFamily => err(ParseErrorKind::ProtocolNotSupported),
        })?),
        Verb::List => Command::List(arg.and_then(strip_ls_flags).map(str::to_owned)),
        Verb::Nlst => Command::Nlst(arg.and_then(strip_ls_flags).map(str::to_owned)),
        Verb::Mlsd => Command::Mlsd(opt_path()),
        Verb::Mlst => Command::Mlst(opt_path()),
        Verb::Retr => Command::Retr(path()),
        Verb::Stor => Command::Stor(path()),
        Verb::Appe => Command::Appe(path()),
        Verb::Rest => {
            Command::Rest(decimal(word_arg).ok_or_else(|| bad("Invalid parameter: REST takes a byte offset."))?)
        }
        Verb::Size => Command::Size(path()),
        Verb::Mdtm => Command::Mdtm(path()),
        Verb::Dele => Command::Dele(path()),
        Verb::Mkd => Command::Mkd(path()),
        Verb::Rmd => Command::Rmd(path()),
        Verb::Rnfr => Command::Rnfr(path()),
        Verb::Rnto => Command::Rnto(path()),
        Verb::Abor => Command::Abor,
        Verb::Stat => Command::Stat(opt_path()),
        Verb::Hash => Command::Hash(path()),
        Verb::Auth => Command::Auth(match word_arg.to_ascii_uppercase().as_str() {
            "TLS" | "TLS-C" => AuthMechanism::Tls,
            "SSL" | "TLS-P" => AuthMechanism::Ssl,
            _ => return Err(err(ParseErrorKind::ParameterNotImplemented("AUTH type not supported."))),
        }),
        Verb::Pbsz => Command::Pbsz(decimal(word_arg).ok_or_else(|| bad("Invalid PBSZ parameter."))?),
        Verb::Prot => Command::Prot(match word_arg.to_ascii_uppercase().as_str() {
            "C" => ProtLevel::Clear,
            "S" => ProtLevel::Safe,
            "E" => ProtLevel::Confidential,
            "P" => ProtLevel::Private,
            _ => return Err(err(ParseErrorKind::ParameterNotImplemented("PROT level not recognized."))),
        }),
        Verb::Ccc => Command::Ccc,
        Verb::Acct | Verb::Rein | Verb::Smnt | Verb::Stou | Verb::Site => {
            unreachable!("unsupported verbs were refused above")
        }
    })
}

mod args;

#[cfg(test)]
mod tests;
