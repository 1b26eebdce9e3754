//! The file commands answered on the control connection: PWD, CWD, CDUP,
//! MKD, RMD, DELE, RNFR/RNTO, SIZE, MDTM, MLST, STAT with a path, HASH,
//! REST and ALLO. Each is one call into the shared services
//! (`crate::ops::files`), which resolve and confine the path exactly as
//! for the native protocol and write the `shell_command.log` record; this
//! file words the FTP reply (docs/FTP.md §2).

use super::work::Pending;
use super::{FtpSession, Login, plain};
use crate::ftp::command::Command;
use crate::ftp::listing::{self, Entry};
use crate::ftp::reply::{self, Reply};
use crate::home::VPath;
use crate::ops::Authed;
use crate::ops::files::{self, Expect};
use crate::protocol::messages::EntryKind;
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::worker::Job;
use std::time::Instant;

/// Most entries STAT with a path lists on the control connection; a longer
/// listing belongs on a data connection (LIST).
const STAT_MAX_ENTRIES: usize = 1000;

impl FtpSession {
    /// The logged-in state (file commands run only when logged in).
    pub(super) fn authed(&self) -> Option<&Authed> {
        match &self.login {
            Login::Authed(a) => Some(a),
            _ => None,
        }
    }

    /// RNTO must come right after RNFR: takes the source RNFR left, which
    /// any command other than RNTO thereby forgets.
    pub(super) fn take_rename_source(&mut self, cmd: &Command) -> Option<VPath> {
        let source = self.rename_from.take();
        matches!(cmd, Command::Rnto(_)).then_some(source).flatten()
    }

    /// Commands that need a logged-in user (checked by the caller).
    pub(super) fn file_command(&mut self, cmd: Command, renaming: Option<VPath>, now: Instant, svc: &mut Services) {
        let origin = self.origin();
        let Login::Authed(a) = &mut self.login else { return self.reply(plain(ErrorCode::NotLoggedIn)) };
        let r = match cmd {
            Command::Pwd => reply::pwd_reply(&files::pwd(&origin, a, svc, "pwd").to_string()),
            Command::Cwd(path) => {
                let path = path.unwrap_or_else(|| "/".to_owned());
                match files::cd(&origin, a, svc, "cd", std::slice::from_ref(&path), &path) {
                    Ok(t) => Reply::new(250, format!("Directory changed to {t}.")),
                    Err(e) => error(&e),
                }
            }
            // CDUP at the top stays there (RFC 959 leaves it open; pyftpdlib
            // and vsftpd do the same); a CWD .. above it is an escape.
            Command::Cdup if a.cwd.is_root() => {
                Reply::new(250, format!("Directory changed to {}.", files::pwd(&origin, a, svc, "cd")))
            }
            Command::Cdup => match files::cd(&origin, a, svc, "cd", &["..".to_owned()], "..") {
                Ok(t) => Reply::new(250, format!("Directory changed to {t}.")),
                Err(e) => error(&e),
            },
            Command::Mkd(path) => {
                match files::mkdir(&origin, a, svc, "mkdir", std::slice::from_ref(&path), &path, false) {
                    Ok((t, _)) => reply::mkd_reply(&t.to_string()),
                    Err(e) => error(&e),
                }
            }
            Command::Rmd(ref path) | Command::Dele(ref path) => {
                let expect = if matches!(cmd, Command::Rmd(_)) { Expect::Dir } else { Expect::File };
                // The removal runs as a worker job (unlinking a big file is
                // slow); the reply comes when it is back (`work`).
                match files::remove(&origin, a, svc, std::slice::from_ref(path), path, expect, false) {
                    Ok(r) => {
                        let job = r.job();
                        return self.ask(job, Pending::Remove(r), now);
                    }
                    Err(e) => error(&e),
                }
            }
            Command::Rnfr(path) => match files::rename_source(&origin, a, svc, std::slice::from_ref(&path), &path) {
                Ok(source) => {
                    self.rename_from = Some(source);
                    Reply::new(350, "Ready for destination name.")
                }
                Err(e) => error(&e),
            },
            Command::Rnto(path) => match renaming {
                None => Reply::new(503, "Bad sequence of commands: send RNFR first."),
                Some(from) => {
                    let args = [from.to_string(), path.clone()];
                    match files::rename(&origin, a, svc, &args, &from, &path) {
                        Ok(to) => Reply::new(250, format!("Renamed {from} to {to}.")),
                        Err(e) => error(&e),
                    }
                }
            },
            Command::Size(path) => match files::stat(&origin, a, svc, "size", std::slice::from_ref(&path), &path) {
                Ok((_, m)) if m.kind == EntryKind::File => Reply::new(213, m.size.to_string()),
                Ok((t, _)) => Reply::new(550, format!("{t} is not a regular file.")),
                Err(e) => error(&e),
            },
            Command::Mdtm(path) => match files::stat(&origin, a, svc, "mdtm", std::slice::from_ref(&path), &path) {
                Ok((_, m)) if m.kind == EntryKind::File => listing::mdtm_reply(m.mtime),
                Ok((t, _)) => Reply::new(550, format!("{t} is not a regular file.")),
                Err(e) => error(&e),
            },
            Command::Mlst(path) => {
                let input = path.unwrap_or_else(|| ".".to_owned());
                let args: Vec<String> = vec![input.clone()];
                match files::stat(&origin, a, svc, "mlst", &args, &input) {
                    Ok((t, m)) => {
                        let shown = t.to_string();
                        let e = Entry::new(&shown, m.kind, m.size, m.mtime);
                        listing::mlst_reply(&e, self.facts).unwrap_or_else(|| Reply::new(550, "Not listable."))
                    }
                    Err(e) => error(&e),
                }
            }
            Command::Stat(Some(path)) => self.stat_path(path, svc),
            Command::Hash(path) => return self.hash(path, now, svc),
            Command::Rest(n) => {
                self.rest = Some(n);
                Reply::new(350, format!("Restarting at {n}. Send STOR, APPE or RETR to start the transfer."))
            }
            Command::Allo(n) => {
                let free = svc.users.get(&a.user).and_then(|u| u.free());
                match free {
                    Some(free) if n > free => Reply::new(552, format!("Quota exceeded: {n} bytes asked, {free} free.")),
                    _ => {
                        self.allo = Some(n);
                        Reply::new(200, format!("{n} bytes will be reserved for the next upload."))
                    }
                }
            }
            cmd @ (Command::Retr(_)
            | Command::Stor(_)
            | Command::Appe(_)
            | Command::List(_)
            | Command::Nlst(_)
            | Command::Mlsd(_)) => return self.transfer_command(cmd, now, svc),
            Command::Abor => return self.abort(now, svc),
            other => {
                log::error!("session {}: {} reached the file commands", self.id, other.verb());
                plain(ErrorCode::Internal)
            }
        };
        self.reply(r);
    }

