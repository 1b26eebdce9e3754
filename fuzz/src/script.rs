//! The op script a session target's input decodes into.
//!
//! Decoding uses `arbitrary::Unstructured`'s plainest primitives only (one
//! byte per choice, little-endian `u16`/`u32`, byte runs), so every input
//! means something and the seeds can be written by [`Script::encode`]: a
//! round-trip test keeps the two in step.
//!
//! An input is a [`Prologue`] followed by ops until the bytes (or
//! [`MAX_OPS`]) run out. Strings are mostly picked from small dictionaries
//! of interesting user names and paths, so the fuzzer reaches real files
//! quickly, and can be arbitrary bytes too.

use arbitrary::{Result, Unstructured};

/// Ops decoded per input at most, so one input cannot run for long.
pub const MAX_OPS: usize = 256;

/// User names the `Register`, `Login` and request ops pick from. The first
/// two exist before every run (see `session`).
pub const USERS: &[&str] = &["fuzz", "tight", "newbie", "a", "Bad", "..", "x.y-z", "_", "fuzz2"];

/// Paths the request and upload ops pick from: ordinary ones, and the
/// hostile ones of PROTOCOL.md §5.1.
pub const PATHS: &[&str] = &[
    "a",
    "b",
    "a/b",
    "a/b/c",
    "f.txt",
    "a/f.txt",
    "/",
    ".",
    "..",
    "",
    "../..",
    "/a/../b",
    "a//b/",
    "a/./b",
    "/../x",
    "a/../../x",
    "../../../../etc/passwd",
    "../fuzz/x",
    "../tight/x",
    ".mioftp",
    ".mioftp/partial",
    "a/.mioftp-x",
    "x\u{0}y",
    "tab\there",
    "\u{7f}",
    "é/ü",
    "dir/",
];

/// Choices made once per input, before the ops.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prologue {
    /// Which of the two standing accounts the authed target logs in as.
    pub user: u8,
    /// Finish the login's usage scan before the first op (otherwise file
    /// requests wait until the script ticks it).
    pub scan_first: bool,
    /// How the connections still open at the end are closed.
    pub final_close: u8,
}

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The peer sends these bytes (they wait in the "socket" until read).
    Send(Vec<u8>),
    /// The peer sends these bytes this many times (for floods and
    /// back-pressure from a short input).
    Repeat { times: u16, bytes: Vec<u8> },
    /// The server reads up to this many bytes (0: all) if it wants input;
    /// with nothing left and the peer's side shut, it sees EOF.
    Read(u16),
    /// The peer reads up to this many output bytes (0: all).
    Drain(u16),
    /// The server lets a download or listing add output, if it wants to.
    Produce,
    /// The clock moves on this many milliseconds.
    Advance(u16),
    /// The clock moves on this many seconds.
    AdvanceSecs(u8),
    /// The session's timer fires, if its deadline has passed.
    Timeout,
    /// The worker pool runs every pending job (refuses them when the byte
    /// is 2 mod 4), then waiting sessions resume.
    Tick(u8),
    /// The peer shuts down its sending side.
    Eof,
    /// The connection is closed now, for a reason picked by this byte.
    Close(u8),
    /// Drive the connection like the server would, until nothing moves.
    Pump,
    /// Act on the other connection, opening it first if needed.
    Switch,
    /// Send `auth` with the right (or a wrong) HMAC of the hello challenge.
    Auth { good: bool },
    /// Register a user with the harness's password and real SCRAM keys.
    Register(Str),
    /// A whole SCRAM login (login, reply, login_proof), with the right
    /// password when `good`.
    Login { user: Str, good: bool },
    /// One request built from typed fields.
    Request(Req),
    /// A whole upload: put, read the offset, put_data, put_done.
    Upload(Upload),
}

/// A string: a dictionary entry, or raw bytes (lossily UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    Pick(u8),
    Raw(Vec<u8>),
}

/// A request with fields of the right shape (values still arbitrary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    /// Picks the op (see `session::request_header`).
    pub kind: u8,
    pub text: Str,
    pub num: u32,
    pub flag: bool,
}

/// A whole upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub path: Str,
    /// The file is `len` bytes of `pattern` repeated (zeros if it is empty).
    pub len: u16,
    pub pattern: Vec<u8>,
    pub resume: bool,
    /// If non-zero and shorter than the body: send only this much body,
    /// then drop the connection (an interrupted upload).
    pub cut: u16,
    /// Send the right SHA-256 in put_done.
    pub good_digest: bool,
}

/// A whole decoded input (used to write seeds and in tests; the targets
/// decode op by op with [`Prologue::decode`] and [`Op::decode`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub prologue: Prologue,
    pub ops: Vec<Op>,
}

const OPS: u8 = 18;

pub(crate) fn byte(u: &mut Unstructured) -> Result<u8> {
    u.arbitrary()
}

pub(crate) fn u16le(u: &mut Unstructured) -> Result<u16> {
    u.arbitrary()
}

pub(crate) fn bool1(u: &mut Unstructured) -> Result<bool> {
    u.arbitrary()
}

/// A run of at most `max_len` bytes: a `u16` length, clamped to what is left.
pub(crate) fn run(u: &mut Unstructured, max_len: usize) -> Result<Vec<u8>> {
    let want = (u16le(u)? as usize).min(max_len).min(u.len());
    Ok(u.bytes(want)?.to_vec())
}

