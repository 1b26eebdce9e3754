//! The `ftp_session` target's committed seeds, written as code so that each
//! says what it is for (see [`crate::seeds`] for how the files are checked
//! and rewritten).

use crate::ftp_script::{FtpOp, FtpPrologue, FtpScript, VERBS, arg_word};
use crate::seeds::Seeds;

/// A command line op: `verb` with `arg` from the dictionary (or none).
fn cmd(verb: &str, a: Option<&str>) -> FtpOp {
    let verb = VERBS.iter().position(|v| *v == verb).expect("verb is in the dictionary") as u8;
    FtpOp::Line { verb, arg: a.map(arg_word) }
}

fn upload(path: &str, how: u8, cut: u16, len: u16) -> FtpOp {
    FtpOp::Upload { path: arg_word(path), how, cut, len, pattern: b"mioftp!".to_vec() }
}

fn download(path: &str, rest: u16) -> FtpOp {
    FtpOp::Download { path: arg_word(path), rest }
}

/// `user`: 0 `fuzz`, 1 `tight`, 2 nobody logged in; `flags` bit 0 active mode.
fn script(user: u8, flags: u8, ops: Vec<FtpOp>) -> Vec<u8> {
    FtpScript { prologue: FtpPrologue { user, flags, final_close: 0 }, ops }.encode()
}

