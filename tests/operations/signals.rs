//! Signals to the real binary (they are process-wide): SIGTERM and SIGINT
//! stop gracefully, letting transfers in flight finish within the grace
//! period; SIGHUP reopens the audit logs after a rotation, losing no record.

use super::*;

/// SIGTERM or SIGINT while an upload is half sent: the listener closes, an
/// idle session gets the notice and a close, the upload finishes, then gets
/// the notice too, and the server exits 0.
fn graceful_stop_lets_an_upload_finish(signal: Signal) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mut d = Daemon::start(&root, &["--shutdown-grace", "20"]);
    let data = bytes(2_000_000, 1);
    let mut idle = daemon_login(&d, "idle");
    let mut up = daemon_login(&d, "up");
    assert_eq!(up.call(json!({"op": "put", "path": "big.bin", "length": data.len()}))["offset"], 0);
    up.send(json!({"op": "put_data", "size": data.len()}));
    up.send_bytes(&data[..1_000_000]);

    d.signal(signal);
    let notice = idle.recv();
    assert_eq!(notice["notice"], "shutdown", "{notice}");
    assert!(notice["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(idle.recv_within(IO_TIMEOUT), Seen::Closed);
    // The listener closed before the notices were sent.
    assert!(std::net::TcpStream::connect(d.addr).is_err(), "new connections are refused once stopping");
    assert!(d.child.try_wait().unwrap().is_none(), "the upload keeps the server running");

    up.send_bytes(&data[1_000_000..]);
    let done = up.call(json!({"op": "put_done", "sha256": sha256_hex(&data)}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(up.recv()["notice"], "shutdown", "the notice follows the transfer's last reply");
    assert_eq!(up.recv_within(IO_TIMEOUT), Seen::Closed);
    let status = d.wait_exit(IO_TIMEOUT);
    assert!(status.success(), "{status}");
    assert_eq!(std::fs::read(root.join("home/up/big.bin")).unwrap(), data);
    let rec = d.log(UPLOADS).pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["path"].as_str()), (Some("complete"), Some("/big.bin")));
}

#[test]
fn sigterm_lets_an_upload_in_flight_finish_and_tells_idle_sessions() {
    graceful_stop_lets_an_upload_finish(Signal::TERM);
}

#[test]
fn sigint_lets_an_upload_in_flight_finish_and_tells_idle_sessions() {
    graceful_stop_lets_an_upload_finish(Signal::INT);
}

/// A signal while a client has stopped sending mid-body: the server cuts it
/// when the grace period ends, exits 0, records `incomplete`/`shutdown`, and
/// the next server resumes the upload.
fn graceful_stop_cuts_a_stalled_upload(signal: Signal) {
    const SENT: usize = 700_000;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mut d = Daemon::start(&root, &["--shutdown-grace", "1"]);
    let local = tmp.path().join("stalled.bin");
    let digest = random_file(&local, 2_000_000, 2);
    let data = std::fs::read(&local).unwrap();
    let mut up = daemon_login(&d, "up");
    assert_eq!(up.call(json!({"op": "put", "path": "stalled.bin", "length": data.len()}))["offset"], 0);
    up.send(json!({"op": "put_data", "size": data.len()}));
    up.send_bytes(&data[..SENT]);

    let signalled = Instant::now();
    d.signal(signal);
    let status = d.wait_exit(IO_TIMEOUT);
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(took >= Duration::from_secs(1), "the transfer got its grace period: {took:?}");
    // Cut, not told: the body never ended, so no frame may be sent.
    assert_eq!(up.recv_within(IO_TIMEOUT), Seen::Closed);
    let rec = d.log(UPLOADS).pop().unwrap();
    assert_eq!(
        (rec["outcome"].as_str(), rec["reason"].as_str(), rec["bytes"].as_u64()),
        (Some("incomplete"), Some("shutdown"), Some(SENT as u64)),
        "{rec}"
    );
    assert!(!root.join("home/up/stalled.bin").exists());

    let d = Daemon::start(&root, &[]);
    let mut c = mioftp_client::Client::connect(&d.addr_str(), &d.key()).unwrap();
    c.login("up", PASSWORD).unwrap();
    let report = c.put(&local, "stalled.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.restarted, report.sha256.as_str()), (SENT as u64, false, digest.as_str()));
    assert_eq!(sha256_file(&root.join("home/up/stalled.bin")), digest);
}

#[test]
fn sigterm_cuts_a_stalled_upload_at_the_grace_period_and_it_resumes() {
    graceful_stop_cuts_a_stalled_upload(Signal::TERM);
}

#[test]
fn sigint_cuts_a_stalled_upload_at_the_grace_period_and_it_resumes() {
    graceful_stop_cuts_a_stalled_upload(Signal::INT);
}

/// Paths of the `mkdir` records in a command log file.
fn mkdir_paths(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("whole JSON line"))
        .filter(|r| r["event"] == "mkdir")
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sighup_after_a_rename_moves_later_records_to_new_files_losing_none() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mut d = Daemon::start(&root, &[]);
    let logs = root.join("logs");
    let mut raw = daemon_login(&d, "rot");
    let mkdirs = |prefix: &str, raw: &mut Raw| -> Vec<String> {
        (0..5)
            .map(|i| {
                let reply = raw.call(json!({"op": "mkdir", "path": format!("{prefix}{i}")}));
                assert_eq!(reply["ok"], true, "{reply}");
                format!("/{prefix}{i}")
            })
            .collect()
    };
    let before = mkdirs("before", &mut raw);
    // logrotate's default: move the files away, then HUP.
    for log in [ACCOUNTS, COMMANDS, UPLOADS, "download_file.log"] {
        std::fs::rename(logs.join(log), logs.join(format!("{log}.1"))).unwrap();
    }
    // Until the signal, records still go to the moved files.
    let between = mkdirs("between", &mut raw);
    assert!(!logs.join(COMMANDS).exists());
    d.signal(Signal::HUP);
    let reopened = poll_until(IO_TIMEOUT, || {
        [ACCOUNTS, COMMANDS, UPLOADS, "download_file.log"].iter().all(|l| logs.join(l).exists())
    });
    assert!(reopened, "SIGHUP creates fresh files under the original names");
    let after = mkdirs("after", &mut raw);
    raw.call(json!({"op": "exit"}));

    let old: Vec<String> = before.iter().chain(&between).cloned().collect();
    assert_eq!(mkdir_paths(&logs.join(format!("{COMMANDS}.1"))), old);
    assert_eq!(mkdir_paths(&logs.join(COMMANDS)), after);
    // The session's logout (after the HUP) is in the new accounts log only.
    let new_accounts: Vec<Value> = d.log(ACCOUNTS);
    assert_eq!(new_accounts.len(), 1, "{new_accounts:?}");
    assert_eq!(new_accounts[0]["event"], "logout");
    // The query tool reads both and sees every record exactly once.
    d.signal(Signal::TERM);
    assert!(d.wait_exit(IO_TIMEOUT).success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .args(["audit", "commands", "--json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut seen: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "mkdir")
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    let mut all: Vec<String> = old.into_iter().chain(after).collect();
    seen.sort();
    all.sort();
    assert_eq!(seen, all);
}