impl Prologue {
    pub fn decode(u: &mut Unstructured) -> Result<Prologue> {
        Ok(Prologue { user: byte(u)?, scan_first: bool1(u)?, final_close: byte(u)? })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend([self.user, self.scan_first as u8, self.final_close]);
    }
}

impl Str {
    pub(crate) fn decode(u: &mut Unstructured) -> Result<Str> {
        let sel = byte(u)?;
        if sel < 0xe0 {
            return Ok(Str::Pick(sel));
        }
        let len = byte(u)? as usize;
        Ok(Str::Raw(u.bytes(len.min(u.len()))?.to_vec()))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Str::Pick(n) => {
                assert!(*n < 0xe0, "a dictionary pick must be below 0xe0");
                out.push(*n);
            }
            Str::Raw(b) => {
                out.push(0xe0);
                out.push(u8::try_from(b.len()).expect("raw strings are at most 255 bytes"));
                out.extend_from_slice(b);
            }
        }
    }

    /// The string, looking picks up in `dict`.
    pub fn resolve(&self, dict: &[&str]) -> String {
        match self {
            Str::Pick(n) => dict[*n as usize % dict.len()].to_owned(),
            Str::Raw(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    /// A dictionary pick of exactly `word`.
    pub fn word(dict: &[&str], word: &str) -> Str {
        Str::Pick(dict.iter().position(|w| *w == word).expect("word is in the dictionary") as u8)
    }
}

impl Op {
    pub fn decode(u: &mut Unstructured) -> Result<Op> {
        Ok(match byte(u)? % OPS {
            0 => Op::Send(run(u, usize::MAX)?),
            1 => Op::Read(u16le(u)?),
            2 => Op::Drain(u16le(u)?),
            3 => Op::Produce,
            4 => Op::Advance(u16le(u)?),
            5 => Op::AdvanceSecs(byte(u)?),
            6 => Op::Timeout,
            7 => Op::Tick(byte(u)?),
            8 => Op::Eof,
            9 => Op::Close(byte(u)?),
            10 => Op::Pump,
            11 => Op::Switch,
            12 => Op::Auth { good: bool1(u)? },
            13 => Op::Register(Str::decode(u)?),
            14 => Op::Login { user: Str::decode(u)?, good: bool1(u)? },
            15 => Op::Request(Req { kind: byte(u)?, text: Str::decode(u)?, num: u.arbitrary()?, flag: bool1(u)? }),
            16 => Op::Upload(Upload {
                path: Str::decode(u)?,
                resume: bool1(u)?,
                cut: u16le(u)?,
                good_digest: bool1(u)?,
                len: u16le(u)?,
                pattern: run(u, usize::MAX)?,
            }),
            _ => Op::Repeat { times: u16le(u)?, bytes: run(u, usize::MAX)? },
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let le16 = |out: &mut Vec<u8>, n: u16| out.extend(n.to_le_bytes());
        let bytes = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend(u16::try_from(b.len()).expect("runs are at most 65535 bytes").to_le_bytes());
            out.extend_from_slice(b);
        };
        match self {
            Op::Send(b) => {
                out.push(0);
                bytes(out, b);
            }
            Op::Read(n) => {
                out.push(1);
                le16(out, *n);
            }
            Op::Drain(n) => {
                out.push(2);
                le16(out, *n);
            }
            Op::Produce => out.push(3),
            Op::Advance(ms) => {
                out.push(4);
                le16(out, *ms);
            }
            Op::AdvanceSecs(s) => out.extend([5, *s]),
            Op::Timeout => out.push(6),
            Op::Tick(b) => out.extend([7, *b]),
            Op::Eof => out.push(8),
            Op::Close(r) => out.extend([9, *r]),
            Op::Pump => out.push(10),
            Op::Switch => out.push(11),
            Op::Auth { good } => out.extend([12, *good as u8]),
            Op::Register(s) => {
                out.push(13);
                s.encode(out);
            }
            Op::Login { user, good } => {
                out.push(14);
                user.encode(out);
                out.push(*good as u8);
            }
            Op::Request(r) => {
                out.extend([15, r.kind]);
                r.text.encode(out);
                out.extend(r.num.to_le_bytes());
                out.push(r.flag as u8);
            }
            Op::Upload(up) => {
                out.push(16);
                up.path.encode(out);
                out.push(up.resume as u8);
                le16(out, up.cut);
                out.push(up.good_digest as u8);
                le16(out, up.len);
                bytes(out, &up.pattern);
            }
            Op::Repeat { times, bytes: b } => {
                out.push(17);
                le16(out, *times);
                bytes(out, b);
            }
        }
    }
}

impl Upload {
    /// The file's bytes.
    pub fn content(&self) -> Vec<u8> {
        let len = usize::from(self.len);
        if self.pattern.is_empty() {
            return vec![0; len];
        }
        // Doubling copies: cheap even for a one-byte pattern.
        let mut v = self.pattern[..self.pattern.len().min(len)].to_vec();
        while v.len() < len {
            v.extend_from_within(..v.len().min(len - v.len()));
        }
        v
    }
}

impl Script {
    /// Decodes a whole input the way the targets do.
    pub fn decode(data: &[u8]) -> Script {
        let mut u = Unstructured::new(data);
        let prologue = Prologue::decode(&mut u).expect("decoding never fails: short input reads as zeros");
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < MAX_OPS {
            match Op::decode(&mut u) {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        Script { prologue, ops }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.prologue.encode(&mut out);
        for op in &self.ops {
            op.encode(&mut out);
        }
        out
    }
}
