//! Operating the server, in modules by theme: graceful shutdown on
//! SIGTERM/SIGINT and log reopening on SIGHUP ([`signals`]: the real binary,
//! since signals are process-wide), [`deadlines`] against slow and silent
//! peers, connection [`limits`], login [`throttling`] and its fail2ban
//! filter, clients that never read ([`silent_readers`]), and running out of
//! file [`descriptors`]. (A full disk, on a real small filesystem:
//! tests/disk_full.rs.)
//!
//! Deadlines are set to a second or two so the suite stays fast. Timing
//! assertions use lower bounds measured from a moment before the server's
//! clock starts (less [`SLACK`] for its per-turn clock) and generous upper
//! bounds, so they hold on a loaded machine.

#[path = "../common/mod.rs"]
mod common;
mod deadlines;
mod descriptors;
mod limits;
mod signals;
mod silent_readers;
mod throttling;

use common::*;
use mioftp::protocol::ErrorCode;
use mioftp_client::{NoProgress, PutOptions};
use rustix::process::Signal;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// The server stamps a connection's progress with the time its loop turn
/// began, and one turn may go on reading bytes that arrived after that
/// (several requests in a row, a body). So its deadline can fall a little
/// before "deadline after the last byte" as the test measures it; lower
/// bounds allow this much. A server that cut early would still fail them.
const SLACK: Duration = Duration::from_millis(250);
/// The deadlines the tests configure.
const DEADLINE: Duration = Duration::from_secs(1);

const UPLOADS: &str = "upload_file.log";
const ACCOUNTS: &str = "register_login_accounts.log";
const COMMANDS: &str = "shell_command.log";

/// Registers `user` on a daemon and logs in on a raw socket.
fn daemon_login(d: &Daemon, user: &str) -> Raw {
    if !d.root.join(format!("accounts/{user}.json")).exists() {
        let mut c = d.client();
        c.register(user, PASSWORD).expect("register");
        c.exit().unwrap();
    }
    let mut raw = d.raw_checked();
    scram_login(&mut raw, user);
    raw
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of the line; the state (field 3) is after_name[0].
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}
