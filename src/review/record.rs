//! One audit log line, parsed: the reader's view of what `crate::audit` writes.
//!
//! The writer's `Record` borrows and only serialises; this one owns its fields
//! and only deserialises, and it is lenient where a reviewer needs it to be:
//! unknown fields are ignored, optional fields may be missing or `null`, and an
//! outcome this version does not know is kept as text rather than refused.
//! Only `ts`, `event` and `outcome` are required, because merging needs the
//! time and every view needs the other two. A line that lacks them, or is not
//! JSON, is an error value the caller reports and skips.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Which log a record came from. The names are the CLI's and `--json`'s `"log"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Logins,
    Commands,
    Uploads,
    Downloads,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Logins, Kind::Commands, Kind::Uploads, Kind::Downloads];

    /// The name used on the command line and in `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Logins => "logins",
            Kind::Commands => "commands",
            Kind::Uploads => "uploads",
            Kind::Downloads => "downloads",
        }
    }

    /// The live file name under `logs/`, taken from the writer so the two never drift.
    pub fn file_name(self) -> &'static str {
        use crate::audit::Log;
        match self {
            Kind::Logins => Log::Accounts.file_name(),
            Kind::Commands => Log::Commands.file_name(),
            Kind::Uploads => Log::Uploads.file_name(),
            Kind::Downloads => Log::Downloads.file_name(),
        }
    }

    /// Uploads and downloads: the logs with sizes, byte counts and durations.
    pub fn is_transfer(self) -> bool {
        matches!(self, Kind::Uploads | Kind::Downloads)
    }
}

/// How an attempt ended, as written in `outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum Outcome {
    Ok,
    Fail,
    Complete,
    Incomplete,
    Rejected,
    /// A value this version does not know; kept so it can still be shown.
    Other(String),
}

impl From<String> for Outcome {
    fn from(text: String) -> Outcome {
        match text.as_str() {
            "ok" => Outcome::Ok,
            "fail" => Outcome::Fail,
            "complete" => Outcome::Complete,
            "incomplete" => Outcome::Incomplete,
            "rejected" => Outcome::Rejected,
            _ => Outcome::Other(text),
        }
    }
}

impl Outcome {
    pub fn as_str(&self) -> &str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Complete => "complete",
            Outcome::Incomplete => "incomplete",
            Outcome::Rejected => "rejected",
            Outcome::Other(text) => text,
        }
    }

    /// Fail and rejected: what a terminal shows in red.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Rejected)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record of any of the four logs. Field meanings are in docs/AUDIT.md.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Record {
    #[serde(deserialize_with = "timestamp")]
    pub ts: Timestamp,
    #[serde(default)]
    pub peer: String,
    #[serde(default)]
    pub session: Option<u64>,
    #[serde(default)]
    pub user: Option<String>,
    pub event: String,
    /// The front end: `Some("ftp")`, or absent for the native protocol.
    #[serde(default)]
    pub proto: Option<String>,
    pub outcome: Outcome,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The writing server run's id (absent in logs from before it existed).
    #[serde(default)]
    pub boot: Option<String>,
    /// The write order within that run, shared by the four logs.
    #[serde(default)]
    pub seq: Option<u64>,
}

impl Record {
    /// Parses one line (without its newline). The error text is for a warning.
    pub fn parse(line: &[u8]) -> Result<Record, String> {
        // serde would also fill a struct from a JSON array; the logs hold objects only.
        if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err("not a JSON object".to_owned());
        }
        serde_json::from_slice(line).map_err(|e| e.to_string())
    }

    /// The merge order: time, then within one server run the write order,
    /// so records of the same millisecond come out as they were written
    /// whichever log holds them (a `pwd` before the `logout` that followed
    /// it). Records without `boot`/`seq` sort by time alone.
    pub fn order_key(&self) -> (Timestamp, Option<&str>, Option<u64>) {
        (self.ts, self.boot.as_deref(), self.seq)
    }

    /// The IP part of `peer` (`"10.0.0.5:40000"`, `"[::1]:5000"`, or a bare address).
    pub fn peer_ip(&self) -> Option<IpAddr> {
        peer_ip(&self.peer)
    }
}

/// The IP part of a peer string; `None` when it is neither `ip:port` nor an IP.
pub fn peer_ip(peer: &str) -> Option<IpAddr> {
    if let Ok(sock) = peer.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    peer.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok()
}

fn timestamp<'de, D: Deserializer<'de>>(de: D) -> Result<Timestamp, D::Error> {
    let text = std::borrow::Cow::<str>::deserialize(de)?;
    text.parse::<Timestamp>().map_err(serde::de::Error::custom)
}

/// A record and where it came from, as it travels through merge, filter and output.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub record: Record,
    /// The line exactly as read (valid UTF-8, no newline), for `--json`.
    pub raw: String,
}

