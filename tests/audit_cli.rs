//! `mioftpd audit` end to end: the real binary over a temporary data root
//! filled from `tests/fixtures/audit/logs` (rotated, gzipped, torn and garbage
//! lines included) or from records written by the server's own `AuditLog`.
//!
//! The fixture holds 34 valid records: logins 16, commands 7, uploads 6,
//! downloads 5, and 5 bad lines. Session ids are unique per record where a
//! test needs to name records (see the fixture's session column).

use mioftp::audit::{AuditLog, Log, Outcome, Record};
use mioftp::protocol::ErrorCode;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn fixture_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit/logs");
    for file in std::fs::read_dir(src).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), logs.join(file.file_name())).unwrap();
    }
    root
}

fn audit_cmd(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftpd"));
    cmd.arg("audit").args(args).arg("--root").arg(root).env_remove("NO_COLOR").env_remove("MIOFTPD_ROOT");
    cmd
}

fn audit(root: &Path, args: &[&str]) -> Output {
    audit_cmd(root, args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}, stderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(root: &Path, args: &[&str]) -> Vec<Value> {
    let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    stdout(&audit(root, &args)).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn sessions(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["session"].as_u64().unwrap()).collect()
}

fn field<'a>(records: &'a [Value], key: &str) -> Vec<&'a str> {
    records.iter().map(|r| r[key].as_str().unwrap_or("-")).collect()
}

