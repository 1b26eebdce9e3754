//! The four JSON Lines audit logs under `<root>/logs/`.
//!
//! Every attempt is one record, one line, one `write(2)` on a file opened with
//! `O_APPEND`, made before the client is answered. A record never spans two
//! writes, so a crash can tear at most the last line. When a log is opened and
//! its last byte is not a newline (a line torn by a crash), a newline is
//! written first, so the next record always starts on a line of its own.
//!
//! Operational diagnostics do not go here; they go through `log` to stderr.

use crate::protocol::{ErrorCode, WireError};
use crate::storage::Freed;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The `logs/` folder, when the server creates it.
const LOGS_DIR_MODE: u32 = 0o750;

/// Which of the four logs a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// `register_login_accounts.log`: handshake, register, login, logout.
    Accounts,
    /// `shell_command.log`: dir, cd, pwd, mkdir, rm, quota.
    Commands,
    /// `upload_file.log`: one record per put attempt.
    Uploads,
    /// `download_file.log`: one record per get attempt.
    Downloads,
}

impl Log {
    pub const ALL: [Log; 4] = [Log::Accounts, Log::Commands, Log::Uploads, Log::Downloads];

    /// The file name under `logs/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Log::Accounts => "register_login_accounts.log",
            Log::Commands => "shell_command.log",
            Log::Uploads => "upload_file.log",
            Log::Downloads => "download_file.log",
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An account or command attempt succeeded.
    #[default]
    Ok,
    /// It was attempted and failed (wrong password, no such file, ...).
    Fail,
    /// A transfer finished and was verified.
    Complete,
    /// A transfer stopped part-way (disconnect, timeout, shutdown); its partial is kept.
    Incomplete,
    /// Refused by policy before or instead of doing it (path, quota, busy, throttle, digest).
    Rejected,
}

impl Outcome {
    /// How an attempt that failed with `code` is recorded: `rejected` when
    /// the server refused it by policy, `fail` when it was tried and failed.
    pub fn of_failure(code: ErrorCode) -> Outcome {
        if is_policy(code) { Outcome::Rejected } else { Outcome::Fail }
    }
}

/// Whether a refusal is a policy decision (a path outside the rules, the
/// quota, a busy path, the login throttle, a disabled account, closed
/// registration, a body that is not what was declared) rather than an
/// operation that was tried and failed.
pub fn is_policy(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::PathInvalid
            | ErrorCode::PathEscape
            | ErrorCode::QuotaExceeded
            | ErrorCode::Busy
            | ErrorCode::TooManyAttempts
            | ErrorCode::AccountDisabled
            | ErrorCode::RegistrationClosed
            | ErrorCode::SizeMismatch
            | ErrorCode::DigestMismatch
    )
}

/// One audit record. Optional fields are omitted when `None`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record<'a> {
    /// Filled in by [`AuditLog::write`]: RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// The client's address; absent on administrative records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The connection; absent on administrative records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// Who acted when it was not the client: `"admin"` (`mioftpd accounts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<&'a str>,
    /// How an administrative action reached the data: `"offline"` (files
    /// edited under the root lock) or, later, `"socket"` (the running server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    pub event: &'a str,
    pub outcome: Outcome,
    /// The stable error code on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorCode>,
    /// Human text on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// `rm`: entries removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `rm`: bytes of the regular files removed (what the quota got back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freed: Option<u64>,
    /// A quota set or granted: `"default"`, `"unlimited"` or a size such as
    /// `"5GiB"` or `"1500000001"` (bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
    /// The public id of a one-time token (never the token): the one issued
    /// by `admin_invite`/`admin_reset`, or the one a `register`/`reset` used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    /// When an issued token expires (RFC 3339 UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<&'a str>,
    /// `admin_delete`: whether the home was kept (moved aside).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_home: Option<bool>,
    /// Filled in by [`AuditLog::write`]: this server run's random id.
    pub boot: String,
    /// Filled in by [`AuditLog::write`]: the record's place in the run's
    /// write order, one counter for all four logs. `(boot, seq)` is unique
    /// across restarts and files, and orders records with the same `ts`.
    pub seq: u64,
}

