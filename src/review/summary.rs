//! `--summary`: per-user totals and the peers with the most failed logins.
//!
//! Definitions (docs/AUDIT.md repeats them):
//! - a failed login is a `login` record with outcome `fail` or `rejected`
//!   (a throttled attempt is still someone trying a password);
//! - uploads/downloads count transfers that ended `complete`; their bytes are
//!   the sum of `bytes` over every attempt of any outcome, i.e. what actually
//!   crossed the wire, so a transfer resumed once adds up to its file size;
//! - commands count every command record, whatever its outcome;
//! - rejected counts records of any log with outcome `rejected` (a throttled
//!   login is counted there too).
//!
//! Records without a user (a failed handshake) are totalled under `-`.
//! Memory grows with the number of distinct users and failing IPs (and at most
//! [`MAX_USERS_TRIED`] names per IP), not with the number of records; past
//! [`MAX_USERS`] rows, further names are totalled together as `(other users)`,
//! and failing IPs past that many as `(other peers)`.

use super::record::{Entry, Kind, Outcome};
use super::units;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::IpAddr;

/// How many peers the top list shows.
pub const TOP_PEERS: usize = 10;

/// User rows kept; names first seen after this many share the row
/// [`OTHER_USERS`], so a log full of invented names cannot exhaust memory.
pub const MAX_USERS: usize = 100_000;
/// The row that totals users beyond [`MAX_USERS`].
pub const OTHER_USERS: &str = "(other users)";
/// Likewise for failing peer IPs beyond [`MAX_USERS`] distinct ones.
pub const OTHER_PEERS: &str = "(other peers)";

/// Distinct user names remembered per failing IP: a guesser cycling through
/// random names must not make the summary's memory grow with the log.
pub const MAX_USERS_TRIED: usize = 1000;

/// One user's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserTotals {
    pub user: String,
    pub logins_ok: u64,
    pub logins_failed: u64,
    pub uploads: u64,
    pub upload_bytes: u64,
    pub downloads: u64,
    pub download_bytes: u64,
    pub commands: u64,
    pub rejected: u64,
}

/// One peer IP in the failed-login ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerFailures {
    pub ip: String,
    pub failed_logins: u64,
    /// Distinct user names tried from this IP, counted up to [`MAX_USERS_TRIED`].
    pub users: u64,
}

/// The whole summary, as printed by `--summary --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub records: u64,
    pub users: Vec<UserTotals>,
    pub top_failed_login_peers: Vec<PeerFailures>,
}

/// Accumulates entries into a [`Report`].
#[derive(Debug)]
pub struct Summary {
    records: u64,
    users: BTreeMap<String, UserTotals>,
    /// Failed logins per IP, and the user names tried from it.
    peers: HashMap<String, (u64, std::collections::HashSet<String>)>,
    /// [`MAX_USERS`], smaller in tests.
    cap: usize,
}

impl Default for Summary {
    fn default() -> Self {
        Summary::with_cap(MAX_USERS)
    }
}

impl Summary {
    /// A summary keeping at most `cap` user rows and `cap` failing IPs.
    pub fn with_cap(cap: usize) -> Self {
        Summary { records: 0, users: BTreeMap::new(), peers: HashMap::new(), cap }
    }

    pub fn add(&mut self, entry: &Entry) {
        let r = &entry.record;
        self.records += 1;
        let mut name = r.user.clone().unwrap_or_else(|| "-".to_owned());
        if self.users.len() >= self.cap && !self.users.contains_key(&name) {
            name = OTHER_USERS.to_owned();
        }
        let totals = self.users.entry(name.clone()).or_insert_with(|| UserTotals { user: name, ..Default::default() });
        if r.outcome == Outcome::Rejected {
            totals.rejected += 1;
        }
        match entry.kind {
            Kind::Logins if r.event == "login" => match r.outcome {
                Outcome::Ok => totals.logins_ok += 1,
                Outcome::Fail | Outcome::Rejected => {
                    totals.logins_failed += 1;
                    let mut ip =
                        r.peer_ip().map(|ip: IpAddr| ip.to_canonical().to_string()).unwrap_or_else(|| r.peer.clone());
                    if self.peers.len() >= self.cap && !self.peers.contains_key(&ip) {
                        ip = OTHER_PEERS.to_owned();
                    }
                    let peer = self.peers.entry(ip).or_default();
                    peer.0 += 1;
                    if let Some(user) = r.user.as_ref().filter(|_| peer.1.len() < MAX_USERS_TRIED) {
                        peer.1.insert(user.clone());
                    }
                }
                _ => {}
            },
            Kind::Logins => {}
            Kind::Commands => totals.commands += 1,
            Kind::Uploads => {
                totals.uploads += u64::from(r.outcome == Outcome::Complete);
                totals.upload_bytes = totals.upload_bytes.saturating_add(r.bytes.unwrap_or(0));
            }
            Kind::Downloads => {
                totals.downloads += u64::from(r.outcome == Outcome::Complete);
                totals.download_bytes = totals.download_bytes.saturating_add(r.bytes.unwrap_or(0));
            }
        }
    }

