//! Uploads and downloads through the client library against the real server:
//! round trips of awkward sizes, resume after a cut in either direction,
//! resume when the file changed, `--no-resume`, and many clients at once.
//! Every transfer's SHA-256 is checked against the bytes written locally.

mod common;
use common::*;
use mioftp_client::partial::PartialPaths;
use mioftp_client::{Client, GetOptions, GetReport, NoProgress, PutOptions, PutReport};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Barrier};

const UPLOADS: &str = "upload_file.log";
const DOWNLOADS: &str = "download_file.log";

fn put(c: &mut Client, local: &Path, remote: &str) -> PutReport {
    c.put(local, remote, &PutOptions::default(), &mut NoProgress).unwrap_or_else(|e| panic!("put {remote}: {e}"))
}

fn get(c: &mut Client, remote: &str, local: &Path) -> GetReport {
    c.get(remote, local, &GetOptions::default(), &mut NoProgress).unwrap_or_else(|e| panic!("get {remote}: {e}"))
}

/// Records of `log` about `path`, as (outcome, offset) pairs.
fn outcomes(server: &TestServer, log: &str, path: &str) -> Vec<(String, Option<u64>)> {
    server
        .log(log)
        .iter()
        .filter(|r| r["path"] == path)
        .map(|r| (r["outcome"].as_str().unwrap_or("").to_owned(), r["offset"].as_u64()))
        .collect()
}

/// Starts an upload of `local` with raw frames, sends only its first `cut`
/// body bytes, and drops the connection; waits until the server has
/// recorded the upload as incomplete.
fn cut_upload(server: &TestServer, user: &str, local: &Path, remote_abs: &str, cut: u64) {
    let data = std::fs::read(local).unwrap();
    let mut c = server.login(user);
    c.conn.send(&json!({"op": "put", "path": remote_abs, "length": data.len(), "resume": true})).unwrap();
    c.conn.flush().unwrap();
    let (ready, _) = c.conn.recv_reply().expect("put accepted");
    assert_eq!(ready["offset"], 0, "{ready:?}");
    c.conn.send(&json!({"op": "put_data", "size": data.len()})).unwrap();
    c.conn.send_body(&data[..cut as usize]).unwrap();
    c.conn.flush().unwrap();
    drop(c);
    server.wait_for_record(UPLOADS, |r| r["path"] == remote_abs && r["outcome"] == "incomplete");
}

/// Leaves a local partial of `remote` as an interrupted `get` does: the
/// download runs through a relay that cuts the connection after `limit`
/// bytes from the server. Returns the partial's length.
fn cut_download(server: &TestServer, user: &str, remote: &str, target: &Path, limit: u64) -> u64 {
    let relay = cut_relay(server.addr, limit);
    let mut c = server.login_via(&relay, user);
    let err = c.get(remote, target, &GetOptions::default(), &mut NoProgress).expect_err("the relay cuts the body");
    assert!(err.is_fatal(), "a cut is a lost connection: {err}");
    assert!(!target.exists(), "nothing may appear under the final name after a cut");
    let parts = PartialPaths::for_target(target);
    let sidecar = parts.read_sidecar().expect("a sidecar written before the body");
    let kept = std::fs::metadata(&parts.data).expect("the partial is kept").len();
    assert!(kept > 0 && kept < sidecar.length, "cut inside the body: kept {kept} of {}", sidecar.length);
    kept
}

#[test]
fn empty_one_byte_and_odd_sized_files_round_trip_with_matching_digests() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = server.user("alice");
    for (i, len) in [0u64, 1, 1_000_003].into_iter().enumerate() {
        let local = dir.path().join(format!("f{len}"));
        let digest = random_file(&local, len, 10 + i as u64);
        let up = put(&mut c, &local, &format!("f{len}"));
        assert_eq!((up.path.as_str(), up.size, up.sent, up.offset), (format!("/f{len}").as_str(), len, len, 0));
        assert_eq!(up.sha256, digest);
        let back = dir.path().join(format!("back{len}"));
        let down = get(&mut c, &format!("f{len}"), &back);
        assert_eq!((down.size, down.received, down.offset, down.sha256.as_str()), (len, len, 0, digest.as_str()));
        assert_eq!(sha256_file(&back), digest);
        assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&local).unwrap());
        assert_eq!(c.dir(Some(&format!("f{len}"))).unwrap().entries[0].size, len);
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| !n.to_string_lossy().contains(".mioftp-part")), "{names:?}");
}

