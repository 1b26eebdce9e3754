//! `put -r` and `get -r` through the real binary against a real in-process
//! server: a 2,000-file tree of mixed sizes round-trips byte-identical;
//! links and special files are named and left out on both sides; a batch
//! stops at the first failure while the prompt carries on and sums up; an
//! interrupted file resumes inside a tree, both ways; and a remote folder
//! never silently swallows a file of the same name.

mod common;
use common::{Ran, wait_until, with_alice};
use mioftp_client::partial::{PartialPaths, Sidecar};
use mioftp_proto::Request;
use mioftp_proto::messages::{self, GetStart, PutReady};
use mioftp_testkit::{XorShift, bytes};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `files` files of mixed sizes under `root`, in nested folders:
/// 70% under 2 KiB (some empty), 25% up to 16 KiB, 5% up to 128 KiB.
fn make_tree(root: &Path, files: usize, seed: u64) -> u64 {
    let mut rng = XorShift::new(seed);
    let mut total = 0;
    for i in 0..files {
        let size = match i % 20 {
            0..14 => rng.below(2048),
            14..19 => 2048 + rng.below(14 * 1024),
            _ => 16 * 1024 + rng.below(112 * 1024),
        } as usize;
        // Up to four levels: 80 folders in all.
        let dir = match i % 7 {
            0 => PathBuf::new(),
            1 | 2 => PathBuf::from(format!("d{}", i % 5)),
            3 | 4 => PathBuf::from(format!("d{}/s{}", i % 5, i % 3)),
            _ => PathBuf::from(format!("d{}/s{}/deep{}/deeper", i % 5, i % 3, i % 2)),
        };
        std::fs::create_dir_all(root.join(&dir)).unwrap();
        std::fs::write(root.join(dir).join(format!("f{i:04}.bin")), bytes(size, seed + i as u64)).unwrap();
        total += size as u64;
    }
    total
}