/// Writes records with the server's own writer, then moves each `ts` back by
/// its age in seconds (the writer always stamps "now"), keeping the key order.
fn write_relative(root: &Path, log: Log, records: &[(i64, Record<'_>)]) {
    let mut writer = AuditLog::open(&root.join("logs")).unwrap();
    records.iter().for_each(|(_, record)| writer.record(log, record.clone()));
    let path = root.join("logs").join(log.file_name());
    let text = std::fs::read_to_string(&path).unwrap();
    let now = jiff::Timestamp::now();
    let restamp = |(line, (age, _)): (&str, &(i64, Record<'_>))| {
        let (_, rest) = line.split_once("\",").unwrap();
        format!("{{\"ts\":\"{:.3}\",{rest}\n", now - jiff::SignedDuration::from_secs(*age))
    };
    std::fs::write(path, text.lines().zip(records).map(restamp).collect::<String>()).unwrap();
}

fn peer(text: &str) -> std::net::SocketAddr {
    text.parse().unwrap()
}

#[test]
fn all_logs_merge_in_time_order_across_rotated_gz_and_live_files() {
    let root = fixture_root();
    let records = json(root.path(), &["all"]);
    assert_eq!(records.len(), 34);
    let ts = field(&records, "ts");
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
    assert_eq!(ts[0], "2026-11-21T09:00:00.000Z", "the oldest record comes from register_login_accounts.log.2.gz");
    let count = |kind: &str| records.iter().filter(|r| r["log"] == kind).count();
    assert_eq!([count("logins"), count("commands"), count("uploads"), count("downloads")], [16, 7, 6, 5]);
    assert_eq!(json(root.path(), &[]).len(), 34, "all is the default");
}

#[test]
fn bad_lines_are_skipped_with_one_warning_each_naming_file_and_line() {
    let root = fixture_root();
    let out = audit(root.path(), &["all", "--json"]);
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 5, "{stderr}");
    for place in [
        "register_login_accounts.log:6:",
        "shell_command.log:4:",
        "upload_file.log:3:",
        "download_file.log:2:",
        "register_login_accounts.log:10: skipped, not an audit record: last line has no newline",
    ] {
        assert!(stderr.contains(place), "{place} missing in:\n{stderr}");
    }
    assert_eq!(stdout(&out).lines().count(), 34);
}

#[test]
fn json_lines_are_the_original_objects_plus_the_log_name() {
    let root = fixture_root();
    let quota = json(root.path(), &["commands", "--user", "bob", "--since", "2026-11-23"]);
    let expected = r#"{"ts":"2026-11-23T08:10:00.000Z","peer":"10.0.0.6:40200","session":18,"user":"bob","event":"quota","outcome":"ok","args":[],"client_version":"0.2","log":"commands"}"#;
    assert_eq!(quota, vec![serde_json::from_str::<Value>(expected).unwrap()], "unknown fields are kept");
}

#[test]
fn who_failed_to_log_in_from_where_in_the_last_hour() {
    let root = tempfile::tempdir().unwrap();
    let fail = |p: &'static str, s| {
        Record::new(peer(p), s, Some("alice"), "login", Outcome::Fail).failed(ErrorCode::AuthFailed, "x")
    };
    write_relative(
        root.path(),
        Log::Accounts,
        &[
            (7200, fail("198.51.100.1:1", 1)),
            (1800, fail("203.0.113.9:2", 2)),
            (1200, Record::new(peer("10.0.0.5:3"), 3, Some("alice"), "login", Outcome::Ok)),
            (600, fail("[2001:db8::9]:4", 4)),
        ],
    );
    let records = json(root.path(), &["logins", "--outcome", "fail", "--since", "1h"]);
    assert_eq!(sessions(&records), [2, 4]);
    let table = stdout(&audit(root.path(), &["logins", "--outcome", "fail", "--since", "1h"]));
    assert!(
        table.contains("203.0.113.9:2") && table.contains("auth_failed") && !table.contains("198.51.100.1"),
        "{table}"
    );
    assert_eq!(json(root.path(), &["logins", "--since", "25m", "--until", "15m"]).len(), 1);
}

#[test]
fn what_alice_uploaded_today_and_how_big() {
    let root = tempfile::tempdir().unwrap();
    let upload = |user, s, size| Record {
        path: Some("/f.bin"),
        size: Some(size),
        bytes: Some(size),
        ..Record::new(peer("10.0.0.5:1"), s, Some(user), "upload", Outcome::Complete)
    };
    // Run twice at most: a UTC midnight between writing and reading moves "today".
    for _ in 0..2 {
        let day = jiff::Timestamp::now().strftime("%F").to_string();
        write_relative(
            root.path(),
            Log::Uploads,
            &[(3 * 86400, upload("alice", 1, 10)), (0, upload("alice", 2, 3 << 20)), (0, upload("bob", 3, 5))],
        );
        let records = json(root.path(), &["uploads", "--user", "alice", "--since", "today"]);
        let table = stdout(&audit(root.path(), &["uploads", "--user", "alice", "--since", "today"]));
        if jiff::Timestamp::now().strftime("%F").to_string() != day {
            std::fs::remove_file(root.path().join("logs").join(Log::Uploads.file_name())).unwrap();
            continue;
        }
        assert_eq!(sessions(&records), [2]);
        assert!(table.contains("/f.bin") && table.contains("3.0 MiB"), "{table}");
        return;
    }
    panic!("midnight twice in one test");
}

#[test]
fn which_downloads_were_incomplete() {
    let root = fixture_root();
    let records = json(root.path(), &["downloads", "--outcome", "incomplete"]);
    assert_eq!(sessions(&records), [19]);
    assert_eq!((records[0]["bytes"].as_u64(), records[0]["size"].as_u64()), (Some(100000), Some(1048576)));
}

#[test]
fn outcome_ok_matches_ok_and_complete_and_lists_are_or() {
    let root = fixture_root();
    let ok = json(root.path(), &["--outcome", "ok"]);
    assert_eq!(ok.len(), 19);
    assert!(field(&ok, "outcome").iter().all(|o| *o == "ok" || *o == "complete"));
    assert_eq!(json(root.path(), &["--outcome", "complete"]), ok);
    let failed = json(root.path(), &["logins", "--outcome", "fail,rejected"]);
    assert_eq!(sessions(&failed), [2, 4, 12, 13, 14, 15, 16]);
    assert_eq!(sessions(&json(root.path(), &["logins", "--outcome", "rejected"])), [15]);
}

#[test]
fn peer_matches_the_ip_whatever_the_port_for_v4_and_v6() {
    let root = fixture_root();
    for given in ["203.0.113.7", "203.0.113.7:1", "::ffff:203.0.113.7"] {
        assert_eq!(sessions(&json(root.path(), &["--peer", given])), [12, 13, 14, 15], "{given}");
    }
    for given in ["2001:db8::7", "[2001:db8::7]:9"] {
        assert_eq!(sessions(&json(root.path(), &["--peer", given])), [16, 19, 20], "{given}");
    }
}

#[test]
fn path_globs_match_virtual_paths() {
    let root = fixture_root();
    let docs = json(root.path(), &["--path", "/docs/*"]);
    assert_eq!(
        field(&docs, "path"),
        ["/docs/x", "/docs/nope.txt", "/docs/a.bin", "/docs/a.bin", "/docs/a.bin", "/docs/a.bin", "/docs/a.bin"]
    );
    let txt = json(root.path(), &["--path", "*.txt"]);
    assert_eq!(field(&txt, "path"), ["/old.txt", "/b.txt", "/docs/nope.txt", "/notes.txt", "/missing.txt"]);
    assert_eq!(json(root.path(), &["uploads", "--path", "/docs/**"]).len(), 3);
}

#[test]
fn since_and_until_take_dates_and_rfc3339_inclusive_then_exclusive() {
    let root = fixture_root();
    assert_eq!(sessions(&json(root.path(), &["--since", "2026-11-22", "--until", "2026-11-23"])), [2, 3, 4, 3, 3, 3]);
    let window = json(root.path(), &["--since", "2026-11-23T08:00:01.100Z", "--until", "2026-11-23T08:10:00Z"]);
    assert_eq!(window.len(), 10, "08:00:01.100 is in, the quota at 08:10:00 is out");
    assert_eq!(
        json(root.path(), &["--since", "2026-11-23T09:00:00+01:00", "--until", "2026-11-23T08:00:01.2Z"]).len(),
        1
    );
}

#[test]
fn filters_combine_with_and() {
    let root = fixture_root();
    let records = json(root.path(), &["--user", "alice", "--outcome", "fail,rejected", "--since", "2026-11-23"]);
    assert_eq!(field(&records, "event"), ["login", "login", "login", "rm", "cd", "upload", "download", "download"]);
    let both = json(root.path(), &["uploads", "--user", "alice", "--path", "/docs/*", "--outcome", "ok"]);
    assert_eq!(sessions(&both), [17]);
}

#[test]
fn the_table_is_aligned_human_readable_and_coloured_only_when_asked() {
    let root = fixture_root();
    let table = stdout(&audit(root.path(), &["uploads", "--user", "alice", "--since", "2026-11-23"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[0].starts_with("TIME (UTC)") && lines[0].contains("SIZE") && lines[0].contains("DURATION"));
    assert!(lines[3].contains("10.0 GiB") && lines[3].ends_with("rejected    quota_exceeded"), "{}", lines[3]);
    let at = |line: &str, word: &str| line.find(word).unwrap();
    assert_eq!(at(lines[1], "/docs/a.bin"), at(lines[3], "/big.iso"));
    assert!(!table.contains('\x1b'), "no colour when stdout is not a terminal");
    let coloured = stdout(&audit(root.path(), &["uploads", "--color", "always"]));
    assert!(coloured.contains("\x1b[31mrejected") && coloured.contains("\x1b[33mincomplete"));
    let no_color = audit_cmd(root.path(), &["uploads"]).env("NO_COLOR", "1").output().unwrap();
    assert!(!stdout(&no_color).contains('\x1b'));
    let nothing = audit(root.path(), &["--user", "nobody"]);
    assert_eq!(
        (stdout(&nothing).as_str(), String::from_utf8_lossy(&nothing.stderr).contains("no matching records")),
        ("", true)
    );
}

#[test]
fn summary_totals_users_and_ranks_peers_by_failed_logins() {
    let root = fixture_root();
    let report: Value = serde_json::from_str(&stdout(&audit(root.path(), &["--summary", "--json"]))).unwrap();
    let user = |name: &str, n: [u64; 8]| {
        serde_json::json!({"user": name, "logins_ok": n[0], "logins_failed": n[1], "uploads": n[2], "upload_bytes": n[3],
            "downloads": n[4], "download_bytes": n[5], "commands": n[6], "rejected": n[7]})
    };
    let expected = serde_json::json!({
        "records": 34,
        "users": [
            user("alice", [2, 3, 2, 524288 + 524288 + 2048, 1, 10, 5, 4]),
            user("bob", [1, 1, 1, 100, 1, 100000 + 948576, 2, 1]),
            user("mallory", [0, 1, 0, 0, 0, 0, 0, 0]),
        ],
        "top_failed_login_peers": [
            {"ip": "203.0.113.7", "failed_logins": 4, "users": 2},
            {"ip": "2001:db8::7", "failed_logins": 1, "users": 1},
        ],
    });
    assert_eq!(report, expected);
    let text = stdout(&audit(root.path(), &["--summary", "--since", "2026-11-23"]));
    assert!(text.contains("Top peers by failed logins:") && text.contains("203.0.113.7"), "{text}");
    let alice = text.lines().find(|l| l.starts_with("alice")).unwrap();
    assert_eq!(
        alice.split_whitespace().collect::<Vec<_>>(),
        ["alice", "1", "3", "2", "1.0", "MiB", "0", "0", "B", "5", "4"]
    );
}

#[test]
fn xferlog_prints_transfers_in_the_classic_layout() {
    let root = fixture_root();
    let text = stdout(&audit(root.path(), &["--format", "xferlog"]));
    assert_eq!(text.lines().count(), 7, "complete and incomplete transfers only:\n{text}");
    assert!(text.contains("Mon Nov 23 08:20:00 2026 30 2001:db8::7 100000 /docs/a.bin b _ o r bob mioftp 0 * i\n"));
    assert_eq!(audit(root.path(), &["logins", "--format", "xferlog"]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2_and_a_root_without_logs_exits_1() {
    let root = fixture_root();
    for args in
        [&["--since", "yesteryear"][..], &["--outcome", "maybe"], &["--peer", "host"], &["--follow", "--summary"]]
    {
        assert_eq!(audit(root.path(), args).status.code(), Some(2), "{args:?}");
    }
    let empty = tempfile::tempdir().unwrap();
    let out = audit(empty.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no logs folder"));
}

/// Kills the followed child even when an assertion fails first.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn follow_prints_appends_and_survives_a_rotation() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let live: PathBuf = logs.join(Log::Accounts.file_name());
    let rotated = logs.join(format!("{}.1", Log::Accounts.file_name()));
    let line = |s: u64| {
        format!(
            "{{\"ts\":\"2026-11-23T07:00:{s:02}.000Z\",\"peer\":\"10.0.0.5:1\",\"session\":{s},\"user\":\"u\",\"event\":\"login\",\"outcome\":\"ok\"}}\n"
        )
    };
    let append = |path: &Path, text: &str| {
        std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap()
    };
    append(&live, &line(1));

    let mut child = audit_cmd(root.path(), &["logins", "--follow", "--json", "--poll-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let value: Value = serde_json::from_str(&line).unwrap();
            if tx.send(value["session"].as_u64().unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).expect("a followed record within 10 s");

    assert_eq!(next(), 1, "the history comes first");
    append(&live, &line(2));
    assert_eq!(next(), 2);
    std::fs::rename(&live, &rotated).unwrap();
    append(&rotated, &line(3)); // the server writes to the renamed file until it reopens
    assert_eq!(next(), 3);
    append(&live, &line(4)); // the server reopened: a new file at the old name
    assert_eq!(next(), 4);
    append(&live, &line(5));
    assert_eq!(next(), 5);
    // Several polls later nothing was repeated.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn the_fail2ban_filter_matches_failed_and_throttled_logins_and_nothing_else() {
    let conf =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fail2ban/mioftpd.conf")).unwrap();
    let failregex = conf.lines().find_map(|l| l.strip_prefix("failregex = ")).expect("a one-line failregex");
    let re = regex::Regex::new(&failregex.replace("<HOST>", r"(?P<host>[0-9A-Fa-f.:]+)")).unwrap();

    // Lines as the server writes them, through its own writer.
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path()).unwrap();
    let rec = |p: &str, user, event, outcome, reason| Record::new(peer(p), 1, user, event, outcome).failed(reason, "x");
    let forged = "x\",\"event\":\"login\",\"outcome\":\"fail";
    for record in [
        rec("203.0.113.7:57162", Some("alice"), "login", Outcome::Fail, ErrorCode::AuthFailed),
        rec("[2001:db8::7]:5000", Some("bob"), "login", Outcome::Fail, ErrorCode::AuthFailed),
        rec("198.51.100.3:1", Some("alice"), "login", Outcome::Rejected, ErrorCode::TooManyAttempts),
        rec("192.0.2.1:1", None, "login", Outcome::Fail, ErrorCode::AuthFailed),
        Record::new(peer("10.0.0.5:1"), 1, Some("alice"), "login", Outcome::Ok),
        Record::new(peer("10.0.0.6:1"), 1, Some(forged), "login", Outcome::Ok),
        rec("10.0.0.7:1", Some("carol"), "register", Outcome::Fail, ErrorCode::AuthFailed),
        rec("10.0.0.8:1", None, "handshake", Outcome::Fail, ErrorCode::HandshakeFailed),
        // Failed logins that are not password guesses do not count.
        rec("10.0.0.9:1", Some("dave"), "login", Outcome::Fail, ErrorCode::Abandoned),
        rec("10.0.0.10:1", Some("erin"), "login", Outcome::Fail, ErrorCode::Internal),
    ] {
        log.record(Log::Accounts, record);
    }
    let text = std::fs::read_to_string(dir.path().join(Log::Accounts.file_name())).unwrap();
    let hosts: Vec<Option<&str>> =
        text.lines().map(|l| re.captures(l).map(|c| c.name("host").unwrap().as_str())).collect();
    assert_eq!(
        hosts,
        [
            Some("203.0.113.7"),
            Some("2001:db8::7"),
            Some("198.51.100.3"),
            Some("192.0.2.1"),
            None,
            None,
            None,
            None,
            None,
            None
        ]
    );

    // And the fixture's hand-written lines.
    let fixture = include_str!("fixtures/audit/logs/register_login_accounts.log");
    let matched: Vec<&str> =
        fixture.lines().filter_map(|l| re.captures(l)).map(|c| c.name("host").unwrap().as_str()).collect();
    assert_eq!(matched, ["203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.7", "2001:db8::7"]);
}

/// Manual check that memory stays flat on a large log (writes ~1 GB to a temp dir):
/// `cargo test --release --test audit_cli -- --ignored --nocapture`.
#[test]
#[ignore = "writes a 1 GB log; run by hand"]
#[cfg(target_os = "linux")]
fn a_one_gigabyte_log_is_read_with_flat_memory() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(logs.join(Log::Uploads.file_name())).unwrap());
    let mut written = 0u64;
    let mut n = 0u64;
    while written < 1 << 30 {
        let (min, sec, ms, user, sha) = ((n / 60_000) % 60, (n / 1000) % 60, n % 1000, n % 50, n);
        let line = format!(
            "{{\"ts\":\"2026-11-23T07:{min:02}:{sec:02}.{ms:03}Z\",\"peer\":\"10.0.{}.{}:40000\",\"session\":{n},\"user\":\"user{user}\",\"event\":\"upload\",\"outcome\":\"complete\",\"path\":\"/docs/file-{n}.bin\",\"size\":1048576,\"bytes\":1048576,\"offset\":0,\"sha256\":\"{sha:064x}\",\"duration_ms\":120}}\n",
            (n >> 8) & 255,
            n & 255
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        n += 1;
    }
    out.flush().unwrap();
    drop(out);
    for args in [&["uploads", "--json"][..], &["--summary"], &["uploads", "--user", "user7", "--outcome", "ok"]] {
        let mut child = audit_cmd(root.path(), args).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut peak_kib = 0u64;
        while child.try_wait().unwrap().is_none() {
            if let Ok(text) = std::fs::read_to_string(&status) {
                if let Some(kib) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                    peak_kib = kib.trim().trim_end_matches(" kB").parse().unwrap_or(peak_kib);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("{args:?}: {n} records, {written} bytes, peak RSS {peak_kib} KiB");
        assert!(peak_kib > 0 && peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB for {args:?}");
    }
}