pub fn ftp_session() -> Seeds {
    vec![
        (
            "files_and_transfers",
            script(
                0,
                0,
                vec![
                    cmd("MKD", Some("a")),
                    cmd("CWD", Some("a")),
                    cmd("PWD", None),
                    cmd("CDUP", None),
                    FtpOp::Pump,
                    upload("a/f.txt", 0, 0, 3000),
                    download("a/f.txt", 0),
                    download("a/f.txt", 7),
                    upload("a/f.txt", 1, 0, 10),
                    cmd("SIZE", Some("a/f.txt")),
                    cmd("MDTM", Some("a/f.txt")),
                    cmd("MLST", Some("a/f.txt")),
                    cmd("HASH", Some("a/f.txt")),
                    cmd("STAT", Some("a")),
                    cmd("RNFR", Some("a/f.txt")),
                    cmd("RNTO", Some("f.txt")),
                    cmd("DELE", Some("f.txt")),
                    cmd("RMD", Some("a")),
                    FtpOp::Pump,
                    cmd("QUIT", None),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "listings",
            script(
                0,
                0,
                vec![
                    cmd("MKD", Some("a")),
                    upload("a/b", 0, 0, 5),
                    cmd("EPSV", None),
                    cmd("LIST", Some("-la")),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::Pump,
                    cmd("PASV", None),
                    cmd("NLST", Some("a")),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::DataDrain(5),
                    FtpOp::Pump,
                    cmd("OPTS", Some("MLST type;size;")),
                    cmd("EPSV", None),
                    cmd("MLSD", Some("a")),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "quota_and_resume",
            script(
                1,
                0,
                vec![
                    upload("f.txt", 0, 0, 60_000),
                    upload("f.txt", 1, 0, 10_000),
                    upload("b", 0, 4000, 20_000),
                    upload("b", 2, 4000, 3000),
                    cmd("ALLO", Some("65536")),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "before_login",
            script(
                2,
                0,
                vec![
                    cmd("PWD", None),
                    cmd("RETR", Some("f.txt")),
                    cmd("PASS", Some("wrong")),
                    cmd("FEAT", None),
                    cmd("HELP", None),
                    cmd("SYST", None),
                    cmd("STAT", None),
                    cmd("AUTH", Some("TLS")),
                    cmd("REIN", None),
                    cmd("BOGUS", None),
                    FtpOp::Pump,
                    FtpOp::Login { user: 0, good: false },
                    FtpOp::Login { user: 7, good: true },
                    FtpOp::Login { user: 0, good: true },
                    cmd("PWD", None),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "telnet_long_lines_and_bytes",
            script(
                0,
                0,
                vec![
                    FtpOp::Send(b"\xff\xfb\x01NO\xff\xffOP\r\n\xff\xf4\xff\xf2ABOR\r\n".to_vec()),
                    FtpOp::Send([b"NOOP ".to_vec(), vec![b'x'; 3000], b"\r\n".to_vec()].concat()),
                    FtpOp::Send(b"CWD \xc3\x28\r\nNOOP\nnoop\r\n".to_vec()),
                    FtpOp::Read(3),
                    FtpOp::Drain(2),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "active_mode",
            script(
                0,
                1,
                vec![
                    cmd("PORT", Some("127,0,0,1,4,1")),
                    cmd("LIST", None),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::Pump,
                    cmd("PORT", Some("10,0,0,1,4,1")),
                    cmd("PORT", Some("127,0,0,1,0,21")),
                    cmd("EPRT", Some("|2|::1|1025|")),
                    cmd("EPRT", Some("|1|127.0.0.1|1025|")),
                    cmd("NLST", None),
                    FtpOp::Pump,
                    FtpOp::DataFail,
                    FtpOp::Pump,
                    cmd("EPSV", Some("ALL")),
                    cmd("PASV", None),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "abort_and_slow_reader",
            script(
                0,
                0,
                vec![
                    upload("f.txt", 0, 0, 65_000),
                    cmd("PASV", None),
                    cmd("RETR", Some("f.txt")),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::DataDrain(1000),
                    cmd("NOOP", None),
                    cmd("ABOR", None),
                    FtpOp::Read(0),
                    FtpOp::Pump,
                    cmd("ABOR", None),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "pool_busy",
            script(
                0,
                0,
                vec![
                    cmd("EPSV", None),
                    cmd("STOR", Some("f.txt")),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::DataSend(b"0123456789".to_vec()),
                    FtpOp::DataEof,
                    FtpOp::DataRead(0),
                    FtpOp::DataRead(0),
                    FtpOp::Job(2),
                    FtpOp::Pump,
                    cmd("DELE", Some("a")),
                    FtpOp::Read(0),
                    FtpOp::Job(2),
                    cmd("HASH", Some("f.txt")),
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "timeouts_and_delays",
            script(
                2,
                0,
                vec![
                    cmd("USER", Some("fuzz")),
                    cmd("PASS", Some("wrong")),
                    cmd("NOOP", None),
                    FtpOp::Pump,
                    FtpOp::Advance(999),
                    FtpOp::Timeout,
                    FtpOp::Advance(1),
                    FtpOp::Timeout,
                    FtpOp::Pump,
                    cmd("PASV", None),
                    FtpOp::Pump,
                    FtpOp::AdvanceSecs(4),
                    FtpOp::Timeout,
                    FtpOp::AdvanceSecs(2),
                    FtpOp::Timeout,
                ],
            ),
        ),
        (
            "two_sessions_one_upload",
            script(
                0,
                0,
                vec![
                    upload("f.txt", 0, 0, 100),
                    cmd("EPSV", None),
                    cmd("STOR", Some("f.txt")),
                    FtpOp::Pump,
                    FtpOp::DataOpen,
                    FtpOp::DataSend(b"first half".to_vec()),
                    FtpOp::Pump,
                    FtpOp::Switch,
                    FtpOp::Login { user: 0, good: true },
                    upload("f.txt", 0, 0, 10),
                    cmd("RNFR", Some("f.txt")),
                    cmd("DELE", Some("f.txt")),
                    FtpOp::Pump,
                    FtpOp::Switch,
                    FtpOp::Shutdown,
                    FtpOp::DataEof,
                    FtpOp::Pump,
                ],
            ),
        ),
        (
            "flood",
            script(
                0,
                0,
                vec![
                    FtpOp::Repeat { times: 5000, bytes: b"PASV\r\n".to_vec() },
                    FtpOp::Read(0),
                    FtpOp::Drain(100),
                    FtpOp::Read(0),
                    FtpOp::Pump,
                    FtpOp::Eof,
                    FtpOp::Pump,
                ],
            ),
        ),
    ]
}
