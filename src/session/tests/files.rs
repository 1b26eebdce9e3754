//! The file commands and transfers of a logged-in session, on both
//! storages: mkdir, dir, rm (and recursive rm), quota, put and get with
//! resume. Then, on the memory storage only, what its fault injection makes
//! testable: a full disk and I/O errors, answered with stable codes.

use super::pair::{Pair, Store, code, on_both};
use crate::protocol::frame::encode_to_vec;
use crate::session::{Channel, CloseReason, Endpoint};
use crate::storage::memory::Fault;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Sends a request and returns every frame header of its reply, letting a
/// request that waits (for the usage scan) continue.
fn call(p: &mut Pair, v: Value) -> Vec<Value> {
    p.send(v);
    p.run();
    p.settle();
    p.headers()
}

fn one(p: &mut Pair, v: Value) -> Value {
    let mut f = call(p, v);
    assert_eq!(f.len(), 1, "{f:?}");
    f.remove(0)
}

/// put + put_data + put_done of `data`; returns the put and put_done replies.
fn put(p: &mut Pair, path: &str, data: &[u8]) -> (Value, Value) {
    let ready = one(p, json!({"op": "put", "path": path, "length": data.len()}));
    if ready["ok"] != true {
        return (ready, Value::Null);
    }
    let offset = ready["offset"].as_u64().unwrap() as usize;
    let mut bytes = encode_to_vec(&json!({"op": "put_data", "size": data.len() - offset})).unwrap();
    bytes.extend_from_slice(&data[offset..]);
    p.send_raw(&bytes);
    let sha = hex::encode(Sha256::digest(data));
    let done = one(p, json!({"op": "put_done", "sha256": sha}));
    (ready, done)
}

/// get: the header, the body and the trailer.
fn download(p: &mut Pair, path: &str) -> (Value, Vec<u8>, Value) {
    p.send(json!({"op": "get", "path": path}));
    let mut frames = p.client_frames();
    assert_eq!(frames.len(), 2, "{frames:?}");
    let tail = frames.pop().unwrap();
    let head = frames.pop().unwrap();
    (head.header, head.body, tail.header)
}

fn used(p: &mut Pair) -> u64 {
    one(p, json!({"op": "quota"}))["used"].as_u64().unwrap()
}

/// A second session of `user`, logged in, in place of the pair's; returns
/// the first (still open).
fn second_session(p: &mut Pair, user: &str) -> crate::session::Session {
    let first = p.reconnect();
    assert_eq!(p.login(user, "pencil-pencil")["ok"], true);
    p.settle();
    first
}

fn file_commands_answer_and_are_audited(store: Store) {
    let mut p = Pair::logged_in_on(store, "ann");
    let made = one(&mut p, json!({"op": "mkdir", "path": "a/b", "parents": true}));
    assert_eq!(made, json!({"ok": true, "path": "/a/b", "created": true}));
    assert_eq!(code(&one(&mut p, json!({"op": "mkdir", "path": "a"}))), "exists");
    assert_eq!(code(&one(&mut p, json!({"op": "mkdir", "path": "x/y"}))), "not_found");
    assert_eq!(one(&mut p, json!({"op": "cd", "path": "a"})), json!({"ok": true, "cwd": "/a"}));
    let (_, done) = put(&mut p, "f.txt", b"hello");
    assert_eq!(done["path"], "/a/f.txt", "{done}");
    let listing = call(&mut p, json!({"op": "dir"}));
    let last = listing.last().unwrap();
    assert_eq!((last["more"].as_bool(), last["summary"]["count"].as_u64()), (Some(false), Some(2)));
    assert_eq!(last["summary"]["used"], 5);
    assert_eq!(used(&mut p), 5);
    assert_eq!(code(&one(&mut p, json!({"op": "rm", "path": "/a"}))), "not_empty");
    let removed = one(&mut p, json!({"op": "rm", "path": "f.txt"}));
    assert_eq!(removed, json!({"ok": true, "path": "/a/f.txt", "kind": "file", "freed": 5, "count": 1}));
    assert_eq!(used(&mut p), 0);
    assert_eq!(code(&one(&mut p, json!({"op": "rm", "path": "/"}))), "bad_request");
    assert_eq!(code(&one(&mut p, json!({"op": "cd", "path": "../.."}))), "path_escape");
    let rms: Vec<Value> = p.audit_lines("shell_command.log").into_iter().filter(|r| r["event"] == "rm").collect();
    assert_eq!(rms.len(), 3);
    assert_eq!(
        (rms[1]["outcome"].as_str(), rms[1]["count"].as_u64(), rms[1]["freed"].as_u64()),
        (Some("ok"), Some(1), Some(5))
    );
}

