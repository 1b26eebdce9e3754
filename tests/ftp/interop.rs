//! The interop suite: `tests/ftp_interop/run.py`, Python's stdlib ftplib
//! running every named check (login, folders, files, listings, empty,
//! 1-byte and 64 MiB transfers, REST resume both ways, ABOR mid-RETR, the
//! quota refusal, a PORT bounce, a foreign-IP data connection, 200 clients
//! at once) against the real server. python3 is installed if missing; if it
//! cannot be had the test fails (never skips).

use crate::common::{PASSWORD, TestServer};
use mioftp_testkit::tools;
use std::path::Path;
use std::process::Command;

const QUOTA: u64 = 1024 * 1024;

#[test]
fn python_ftplib_passes_every_interop_check() {
    let python = tools::require("python3", "python3");
    let ts = TestServer::with_ftp(|c| {
        c.default_quota = None;
        c.ftp.active = true;
        c.max_per_ip = 1024;
    });
    ts.client().register("alice", PASSWORD).unwrap();
    ts.register_with_quota("tight", QUOTA);
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ftp_interop/run.py");
    let ftp = ts.ftp();
    let out = Command::new(python)
        .arg(runner)
        .args(["--host", &ftp.ip().to_string(), "--port", &ftp.port().to_string()])
        .args(["--user", "alice", "--password", PASSWORD])
        .args(["--quota-user", "tight", "--quota-password", PASSWORD, "--quota-bytes", &QUOTA.to_string()])
        .args(["--timeout", "60"])
        .output()
        .expect("run the interop runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "interop checks failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("summary: 19 passed, 0 failed, 0 skipped"), "{stdout}");
}
