//! The file commands and transfers of a logged-in session, on both
//! storages: mkdir, dir, rm (and recursive rm), quota, put and get with
//! resume. Then, on the memory storage only, what its fault injection makes
//! testable: a full disk and I/O errors, answered with stable codes.

use super::{Harness, Store, code, on_both};
use crate::protocol::frame::{self, encode_to_vec};
use crate::session::{CloseReason, Session};
use crate::storage::memory::Fault;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

impl Harness {
    /// Registered, logged in as `user`, usage known.
    fn user_on(store: Store, user: &str) -> Harness {
        let mut h = Harness::checked_on(store);
        assert_eq!(h.register(user, "pencil-pencil")["ok"], true);
        assert_eq!(h.login(user, "pencil-pencil")["ok"], true);
        h.settle();
        h
    }

    /// Finishes usage scans and lets a waiting request continue, as the driver does.
    fn settle(&mut self) {
        while self.svc.users.scanning() {
            self.svc.users.tick(crate::users::SCAN_BUDGET);
        }
        if self.session.is_waiting() {
            self.session.resume(self.now, &mut self.svc);
        }
    }

    /// Everything the session sends until it has nothing more: frames and
    /// bodies, as raw bytes; a sendfile range is read from its descriptor.
    fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..100_000 {
            if self.session.wants_to_produce() && self.session.produce(self.now, &mut self.svc, 256 * 1024).is_none() {
                break;
            }
            let pending = self.session.output().to_vec();
            if !pending.is_empty() {
                self.session.advance_output(pending.len(), self.now);
                out.extend(pending);
                continue;
            }
            let Some((fd, pos, left)) = self.session.file_range() else { break };
            let mut buf = vec![0u8; left.min(1 << 20) as usize];
            let n = rustix::io::pread(fd, &mut buf, pos).expect("sendfile's source reads");
            assert!(n > 0, "the file shrank");
            out.extend_from_slice(&buf[..n]);
            self.session.advance_file(n, self.now);
        }
        out
    }

    /// Sends a request and returns every frame header of its reply.
    fn call(&mut self, v: Value) -> Vec<Value> {
        let bytes = encode_to_vec(&v).unwrap();
        assert_eq!(self.feed(&bytes), bytes.len());
        self.settle();
        let out = self.drain();
        let mut at = 0;
        let mut frames = Vec::new();
        while let Some((f, n)) = frame::decode(&out[at..]).unwrap() {
            frames.push(Value::Object(f.header));
            at += n;
        }
        assert_eq!(at, out.len(), "a body where none was expected");
        frames
    }

    fn one_reply(&mut self, v: Value) -> Value {
        let mut f = self.call(v);
        assert_eq!(f.len(), 1, "{f:?}");
        f.remove(0)
    }

    /// put + put_data + put_done of `data`; returns the put and put_done replies.
    fn upload(&mut self, path: &str, data: &[u8]) -> (Value, Value) {
        let ready = self.one_reply(json!({"op": "put", "path": path, "length": data.len()}));
        if ready["ok"] != true {
            return (ready, Value::Null);
        }
        let offset = ready["offset"].as_u64().unwrap() as usize;
        let mut bytes = encode_to_vec(&json!({"op": "put_data", "size": data.len() - offset})).unwrap();
        bytes.extend_from_slice(&data[offset..]);
        assert_eq!(self.feed(&bytes), bytes.len());
        let sha = hex::encode(Sha256::digest(data));
        let done = self.one_reply(json!({"op": "put_done", "sha256": sha}));
        (ready, done)
    }

    /// get: the header, the body and the trailer.
    fn download(&mut self, path: &str) -> (Value, Vec<u8>, Value) {
        let bytes = encode_to_vec(&json!({"op": "get", "path": path})).unwrap();
        assert_eq!(self.feed(&bytes), bytes.len());
        let out = self.drain();
        let (head, n) = frame::decode(&out).unwrap().expect("a header");
        let head = Value::Object(head.header);
        let size = head["size"].as_u64().unwrap_or(0) as usize;
        let body = out[n..n + size].to_vec();
        let (tail, m) = frame::decode(&out[n + size..]).unwrap().expect("a trailer");
        assert_eq!(n + size + m, out.len());
        (head, body, Value::Object(tail.header))
    }

    fn used(&mut self) -> u64 {
        self.one_reply(json!({"op": "quota"}))["used"].as_u64().unwrap()
    }
}