fn recursive_rm_frees_usage_and_writes_one_record(store: Store) {
    let mut p = Pair::logged_in_on(store, "bo");
    one(&mut p, json!({"op": "mkdir", "path": "t/u/v", "parents": true}));
    put(&mut p, "t/one", b"1");
    put(&mut p, "t/u/two", b"22");
    put(&mut p, "t/u/v/three", b"333");
    put(&mut p, "keep", b"4444");
    assert_eq!(used(&mut p), 10);
    assert_eq!(code(&one(&mut p, json!({"op": "rm", "path": "t"}))), "not_empty");
    let removed = one(&mut p, json!({"op": "rm", "path": "t", "recursive": true}));
    // t, u, v and three files.
    assert_eq!(removed, json!({"ok": true, "path": "/t", "kind": "dir", "freed": 6, "count": 6}));
    assert_eq!(used(&mut p), 4);
    assert!(!p.exists("bo", "t") && p.exists("bo", "keep"));
    let single = one(&mut p, json!({"op": "rm", "path": "keep", "recursive": true}));
    let got = (single["kind"].as_str(), single["count"].as_u64(), single["freed"].as_u64());
    assert_eq!(got, (Some("file"), Some(1), Some(4)));
    assert_eq!(code(&one(&mut p, json!({"op": "rm", "path": "t", "recursive": true}))), "not_found");
    let recs: Vec<Value> = p.audit_lines("shell_command.log").into_iter().filter(|r| r["event"] == "rm").collect();
    let ok: Vec<&Value> = recs.iter().filter(|r| r["args"] == json!(["-r", "t"])).collect();
    assert_eq!(ok.len(), 2, "one record per rm, not per entry: {recs:?}");
    assert_eq!(
        (ok[0]["outcome"].as_str(), ok[0]["count"].as_u64(), ok[0]["freed"].as_u64()),
        (Some("ok"), Some(6), Some(6))
    );
    assert_eq!(ok[1]["reason"], "not_found");
}

fn recursive_rm_of_a_folder_with_an_upload_in_progress_is_busy(store: Store) {
    let mut p = Pair::logged_in_on(store, "cy");
    one(&mut p, json!({"op": "mkdir", "path": "d/e", "parents": true}));
    let ready = one(&mut p, json!({"op": "put", "path": "d/e/f", "length": 3}));
    assert_eq!(ready["ok"], true);
    // The same user, on a second session.
    let mut first = second_session(&mut p, "cy");
    let busy = one(&mut p, json!({"op": "rm", "path": "d", "recursive": true}));
    assert_eq!(code(&busy), "busy", "{busy}");
    assert!(busy["error"]["message"].as_str().unwrap().contains("/d/e/f"), "{busy}");
    assert!(p.exists("cy", "d/e"));
    // Once the upload is gone, the folder can go.
    first.on_close(CloseReason::PeerClosed, p.now, &mut p.svc);
    let removed = one(&mut p, json!({"op": "rm", "path": "d", "recursive": true}));
    assert_eq!((removed["ok"].as_bool(), removed["count"].as_u64()), (Some(true), Some(2)));
}

