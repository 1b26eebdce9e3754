//! The README's "Scripted use" example, copied out of README.md and run
//! line by line with bash against a real server, as a user would paste it:
//! `mioftp` is the binary under test (first on PATH), the address in the
//! example is replaced by the test server's, and the files it uploads exist.
//! (The other README blocks start a server, run the test suite or load the
//! server for a minute; `mioftpd audit`'s examples run in the root package's
//! tests/readme.rs.)

mod common;
use common::start_server;
use std::path::Path;
use std::process::Command;

/// The first ```sh block after `heading` in README.md.
pub fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let after = readme.split(heading).nth(1).unwrap_or_else(|| panic!("no {heading:?} in README.md"));
    let block = after.split("```sh\n").nth(1).expect("a sh block").split("```").next().unwrap();
    block.to_owned()
}

#[test]
fn the_scripted_use_example_runs_as_written() {
    let f = start_server();
    let block = readme_block("### Scripted use");
    assert!(block.contains("put -p report.pdf docs/report.pdf"), "{block}");
    let script = block.replace("127.0.0.1:2121", &f.addr());
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(f.key_path(), work.path().join("server.key")).unwrap();
    std::fs::write(work.path().join("report.pdf"), b"%PDF-1.7 a report").unwrap();
    std::fs::write(work.path().join("data.tar"), vec![7u8; 100_000]).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_mioftp")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .current_dir(work.path())
        .env("PATH", path)
        .env("HOME", work.path())
        .env("MIOFTP_SERVER", f.addr())
        .env_remove("MIOFTP_PASSWORD")
        .env_remove("MIOFTP_USER")
        .env_remove("MIOFTP_KEY_FILE")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the example failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let home = f.root.path().join("home/alice");
    assert_eq!(std::fs::read(home.join("docs/report.pdf")).unwrap(), b"%PDF-1.7 a report");
    assert_eq!(std::fs::read(home.join("backup/data.tar")).unwrap().len(), 100_000);
    let listing: serde_json::Value =
        serde_json::from_str(stdout.lines().find(|l| l.starts_with('[')).unwrap()).unwrap();
    assert_eq!(listing[0]["name"], "report.pdf", "{stdout}");
}
