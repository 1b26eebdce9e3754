//! `mioftpd audit` merges the four logs in write order, not by file, when
//! records share a millisecond: every record carries the server run's
//! `boot` id and a `seq` shared by the four logs (docs/AUDIT.md).

mod common;
use common::*;
use serde_json::Value;
use std::process::Command;

fn audit_json(root: &std::path::Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .args(["audit", "all", "--json", "--root"])
        .arg(root)
        .env_remove("MIOFTPD_ROOT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_pwd_in_the_same_millisecond_as_its_logout_is_shown_before_it() {
    // What the server writes when `pwd` then `exit` arrive in one read: two
    // records in two files with one timestamp. By file, logins come first.
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let ts = "2026-11-23T08:00:00.123Z";
    let pwd = format!(
        r#"{{"ts":"{ts}","peer":"127.0.0.1:5000","session":4,"user":"alice","event":"pwd","outcome":"ok","args":[],"path":"/","boot":"00000000000000ab","seq":41}}"#
    );
    let logout = format!(
        r#"{{"ts":"{ts}","peer":"127.0.0.1:5000","session":4,"user":"alice","event":"logout","outcome":"ok","boot":"00000000000000ab","seq":42}}"#
    );
    std::fs::write(logs.join("shell_command.log"), pwd + "\n").unwrap();
    std::fs::write(logs.join("register_login_accounts.log"), logout + "\n").unwrap();
    let events: Vec<String> = audit_json(root.path()).iter().map(|r| r["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(events, ["pwd", "logout"]);
}

#[test]
fn the_server_writes_a_unique_order_key_in_every_record_across_restarts() {
    let server = TestServer::start();
    let mut alice = server.user("alice");
    alice.pwd().unwrap();
    alice.exit().unwrap();
    let server = server.restart_with(|_| {});
    let mut again = server.login("alice");
    again.pwd().unwrap();
    again.exit().unwrap();
    let all = audit_json(server.root.path());
    let keys: Vec<(String, u64)> =
        all.iter().map(|r| (r["boot"].as_str().unwrap().to_owned(), r["seq"].as_u64().unwrap())).collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "order keys repeat: {keys:?}");
    let boots: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    assert_eq!(boots.len(), 2, "one boot id per run");
    // Within a run, the merged output follows the write order.
    for boot in boots {
        let seqs: Vec<u64> = keys.iter().filter(|k| k.0 == boot).map(|k| k.1).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
}
