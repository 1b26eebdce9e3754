//! `mioftpd accounts ...`: the command-line face of [`super::Admin`].
//!
//! It works offline: with the server stopped, under the data-root lock, on
//! the files directly. Each change is recorded in the data root's
//! `register_login_accounts.log` with `"actor":"admin"` before the command
//! reports success. While a server runs, the lock is taken and the command
//! stops naming the server's pid: changes through the running server's
//! control socket (`<root>/admin.sock`) come with the driver's side of
//! issue 19.

use super::{Admin, Outcome, QuotaSetting, Reply, Request};
use crate::audit::{AuditLog, Log, Record};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `mioftpd accounts`.
#[derive(Debug, clap::Args)]
pub struct AccountsArgs {
    /// The server's data root [default: the config file's `root`, else .].
    #[arg(long, env = "MIOFTPD_ROOT", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The server's config file, for its `root`.
    #[arg(long, env = "MIOFTPD_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the reply as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AccountsCommand,
}

impl AccountsArgs {
    /// The data root: `--root` (or MIOFTPD_ROOT), else the config file's, else `.`.
    pub fn data_root(&self) -> Result<PathBuf, crate::settings::file::SettingsError> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        let from_file = match &self.config {
            Some(path) => crate::settings::file::load(path)?.root,
            None => None,
        };
        Ok(from_file.unwrap_or_else(|| PathBuf::from(".")))
    }
}

/// The subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AccountsCommand {
    /// Every account: name, created, quota, used, last login, disabled.
    List {
        /// Skip walking the homes for the bytes used (faster).
        #[arg(long)]
        no_usage: bool,
    },
    /// Set a user's quota: a size (1GiB, 500MB, 1048576), `unlimited`, or `default`.
    SetQuota {
        user: String,
        #[arg(value_parser = QuotaSetting::parse)]
        size: QuotaSetting,
    },
    /// Refuse the user's logins (and, on a running server, end their sessions).
    Disable { user: String },
    /// Allow the user's logins again.
    Enable { user: String },
    /// Delete the account and its home.
    Delete {
        user: String,
        /// Keep the files, moved aside to home/.deleted-USER-TIME.
        #[arg(long)]
        keep_home: bool,
    },
    /// Issue a one-time token with which the user sets a new password.
    Reset {
        user: String,
        /// Hours the token stays valid.
        #[arg(long, default_value_t = 168)]
        valid_hours: u64,
    },
    /// Issue a one-time invitation token (for --registration token).
    Invite {
        /// Quota of the account registered with it.
        #[arg(long, value_parser = QuotaSetting::parse)]
        quota: Option<QuotaSetting>,
        /// Hours the token stays valid.
        #[arg(long, default_value_t = 168)]
        valid_hours: u64,
    },
}

impl AccountsCommand {
    /// The plain-data request.
    pub fn request(&self) -> Request {
        let ttl = |h: u64| Some(h.saturating_mul(3600));
        match self.clone() {
            AccountsCommand::List { no_usage } => Request::List { usage: !no_usage },
            AccountsCommand::SetQuota { user, size } => Request::SetQuota { user, quota: size },
            AccountsCommand::Disable { user } => Request::Disable { user },
            AccountsCommand::Enable { user } => Request::Enable { user },
            AccountsCommand::Delete { user, keep_home } => Request::Delete { user, keep_home },
            AccountsCommand::Reset { user, valid_hours } => Request::Reset { user, ttl_secs: ttl(valid_hours) },
            AccountsCommand::Invite { quota, valid_hours } => Request::Invite { quota, ttl_secs: ttl(valid_hours) },
        }
    }
}