impl Entry {
    /// The original object with `"log":"<kind>"` added as its last key. The
    /// raw line parsed as a JSON object with required keys, so once trimmed
    /// it ends in a `}` that follows at least one member.
    pub fn json_with_log(&self) -> String {
        let body = self.raw.trim_end();
        let body = body.strip_suffix('}').unwrap_or(body);
        format!("{body},\"log\":\"{}\"}}", self.kind.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN_FAIL: &str = r#"{"ts":"2026-11-23T07:12:16.972Z","peer":"127.0.0.1:57162","session":3,"user":"alice","event":"login","outcome":"fail","reason":"auth_failed","message":"invalid username or password"}"#;
    const UPLOAD: &str = r#"{"ts":"2026-11-23T08:00:02.000Z","peer":"10.0.0.5:40000","session":9,"user":"alice","event":"upload","outcome":"complete","path":"/docs/a.bin","size":1048576,"bytes":524288,"offset":524288,"sha256":"ab","duration_ms":120}"#;

    #[test]
    fn a_failed_login_line_parses_every_field() {
        let r = Record::parse(LOGIN_FAIL.as_bytes()).unwrap();
        assert_eq!(r.ts, "2026-11-23T07:12:16.972Z".parse::<Timestamp>().unwrap());
        assert_eq!((r.peer.as_str(), r.session, r.user.as_deref()), ("127.0.0.1:57162", Some(3), Some("alice")));
        assert_eq!((r.event.as_str(), &r.outcome), ("login", &Outcome::Fail));
        assert_eq!(r.reason.as_deref(), Some("auth_failed"));
        assert_eq!(r.message.as_deref(), Some("invalid username or password"));
        assert_eq!((r.path, r.size, r.bytes), (None, None, None));
    }

    #[test]
    fn a_transfer_line_parses_sizes_and_duration() {
        let r = Record::parse(UPLOAD.as_bytes()).unwrap();
        assert_eq!(r.outcome, Outcome::Complete);
        assert_eq!(r.path.as_deref(), Some("/docs/a.bin"));
        assert_eq!((r.size, r.bytes, r.offset, r.duration_ms), (Some(1048576), Some(524288), Some(524288), Some(120)));
    }

    #[test]
    fn unknown_fields_nulls_and_unknown_outcomes_are_tolerated() {
        let line = r#"{"ts":"2026-11-23T07:00:00.000Z","peer":"[::1]:5000","session":1,"user":null,"event":"handshake","outcome":"deferred","future":{"x":[1,2]}}"#;
        let r = Record::parse(line.as_bytes()).unwrap();
        assert_eq!(r.user, None);
        assert_eq!(r.outcome, Outcome::Other("deferred".into()));
        assert_eq!(r.outcome.to_string(), "deferred");
        assert_eq!(r.peer_ip(), Some("::1".parse().unwrap()));
    }

    #[test]
    fn torn_garbage_and_incomplete_lines_are_errors_not_panics() {
        let torn = &LOGIN_FAIL.as_bytes()[..40];
        for bad in [torn, b"", b"not json", b"[1,2]", b"{\"ts\":\"yesterday\",\"event\":\"x\",\"outcome\":\"ok\"}"] {
            assert!(Record::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(Record::parse(br#"{"ts":"2026-11-23T07:00:00Z","outcome":"ok"}"#).is_err(), "event is required");
        assert!(Record::parse(&[0xff, 0xfe]).is_err());
        let array = r#"["2026-11-23T07:00:00Z","1.2.3.4:5",1,"u","login","ok"]"#;
        assert_eq!(Record::parse(array.as_bytes()).unwrap_err(), "not a JSON object");
    }

    #[test]
    fn peer_ip_drops_the_port_for_v4_and_bracketed_v6() {
        assert_eq!(peer_ip("10.0.0.5:40000"), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(peer_ip("[2001:db8::7]:22"), Some("2001:db8::7".parse().unwrap()));
        assert_eq!(peer_ip("10.0.0.5"), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(peer_ip("somewhere"), None);
    }

    #[test]
    fn json_output_keeps_the_original_object_and_adds_the_log_name() {
        let entry =
            Entry { kind: Kind::Uploads, record: Record::parse(UPLOAD.as_bytes()).unwrap(), raw: UPLOAD.into() };
        let out: serde_json::Value = serde_json::from_str(&entry.json_with_log()).unwrap();
        let original: serde_json::Value = serde_json::from_str(UPLOAD).unwrap();
        assert_eq!(out["log"], "uploads");
        for (key, value) in original.as_object().unwrap() {
            assert_eq!(&out[key], value, "{key}");
        }
        assert!(entry.json_with_log().starts_with(r#"{"ts":"2026-11-23T08:00:02.000Z","peer""#));
    }

    #[test]
    fn kinds_name_the_writers_files() {
        let files: Vec<_> = Kind::ALL.iter().map(|k| k.file_name()).collect();
        assert_eq!(files, ["register_login_accounts.log", "shell_command.log", "upload_file.log", "download_file.log"]);
    }
}