/// Every regular file under `root`, relative, with its contents.
fn read_tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let item = item.unwrap();
            let kind = item.file_type().unwrap();
            if kind.is_dir() {
                stack.push(item.path());
            } else if kind.is_file() {
                let rel = item.path().strip_prefix(root).unwrap().to_owned();
                out.push((rel, std::fs::read(item.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn ok(ran: &Ran) {
    assert_eq!(ran.status, Some(0), "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn a_2000_file_tree_of_mixed_sizes_round_trips_byte_identical() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    let bytes_total = make_tree(&work.path().join("tree"), 2000, 7);
    // Left out, and named: a link (to a file and to a folder) and a FIFO.
    std::os::unix::fs::symlink("f0000.bin", work.path().join("tree/link-to-file")).unwrap();
    std::os::unix::fs::symlink("/etc", work.path().join("tree/d1/link-to-etc")).unwrap();
    mkfifo(&work.path().join("tree/d2/pipe"));

    let up = f.batch(work.path(), "put -r tree\n");
    ok(&up);
    let line = up.stdout.lines().last().unwrap();
    assert!(line.starts_with("put -r tree: 2000 files, ") && line.contains("sha256 verified"), "{line}");
    assert!(line.ends_with(", 3 skipped"), "{line}");
    for named in [
        "skipped tree/link-to-file: symbolic link, not followed",
        "skipped tree/d1/link-to-etc: symbolic link, not followed",
        "skipped tree/d2/pipe: FIFO, not a regular file",
    ] {
        assert!(up.stderr.contains(named), "{named} missing from:\n{}", up.stderr);
    }
    let original = read_tree(&work.path().join("tree"));
    assert_eq!(original.len(), 2000);
    assert_eq!(original.iter().map(|(_, d)| d.len() as u64).sum::<u64>(), bytes_total);
    assert_eq!(read_tree(&f.home("tree")), original, "the server holds the same tree");
    assert!(f.home("tree/link-to-file").symlink_metadata().is_err() && !f.home("tree/d2/pipe").exists());

    let down = tempfile::tempdir().unwrap();
    let got = f.batch(down.path(), "get -r tree copy\n");
    ok(&got);
    let line = got.stdout.lines().last().unwrap();
    assert!(line.starts_with("get -r /tree: 2000 files, ") && line.contains("sha256 verified"), "{line}");
    assert_eq!(read_tree(&down.path().join("copy")), original, "byte-identical after the round trip");
    let leftovers = Command::new("find").arg(down.path()).args(["-name", "*.mioftp-part*"]).output().unwrap();
    assert!(leftovers.stdout.is_empty(), "partials left: {}", String::from_utf8_lossy(&leftovers.stdout));
}

#[test]
fn get_r_names_remote_links_and_special_files_and_leaves_them_out() {
    let f = with_alice(|_| {});
    std::fs::create_dir_all(f.home("tree/sub")).unwrap();
    std::fs::write(f.home("tree/sub/a.txt"), b"a").unwrap();
    std::os::unix::fs::symlink("sub/a.txt", f.home("tree/link")).unwrap();
    mkfifo(&f.home("tree/sub/pipe"));
    let down = tempfile::tempdir().unwrap();
    let got = f.batch(down.path(), "get -r tree\n");
    ok(&got);
    assert!(got.stderr.contains("skipped /tree/link: symbolic link, not followed"), "{}", got.stderr);
    assert!(got.stderr.contains("skipped /tree/sub/pipe: special file, not a regular file"), "{}", got.stderr);
    assert!(
        got.stdout.contains("get -r /tree: 1 file, 2 folders, ") && got.stdout.contains(", 2 skipped"),
        "{}",
        got.stdout
    );
    assert_eq!(std::fs::read(down.path().join("tree/sub/a.txt")).unwrap(), b"a");
    assert!(down.path().join("tree/link").symlink_metadata().is_err());
    assert!(!down.path().join("tree/sub/pipe").exists());
}

/// Four files, the third of which does not fit in a 10,000-byte quota.
fn quota_tree(work: &Path) {
    std::fs::create_dir(work.join("t")).unwrap();
    for (name, size) in [("a.bin", 4000), ("b.bin", 4000), ("c.bin", 4000), ("d.bin", 10)] {
        std::fs::write(work.join("t").join(name), bytes(size, size as u64)).unwrap();
    }
}

#[test]
fn a_batch_put_r_stops_at_the_first_failure_and_names_the_file() {
    let f = with_alice(|c| c.default_quota = Some(10_000));
    let work = tempfile::tempdir().unwrap();
    quota_tree(work.path());
    let ran = f.batch(work.path(), "put -r t\npwd\n");
    assert_eq!(ran.status, Some(1), "a server refusal: {}", ran.stderr);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("line 1: put -r t: put t/c.bin: ") && ran.stderr.contains("quota"), "{}", ran.stderr);
    assert!(f.home("t/b.bin").is_file() && !f.home("t/c.bin").exists());
    assert!(!f.home("t/d.bin").exists(), "nothing after the failure");
    assert!(!ran.stdout.contains('/'), "the batch stopped before pwd: {}", ran.stdout);
}

#[test]
fn at_the_prompt_put_r_carries_on_past_a_failure_and_lists_what_failed() {
    let f = with_alice(|c| c.default_quota = Some(10_000));
    let work = tempfile::tempdir().unwrap();
    quota_tree(work.path());
    let ran = f.prompt(work.path(), "put -r t\npwd\n");
    assert_eq!(ran.status, Some(0), "{}", ran.stderr);
    assert!(f.home("t/d.bin").is_file(), "the file after the failure went too");
    assert!(!f.home("t/c.bin").exists());
    assert!(ran.stdout.contains("put -r t: 3 of 4 files, "), "{}", ran.stdout);
    let failed: Vec<&str> = ran.stderr.lines().skip_while(|l| *l != "failed:").collect();
    assert_eq!(failed.len(), 3, "{}", ran.stderr);
    assert!(failed[1].starts_with("  put t/c.bin: ") && failed[1].contains("quota"), "{}", ran.stderr);
    assert_eq!(failed[2], "error: 1 of 4 files failed");
    assert!(ran.stdout.lines().any(|l| l == "/"), "the session went on: {}", ran.stdout);
}

#[test]
fn put_r_resumes_the_file_an_interrupted_upload_left_and_sends_the_others() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("t/sub")).unwrap();
    let big = bytes(300_000, 1);
    std::fs::write(work.path().join("t/sub/big.bin"), &big).unwrap();
    std::fs::write(work.path().join("t/small.txt"), b"small").unwrap();
    // An upload of t/sub/big.bin cut after 100,000 bytes.
    let mut c = f.alice();
    c.mkdir("t/sub", true).unwrap();
    let length = big.len() as u64;
    let ready: PutReady = c.conn.call(&Request::Put { path: "t/sub/big.bin".into(), length, resume: true }).unwrap();
    assert_eq!(ready.offset, 0);
    c.conn.send(&serde_json::json!({"op": "put_data", "size": length})).unwrap();
    c.conn.send_body(&big[..100_000]).unwrap();
    c.conn.flush().unwrap();
    drop(c);
    wait_until("the server to keep the cut upload", || {
        f.log("upload_file.log").iter().any(|r| r["outcome"] == "incomplete" && r["path"] == "/t/sub/big.bin")
    });

    let ran = f.batch(work.path(), "put -r t\n");
    ok(&ran);
    assert!(
        ran.stdout.contains("put -r t: 2 files, 2 folders, ") && ran.stdout.contains(", 1 resumed"),
        "{}",
        ran.stdout
    );
    assert_eq!(std::fs::read(f.home("t/sub/big.bin")).unwrap(), big);
    let resumed = f.log("upload_file.log");
    let last = resumed.iter().rev().find(|r| r["path"] == "/t/sub/big.bin").unwrap();
    assert_eq!((last["outcome"].as_str(), last["offset"].as_u64()), (Some("complete"), Some(100_000)));
}

#[test]
fn get_r_resumes_the_file_an_interrupted_download_left() {
    let f = with_alice(|_| {});
    let big = bytes(300_000, 2);
    std::fs::create_dir_all(f.home("t/sub")).unwrap();
    std::fs::write(f.home("t/sub/big.bin"), &big).unwrap();
    std::fs::write(f.home("t/small.txt"), b"small").unwrap();
    // What an interrupted `get -r t` leaves: part of big.bin and its sidecar,
    // with the version tag of the file as served. (A first whole read has
    // the server cache the file's digest, which changes its ctime and so its
    // tag: read it whole once first.)
    let mut c = f.alice();
    let scratch = tempfile::tempdir().unwrap();
    c.get("t/sub/big.bin", &scratch.path().join("x"), &Default::default(), &mut mioftp_client::NoProgress).unwrap();
    c.conn.send(&Request::Get { path: "/t/sub/big.bin".into(), offset: 0, if_match: None }).unwrap();
    c.conn.flush().unwrap();
    let (header, body) = c.conn.recv_reply().unwrap();
    let start: GetStart = messages::reply_body(header).unwrap();
    let mut sink = vec![0u8; body as usize];
    c.conn.body_reader().read_exact(&mut sink).unwrap();
    c.conn.recv_reply().unwrap();
    let down = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(down.path().join("t/sub")).unwrap();
    let parts = PartialPaths::for_target(&down.path().join("t/sub/big.bin"));
    std::fs::write(&parts.data, &big[..120_000]).unwrap();
    parts.write_sidecar(&Sidecar { remote: "/t/sub/big.bin".into(), etag: start.etag, length: start.length }).unwrap();

    let ran = f.batch(down.path(), "get -r t\n");
    ok(&ran);
    assert!(
        ran.stdout.contains("get -r /t: 2 files, 2 folders, ") && ran.stdout.contains(", 1 resumed"),
        "{}",
        ran.stdout
    );
    assert_eq!(std::fs::read(down.path().join("t/sub/big.bin")).unwrap(), big);
    assert!(!parts.data.exists() && !parts.sidecar.exists());
    let last = f.log("download_file.log").into_iter().rev().find(|r| r["path"] == "/t/sub/big.bin").unwrap();
    assert_eq!(last["offset"].as_u64(), Some(120_000));
}

#[test]
fn put_r_never_puts_a_file_inside_a_remote_folder_of_the_same_name() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("t")).unwrap();
    std::fs::write(work.path().join("t/clash"), b"a file here").unwrap();
    std::fs::write(work.path().join("t/fine.txt"), b"fine").unwrap();
    f.alice().mkdir("t/clash", true).unwrap();
    let ran = f.batch(work.path(), "put -r t\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("put t/clash: /t/clash is a folder on the server; the file was not sent"),
        "{}",
        ran.stderr
    );
    assert!(f.home("t/clash").is_dir() && !f.home("t/clash/clash").exists());
}