    /// Users by name; peers by failed logins (most first), then by IP.
    pub fn report(self) -> Report {
        let mut peers: Vec<PeerFailures> = self
            .peers
            .into_iter()
            .map(|(ip, (failed_logins, users))| PeerFailures { ip, failed_logins, users: users.len() as u64 })
            .collect();
        peers.sort_by(|a, b| b.failed_logins.cmp(&a.failed_logins).then_with(|| a.ip.cmp(&b.ip)));
        peers.truncate(TOP_PEERS);
        // Records without a user are mostly handshakes, which no column counts;
        // show the `-` row only when it has something in it.
        let users = self
            .users
            .into_values()
            .filter(|u| u.user != "-" || *u != UserTotals { user: "-".to_owned(), ..Default::default() })
            .collect();
        Report { records: self.records, users, top_failed_login_peers: peers }
    }
}

/// Prints the report for people: two aligned tables.
pub fn write_text(out: &mut impl Write, report: &Report) -> io::Result<()> {
    if report.records == 0 {
        return writeln!(out, "No matching records.");
    }
    let header = [
        "USER",
        "LOGINS OK",
        "LOGINS FAILED",
        "UPLOADS",
        "UPLOADED",
        "DOWNLOADS",
        "DOWNLOADED",
        "COMMANDS",
        "REJECTED",
    ];
    let rows: Vec<Vec<String>> = report
        .users
        .iter()
        .map(|u| {
            vec![
                u.user.clone(),
                u.logins_ok.to_string(),
                u.logins_failed.to_string(),
                u.uploads.to_string(),
                units::size(u.upload_bytes),
                u.downloads.to_string(),
                units::size(u.download_bytes),
                u.commands.to_string(),
                u.rejected.to_string(),
            ]
        })
        .collect();
    write_aligned(out, &header, &rows)?;
    writeln!(out)?;
    if report.top_failed_login_peers.is_empty() {
        return writeln!(out, "No failed logins.");
    }
    writeln!(out, "Top peers by failed logins:")?;
    let rows: Vec<Vec<String>> = report
        .top_failed_login_peers
        .iter()
        .map(|p| vec![p.ip.clone(), p.failed_logins.to_string(), p.users.to_string()])
        .collect();
    write_aligned(out, &["PEER IP", "FAILED LOGINS", "USERS TRIED"], &rows)
}