    /// STAT with a path: the LIST lines on the control connection (213).
    fn stat_path(&mut self, path: String, svc: &mut Services) -> Reply {
        let origin = self.origin();
        let Some(a) = self.authed() else { return plain(ErrorCode::NotLoggedIn) };
        let (t, mut listing) = match files::list(&origin, a, svc, "dir", std::slice::from_ref(&path), Some(&path)) {
            Ok(l) => l,
            Err(e) => return error(&e),
        };
        let now = wall_clock();
        let mut lines = Vec::new();
        while !listing.done() && lines.len() < STAT_MAX_ENTRIES {
            let batch = match listing.next_batch(64) {
                Ok(b) => b,
                Err(e) => {
                    log::error!("STAT {t}: {e}");
                    return plain(ErrorCode::Internal);
                }
            };
            for d in batch {
                lines.extend(listing::list_line(&Entry::new(&d.name, d.kind, d.size, d.mtime), now));
            }
        }
        if !listing.done() {
            lines.push(format!("(more than {STAT_MAX_ENTRIES} entries; use LIST for the rest)"));
        }
        Reply::multi(213, format!("Status of {t}:"), lines, "End of status.")
    }

    /// HASH: the file's SHA-256 from the digest cache, or computed on the
    /// worker pool (the session waits meanwhile; `work`).
    fn hash(&mut self, path: String, now: Instant, svc: &mut Services) {
        let origin = self.origin();
        let Some(a) = self.authed() else { return self.reply(plain(ErrorCode::NotLoggedIn)) };
        let args = std::slice::from_ref(&path);
        let target = crate::ops::resolve(a, &path);
        let opened = target.clone().and_then(|t| a.home.open_read(&t).map_err(|e| crate::ops::wire(&e)));
        files::record(&origin, a, svc, "hash", args, target.as_ref().ok(), opened.as_ref().map(|_| ()));
        let crate::storage::Opened { file, meta, .. } = match opened {
            Ok(o) => o,
            Err(e) => return self.reply(error(&e)),
        };
        let shown = target.map(|t| t.to_string()).unwrap_or_default();
        match file.cached_digest() {
            Some(sha) => self.reply(reply::hash_reply(crate::ftp::feat::HASH_ALGORITHM, meta.size, &sha, &shown)),
            None => {
                let stamp = file.stamp();
                let job = Job::Hash { file, len: meta.size };
                self.ask(job, Pending::Hash { shown, size: meta.size, stamp }, now);
            }
        }
    }
}

/// A failure of the services as an FTP reply, with its detail.
pub(super) fn error(e: &WireError) -> Reply {
    reply::error(e.code, Some(&e.message))
}

/// The reply to a finished DELE or RMD.
pub(super) fn removal(result: Result<(VPath, EntryKind, crate::storage::Freed), WireError>) -> Reply {
    match result {
        Ok((t, EntryKind::Dir, _)) => Reply::new(250, format!("Directory {t} removed.")),
        Ok((t, _, _)) => Reply::new(250, format!("{t} removed.")),
        Err(e) => error(&e),
    }
}

/// Seconds since the Unix epoch now, for the `ls` time column (recent
/// entries show a time, older ones a year).
pub(super) fn wall_clock() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}