#[test]
fn an_existing_destination_folder_receives_the_tree_inside_it_and_a_new_name_is_the_copy() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("photos/2026")).unwrap();
    std::fs::write(work.path().join("photos/2026/a.jpg"), b"jpeg").unwrap();
    f.alice().mkdir("backup", false).unwrap();
    ok(&f.batch(work.path(), "put -r photos backup\nput -r photos/ fresh/copy\n"));
    assert_eq!(std::fs::read(f.home("backup/photos/2026/a.jpg")).unwrap(), b"jpeg");
    assert_eq!(std::fs::read(f.home("fresh/copy/2026/a.jpg")).unwrap(), b"jpeg");
    let down = tempfile::tempdir().unwrap();
    std::fs::create_dir(down.path().join("here")).unwrap();
    ok(&f.batch(
        down.path(),
        "get -r backup/photos here
get -r fresh/copy new
",
    ));
    assert_eq!(std::fs::read(down.path().join("here/photos/2026/a.jpg")).unwrap(), b"jpeg");
    assert_eq!(std::fs::read(down.path().join("new/2026/a.jpg")).unwrap(), b"jpeg");
}

#[test]
fn a_missing_source_is_one_plain_error() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    let ran = f.batch(work.path(), "put -r nothing\n");
    assert_eq!(ran.status, Some(2), "a local problem: {}", ran.stderr);
    assert!(ran.stderr.contains("line 1: put -r nothing: nothing: No such file"), "{}", ran.stderr);
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
    let ran = f.batch(work.path(), "get -r nothing\n");
    assert_eq!(ran.status, Some(1), "the server's not_found: {}", ran.stderr);
    assert!(ran.stderr.contains("line 1: get -r nothing: get /nothing: "), "{}", ran.stderr);
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "nothing left behind");
}