use crate::protocol::scram;

fn file_commands_answer_and_are_audited(store: Store) {
    let mut h = Harness::user_on(store, "ann");
    let made = h.one_reply(json!({"op": "mkdir", "path": "a/b", "parents": true}));
    assert_eq!(made, json!({"ok": true, "path": "/a/b", "created": true}));
    assert_eq!(code(&h.one_reply(json!({"op": "mkdir", "path": "a"}))), "exists");
    assert_eq!(code(&h.one_reply(json!({"op": "mkdir", "path": "x/y"}))), "not_found");
    assert_eq!(h.one_reply(json!({"op": "cd", "path": "a"})), json!({"ok": true, "cwd": "/a"}));
    let (_, done) = h.upload("f.txt", b"hello");
    assert_eq!(done["path"], "/a/f.txt", "{done}");
    let listing = h.call(json!({"op": "dir"}));
    let last = listing.last().unwrap();
    assert_eq!((last["more"].as_bool(), last["summary"]["count"].as_u64()), (Some(false), Some(2)));
    assert_eq!(last["summary"]["used"], 5);
    assert_eq!(h.used(), 5);
    assert_eq!(code(&h.one_reply(json!({"op": "rm", "path": "/a"}))), "not_empty");
    let removed = h.one_reply(json!({"op": "rm", "path": "f.txt"}));
    assert_eq!(removed, json!({"ok": true, "path": "/a/f.txt", "kind": "file", "freed": 5, "count": 1}));
    assert_eq!(h.used(), 0);
    assert_eq!(code(&h.one_reply(json!({"op": "rm", "path": "/"}))), "bad_request");
    assert_eq!(code(&h.one_reply(json!({"op": "cd", "path": "../.."}))), "path_escape");
    let rms: Vec<Value> = h.audit_lines("shell_command.log").into_iter().filter(|r| r["event"] == "rm").collect();
    assert_eq!(rms.len(), 3);
    assert_eq!(
        (rms[1]["outcome"].as_str(), rms[1]["count"].as_u64(), rms[1]["freed"].as_u64()),
        (Some("ok"), Some(1), Some(5))
    );
}

fn recursive_rm_frees_usage_and_writes_one_record(store: Store) {
    let mut h = Harness::user_on(store, "bo");
    h.one_reply(json!({"op": "mkdir", "path": "t/u/v", "parents": true}));
    h.upload("t/one", b"1");
    h.upload("t/u/two", b"22");
    h.upload("t/u/v/three", b"333");
    h.upload("keep", b"4444");
    assert_eq!(h.used(), 10);
    assert_eq!(code(&h.one_reply(json!({"op": "rm", "path": "t"}))), "not_empty");
    let removed = h.one_reply(json!({"op": "rm", "path": "t", "recursive": true}));
    // t, u, v and three files.
    assert_eq!(removed, json!({"ok": true, "path": "/t", "kind": "dir", "freed": 6, "count": 6}));
    assert_eq!(h.used(), 4);
    assert!(!h.exists("bo", "t") && h.exists("bo", "keep"));
    let one = h.one_reply(json!({"op": "rm", "path": "keep", "recursive": true}));
    assert_eq!((one["kind"].as_str(), one["count"].as_u64(), one["freed"].as_u64()), (Some("file"), Some(1), Some(4)));
    assert_eq!(code(&h.one_reply(json!({"op": "rm", "path": "t", "recursive": true}))), "not_found");
    let recs: Vec<Value> = h.audit_lines("shell_command.log").into_iter().filter(|r| r["event"] == "rm").collect();
    let ok: Vec<&Value> = recs.iter().filter(|r| r["args"] == json!(["-r", "t"])).collect();
    assert_eq!(ok.len(), 2, "one record per rm, not per entry: {recs:?}");
    assert_eq!(
        (ok[0]["outcome"].as_str(), ok[0]["count"].as_u64(), ok[0]["freed"].as_u64()),
        (Some("ok"), Some(6), Some(6))
    );
    assert_eq!(ok[1]["reason"], "not_found");
}

