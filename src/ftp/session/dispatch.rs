//! One control line to its handler. Lines are handled one at a time, in
//! order, each answered before the next is looked at; while a transfer is
//! set up or running only ABOR is taken out of order (it jumps the queue),
//! and everything else, QUIT included, waits for the transfer's 226 or 426.
//!
//! Order of refusals (as pyftpdlib has it, docs/FTP.md §1): a line that is
//! not UTF-8 or too long, an unknown verb (500), a missing or unexpected
//! argument (501), then the login check (530), then the command itself.

use super::{FtpSession, Line, Login, Wait, plain};
use crate::ftp::command::{self, Command, DataType, Opts, Verb};
use crate::ftp::feat::{self, FeatOptions, HASH_ALGORITHM};
use crate::ftp::reply::Reply;
use crate::protocol::ErrorCode;
use crate::services::Services;
use std::time::Instant;

/// Whether a queued line is an ABOR (the one command a transfer does not
/// hold back).
fn is_abor(line: &Line) -> bool {
    matches!(line, Ok(l) if matches!(command::parse(l), Ok(Command::Abor)))
}

impl FtpSession {
    /// The next line to handle: the first queued one, or while a transfer
    /// is set up or running, the first ABOR (the others wait).
    pub(super) fn next_line(&mut self) -> Option<Line> {
        if self.transfer_busy() {
            let i = self.lines.iter().position(is_abor)?;
            return self.lines.remove(i);
        }
        self.lines.pop_front()
    }

    pub(super) fn on_line(&mut self, line: Line, now: Instant, svc: &mut Services) {
        let line = match line {
            Ok(l) => l,
            Err(e) => return self.reply(e.reply()),
        };
        let cmd = match command::parse(&line) {
            Ok(c) => c,
            Err(e) => {
                let needs_login = e.verb.is_some_and(Verb::needs_login);
                if needs_login && !e.precedes_login_check() && self.user().is_none() {
                    return self.reply(plain(ErrorCode::NotLoggedIn));
                }
                return self.reply(e.reply());
            }
        };
        if cmd.needs_login() && self.user().is_none() {
            return self.reply(plain(ErrorCode::NotLoggedIn));
        }
        // A command that may need a job waits while this session's job
        // slot is held (by the user's usage walk, which owes no reply).
        let may_need_job = matches!(
            cmd,
            Command::Pass(_)
                | Command::Dele(_)
                | Command::Rmd(_)
                | Command::Hash(_)
                | Command::Retr(_)
                | Command::Stor(_)
                | Command::Appe(_)
        );
        if may_need_job && self.job.is_some() {
            self.lines.push_front(Ok(line));
            self.wait = Wait::Slot;
            return;
        }
        if cmd.needs_login() {
            match self.usage_known(now, svc) {
                Ok(true) => {}
                Ok(false) => {
                    // Handled again, in order, once the usage walk is done.
                    self.lines.push_front(Ok(line));
                    self.wait = Wait::Usage;
                    return;
                }
                Err(why) => {
                    return self
                        .reply(Reply::new(451, format!("Your usage could not be computed ({why}); try again.")));
                }
            }
        }
        // RNTO must come right after RNFR; any other command forgets it.
        let renaming = self.take_rename_source(&cmd);
        match cmd {
            Command::User(name) => self.user_cmd(name, now, svc),
            Command::Pass(password) => self.pass_cmd(password, now, svc),
            Command::Quit => {
                self.logout(svc, "quit");
                self.reply(Reply::new(221, "Goodbye."));
                self.closing = true;
            }
            Command::Noop => self.reply(Reply::new(200, "NOOP ok.")),
            Command::Syst => self.reply(feat::syst_reply()),
            Command::Feat => {
                let opts = FeatOptions { tls: false, active: self.cfg.active, facts: self.facts };
                self.reply(feat::feat_reply(&opts));
            }
            Command::Opts(o) => self.opts(o),
            Command::Help(verb) => self.reply(feat::help_reply(verb)),
            Command::Type(t) => {
                self.data_type = t;
                let name = match t {
                    DataType::Ascii => "ASCII (served as binary)",
                    DataType::Image => "binary",
                };
                self.reply(Reply::new(200, format!("Type set to {name}.")));
            }
            Command::ModeStream => self.reply(Reply::new(200, "Mode set to S.")),
            Command::StruFile => self.reply(Reply::new(200, "Structure set to F.")),
            Command::Pasv => self.pasv(false, now),
            Command::Epsv(arg) => self.epsv(arg, now),
            Command::Port(to) | Command::Eprt(to) => self.port(to, now),
            Command::Stat(None) => self.stat_session(),
            // FTPS is issue 16; until then these are not implemented.
            Command::Auth(_) | Command::Pbsz(_) | Command::Prot(_) => {
                self.reply(Reply::new(502, "TLS is not available on this server (yet)."))
            }
            Command::Ccc => self.reply(Reply::new(502, "Clearing the control channel is not allowed.")),
            other => self.file_command(other, renaming, now, svc),
        }
    }

    fn opts(&mut self, o: Opts) {
        let r = match o {
            Opts::Utf8(true) => Reply::new(200, "Always in UTF8 mode."),
            Opts::Utf8(false) => Reply::new(504, "UTF8 cannot be turned off."),
            Opts::Mlst(set) => {
                self.facts = set;
                Reply::new(200, format!("MLST OPTS {}", set.selected()))
            }
            Opts::Hash(None) => Reply::new(200, HASH_ALGORITHM),
            Opts::Hash(Some(a)) if a.eq_ignore_ascii_case(HASH_ALGORITHM) => Reply::new(200, HASH_ALGORITHM),
            Opts::Hash(Some(_)) => Reply::new(501, format!("Unsupported algorithm; only {HASH_ALGORITHM}.")),
        };
        self.reply(r);
    }

    /// `STAT` without an argument: the session's status (211, multi-line).
    fn stat_session(&mut self) {
        let who = match &self.login {
            Login::Authed(a) => format!("Logged in as {}", a.user),
            _ => "Not logged in".to_owned(),
        };
        let ty = match self.data_type {
            DataType::Ascii => "ASCII (served as binary)",
            DataType::Image => "binary",
        };
        let body = vec![
            format!("Connected to {}", self.peer),
            who,
            format!("TYPE: {ty}; STRUcture: File; MODE: Stream"),
            self.data_status(),
        ];
        self.reply(Reply::multi(211, format!("{} status:", crate::SERVER_SOFTWARE), body, "End of status."));
    }
}
