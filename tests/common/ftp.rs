//! A plain FTP client for the tests, on std sockets: commands and replies
//! (multi-line ones too), passive data connections, and the transfers built
//! on them. It checks nothing itself; the tests look at codes and texts.

use super::{IO_TIMEOUT, PASSWORD, TestServer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// One reply: its code and every line of text (the code prefix removed from
/// the first and last lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn is(&self, code: u16) -> bool {
        self.code == code
    }
}

pub struct Ftp {
    pub ctrl: BufReader<TcpStream>,
    pub greeting: Reply,
}

impl Ftp {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> Ftp {
        let s = TcpStream::connect(addr).expect("connect to the FTP front end");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut ctrl = BufReader::new(s);
        let greeting = read_reply(&mut ctrl).expect("a greeting");
        Ftp { ctrl, greeting }
    }

    /// Connects and logs in as `user` with the tests' password.
    pub fn login(addr: SocketAddr, user: &str) -> Ftp {
        let mut f = Ftp::connect(addr);
        assert!(f.cmd(&format!("USER {user}")).is(331));
        let r = f.cmd(&format!("PASS {PASSWORD}"));
        assert!(r.is(230), "login as {user}: {r:?}");
        f
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.ctrl.get_mut().write_all(bytes).expect("send on the control connection");
    }

    /// The next reply; panics if the server closed first.
    pub fn reply(&mut self) -> Reply {
        read_reply(&mut self.ctrl).expect("a reply (the server closed the control connection)")
    }

    /// The next reply, or `None` once the server closed.
    pub fn try_reply(&mut self) -> Option<Reply> {
        read_reply(&mut self.ctrl)
    }

    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(line);
        self.reply()
    }

    /// EPSV, then a connection to the port it names.
    pub fn pasv(&mut self) -> TcpStream {
        let r = self.cmd("EPSV");
        assert!(r.is(229), "EPSV: {r:?}");
        let port: u16 = r.text.split('|').nth(3).and_then(|p| p.parse().ok()).expect("EPSV port");
        let ip = self.ctrl.get_ref().peer_addr().unwrap().ip();
        let d = TcpStream::connect((ip, port)).expect("data connection");
        d.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        d.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        d
    }

    /// A transfer command on a fresh passive connection: its first reply
    /// (150, or a refusal, when there is no data connection to use).
    pub fn transfer(&mut self, line: &str) -> (TcpStream, Reply) {
        let d = self.pasv();
        let r = self.cmd(line);
        (d, r)
    }

    /// RETR: the bytes, or the refusal.
    pub fn retr(&mut self, path: &str) -> Result<Vec<u8>, Reply> {
        self.read_data(&format!("RETR {path}"))
    }

    /// LIST, NLST, MLSD ...: the text, or the refusal.
    pub fn listing(&mut self, line: &str) -> Result<String, Reply> {
        self.read_data(line).map(|b| String::from_utf8(b).expect("a UTF-8 listing"))
    }

    fn read_data(&mut self, line: &str) -> Result<Vec<u8>, Reply> {
        let (mut d, first) = self.transfer(line);
        if !first.is(150) {
            return Err(first);
        }
        let mut got = Vec::new();
        d.read_to_end(&mut got).expect("read the data connection");
        let end = self.reply();
        if !end.is(226) {
            return Err(end);
        }
        Ok(got)
    }

    /// STOR (or APPE, with `line`) of `data`: the final reply.
    pub fn store(&mut self, line: &str, data: &[u8]) -> Reply {
        let (mut d, first) = self.transfer(line);
        if !first.is(150) {
            return first;
        }
        // A refusal while sending (the quota) shows as a reset: the reply
        // on the control connection tells.
        let _ = d.write_all(data);
        drop(d);
        self.reply()
    }

    pub fn stor(&mut self, path: &str, data: &[u8]) -> Reply {
        self.store(&format!("STOR {path}"), data)
    }
}

/// Reads one reply (RFC 959 §4.2): `NNN text`, or `NNN-` ... `NNN text`.
fn read_reply(r: &mut BufReader<TcpStream>) -> Option<Reply> {
    let mut first = String::new();
    if r.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let first = first.trim_end_matches(['\r', '\n']).to_owned();
    let code: u16 = first.get(..3)?.parse().ok()?;
    let mut text = first.get(4..).unwrap_or("").to_owned();
    if first.as_bytes().get(3) == Some(&b'-') {
        let end = format!("{code} ");
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            text.push('\n');
            if let Some(last) = line.strip_prefix(&end) {
                text.push_str(last);
                break;
            }
            text.push_str(line);
        }
    }
    Some(Reply { code, text })
}

impl TestServer {
    /// A server with the FTP front end on a free loopback port.
    pub fn with_ftp(tweak: impl FnOnce(&mut mioftp::config::Config)) -> TestServer {
        TestServer::start_with(|c| {
            c.ftp.listen = Some("127.0.0.1:0".parse().unwrap());
            c.ftp.login_failure_delay = std::time::Duration::from_millis(50);
            tweak(c);
        })
    }

    pub fn ftp(&self) -> SocketAddr {
        self.ftp_addr.expect("the FTP front end is on")
    }

    /// Registers `name` (through the native protocol) and logs it in over FTP.
    pub fn ftp_user(&self, name: &str) -> Ftp {
        let mut c = self.client();
        c.register(name, PASSWORD).expect("register");
        Ftp::login(self.ftp(), name)
    }
}

impl TestServer {
    /// Registers `name` and gives its account its own quota (edited into
    /// the account record before its first login, as an administrator would).
    pub fn register_with_quota(&self, name: &str, quota: u64) {
        self.client().register(name, PASSWORD).expect("register");
        let path = self.path("accounts").join(format!("{name}.json"));
        let mut account: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("account record")).expect("account JSON");
        account["quota"] = quota.into();
        std::fs::write(&path, serde_json::to_vec(&account).unwrap()).expect("write the account record");
    }
}