#[test]
fn a_64_mib_file_round_trips_intact() {
    const LEN: u64 = 64 * 1024 * 1024;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = server.user("big");
    let local = dir.path().join("big.bin");
    let digest = random_file(&local, LEN, 64);
    assert_eq!(put(&mut c, &local, "big.bin").sha256, digest);
    assert_eq!(sha256_file(&server.path("home/big/big.bin")), digest);
    let back = dir.path().join("back.bin");
    let down = get(&mut c, "big.bin", &back);
    assert_eq!((down.size, down.sha256.as_str()), (LEN, digest.as_str()));
    assert_eq!(sha256_file(&back), digest);
}

#[test]
fn an_upload_cut_at_a_random_offset_resumes_from_the_servers_partial() {
    const LEN: u64 = 3_000_017;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("up.bin");
    let digest = random_file(&local, LEN, 7);
    drop(server.user("carol"));
    let cut = 1 + XorShift::new(2024).below(LEN - 1);
    cut_upload(&server, "carol", &local, "/up.bin", cut);
    assert!(!server.path("home/carol/up.bin").exists(), "a partial never appears under the target name");

    let mut c = server.login("carol");
    let report = put(&mut c, &local, "up.bin");
    assert_eq!((report.offset, report.sent, report.size, report.restarted), (cut, LEN - cut, LEN, false));
    assert_eq!(report.sha256, digest);
    assert_eq!(sha256_file(&server.path("home/carol/up.bin")), digest);
    assert_eq!(
        outcomes(&server, UPLOADS, "/up.bin"),
        [("incomplete".to_owned(), Some(0)), ("complete".to_owned(), Some(cut))]
    );
}

#[test]
fn an_upload_resume_starts_over_when_the_local_file_changed() {
    const LEN: u64 = 2_000_000;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("doc.bin");
    random_file(&local, LEN, 1);
    drop(server.user("dave"));
    cut_upload(&server, "dave", &local, "/doc.bin", 500_000);
    // Same length, different bytes: the server's prefix no longer matches.
    let digest = random_file(&local, LEN, 2);

    let mut c = server.login("dave");
    let report = put(&mut c, &local, "doc.bin");
    assert!(report.restarted);
    assert_eq!((report.offset, report.sent), (0, LEN));
    assert_eq!(report.sha256, digest);
    assert_eq!(sha256_file(&server.path("home/dave/doc.bin")), digest);
    let back = dir.path().join("back.bin");
    assert_eq!(get(&mut c, "doc.bin", &back).sha256, digest);
}

#[test]
fn no_resume_uploads_everything_even_with_a_partial_on_the_server() {
    const LEN: u64 = 1_500_000;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("n.bin");
    let digest = random_file(&local, LEN, 3);
    drop(server.user("erin"));
    cut_upload(&server, "erin", &local, "/n.bin", 700_000);

    let mut c = server.login("erin");
    let report = c.put(&local, "n.bin", &PutOptions { resume: false }, &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.sent, report.restarted), (0, LEN, false));
    assert_eq!(sha256_file(&server.path("home/erin/n.bin")), digest);
    let last = outcomes(&server, UPLOADS, "/n.bin").pop().unwrap();
    assert_eq!(last, ("complete".to_owned(), Some(0)));
}

#[test]
fn a_download_cut_mid_body_resumes_from_the_local_partial() {
    const LEN: u64 = 3_000_000;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("src.bin");
    let digest = random_file(&local, LEN, 4);
    put(&mut server.user("fred"), &local, "d.bin");

    let target = dir.path().join("d.bin");
    let limit = 1_000_000 + XorShift::new(5).below(1_000_000);
    let kept = cut_download(&server, "fred", "d.bin", &target, limit);

    let mut c = server.login("fred");
    let report = get(&mut c, "d.bin", &target);
    assert_eq!((report.offset, report.received, report.size, report.restarted), (kept, LEN - kept, LEN, false));
    assert_eq!(report.sha256, digest);
    assert_eq!(sha256_file(&target), digest);
    let parts = PartialPaths::for_target(&target);
    assert!(!parts.data.exists() && !parts.sidecar.exists(), "the partial and sidecar are gone after success");
    let last = outcomes(&server, DOWNLOADS, "/d.bin").pop().unwrap();
    assert_eq!(last, ("complete".to_owned(), Some(kept)));
}

#[test]
fn a_download_resume_starts_over_when_the_remote_file_changed() {
    const LEN: u64 = 2_500_000;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("src.bin");
    random_file(&local, LEN, 6);
    put(&mut server.user("gina"), &local, "r.bin");
    let target = dir.path().join("r.bin");
    cut_download(&server, "gina", "r.bin", &target, 900_000);

    // The remote file is replaced: its etag changes, so the server refuses
    // the offset and sends everything.
    let digest = random_file(&local, LEN, 7);
    let mut c = server.login("gina");
    put(&mut c, &local, "r.bin");
    let report = get(&mut c, "r.bin", &target);
    assert_eq!((report.offset, report.received), (0, LEN));
    assert_eq!(sha256_file(&target), digest);
}