/// First column left-aligned, the numbers right-aligned under their headers.
/// Cells are escaped for the terminal first (a user name is peer text).
fn write_aligned(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|c| crate::protocol::display::escape(c).into_owned()).collect()).collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| if i == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
            .collect();
        parts.join("  ")
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::record::Record;

    fn add(summary: &mut Summary, kind: Kind, json: &str) {
        summary.add(&Entry { kind, record: Record::parse(json.as_bytes()).unwrap(), raw: json.into() });
    }

    fn login(summary: &mut Summary, user: &str, peer: &str, outcome: &str) {
        let json = format!(
            r#"{{"ts":"2026-11-23T07:00:00Z","peer":"{peer}","session":1,"user":"{user}","event":"login","outcome":"{outcome}"}}"#
        );
        add(summary, Kind::Logins, &json);
    }

    fn transfer(summary: &mut Summary, kind: Kind, user: &str, outcome: &str, bytes: u64) {
        let json = format!(
            r#"{{"ts":"2026-11-23T07:00:00Z","peer":"10.0.0.5:1","session":1,"user":"{user}","event":"x","outcome":"{outcome}","bytes":{bytes}}}"#
        );
        add(summary, kind, &json);
    }

    #[test]
    fn per_user_totals_follow_the_documented_definitions() {
        let mut s = Summary::default();
        login(&mut s, "alice", "10.0.0.5:1", "ok");
        login(&mut s, "alice", "10.0.0.6:1", "fail");
        login(&mut s, "alice", "10.0.0.6:2", "rejected");
        add(&mut s, Kind::Logins, r#"{"ts":"2026-11-23T07:00:00Z","user":"alice","event":"logout","outcome":"ok"}"#);
        transfer(&mut s, Kind::Uploads, "alice", "incomplete", 512);
        transfer(&mut s, Kind::Uploads, "alice", "complete", 512);
        transfer(&mut s, Kind::Uploads, "alice", "rejected", 0);
        transfer(&mut s, Kind::Downloads, "alice", "complete", 100);
        add(&mut s, Kind::Commands, r#"{"ts":"2026-11-23T07:00:00Z","user":"alice","event":"rm","outcome":"fail"}"#);
        add(&mut s, Kind::Commands, r#"{"ts":"2026-11-23T07:00:00Z","user":"alice","event":"pwd","outcome":"ok"}"#);
        let report = s.report();
        assert_eq!(report.records, 10);
        assert_eq!(
            report.users,
            vec![UserTotals {
                user: "alice".into(),
                logins_ok: 1,
                logins_failed: 2,
                uploads: 1,
                upload_bytes: 1024,
                downloads: 1,
                download_bytes: 100,
                commands: 2,
                rejected: 2,
            }]
        );
    }

    #[test]
    fn peers_rank_by_failed_logins_by_ip_with_distinct_users() {
        let mut s = Summary::default();
        for (user, peer) in
            [("a", "10.0.0.9:1"), ("b", "10.0.0.9:2"), ("a", "10.0.0.9:3"), ("a", "[::1]:4"), ("c", "[::1]:5")]
        {
            login(&mut s, user, peer, "fail");
        }
        login(&mut s, "a", "10.0.0.1:1", "fail");
        login(&mut s, "a", "10.0.0.2:1", "ok");
        let peers = s.report().top_failed_login_peers;
        let got: Vec<(&str, u64, u64)> = peers.iter().map(|p| (p.ip.as_str(), p.failed_logins, p.users)).collect();
        assert_eq!(got, [("10.0.0.9", 3, 2), ("::1", 2, 2), ("10.0.0.1", 1, 1)]);
    }

    #[test]
    fn users_and_peers_beyond_the_caps_are_totalled_together() {
        const CAP: usize = 300;
        let mut s = Summary::with_cap(CAP);
        for i in 0..CAP + 3 {
            login(&mut s, &format!("u{i:06}"), &format!("10.{}.{}.{}:1", i >> 16, (i >> 8) & 255, i & 255), "fail");
        }
        login(&mut s, "u000000", "10.0.0.0:2", "fail");
        let report = s.report();
        assert_eq!(report.users.len(), CAP + 1);
        let failed = |name: &str| report.users.iter().find(|u| u.user == name).unwrap().logins_failed;
        assert_eq!((failed(OTHER_USERS), failed("u000000")), (3, 2));
        let peers = &report.top_failed_login_peers;
        assert_eq!((peers[0].ip.as_str(), peers[0].failed_logins), (OTHER_PEERS, 3));
        assert_eq!((peers[1].ip.as_str(), peers[1].failed_logins, peers[1].users), ("10.0.0.0", 2, 1));
    }

    #[test]
    fn names_tried_per_peer_are_counted_up_to_the_cap() {
        let mut s = Summary::default();
        for i in 0..MAX_USERS_TRIED + 7 {
            login(&mut s, &format!("guess{i}"), "10.0.0.9:1", "fail");
        }
        let peer = &s.report().top_failed_login_peers[0];
        assert_eq!((peer.failed_logins, peer.users), ((MAX_USERS_TRIED + 7) as u64, MAX_USERS_TRIED as u64));
    }

    #[test]
    fn the_top_list_is_capped_and_text_output_is_aligned() {
        let mut s = Summary::default();
        for i in 0..TOP_PEERS + 5 {
            login(&mut s, "mallory", &format!("10.0.1.{i}:1"), "fail");
        }
        let report = s.report();
        assert_eq!(report.top_failed_login_peers.len(), TOP_PEERS);
        let mut text = Vec::new();
        write_text(&mut text, &report).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("USER     LOGINS OK  LOGINS FAILED"), "{text}");
        assert!(text.contains("mallory          0             15"), "{text}");
        assert!(text.contains("Top peers by failed logins:"));
    }

    #[test]
    fn records_without_a_user_get_a_row_only_when_something_counts() {
        let mut s = Summary::default();
        add(
            &mut s,
            Kind::Logins,
            r#"{"ts":"2026-11-23T07:00:00Z","peer":"1.2.3.4:5","event":"handshake","outcome":"fail"}"#,
        );
        assert!(s.report().users.is_empty());
        let mut s = Summary::default();
        add(
            &mut s,
            Kind::Logins,
            r#"{"ts":"2026-11-23T07:00:00Z","peer":"1.2.3.4:5","event":"handshake","outcome":"rejected"}"#,
        );
        let users = s.report().users;
        assert_eq!((users[0].user.as_str(), users[0].rejected), ("-", 1));
    }

    #[test]
    fn an_empty_summary_says_so() {
        let mut text = Vec::new();
        write_text(&mut text, &Summary::default().report()).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), "No matching records.\n");
    }
}