/// Who acted: the fields every record shares.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub peer: SocketAddr,
    pub session: u64,
    /// The account, when known.
    pub user: Option<&'a str>,
}

/// The facts of one transfer attempt, for `upload_file.log` and
/// `download_file.log`. `None` fields are left out of the record.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    /// The resolved virtual path (or the path as given, when it did not resolve).
    pub path: &'a str,
    /// The file's declared or actual length.
    pub size: Option<u64>,
    /// Body bytes moved in this attempt.
    pub bytes: u64,
    /// Where this attempt started in the file.
    pub offset: Option<u64>,
    pub sha256: Option<&'a str>,
    pub duration: Duration,
}

/// Every record is assembled here, from what the session knows: who, what,
/// how it ended, and the facts of its kind.
impl<'a> Record<'a> {
    /// A record with the fields every log shares.
    pub fn new(peer: SocketAddr, session: u64, user: Option<&'a str>, event: &'a str, outcome: Outcome) -> Self {
        Record { peer: Some(peer.to_string()), session: Some(session), user, event, outcome, ..Default::default() }
    }

    /// An administrative action (`"actor":"admin"`): no peer, no session.
    pub fn admin(a: &'a crate::admin::AdminAudit) -> Self {
        Record {
            actor: Some(a.actor),
            via: Some(a.via),
            user: a.user.as_deref(),
            event: a.event,
            outcome: a.outcome,
            reason: a.reason,
            message: a.message.as_deref(),
            quota: a.quota.map(crate::admin::QuotaSetting::audit_text),
            token: a.token_id.as_deref(),
            expires: a.expires.as_deref(),
            keep_home: a.keep_home,
            ..Default::default()
        }
    }

    /// Adds the public id of the token a registration used.
    pub fn with_token(mut self, id: Option<&'a str>, quota: Option<String>) -> Self {
        self.token = id;
        self.quota = quota;
        self
    }

    /// An attempt that succeeded (`ok`), or failed with `fail` or, when the
    /// server refused it by policy, `rejected` (see [`Outcome::of_failure`]).
    pub fn attempt(who: Actor<'a>, event: &'a str, result: Result<(), &'a WireError>) -> Self {
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::of_failure(e.code),
        };
        Record::new(who.peer, who.session, who.user, event, outcome).failure(result.err())
    }

    /// A shell command: [`Record::attempt`] with the arguments as given and
    /// the resolved path.
    pub fn command(
        who: Actor<'a>,
        command: &'a str,
        args: &'a [String],
        path: Option<&'a str>,
        result: Result<(), &'a WireError>,
    ) -> Self {
        Record { args: Some(args), path, ..Record::attempt(who, command, result) }
    }

    /// An `rm`: [`Record::command`] with what it removed, entries and bytes
    /// of regular files (for a recursive one that stopped part-way, what it
    /// removed before it stopped).
    pub fn removal(
        who: Actor<'a>,
        args: &'a [String],
        path: Option<&'a str>,
        result: Result<(), &'a WireError>,
        removed: Freed,
    ) -> Self {
        Record {
            count: Some(removed.count),
            freed: Some(removed.bytes),
            ..Record::command(who, "rm", args, path, result)
        }
    }

    /// A transfer attempt that ended with `outcome`, and the failure that
    /// ended it, if any.
    pub fn transfer(
        who: Actor<'a>,
        event: &'a str,
        outcome: Outcome,
        failure: Option<&'a WireError>,
        facts: Transfer<'a>,
    ) -> Self {
        Record {
            path: Some(facts.path),
            size: facts.size,
            bytes: Some(facts.bytes),
            offset: facts.offset,
            sha256: facts.sha256,
            duration_ms: Some(u64::try_from(facts.duration.as_millis()).unwrap_or(u64::MAX)),
            ..Record::new(who.peer, who.session, who.user, event, outcome).failure(failure)
        }
    }

    /// Adds a failure's code and message.
    pub fn failed(mut self, code: ErrorCode, message: &'a str) -> Self {
        self.reason = Some(code);
        self.message = Some(message);
        self
    }

    fn failure(self, failure: Option<&'a WireError>) -> Self {
        match failure {
            Some(e) => self.failed(e.code, &e.message),
            None => self,
        }
    }

    /// Adds human text to a record that is not a failure.
    pub fn note(mut self, message: &'a str) -> Self {
        self.message = Some(message);
        self
    }
}