fn uploads_round_trip_and_resume(store: Store) {
    let mut p = Pair::logged_in_on(store, "di");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let (_, done) = put(&mut p, "big.bin", &data);
    assert_eq!(done["sha256"], hex::encode(Sha256::digest(&data)), "{done}");
    for _ in 0..2 {
        // The second time the digest is remembered: sendfile on disk (where
        // xattrs work), the output buffer in memory. Same bytes either way.
        let (head, body, tail) = download(&mut p, "big.bin");
        assert_eq!(head["size"], data.len());
        assert!(body == data, "the body differs");
        assert_eq!(tail["sha256"], done["sha256"]);
    }
    // Cut an upload short: its checkpoint lets the next put resume.
    let ready = one(&mut p, json!({"op": "put", "path": "half.bin", "length": data.len()}));
    assert_eq!(ready["offset"], 0);
    let mut bytes = encode_to_vec(&json!({"op": "put_data", "size": data.len()})).unwrap();
    bytes.extend_from_slice(&data[..100_000]);
    p.send_raw(&bytes);
    p.run();
    let mut first = second_session(&mut p, "di");
    first.on_close(CloseReason::PeerClosed, p.now, &mut p.svc);
    let (ready, done) = put(&mut p, "half.bin", &data);
    assert_eq!(ready["offset"], 100_000, "{ready}");
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(download(&mut p, "half.bin").1, data);
    assert_eq!(used(&mut p), 2 * data.len() as u64);
}

fn refused_jobs_are_answered_server_busy_and_lose_nothing(store: Store) {
    let mut p = Pair::logged_in_on(store, "ida");
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 97) as u8).collect();
    put(&mut p, "f", &data);
    p.hold_jobs = true;
    // rm: the removal waits on the pool; meanwhile nothing more is read.
    p.send(json!({"op": "rm", "path": "f"}));
    p.send(json!({"op": "pwd"}));
    p.run();
    assert!(p.client.frames.is_empty() && p.server.is_waiting() && !p.server.wants_read(Channel::CONTROL));
    assert_eq!(p.jobs.len(), 1);
    p.refuse_jobs();
    let replies = p.headers();
    assert_eq!(code(&replies[0]), "server_busy", "{replies:?}");
    assert_eq!(replies[1]["cwd"], "/", "the next request goes on after the refusal");
    assert!(p.exists("ida", "f"), "nothing was removed");
    let rec = p.audit_lines("shell_command.log").into_iter().rfind(|r| r["event"] == "rm").unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("fail"), Some("server_busy")));
    // put_done: a refused commit keeps the partial; putting again resumes at its end.
    p.hold_jobs = true;
    let ready = one(&mut p, json!({"op": "put", "path": "g", "length": data.len()}));
    assert_eq!(ready["offset"], 0);
    let mut bytes = encode_to_vec(&json!({"op": "put_data", "size": data.len()})).unwrap();
    bytes.extend_from_slice(&data);
    p.send_raw(&bytes);
    p.send(json!({"op": "put_done", "sha256": hex::encode(Sha256::digest(&data))}));
    p.run();
    p.refuse_jobs();
    assert_eq!(code(&p.headers()[0]), "server_busy");
    assert!(!p.exists("ida", "g"));
    p.hold_jobs = false;
    let (ready, done) = put(&mut p, "g", &data);
    assert_eq!((ready["offset"].as_u64(), done["ok"].as_bool()), (Some(data.len() as u64), Some(true)));
    assert_eq!(used(&mut p), 2 * data.len() as u64);
    // A resumed get whose prefix hash is refused: an error, and no header.
    // (A file made behind the server's back has no remembered digest; its
    // first download is cut after the header, so none is remembered.)
    // It is larger than the output the session queues ahead, so the cut
    // download never hashed it all.
    p.hold_jobs = false;
    p.plant("ida", "h", &vec![5u8; 1 << 20]);
    p.room = 1000;
    p.send(json!({"op": "get", "path": "h"}));
    p.stall();
    p.client_reads(usize::MAX);
    let etag = p.client.partial_header().expect("the header, with a body to come")["etag"].clone();
    p.room = usize::MAX;
    let mut cut = second_session(&mut p, "ida");
    cut.on_close(CloseReason::PeerClosed, p.now, &mut p.svc);
    p.hold_jobs = true;
    p.send(json!({"op": "get", "path": "h", "offset": 10, "if_match": etag}));
    p.run();
    p.refuse_jobs();
    let refused = p.headers();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(code(&refused[0]), "server_busy");
    assert_eq!(p.request(json!({"op": "noop"})), json!({"ok": true}));
}