/// Runs the command; exit status 0 on success, 1 on failure.
pub fn run(args: &AccountsArgs) -> ExitCode {
    let fail = |what: &dyn std::fmt::Display| {
        eprintln!("mioftpd accounts: {what}");
        ExitCode::FAILURE
    };
    let root = match args.data_root() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let Err(e) = check_owner(&root) {
        return fail(&e);
    }
    let admin = match Admin::open_offline(&root) {
        Ok(a) => a,
        Err(e) => {
            if matches!(e, super::AdminError::Locked(_)) {
                eprintln!("mioftpd accounts: {e}");
                return fail(
                    &"stop the server first; changes through a running server's admin.sock are not available yet",
                );
            }
            return fail(&e);
        }
    };
    // Opened first: a change is only made if its record can be written.
    let mut audit = match AuditLog::open(&root.join("logs")) {
        Ok(a) => a,
        Err(e) => return fail(&format!("cannot open the audit log in {}: {e}", root.join("logs").display())),
    };
    let outcome = admin.execute(&args.command.request(), jiff::Timestamp::now());
    let written = match &outcome.audit {
        Some(record) => audit.write(Log::Accounts, &mut Record::admin(record)).map(|()| audit.sync()),
        None => Ok(()),
    };
    let (code, out, err) = render(&outcome, args.json);
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stderr().write_all(err.as_bytes());
    match written {
        Ok(()) => code,
        Err(e) => fail(&format!("the change was made, but its audit record could not be written: {e}")),
    }
}

/// Refuses to run as anyone but the owner of `<root>/accounts`: records and
/// tokens rewritten by, say, root would be mode 0600 files of root's, which
/// the server could no longer read (every login of that user would fail).
fn check_owner(root: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let accounts = root.join("accounts");
    let Ok(meta) = std::fs::metadata(&accounts) else { return Ok(()) }; // Admin::open says what is missing
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() == me {
        return Ok(());
    }
    Err(format!(
        "{} belongs to uid {}, and this runs as uid {me}: files written now would be unreadable by the server; \
         run it as the data root's owner (for example: setpriv --reuid={uid} --regid={gid} --clear-groups mioftpd accounts ...)",
        accounts.display(),
        meta.uid(),
        uid = meta.uid(),
        gid = meta.gid(),
    ))
}

/// The exit status, stdout and stderr for an outcome.
pub fn render(outcome: &Outcome, json: bool) -> (ExitCode, String, String) {
    let mut err = String::new();
    let reply = match &outcome.result {
        Ok(r) => r,
        Err(e) => {
            err.push_str(&format!("mioftpd accounts: {e}\n"));
            return (ExitCode::FAILURE, String::new(), err);
        }
    };
    if json {
        let text = serde_json::to_string_pretty(reply).unwrap_or_default();
        return (ExitCode::SUCCESS, text + "\n", err);
    }
    let out = match reply {
        Reply::Accounts { accounts, damaged } => {
            let mut out = format!(
                "{:<32} {:<20} {:>12} {:>12} {:<20} {}\n",
                "USER", "CREATED", "QUOTA", "USED", "LAST LOGIN", "DISABLED"
            );
            for a in accounts {
                let used = a.used.map_or("-".to_owned(), |u| bytesize::ByteSize::b(u).display().iec().to_string());
                out.push_str(&format!(
                    "{:<32} {:<20} {:>12} {:>12} {:<20} {}\n",
                    a.user,
                    a.created.get(..19).unwrap_or(&a.created),
                    a.quota.to_string(),
                    used,
                    a.last_login.as_deref().map_or("-", |t| t.get(..19).unwrap_or(t)),
                    if a.disabled { "yes" } else { "no" }
                ));
            }
            for d in damaged {
                err.push_str(&format!("damaged record: {d}\n"));
            }
            out
        }
        Reply::Done { message, changed, .. } => {
            format!("{message}{}\n", if *changed { "" } else { " (unchanged)" })
        }
        Reply::Token { token, kind, expires, .. } => {
            err.push_str(&format!(
                "This {} token is shown once and expires {expires}; only its hash is stored.\n",
                match kind {
                    super::TokenKind::Invite => "invitation",
                    super::TokenKind::Reset => "reset",
                }
            ));
            format!("{token}\n")
        }
    };
    (ExitCode::SUCCESS, out, err)
}
