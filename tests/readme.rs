//! The README's `mioftpd audit` examples, copied out of README.md and run
//! with bash over the logs of a real server that saw a registration, a
//! failed login, an upload and a download, with `mioftpd` first on PATH and
//! `MIOFTPD_ROOT` naming its data root. The last example pipes into `jq`,
//! which is installed with apt-get when missing; a tool that cannot be had
//! fails the test (`mioftp_testkit::tools`).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn the_audit_examples_run_as_written() {
    mioftp_testkit::tools::require("jq", "jq");
    let server = TestServer::start();
    let mut alice = server.user("alice");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.bin");
    std::fs::write(&file, vec![1u8; 5000]).unwrap();
    alice.put(&file, "a.bin", &Default::default(), &mut mioftp_client::NoProgress).unwrap();
    alice.get("a.bin", &dir.path().join("b.bin"), &Default::default(), &mut mioftp_client::NoProgress).unwrap();
    alice.exit().unwrap();
    assert!(server.client().login("alice", "wrong password").is_err());

    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let after = readme.split("### Reviewing the logs: `mioftpd audit`").nth(1).expect("the audit section");
    let block = after.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 5 && lines.iter().all(|l| l.starts_with("mioftpd audit")), "{block}");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_mioftpd")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut outputs = Vec::new();
    for line in lines {
        let out = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", line])
            .env("PATH", &path)
            .env("MIOFTPD_ROOT", server.root.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{line}: {stderr}");
        outputs.push((line, String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let shown = |what: &str| outputs.iter().find(|(l, _)| l.contains(what)).map(|(_, o)| o.clone()).unwrap();
    assert!(shown("logins --outcome fail").contains("auth_failed"), "{outputs:?}");
    assert!(shown("uploads --user alice").contains("/a.bin"), "{outputs:?}");
    assert!(shown("--summary").contains("alice"), "{outputs:?}");
    let failures = shown("jq");
    let records: Vec<serde_json::Value> =
        serde_json::Deserializer::from_str(&failures).into_iter().collect::<Result<_, _>>().expect("jq prints JSON");
    assert!(records.iter().any(|r| r["reason"] == "auth_failed"), "{failures}");
    assert!(records.iter().all(|r| r["outcome"] != "ok"), "{failures}");
}
