//! The op script the `ftp_session` target's input decodes into, in the
//! style of [`crate::script`] (one byte per choice, little-endian `u16`,
//! byte runs; every input means something, and [`FtpScript::encode`] writes
//! the seeds). Command lines are built from a dictionary of verbs and of
//! arguments (the session harness's paths, plus FTP's own: types, modes,
//! offsets, PORT and EPRT addresses, OPTS), or are raw bytes.

use crate::script::{PATHS, Str, bool1, byte, run, u16le};
use arbitrary::{Result, Unstructured};

/// Ops decoded per input at most.
pub const MAX_OPS: usize = 256;

/// Verbs the `Line` op picks from: every one the front end knows, some it
/// refuses, and lower case.
pub const VERBS: &[&str] = &[
    "USER", "PASS", "QUIT", "NOOP", "SYST", "FEAT", "OPTS", "HELP", "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP",
    "TYPE", "MODE", "STRU", "ALLO", "PASV", "EPSV", "PORT", "EPRT", "LIST", "NLST", "MLSD", "MLST", "RETR", "STOR",
    "APPE", "REST", "SIZE", "MDTM", "DELE", "MKD", "XMKD", "RMD", "XRMD", "RNFR", "RNTO", "ABOR", "STAT", "HASH",
    "AUTH", "PBSZ", "PROT", "CCC", "SITE", "STOU", "REIN", "ACCT", "SMNT", "BOGUS", "noop", "pwd", "stor",
];

/// Arguments beyond [`PATHS`] (which come first in the numbering).
pub const EXTRA_ARGS: &[&str] = &[
    "fuzz",
    "tight",
    "pencil-pencil",
    "wrong",
    "A",
    "I",
    "A N",
    "L 8",
    "E",
    "S",
    "B",
    "F",
    "R",
    "0",
    "1",
    "7",
    "65536",
    "18446744073709551615",
    "-1",
    "ALL",
    "2",
    "127,0,0,1,4,1",
    "127,0,0,1,0,21",
    "10,0,0,1,4,1",
    "|1|127.0.0.1|1025|",
    "|2|::1|1025|",
    "|1|10.0.0.1|1025|",
    "UTF8 ON",
    "UTF8 OFF",
    "MLST type;size;",
    "HASH SHA-256",
    "HASH MD5",
    "-la",
    "-la a",
    "TLS",
];

/// An argument: a dictionary pick (over [`PATHS`] then [`EXTRA_ARGS`]) or raw bytes.
pub fn arg(s: &Str) -> String {
    match s {
        Str::Pick(n) => {
            let i = usize::from(*n) % (PATHS.len() + EXTRA_ARGS.len());
            PATHS.get(i).copied().unwrap_or_else(|| EXTRA_ARGS[i - PATHS.len()]).to_owned()
        }
        Str::Raw(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// The pick of exactly `word` (for seeds).
pub fn arg_word(word: &str) -> Str {
    let i = PATHS.iter().chain(EXTRA_ARGS).position(|w| *w == word).expect("word is in the dictionary");
    Str::Pick(i as u8)
}

/// Choices made once per input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FtpPrologue {
    /// Logged in before the ops as `fuzz` (0), `tight` (1), or not (2+).
    pub user: u8,
    /// Bit 0: active mode on; bit 1: the credential cache off.
    pub flags: u8,
    /// How the connections still open at the end are closed.
    pub final_close: u8,
}

/// One step of an FTP script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FtpOp {
    /// Raw bytes on the control connection.
    Send(Vec<u8>),
    /// `VERB[ arg]\r\n`.
    Line {
        verb: u8,
        arg: Option<Str>,
    },
    /// The server reads the control connection (at most this many bytes; 0: all).
    Read(u16),
    /// The client reads this many control bytes (0: all).
    Drain(u16),
    Advance(u16),
    AdvanceSecs(u8),
    /// Timers that are due fire (the session's, and data-connection deadlines).
    Timeout,
    /// The pool runs the job asked for (or refuses it: `b % 4 == 2`).
    Job(u8),
    /// The client shuts its control side.
    Eof,
    Close(u8),
    /// Drive like the server until nothing moves.
    Pump,
    /// The other connection (opened first if needed).
    Switch,
    /// USER + PASS (the right password if `good`), as `fuzz`, `tight` or a missing user.
    Login {
        user: u8,
        good: bool,
    },
    /// The data connection the session asked for arrives (or completes).
    DataOpen,
    /// It fails (a reset, or a connect refused).
    DataFail,
    /// Bytes from the client on the data connection.
    DataSend(Vec<u8>),
    /// The client ends its data connection.
    DataEof,
    /// The server reads the data connection (at most this many bytes; 0: all).
    DataRead(u16),
    /// The client reads this many data bytes (0: all).
    DataDrain(u16),
    /// EPSV, then STOR (`how % 3 == 0`), APPE (1) or REST of what the
    /// partial holds + STOR (2), the data, and its end (or a reset after
    /// `cut` bytes).
    Upload {
        path: Str,
        how: u8,
        cut: u16,
        len: u16,
        pattern: Vec<u8>,
    },
    /// PASV, REST `rest` (if non-zero), RETR, and the data read to its end.
    Download {
        path: Str,
        rest: u16,
    },
    /// The server begins to shut down.
    Shutdown,
    /// These control bytes this many times (a flood from a short input).
    Repeat {
        times: u16,
        bytes: Vec<u8>,
    },
}

/// A whole decoded input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FtpScript {
    pub prologue: FtpPrologue,
    pub ops: Vec<FtpOp>,
}

