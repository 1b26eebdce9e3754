//! The files under `dist/`: the systemd unit passes `systemd-analyze verify`
//! and keeps its hardening, and the logrotate stanza rotates and signals as
//! intended under a real `logrotate -f` (tests/dist/logrotate.sh).
//!
//! Tools: `systemd-analyze` and `logrotate` are installed with apt-get when
//! missing (`mioftp_testkit::tools`); a machine where they cannot be had
//! fails these tests, never skips them.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn unit_text() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("dist/mioftpd.service")).unwrap()
}

#[test]
fn the_unit_is_type_notify_reloads_with_sighup_and_keeps_its_hardening() {
    let unit = unit_text();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=30s",
        "DynamicUser=yes",
        "StateDirectory=mioftpd",
        "Environment=MIOFTPD_ROOT=%S/mioftpd",
        "UMask=0027",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l == line), "dist/mioftpd.service lacks `{line}`");
    }
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    mioftp_testkit::tools::require("systemd-analyze", "systemd");
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let unit = unit_text();
    let exec = "ExecStart=/usr/local/bin/mioftpd ";
    assert!(unit.contains(exec), "ExecStart changed; update this test");
    let unit = unit.replace(exec, &format!("ExecStart={} ", env!("CARGO_BIN_EXE_mioftpd")));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mioftpd.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on unknown keys and bad values; it only warns. Any
    // remark about our unit is a failure.
    let remarks: Vec<&str> = stderr.lines().filter(|l| l.contains("mioftpd.service")).collect();
    assert!(out.status.success() && remarks.is_empty(), "systemd-analyze verify:\n{stderr}");
}

#[test]
fn the_logrotate_stanza_rotates_all_logs_and_signals_once_per_run() {
    let script = Path::new(ROOT).join("tests/dist/logrotate.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script);
    mioftp_testkit::tools::require("logrotate", "logrotate");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{}:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