on_both!(
    refused_jobs_are_answered_server_busy_and_lose_nothing,
    file_commands_answer_and_are_audited,
    recursive_rm_frees_usage_and_writes_one_record,
    recursive_rm_of_a_folder_with_an_upload_in_progress_is_busy,
    uploads_round_trip_and_resume,
);

#[test]
fn a_full_disk_fails_the_upload_with_no_space_keeps_the_partial_and_resumes() {
    let mut p = Pair::logged_in_on(Store::Memory, "ed");
    let mem = p.memory.clone().unwrap();
    mem.set_capacity(Some(mem.used_space() + 50_000));
    let data = vec![9u8; 120_000];
    let ready = one(&mut p, json!({"op": "put", "path": "f", "length": data.len()}));
    assert_eq!(ready["offset"], 0);
    p.send_raw(&encode_to_vec(&json!({"op": "put_data", "size": data.len()})).unwrap());
    // In pieces, as a socket delivers them: the first ones fit.
    for piece in data.chunks(16_384) {
        p.send_raw(piece);
        p.run();
    }
    let done = one(&mut p, json!({"op": "put_done", "sha256": hex::encode(Sha256::digest(&data))}));
    assert_eq!(code(&done), "no_space", "{done}");
    let kept = used(&mut p);
    assert!(kept > 0 && kept < 50_000 && kept % 16_384 == 0, "{kept}");
    assert_eq!(p.audit_lines("upload_file.log").last().unwrap()["outcome"], "incomplete");
    mem.set_capacity(None);
    let (ready, done) = put(&mut p, "f", &data);
    assert_eq!((ready["offset"].as_u64(), done["ok"].as_bool()), (Some(kept), Some(true)), "{ready} {done}");
    assert_eq!(mem.read_file("ed", "f").unwrap(), data);
}

#[test]
fn injected_io_errors_are_answered_as_internal_and_the_session_carries_on() {
    let mut p = Pair::logged_in_on(Store::Memory, "fi");
    let mem = p.memory.clone().unwrap();
    put(&mut p, "f", b"abc");
    mem.fail(Fault::Mkdir);
    assert_eq!(code(&one(&mut p, json!({"op": "mkdir", "path": "d"}))), "internal");
    mem.fail(Fault::Commit);
    let (_, done) = put(&mut p, "g", b"xyz");
    assert_eq!(code(&done), "internal", "{done}");
    mem.fail(Fault::List);
    assert_eq!(code(&one(&mut p, json!({"op": "dir"}))), "internal");
    mem.fail(Fault::Read);
    p.send(json!({"op": "get", "path": "f"}));
    p.run();
    assert!(p.closed, "a body that cannot be read ends the connection");
    let rec = p.audit_lines("download_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("fail"), Some("internal")));
    for f in [Fault::Mkdir, Fault::Commit, Fault::List, Fault::Read] {
        mem.heal(f);
    }
    // A usage scan that fails: requests say so, and the next one retries.
    let mut p = Pair::checked_on(Store::Memory);
    let mem = p.memory.clone().unwrap();
    p.register("gu", "pencil-pencil");
    mem.fail(Fault::Scan);
    p.login("gu", "pencil-pencil");
    let quota = one(&mut p, json!({"op": "quota"}));
    assert_eq!(code(&quota), "internal", "{quota}");
    assert!(quota["error"]["message"].as_str().unwrap().contains("usage could not be computed"), "{quota}");
    mem.heal(Fault::Scan);
    assert_eq!(one(&mut p, json!({"op": "quota"}))["used"], 0);
}