fn recursive_rm_of_a_folder_with_an_upload_in_progress_is_busy(store: Store) {
    let mut h = Harness::user_on(store, "cy");
    h.one_reply(json!({"op": "mkdir", "path": "d/e", "parents": true}));
    let ready = h.one_reply(json!({"op": "put", "path": "d/e/f", "length": 3}));
    assert_eq!(ready["ok"], true);
    // The same user, on a second session (logged in by hand).
    let first =
        std::mem::replace(&mut h.session, Session::new(2, "127.0.0.1:10".parse().unwrap(), h.now, &h.svc).unwrap());
    let hello = h.one();
    let challenge = scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
    let mac = scram::hmac(&h.svc.key, &challenge);
    h.request(json!({"op": "auth", "hmac": scram::b64(&mac)}));
    assert_eq!(h.login("cy", "pencil-pencil")["ok"], true);
    let busy = h.one_reply(json!({"op": "rm", "path": "d", "recursive": true}));
    assert_eq!(code(&busy), "busy", "{busy}");
    assert!(busy["error"]["message"].as_str().unwrap().contains("/d/e/f"), "{busy}");
    assert!(h.exists("cy", "d/e"));
    // Once the upload is gone, the folder can go.
    let mut second = std::mem::replace(&mut h.session, first);
    h.session.on_close(CloseReason::PeerClosed, h.now, &mut h.svc);
    std::mem::swap(&mut h.session, &mut second);
    let removed = h.one_reply(json!({"op": "rm", "path": "d", "recursive": true}));
    assert_eq!((removed["ok"].as_bool(), removed["count"].as_u64()), (Some(true), Some(2)));
}

fn uploads_round_trip_and_resume(store: Store) {
    let mut h = Harness::user_on(store, "di");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let (_, done) = h.upload("big.bin", &data);
    assert_eq!(done["sha256"], hex::encode(Sha256::digest(&data)), "{done}");
    for _ in 0..2 {
        // The second time the digest is remembered: sendfile on disk (where
        // xattrs work), the output buffer in memory. Same bytes either way.
        let (head, body, tail) = h.download("big.bin");
        assert_eq!(head["size"], data.len());
        assert!(body == data, "the body differs");
        assert_eq!(tail["sha256"], done["sha256"]);
    }
    // Cut an upload short: its checkpoint lets the next put resume.
    let ready = h.one_reply(json!({"op": "put", "path": "half.bin", "length": data.len()}));
    assert_eq!(ready["offset"], 0);
    let mut bytes = encode_to_vec(&json!({"op": "put_data", "size": data.len()})).unwrap();
    bytes.extend_from_slice(&data[..100_000]);
    assert_eq!(h.feed(&bytes), bytes.len());
    h.session.on_close(CloseReason::PeerClosed, h.now, &mut h.svc);
    let mut h2 = Harness { session: Session::new(3, "127.0.0.1:11".parse().unwrap(), h.now, &h.svc).unwrap(), ..h };
    let hello = h2.one();
    let mac = scram::hmac(&h2.svc.key, &scram::unb64(hello["challenge"].as_str().unwrap()).unwrap());
    h2.request(json!({"op": "auth", "hmac": scram::b64(&mac)}));
    assert_eq!(h2.login("di", "pencil-pencil")["ok"], true);
    h2.settle();
    let (ready, done) = h2.upload("half.bin", &data);
    assert_eq!(ready["offset"], 100_000, "{ready}");
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(h2.download("half.bin").1, data);
    assert_eq!(h2.used(), 2 * data.len() as u64);
}

fn a_slowly_drained_download_keeps_its_output_buffer_bounded(store: Store) {
    let mut h = Harness::checked_on(store);
    h.register("kim", "pencil-pencil");
    h.login("kim", "pencil-pencil");
    let size = 8 * 1024 * 1024;
    h.plant("kim", "big", &vec![7u8; size]);
    let start = h.request(json!({"op": "get", "path": "big"}));
    assert_eq!(start["size"], size);
    let mut sent = 0usize;
    let mut peak = 0usize;
    let mut turns = 0;
    while h.session.wants_to_produce() || !h.session.output().is_empty() {
        if h.session.wants_to_produce() {
            h.session.produce(h.now, &mut h.svc, 256 * 1024).unwrap();
        }
        peak = peak.max(h.session.out.capacity());
        // The peer drains only part of what is pending each time.
        let n = (h.session.output().len() / 2).max(1);
        h.session.advance_output(n, h.now);
        sent += n;
        turns += 1;
        assert!(turns < 1_000_000);
    }
    assert!(sent > size, "the whole body and trailer went out");
    assert!(peak <= 1024 * 1024, "output buffer grew to {peak} bytes for an {size}-byte file");
}

