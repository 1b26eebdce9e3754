//! Tests of the audit logs: whole JSON lines, the shared order key, torn
//! lines ended, reopening after rotation, and administrative records.

use super::*;

fn peer() -> SocketAddr {
    "127.0.0.1:4000".parse().unwrap()
}

#[test]
fn records_are_whole_json_lines_with_millisecond_utc_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path()).unwrap();
    log.record(Log::Accounts, Record::new(peer(), 7, Some("alice"), "login", Outcome::Ok));
    log.record(
        Log::Accounts,
        Record::new(peer(), 8, None, "handshake", Outcome::Fail).failed(ErrorCode::HandshakeFailed, "bad hmac"),
    );
    let text = std::fs::read_to_string(dir.path().join("register_login_accounts.log")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["user"], "alice");
    assert_eq!(lines[0]["outcome"], "ok");
    assert!(lines[0].get("reason").is_none());
    assert_eq!(lines[1]["reason"], "handshake_failed");
    assert!(lines[1].get("user").is_none());
    let ts = lines[0]["ts"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-01-01T00:00:00.000Z".len(), "{ts}");
    assert!(ts.ends_with('Z'));
}

#[test]
fn every_record_carries_the_boot_id_and_one_sequence_shared_by_the_four_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path()).unwrap();
    log.record(Log::Commands, Record::new(peer(), 1, Some("u"), "pwd", Outcome::Ok));
    log.record(Log::Accounts, Record::new(peer(), 1, Some("u"), "logout", Outcome::Ok));
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(std::fs::read_to_string(dir.path().join(name)).unwrap().trim()).unwrap()
    };
    let (pwd, logout) = (read("shell_command.log"), read("register_login_accounts.log"));
    assert_eq!((pwd["seq"].as_u64(), logout["seq"].as_u64()), (Some(1), Some(2)));
    assert_eq!(pwd["boot"], logout["boot"]);
    assert_eq!(pwd["boot"].as_str().unwrap().len(), 16);
    let again = AuditLog::open(dir.path()).unwrap();
    assert_ne!(again.boot(), log.boot(), "a new run, a new boot id");
}

#[test]
fn a_torn_last_line_is_ended_before_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shell_command.log");
    std::fs::write(&path, "{\"whole\":1}\n{\"torn\":").unwrap();
    let mut log = AuditLog::open(dir.path()).unwrap();
    log.record(Log::Commands, Record::new(peer(), 1, Some("bob"), "pwd", Outcome::Ok));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1], "{\"torn\":");
    assert!(serde_json::from_str::<serde_json::Value>(lines[2]).is_ok());
}

#[test]
fn reopen_follows_a_rotated_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path()).unwrap();
    log.record(Log::Uploads, Record::new(peer(), 1, Some("u"), "upload", Outcome::Complete));
    let path = dir.path().join("upload_file.log");
    std::fs::rename(&path, dir.path().join("upload_file.log.1")).unwrap();
    log.reopen().unwrap();
    log.record(Log::Uploads, Record::new(peer(), 2, Some("u"), "upload", Outcome::Incomplete));
    let old = std::fs::read_to_string(dir.path().join("upload_file.log.1")).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert_eq!((old.lines().count(), new.lines().count()), (1, 1));
    assert!(new.contains("\"session\":2"));
}

#[test]
fn an_administrative_record_names_the_actor_and_has_no_peer_or_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path()).unwrap();
    let action = crate::admin::AdminAudit {
        actor: "admin",
        via: "offline",
        event: "admin_set_quota",
        outcome: Outcome::Ok,
        user: Some("alice".into()),
        reason: None,
        message: None,
        quota: Some(crate::admin::QuotaSetting::Bytes(5 << 30)),
        token_id: None,
        expires: None,
        keep_home: None,
    };
    log.record(Log::Accounts, Record::admin(&action));
    log.record(Log::Accounts, Record::new(peer(), 3, Some("alice"), "login", Outcome::Ok));
    let text = std::fs::read_to_string(dir.path().join("register_login_accounts.log")).unwrap();
    let mut lines = text.lines();
    let admin = lines.next().unwrap();
    let keys: Vec<&str> =
        admin.split("\",\"").map(|kv| kv.trim_start_matches("{\"").split('"').next().unwrap()).collect();
    assert_eq!(&keys[..7], ["ts", "actor", "via", "user", "event", "outcome", "quota"], "{admin}");
    let v: serde_json::Value = serde_json::from_str(admin).unwrap();
    assert_eq!((v["actor"].as_str(), v["quota"].as_str()), (Some("admin"), Some("5GiB")));
    assert!(v.get("peer").is_none() && v.get("session").is_none(), "{v}");
    let login: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!((login["peer"].as_str(), login["session"].as_u64()), (Some("127.0.0.1:4000"), Some(3)));
    assert!(login.get("actor").is_none());
}