/// Formats a wall-clock time as RFC 3339 UTC with milliseconds.
pub fn format_ts(at: SystemTime) -> String {
    match jiff::Timestamp::try_from(at) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// The four open log files.
pub struct AuditLog {
    dir: PathBuf,
    files: [File; 4],
    line: Vec<u8>,
    /// Random per process run (16 hex digits), written in every record.
    boot: String,
    /// The last sequence number written, shared by the four files.
    seq: u64,
}

impl AuditLog {
    /// Opens (creating if needed) the four logs in `dir`.
    pub fn open(dir: &Path) -> io::Result<AuditLog> {
        std::fs::DirBuilder::new().recursive(true).mode(LOGS_DIR_MODE).create(dir)?;
        let files = [
            open_log(&dir.join(Log::Accounts.file_name()))?,
            open_log(&dir.join(Log::Commands.file_name()))?,
            open_log(&dir.join(Log::Uploads.file_name()))?,
            open_log(&dir.join(Log::Downloads.file_name()))?,
        ];
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(io::Error::other)?;
        Ok(AuditLog { dir: dir.to_owned(), files, line: Vec::with_capacity(512), boot: hex::encode(id), seq: 0 })
    }

    /// This run's boot id, as written in each record's `boot`.
    pub fn boot(&self) -> &str {
        &self.boot
    }

    /// Re-opens all four files by name (after logrotate moved them). Records
    /// written before this call went to the old files, records after it go to
    /// the new ones: none is lost or duplicated.
    pub fn reopen(&mut self) -> io::Result<()> {
        let fresh = AuditLog::open(&self.dir)?;
        self.sync();
        self.files = fresh.files;
        Ok(())
    }

    /// Appends `record` to `log` as one line in one write, stamping `ts` now.
    pub fn write(&mut self, log: Log, record: &mut Record<'_>) -> io::Result<()> {
        record.ts = format_ts(SystemTime::now());
        self.seq += 1;
        record.seq = self.seq;
        record.boot.clone_from(&self.boot);
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)?;
        self.line.push(b'\n');
        let file = &mut self.files[log as usize];
        // One write_all of a few hundred bytes is a single write(2) on a
        // regular file; O_APPEND makes the position and the write one step.
        file.write_all(&self.line)
    }

    /// Writes a record and reports (but survives) a failure: an audit log that
    /// cannot be written must not take the server down for everyone.
    pub fn record(&mut self, log: Log, mut record: Record<'_>) {
        if let Err(e) = self.write(log, &mut record) {
            log::error!("audit log {} write failed: {e}", log.file_name());
        }
    }

    /// Flushes file data to disk (at shutdown and before a reopen).
    pub fn sync(&mut self) {
        for f in &self.files {
            let _ = f.sync_data();
        }
    }
}

fn open_log(path: &Path) -> io::Result<File> {
    // 0640 whatever the umask for users' files: the logs name users and peers.
    let mut file =
        OpenOptions::new().create(true).read(true).append(true).mode(crate::perms::LOG_FILE_MODE).open(path)?;
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            // A torn last line from a crash: end it so the next record stands alone.
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
