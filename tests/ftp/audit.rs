//! FTP's records in the four audit logs, read back with `mioftpd audit`:
//! the same tool shows them as it shows native ones, and `--format xferlog`
//! lists FTP transfers (service `ftp`).

use crate::common::TestServer;
use std::process::Command;

/// `mioftpd audit ARGS --root ROOT`, its stdout (it must succeed).
fn audit(ts: &TestServer, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .arg("audit")
        .args(args)
        .arg("--root")
        .arg(ts.path(""))
        .env_remove("MIOFTPD_ROOT")
        .output()
        .expect("run mioftpd audit");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn mioftpd_audit_shows_ftp_logins_commands_and_transfers_and_xferlog_lists_the_transfers() {
    let ts = TestServer::with_ftp(|_| {});
    let mut f = ts.ftp_user("alice");
    assert!(f.cmd("MKD docs").is(257));
    assert!(f.stor("/docs/report.bin", &[7u8; 1000]).is(226));
    assert_eq!(f.retr("/docs/report.bin").unwrap().len(), 1000);
    assert!(f.cmd("QUIT").is(221));
    // The JSON lines come out as written, "proto":"ftp" included.
    let all = audit(&ts, &["all", "--json", "--user", "alice"]);
    let records: Vec<serde_json::Value> = all.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ftp: Vec<(String, String)> = records
        .iter()
        .filter(|r| r["proto"] == "ftp")
        .map(|r| (r["event"].as_str().unwrap().to_owned(), r["outcome"].as_str().unwrap().to_owned()))
        .collect();
    let expect = [("login", "ok"), ("mkdir", "ok"), ("upload", "complete"), ("download", "complete"), ("logout", "ok")];
    assert_eq!(ftp, expect.map(|(e, o)| (e.to_owned(), o.to_owned())), "{all}");
    // The table shows them like any other record.
    let table = audit(&ts, &["uploads"]);
    assert!(table.contains("/docs/report.bin") && table.contains("alice"), "{table}");
    // xferlog: one line per transfer, service `ftp`.
    let xfer = audit(&ts, &["--format", "xferlog"]);
    let lines: Vec<&str> = xfer.lines().collect();
    assert_eq!(lines.len(), 2, "{xfer}");
    assert!(lines[0].ends_with(" 1000 /docs/report.bin b _ i r alice ftp 0 * c"), "{xfer}");
    assert!(lines[1].ends_with(" 1000 /docs/report.bin b _ o r alice ftp 0 * c"), "{xfer}");
}