#[test]
fn a_damaged_local_partial_is_detected_and_fetched_again_from_zero() {
    const LEN: u64 = 2_000_000;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("src.bin");
    let digest = random_file(&local, LEN, 8);
    put(&mut server.user("hank"), &local, "x.bin");
    let target = dir.path().join("x.bin");
    cut_download(&server, "hank", "x.bin", &target, 800_000);
    // Flip one byte of the kept prefix: only the final digest can tell.
    let part = PartialPaths::for_target(&target).data;
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[1234] ^= 0x40;
    std::fs::write(&part, &bytes).unwrap();

    let report = get(&mut server.login("hank"), "x.bin", &target);
    assert!(report.restarted, "a resume whose digest fails is retried once from zero");
    assert_eq!((report.offset, report.received), (0, LEN));
    assert_eq!(sha256_file(&target), digest);
}

#[test]
fn no_resume_downloads_discard_the_partial() {
    const LEN: u64 = 1_200_000;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("src.bin");
    let digest = random_file(&local, LEN, 9);
    put(&mut server.user("ivan"), &local, "y.bin");
    let target = dir.path().join("y.bin");
    cut_download(&server, "ivan", "y.bin", &target, 500_000);

    let mut c = server.login("ivan");
    let report = c.get("y.bin", &target, &GetOptions { resume: false }, &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.received), (0, LEN));
    assert_eq!(sha256_file(&target), digest);
}

#[test]
fn failed_transfers_keep_the_session_and_leave_no_files() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = server.user("judy");
    let err = c.get("missing.bin", &dir.path().join("m"), &GetOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.code(), Some(mioftp::protocol::ErrorCode::NotFound), "{err}");
    let err = c.put(&dir.path().join("absent"), "a", &PutOptions::default(), &mut NoProgress).unwrap_err();
    assert!(!err.is_fatal() && err.to_string().contains("absent"), "{err}");
    c.mkdir("sub", false).unwrap();
    let local = dir.path().join("f");
    random_file(&local, 10, 1);
    // Into an existing folder, the file goes inside it (as in sftp).
    let report = c.put(&local, "sub", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(report.path, "/sub/f");
    let err = c.get("sub", &dir.path().join("s"), &GetOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.code(), Some(mioftp::protocol::ErrorCode::IsADirectory), "{err}");
    assert!(!err.to_string().contains('{'), "human message, not JSON: {err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the source file");
    c.noop().expect("the session is still usable");
}

#[test]
fn fifty_clients_put_and_get_distinct_files_at_once() {
    const N: usize = 50;
    let server = TestServer::start();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let barrier = Arc::new(Barrier::new(N));
    // Sizes from 1 to 8 MiB, pseudo-random but fixed.
    let mut rng = XorShift::new(50);
    let sizes: Vec<u64> = (0..N).map(|_| (1 << 20) + rng.below(7 << 20)).collect();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (barrier, dir, len) = (barrier.clone(), dir.clone(), sizes[i]);
            let mut c = server.user(&format!("u{i:02}"));
            std::thread::spawn(move || -> Result<(), String> {
                let local = dir.path().join(format!("up{i}"));
                let digest = random_file(&local, len, 1000 + i as u64);
                barrier.wait(); // everyone transfers at the same time
                let up = c
                    .put(&local, "file.bin", &PutOptions::default(), &mut NoProgress)
                    .map_err(|e| format!("{i} put: {e}"))?;
                let back = dir.path().join(format!("down{i}"));
                let down = c
                    .get("file.bin", &back, &GetOptions::default(), &mut NoProgress)
                    .map_err(|e| format!("{i} get: {e}"))?;
                let local_back = sha256_file(&back);
                if up.sha256 != digest || down.sha256 != digest || local_back != digest {
                    return Err(format!(
                        "{i}: digests {digest} / put {} / get {} / file {local_back}",
                        up.sha256, down.sha256
                    ));
                }
                c.exit().map_err(|e| e.to_string())
            })
        })
        .collect();
    let failures: Vec<String> = handles.into_iter().filter_map(|h| h.join().unwrap().err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    let complete = |log: &str| server.log(log).iter().filter(|r: &&Value| r["outcome"] == "complete").count();
    assert_eq!(complete(UPLOADS), N);
    assert_eq!(complete(DOWNLOADS), N);
}
