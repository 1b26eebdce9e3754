//! Server-side file operations and transfers over raw frames: what a client
//! that does not use our library (or lies) gets.

mod common;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;

/// Waits (bounded) until `log` has `n` records.
fn wait_records(server: &TestServer, log: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let recs = server.log(log);
        if recs.len() >= n {
            return recs;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{log} never reached {n} records");
}

fn put_raw(raw: &mut Raw, path: &str, data: &[u8]) -> Value {
    let ready = raw.call(json!({"op": "put", "path": path, "length": data.len()}));
    assert_eq!(ready["ok"], true, "{ready}");
    let off = ready["offset"].as_u64().unwrap() as usize;
    raw.send(json!({"op": "put_data", "size": data.len() - off}));
    raw.send_bytes(&data[off..]);
    raw.call(json!({"op": "put_done", "sha256": hex::encode(Sha256::digest(data))}))
}

fn read_body(raw: &mut Raw, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut body = vec![0u8; n];
    raw.stream.read_exact(&mut body).unwrap();
    body
}

#[test]
fn put_then_get_round_trip_over_raw_frames() {
    let server = TestServer::start();
    let mut raw = login_raw(&server, "alice");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let done = put_raw(&mut raw, "a.bin", &data);
    assert_eq!(done["sha256"], hex::encode(Sha256::digest(&data)), "{done}");
    assert_eq!(std::fs::read(server.path("home/alice/a.bin")).unwrap(), data);

    let start = raw.call(json!({"op": "get", "path": "/a.bin"}));
    assert_eq!(start["size"], data.len());
    let body = read_body(&mut raw, data.len());
    assert_eq!(body, data);
    let end = raw.recv();
    assert_eq!(end["trailer"], true);
    assert_eq!(end["sha256"], hex::encode(Sha256::digest(&data)));
    let ups = server.log("upload_file.log");
    assert_eq!(ups.last().unwrap()["outcome"], "complete");
    let downs = server.log("download_file.log");
    assert_eq!(downs.last().unwrap()["outcome"], "complete");
    assert_eq!(downs.last().unwrap()["bytes"], data.len());
}

#[test]
fn a_wrong_digest_stores_nothing_and_is_recorded() {
    let server = TestServer::start();
    let mut raw = login_raw(&server, "bob");
    raw.call(json!({"op": "put", "path": "x", "length": 3}));
    raw.send(json!({"op": "put_data", "size": 3}));
    raw.send_bytes(b"abc");
    let reply = raw.call(json!({"op": "put_done", "sha256": "00".repeat(32)}));
    assert_eq!(code(&reply), "digest_mismatch");
    assert!(!server.path("home/bob/x").exists());
    let rec = server.log("upload_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("rejected"), Some("digest_mismatch")));
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the session is usable afterwards");
}

#[test]
fn a_cut_upload_resumes_from_the_server_checkpoint() {
    let server = TestServer::start();
    let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 256) as u8).collect();
    {
        let mut raw = login_raw(&server, "carol");
        raw.call(json!({"op": "put", "path": "big", "length": data.len()}));
        raw.send(json!({"op": "put_data", "size": data.len()}));
        raw.send_bytes(&data[..400_000]);
        // Dropping the socket here is the cut.
    }
    let rec = wait_records(&server, "upload_file.log", 1).pop().unwrap();
    assert_eq!(rec["outcome"], "incomplete");
    let mut raw = login_raw(&server, "carol");
    let ready = raw.call(json!({"op": "put", "path": "big", "length": data.len()}));
    let off = ready["offset"].as_u64().unwrap() as usize;
    assert!(off >= 400_000 && off < data.len(), "offset {off}");
    assert_eq!(ready["prefix_sha256"], hex::encode(Sha256::digest(&data[..off])));
    raw.send(json!({"op": "put_data", "size": data.len() - off}));
    raw.send_bytes(&data[off..]);
    let done = raw.call(json!({"op": "put_done", "sha256": hex::encode(Sha256::digest(&data))}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(server.path("home/carol/big")).unwrap(), data);
    let rec = server.log("upload_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["offset"].as_u64()), (Some("complete"), Some(off as u64)));
}

#[test]
fn quota_refusals_up_front_and_for_a_lying_size() {
    let server = TestServer::start_with(|c| c.default_quota = Some(1000));
    let mut raw = login_raw(&server, "dave");
    let reply = raw.call(json!({"op": "put", "path": "big", "length": 1001}));
    assert_eq!(code(&reply), "quota_exceeded");
    assert!(reply["error"]["message"].as_str().unwrap().contains("1001"), "{reply}");
    let ok = raw.call(json!({"op": "put", "path": "small", "length": 10}));
    assert_eq!(ok["ok"], true);
    // A client that declared 10 bytes but sends 5000.
    raw.send(json!({"op": "put_data", "size": 5000}));
    raw.send_bytes(&[7u8; 5000]);
    assert_eq!(code(&raw.recv()), "size_mismatch");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    assert!(!server.path("home/dave/small").exists());
}

#[test]
fn a_second_upload_to_the_same_path_is_busy() {
    let server = TestServer::start();
    let mut first = login_raw(&server, "erin");
    assert_eq!(first.call(json!({"op": "put", "path": "same", "length": 5}))["ok"], true);
    let mut second = server.raw_checked();
    scram_login(&mut second, "erin");
    assert_eq!(code(&second.call(json!({"op": "put", "path": "same", "length": 5}))), "busy");
    assert_eq!(second.call(json!({"op": "put", "path": "other", "length": 5}))["ok"], true);
}

#[test]
fn a_listing_of_many_entries_arrives_in_chunks_with_a_summary() {
    let server = TestServer::start();
    let mut raw = login_raw(&server, "fred");
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "d"}))["created"], true);
    for i in 0..100 {
        std::fs::write(server.path(&format!("home/fred/d/f{i:03}")), [0u8; 10]).unwrap();
    }
    raw.send(json!({"op": "dir", "path": "d"}));
    let mut names = Vec::new();
    let mut frames = 0;
    loop {
        let f = raw.recv();
        frames += 1;
        names.extend(f["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()));
        if f["more"] == false {
            assert_eq!(f["summary"]["count"], 100);
            break;
        }
    }
    assert!(frames > 1);
    names.sort();
    assert_eq!(names.len(), 100);
    assert_eq!(names[0], "f000");
    let cmds: Vec<_> =
        server.log("shell_command.log").iter().map(|r| r["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(cmds, ["mkdir", "dir"]);
}

#[test]
fn a_client_that_stops_reading_a_download_does_not_stall_others() {
    let server = TestServer::start();
    let mut slow = login_raw(&server, "gina");
    std::fs::write(server.path("home/gina/big"), vec![1u8; 32 * 1024 * 1024]).unwrap();
    let start = slow.call(json!({"op": "get", "path": "big"}));
    assert_eq!(start["size"], 32 * 1024 * 1024);
    // `slow` never reads the body. Another user keeps working meanwhile.
    let mut other = server.user("hank");
    for _ in 0..20 {
        other.dir(None).expect("dir answers while a download is stalled");
    }
    // The stalled download holds only a bounded part of the file in memory:
    // the server stopped reading the file when the socket stopped draining.
    drop(slow);
    let rec = wait_records(&server, "download_file.log", 1).pop().unwrap();
    assert_eq!(rec["outcome"], "incomplete");
    assert!(rec["bytes"].as_u64().unwrap() < 32 * 1024 * 1024);
}

#[test]
fn a_download_during_an_upload_of_the_same_path_gets_the_old_file() {
    let server = TestServer::start();
    let mut up = login_raw(&server, "ivy");
    let old = b"the old complete file".to_vec();
    put_raw(&mut up, "doc", &old);
    up.call(json!({"op": "put", "path": "doc", "length": 10}));
    up.send(json!({"op": "put_data", "size": 10}));
    up.send_bytes(b"NEW-");
    let mut down = login_raw(&server, "ivy");
    let start = down.call(json!({"op": "get", "path": "doc"}));
    assert_eq!(start["size"], old.len());
    assert_eq!(read_body(&mut down, old.len()), old);
    assert_eq!(down.recv()["sha256"], hex::encode(Sha256::digest(&old)));
    up.send_bytes(b"VERSIO");
    let done = up.call(json!({"op": "put_done", "sha256": hex::encode(Sha256::digest(b"NEW-VERSIO"))}));
    assert_eq!(done["ok"], true, "{done}");
    let start = down.call(json!({"op": "get", "path": "doc"}));
    assert_eq!(start["size"], 10);
    assert_eq!(read_body(&mut down, 10), b"NEW-VERSIO");
}

#[test]
fn downloads_use_the_digest_remembered_at_upload_and_notice_changes() {
    let server = TestServer::start();
    let mut raw = login_raw(&server, "jo");
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(put_raw(&mut raw, "f.bin", &data)["ok"], true);
    let path = server.path("home/jo/f.bin");
    let file = std::fs::File::open(&path).unwrap();
    let mut buf = [0u8; 128];
    let cached = rustix::fs::fgetxattr(&file, "user.mioftp.sha256", &mut buf[..]);
    let digest = hex::encode(Sha256::digest(&data));
    if let Ok(n) = cached {
        assert!(std::str::from_utf8(&buf[..n]).unwrap().ends_with(&digest), "the upload's digest is remembered");
    }
    // Served from the cache (sendfile), whole and resumed.
    let start = raw.call(json!({"op": "get", "path": "f.bin"}));
    assert_eq!(read_body(&mut raw, data.len()), data);
    assert_eq!(raw.recv()["sha256"], digest);
    let etag = start["etag"].as_str().unwrap().to_owned();
    let resumed = raw.call(json!({"op": "get", "path": "f.bin", "offset": 500_000, "if_match": etag}));
    assert_eq!(resumed["offset"], 500_000);
    assert_eq!(read_body(&mut raw, 200_000), &data[500_000..]);
    assert_eq!(raw.recv()["sha256"], digest);

    // Someone changes the file behind the server's back: the old digest is
    // not trusted; the new one is computed while sending.
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"tail").unwrap();
    let mut changed = data.clone();
    changed.extend_from_slice(b"tail");
    raw.call(json!({"op": "get", "path": "f.bin"}));
    assert_eq!(read_body(&mut raw, changed.len()), changed);
    assert_eq!(raw.recv()["sha256"], hex::encode(Sha256::digest(&changed)));
    let downs = server.log("download_file.log");
    assert!(downs.iter().all(|r| r["outcome"] == "complete"), "{downs:?}");
    assert_eq!(downs[1]["bytes"], 200_000);
}