on_both!(
    a_slowly_drained_download_keeps_its_output_buffer_bounded,
    file_commands_answer_and_are_audited,
    recursive_rm_frees_usage_and_writes_one_record,
    recursive_rm_of_a_folder_with_an_upload_in_progress_is_busy,
    uploads_round_trip_and_resume,
);

#[test]
fn a_full_disk_fails_the_upload_with_no_space_keeps_the_partial_and_resumes() {
    let mut h = Harness::user_on(Store::Memory, "ed");
    let mem = h.memory.clone().unwrap();
    mem.set_capacity(Some(mem.used_space() + 50_000));
    let data = vec![9u8; 120_000];
    let ready = h.one_reply(json!({"op": "put", "path": "f", "length": data.len()}));
    assert_eq!(ready["offset"], 0);
    let header = encode_to_vec(&json!({"op": "put_data", "size": data.len()})).unwrap();
    assert_eq!(h.feed(&header), header.len());
    // In pieces, as a socket delivers them: the first ones fit.
    for piece in data.chunks(16_384) {
        assert_eq!(h.feed(piece), piece.len());
    }
    let done = h.one_reply(json!({"op": "put_done", "sha256": hex::encode(Sha256::digest(&data))}));
    assert_eq!(code(&done), "no_space", "{done}");
    let kept = h.used();
    assert!(kept > 0 && kept < 50_000 && kept % 16_384 == 0, "{kept}");
    assert_eq!(h.audit_lines("upload_file.log").last().unwrap()["outcome"], "incomplete");
    mem.set_capacity(None);
    let (ready, done) = h.upload("f", &data);
    assert_eq!((ready["offset"].as_u64(), done["ok"].as_bool()), (Some(kept), Some(true)), "{ready} {done}");
    assert_eq!(mem.read_file("ed", "f").unwrap(), data);
}

#[test]
fn injected_io_errors_are_answered_as_internal_and_the_session_carries_on() {
    let mut h = Harness::user_on(Store::Memory, "fi");
    let mem = h.memory.clone().unwrap();
    h.upload("f", b"abc");
    mem.fail(Fault::Mkdir);
    assert_eq!(code(&h.one_reply(json!({"op": "mkdir", "path": "d"}))), "internal");
    mem.fail(Fault::Commit);
    let (_, done) = h.upload("g", b"xyz");
    assert_eq!(code(&done), "internal", "{done}");
    mem.fail(Fault::List);
    assert_eq!(code(&h.one_reply(json!({"op": "dir"}))), "internal");
    mem.fail(Fault::Read);
    let bytes = encode_to_vec(&json!({"op": "get", "path": "f"})).unwrap();
    h.feed(&bytes);
    h.drain();
    assert!(h.session.is_closing(), "a body that cannot be read ends the connection");
    let rec = h.audit_lines("download_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("fail"), Some("internal")));
    for f in [Fault::Mkdir, Fault::Commit, Fault::List, Fault::Read] {
        mem.heal(f);
    }
    // A usage scan that fails: requests say so, and the next one retries.
    let mut h = Harness::checked_on(Store::Memory);
    let mem = h.memory.clone().unwrap();
    h.register("gu", "pencil-pencil");
    mem.fail(Fault::Scan);
    h.login("gu", "pencil-pencil");
    let quota = h.one_reply(json!({"op": "quota"}));
    assert_eq!(code(&quota), "internal", "{quota}");
    assert!(quota["error"]["message"].as_str().unwrap().contains("usage could not be computed"), "{quota}");
    mem.heal(Fault::Scan);
    assert_eq!(h.one_reply(json!({"op": "quota"}))["used"], 0);
}
