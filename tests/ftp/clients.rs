//! Real FTP clients against the real server: curl (upload with `-T`,
//! download, a listing, active mode) and lftp (`mirror -R` of a 200-file
//! tree up, `mirror` back down, the trees compared byte for byte). Each tool
//! is installed from Debian's packages when missing; a tool that cannot be
//! had fails the test.

use crate::common::{PASSWORD, TestServer};
use mioftp_testkit::{XorShift, bytes, tools};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("start the client");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn server() -> TestServer {
    let ts = TestServer::with_ftp(|c| {
        c.default_quota = None;
        c.ftp.active = true;
    });
    ts.client().register("alice", PASSWORD).unwrap();
    ts
}

fn url(ts: &TestServer, path: &str) -> String {
    format!("ftp://alice:{}@{}{path}", PASSWORD.replace(' ', "%20"), ts.ftp())
}

#[test]
fn curl_uploads_downloads_and_lists() {
    let curl = tools::require("curl", "curl");
    let ts = server();
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("up.bin");
    let data = bytes(3 * 1024 * 1024 + 17, 7);
    std::fs::write(&local, &data).unwrap();
    // Upload into a folder curl creates (MKD), in passive mode (EPSV).
    run(Command::new(&curl).args(["-sS", "--ftp-create-dirs", "-T"]).arg(&local).arg(url(&ts, "/in/up.bin")));
    assert_eq!(std::fs::read(ts.path("home/alice/in/up.bin")).unwrap(), data, "stored byte for byte");
    // Download.
    let back = tmp.path().join("back.bin");
    run(Command::new(&curl).args(["-sS", "-o"]).arg(&back).arg(url(&ts, "/in/up.bin")));
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // A directory listing (LIST) and names only (NLST).
    let list = run(Command::new(&curl).args(["-sS"]).arg(url(&ts, "/in/")));
    assert!(String::from_utf8_lossy(&list.stdout).contains("up.bin"));
    let names = run(Command::new(&curl).args(["-sS", "-l"]).arg(url(&ts, "/in/")));
    assert_eq!(String::from_utf8_lossy(&names.stdout).trim(), "up.bin");
    // Active mode (PORT/EPRT to curl's own address), download again.
    let active = tmp.path().join("active.bin");
    run(Command::new(&curl).args(["-sS", "-P", "127.0.0.1", "-o"]).arg(&active).arg(url(&ts, "/in/up.bin")));
    assert_eq!(std::fs::read(&active).unwrap(), data);
    // The transfers are in the audit logs, marked as FTP, with their SHA-256.
    let ups = ts.log("upload_file.log");
    assert!(ups.iter().any(|r| r["proto"] == "ftp" && r["outcome"] == "complete" && r["bytes"] == data.len()));
    let downs = ts.log("download_file.log");
    assert_eq!(downs.iter().filter(|r| r["proto"] == "ftp" && r["outcome"] == "complete").count(), 2);
}

/// A tree of 200 files in nested folders, sizes from 0 to ~300 KiB.
fn make_tree(root: &Path) -> Vec<PathBuf> {
    let mut rng = XorShift::new(200);
    let mut files = Vec::new();
    for i in 0..200u64 {
        let dir = root.join(format!("d{}", i % 7)).join(format!("s{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let size = match i % 10 {
            0 => 0,
            1 => 1,
            _ => rng.below(300 * 1024) as usize,
        };
        let rel = dir.join(format!("file-{i:03}.bin"));
        std::fs::write(&rel, bytes(size, i)).unwrap();
        files.push(rel.strip_prefix(root).unwrap().to_owned());
    }
    files.sort();
    files
}

/// Every regular file under `root`, relative, sorted.
fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn lftp_mirrors_a_200_file_tree_up_and_back_down() {
    let lftp = tools::require("lftp", "lftp");
    let ts = server();
    let tmp = tempfile::tempdir().unwrap();
    let up = tmp.path().join("up");
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&up).unwrap();
    let files = make_tree(&up);
    let script = format!(
        "set ftp:ssl-allow no; set net:max-retries 2; set net:timeout 20; set cmd:fail-exit yes; \
         open -u alice,'{PASSWORD}' ftp://{ftp}; \
         mirror -R --no-perms {up} /tree; mirror --no-perms /tree {down}; quit",
        ftp = ts.ftp(),
        up = up.display(),
        down = down.display()
    );
    run(Command::new(&lftp).args(["-c", &script]));
    let on_server = ts.path("home/alice/tree");
    for (name, root) in [("server", &on_server), ("mirror", &down)] {
        assert_eq!(files_under(root), files, "the {name} tree");
        for f in &files {
            assert_eq!(std::fs::read(root.join(f)).unwrap(), std::fs::read(up.join(f)).unwrap(), "{name}: {f:?}");
        }
    }
    let ups = ts.log("upload_file.log");
    assert_eq!(ups.iter().filter(|r| r["outcome"] == "complete" && r["proto"] == "ftp").count(), 200);
}

/// The README's Python ftplib example, copied out of README.md and run as
/// written (the port and password put in) against the real server.
#[test]
fn the_readme_ftplib_example_runs_as_written() {
    let python = tools::require("python3", "python3");
    let ts = server();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("**Python ftplib**").nth(1).expect("the ftplib example");
    let code = section.split("```python\n").nth(1).and_then(|s| s.split("```").next()).expect("a python block");
    let code = code.replace("2100", &ts.ftp().port().to_string()).replace("PASSWORD", PASSWORD);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("report.pdf"), b"%PDF-1.4 not really").unwrap();
    std::fs::create_dir_all(ts.path("home/alice/docs")).unwrap();
    let out = run(Command::new(&python).arg("-c").arg(&code).current_dir(tmp.path()));
    let printed = String::from_utf8_lossy(&out.stdout);
    let sha = hex::encode(mioftp::protocol::scram::sha256(b"%PDF-1.4 not really"));
    assert_eq!(printed.trim(), format!("213 SHA-256 0-18 {sha} /docs/report.pdf"));
    assert_eq!(std::fs::read(ts.path("home/alice/docs/report.pdf")).unwrap(), b"%PDF-1.4 not really");
}