const OPS: u8 = 23;

impl FtpOp {
    pub fn decode(u: &mut Unstructured) -> Result<FtpOp> {
        Ok(match byte(u)? % OPS {
            0 => FtpOp::Send(run(u, usize::MAX)?),
            1 => {
                let verb = byte(u)?;
                let arg = if bool1(u)? { Some(Str::decode(u)?) } else { None };
                FtpOp::Line { verb, arg }
            }
            2 => FtpOp::Read(u16le(u)?),
            3 => FtpOp::Drain(u16le(u)?),
            4 => FtpOp::Advance(u16le(u)?),
            5 => FtpOp::AdvanceSecs(byte(u)?),
            6 => FtpOp::Timeout,
            7 => FtpOp::Job(byte(u)?),
            8 => FtpOp::Eof,
            9 => FtpOp::Close(byte(u)?),
            10 => FtpOp::Pump,
            11 => FtpOp::Switch,
            12 => FtpOp::Login { user: byte(u)?, good: bool1(u)? },
            13 => FtpOp::DataOpen,
            14 => FtpOp::DataFail,
            15 => FtpOp::DataSend(run(u, usize::MAX)?),
            16 => FtpOp::DataEof,
            17 => FtpOp::DataRead(u16le(u)?),
            18 => FtpOp::DataDrain(u16le(u)?),
            19 => FtpOp::Upload {
                path: Str::decode(u)?,
                how: byte(u)?,
                cut: u16le(u)?,
                len: u16le(u)?,
                pattern: run(u, usize::MAX)?,
            },
            20 => FtpOp::Download { path: Str::decode(u)?, rest: u16le(u)? },
            21 => FtpOp::Shutdown,
            _ => FtpOp::Repeat { times: u16le(u)?, bytes: run(u, usize::MAX)? },
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let le16 = |out: &mut Vec<u8>, n: u16| out.extend(n.to_le_bytes());
        let bytes = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend(u16::try_from(b.len()).expect("runs are at most 65535 bytes").to_le_bytes());
            out.extend_from_slice(b);
        };
        match self {
            FtpOp::Send(b) => {
                out.push(0);
                bytes(out, b);
            }
            FtpOp::Line { verb, arg } => {
                out.extend([1, *verb, arg.is_some() as u8]);
                if let Some(a) = arg {
                    a.encode(out);
                }
            }
            FtpOp::Read(n) => {
                out.push(2);
                le16(out, *n);
            }
            FtpOp::Drain(n) => {
                out.push(3);
                le16(out, *n);
            }
            FtpOp::Advance(ms) => {
                out.push(4);
                le16(out, *ms);
            }
            FtpOp::AdvanceSecs(s) => out.extend([5, *s]),
            FtpOp::Timeout => out.push(6),
            FtpOp::Job(b) => out.extend([7, *b]),
            FtpOp::Eof => out.push(8),
            FtpOp::Close(r) => out.extend([9, *r]),
            FtpOp::Pump => out.push(10),
            FtpOp::Switch => out.push(11),
            FtpOp::Login { user, good } => out.extend([12, *user, *good as u8]),
            FtpOp::DataOpen => out.push(13),
            FtpOp::DataFail => out.push(14),
            FtpOp::DataSend(b) => {
                out.push(15);
                bytes(out, b);
            }
            FtpOp::DataEof => out.push(16),
            FtpOp::DataRead(n) => {
                out.push(17);
                le16(out, *n);
            }
            FtpOp::DataDrain(n) => {
                out.push(18);
                le16(out, *n);
            }
            FtpOp::Upload { path, how, cut, len, pattern } => {
                out.push(19);
                path.encode(out);
                out.push(*how);
                le16(out, *cut);
                le16(out, *len);
                bytes(out, pattern);
            }
            FtpOp::Download { path, rest } => {
                out.push(20);
                path.encode(out);
                le16(out, *rest);
            }
            FtpOp::Shutdown => out.push(21),
            FtpOp::Repeat { times, bytes: b } => {
                out.push(22);
                le16(out, *times);
                bytes(out, b);
            }
        }
    }
}

/// `len` bytes of `pattern` repeated (zeros if it is empty).
pub fn content(len: u16, pattern: &[u8]) -> Vec<u8> {
    let len = usize::from(len);
    if pattern.is_empty() {
        return vec![0; len];
    }
    pattern.iter().copied().cycle().take(len).collect()
}

impl FtpScript {
    pub fn decode(data: &[u8]) -> FtpScript {
        let mut u = Unstructured::new(data);
        let mut prologue = FtpPrologue::default();
        if let (Ok(user), Ok(flags), Ok(final_close)) = (byte(&mut u), byte(&mut u), byte(&mut u)) {
            prologue = FtpPrologue { user, flags, final_close };
        }
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < MAX_OPS {
            match FtpOp::decode(&mut u) {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        FtpScript { prologue, ops }
    }

    pub fn encode(&self) -> Vec<u8> {
        let p = &self.prologue;
        let mut out = vec![p.user, p.flags, p.final_close];
        for op in &self.ops {
            op.encode(&mut out);
        }
        out
    }
}
