//! The client's transfer logic against a scripted fake server that follows
//! PROTOCOL.md §5 but can misbehave on request: cut a download, serve a
//! stale prefix, send a wrong trailer. These prove the client's promises
//! (resume, retry once from zero, never a corrupt file under the final
//! name) independently of the real server.

use mioftp::protocol::frame;
use mioftp_client::partial::{PartialPaths, Sidecar};
use mioftp_client::{Client, ClientError, GetOptions, NoProgress, PutOptions};
// Deterministic file contents: the shared test PRNG.
use mioftp_testkit::bytes as data;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// How one connection of the fake server misbehaves.
#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    /// Close after this many body bytes of a `get`.
    cut_get_after: Option<u64>,
    /// Flip a byte of the body when serving from a non-zero offset.
    corrupt_resumed_body: bool,
    /// Send a trailer with a wrong digest.
    bad_trailer: bool,
}

#[derive(Default)]
struct State {
    /// path -> (bytes, version)
    files: HashMap<String, (Vec<u8>, u32)>,
    /// path -> (declared length, bytes so far)
    partials: HashMap<String, (u64, Vec<u8>)>,
    /// Every request header, in order.
    requests: Vec<Value>,
    /// Per connection, in accept order; default when empty.
    faults: VecDeque<Faults>,
}

struct Fake {
    addr: String,
    state: Arc<Mutex<State>>,
}

impl Fake {
    fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        // Serves connections one after another for the rest of the test
        // process; each test has its own listener.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let faults = shared.lock().unwrap().faults.pop_front().unwrap_or_default();
                serve(stream, &shared, faults);
            }
        });
        Fake { addr, state }
    }

    fn client(&self) -> Client {
        Client::connect(&self.addr, b"any key: the fake does not check").unwrap()
    }

    fn put_file(&self, path: &str, data: &[u8]) {
        let mut st = self.state.lock().unwrap();
        let version = st.files.get(path).map_or(1, |f| f.1 + 1);
        st.files.insert(path.to_owned(), (data.to_vec(), version));
    }

    fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.state.lock().unwrap().files.get(path).map(|f| f.0.clone())
    }

    fn requests(&self, op: &str) -> Vec<Value> {
        self.state.lock().unwrap().requests.iter().filter(|r| r["op"] == op).cloned().collect()
    }

    fn fault_next(&self, f: Faults) {
        self.state.lock().unwrap().faults.push_back(f);
    }
}

fn send(s: &mut TcpStream, v: Value) -> std::io::Result<()> {
    s.write_all(&frame::encode_to_vec(&v).unwrap())
}

fn recv(s: &mut TcpStream) -> Option<Value> {
    Some(Value::Object(mioftp_testkit::read_frame(s).ok()??.header))
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn abs(path: &str) -> String {
    if path.starts_with('/') { path.to_owned() } else { format!("/{path}") }
}

fn serve(mut s: TcpStream, state: &Mutex<State>, faults: Faults) {
    let hello = json!({"notice": "hello", "protocol": 1, "server": "fake", "challenge": mioftp::protocol::scram::b64(&[7u8; 32]),
        "kdf": "pbkdf2-sha256", "min_iterations": 1000, "min_password_len": 8});
    if send(&mut s, hello).is_err() {
        return;
    }
    let mut upload: Option<(String, u64)> = None;
    while let Some(req) = recv(&mut s) {
        state.lock().unwrap().requests.push(req.clone());
        let path = abs(req["path"].as_str().unwrap_or(""));
        let reply = match req["op"].as_str().unwrap_or("") {
            "auth" => json!({"ok": true}),
            "exit" => {
                let _ = send(&mut s, json!({"ok": true, "bye": true}));
                return;
            }
            "put" => {
                let length = req["length"].as_u64().unwrap();
                let resume = req["resume"].as_bool().unwrap_or(true);
                let mut st = state.lock().unwrap();
                let keep = resume && st.partials.get(&path).is_some_and(|p| p.0 == length);
                if !keep {
                    st.partials.insert(path.clone(), (length, Vec::new()));
                }
                let have = &st.partials[&path].1;
                upload = Some((path.clone(), length));
                let mut r = json!({"ok": true, "path": path, "offset": have.len()});
                if !have.is_empty() {
                    r["prefix_sha256"] = json!(sha(have));
                }
                r
            }
            "put_data" => {
                let size = req["size"].as_u64().unwrap();
                let (p, _) = upload.clone().unwrap();
                let mut body = vec![0u8; size as usize];
                let got = s.read_exact(&mut body);
                state.lock().unwrap().partials.get_mut(&p).unwrap().1.extend_from_slice(&body);
                if got.is_err() {
                    return;
                }
                continue; // no reply of its own
            }
            "put_done" => {
                let (p, length) = upload.take().unwrap();
                let mut st = state.lock().unwrap();
                let (_, data) = st.partials.remove(&p).unwrap();
                if data.len() as u64 == length && req["sha256"] == sha(&data) {
                    let version = st.files.get(&p).map_or(1, |f| f.1 + 1);
                    let digest = sha(&data);
                    st.files.insert(p.clone(), (data, version));
                    json!({"ok": true, "path": p, "length": length, "sha256": digest})
                } else {
                    json!({"ok": false, "error": {"code": "digest_mismatch", "message": "digest mismatch"}})
                }
            }
            "get" => {
                let file = state.lock().unwrap().files.get(&path).cloned();
                let Some((data, version)) = file else {
                    let _ =
                        send(&mut s, json!({"ok": false, "error": {"code": "not_found", "message": "no such file"}}));
                    continue;
                };
                let etag = format!("v{version}");
                let asked = req["offset"].as_u64().unwrap_or(0);
                let honour = req["if_match"] == json!(etag) && asked <= data.len() as u64;
                let k = if honour { asked as usize } else { 0 };
                let mut body = data[k..].to_vec();
                if faults.corrupt_resumed_body && k > 0 && !body.is_empty() {
                    body[0] ^= 0xff;
                }
                let head = json!({"ok": true, "path": path, "length": data.len(), "offset": k, "etag": etag,
                    "mtime": 0, "size": body.len()});
                if send(&mut s, head).is_err() {
                    return;
                }
                if let Some(cut) = faults.cut_get_after {
                    let _ = s.write_all(&body[..(cut as usize).min(body.len())]);
                    return;
                }
                if s.write_all(&body).is_err() {
                    return;
                }
                let digest = if faults.bad_trailer { "0".repeat(64) } else { sha(&data) };
                json!({"ok": true, "trailer": true, "length": data.len(), "sha256": digest})
            }
            _ => json!({"ok": false, "error": {"code": "internal", "message": "the fake does not do that"}}),
        };
        if send(&mut s, reply).is_err() {
            return;
        }
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_fresh_download_with_a_wrong_trailer_leaves_no_file_and_no_partial() {
    let fake = Fake::start();
    fake.put_file("/f.bin", &data(300_000, 1));
    fake.fault_next(Faults { bad_trailer: true, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f.bin");
    let err = fake.client().get("f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap_err();
    assert!(matches!(err, ClientError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

#[test]
fn a_download_cut_mid_body_keeps_its_partial_and_the_next_get_resumes_there() {
    let fake = Fake::start();
    let content = data(1_000_003, 2);
    fake.put_file("/f.bin", &content);
    fake.fault_next(Faults { cut_get_after: Some(400_000), ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f.bin");
    let err = fake.client().get("f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(!target.exists(), "nothing under the final name after a cut");
    let parts = PartialPaths::for_target(&target);
    assert_eq!(std::fs::metadata(&parts.data).unwrap().len(), 400_000);
    assert_eq!(parts.read_sidecar(), Some(Sidecar { remote: "/f.bin".into(), etag: "v1".into(), length: 1_000_003 }));

    let report = fake.client().get("f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.received, report.size, report.restarted), (400_000, 600_003, 1_000_003, false));
    assert_eq!(report.sha256, sha(&content));
    assert_eq!(std::fs::read(&target).unwrap(), content);
    assert_eq!(leftovers(dir.path()), ["f.bin"]);
    let gets = fake.requests("get");
    assert_eq!((gets[1]["offset"].as_u64(), gets[1]["if_match"].as_str()), (Some(400_000), Some("v1")));
}

#[test]
fn a_resumed_download_with_a_stale_prefix_is_fetched_again_once_from_zero() {
    let fake = Fake::start();
    let content = data(700_001, 3);
    fake.put_file("/f.bin", &content);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f.bin");
    // A partial that claims the current version but holds other bytes (as
    // if damaged on disk): the server honours the offset, the digest fails.
    let parts = PartialPaths::for_target(&target);
    std::fs::write(&parts.data, data(1000, 99)).unwrap();
    parts.write_sidecar(&Sidecar { remote: "/f.bin".into(), etag: "v1".into(), length: 700_001 }).unwrap();

    let report = fake.client().get("f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap();
    assert!(report.restarted);
    assert_eq!((report.offset, report.received), (0, 700_001));
    assert_eq!(std::fs::read(&target).unwrap(), content);
    assert_eq!(leftovers(dir.path()), ["f.bin"]);
    let offsets: Vec<_> = fake.requests("get").iter().map(|g| g["offset"].as_u64()).collect();
    assert_eq!(offsets, [Some(1000), Some(0)]);
}

#[test]
fn a_second_mismatch_after_the_retry_is_an_error_and_leaves_nothing() {
    let fake = Fake::start();
    fake.put_file("/f.bin", &data(5000, 4));
    // Both attempts on this connection get a bad trailer.
    fake.fault_next(Faults { bad_trailer: true, corrupt_resumed_body: true, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f.bin");
    std::fs::write(&target, b"an older copy stays untouched").unwrap();
    let parts = PartialPaths::for_target(&target);
    std::fs::write(&parts.data, &data(5000, 4)[..100]).unwrap();
    parts.write_sidecar(&Sidecar { remote: "/f.bin".into(), etag: "v1".into(), length: 5000 }).unwrap();
    let err = fake.client().get("f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap_err();
    assert!(matches!(err, ClientError::DigestMismatch { .. }), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"an older copy stays untouched");
    assert_eq!(leftovers(dir.path()), ["f.bin"]);
    assert_eq!(fake.requests("get").len(), 2);
}

#[test]
fn a_partial_for_another_remote_path_or_no_resume_is_not_resumed() {
    let fake = Fake::start();
    let content = data(10_000, 5);
    fake.put_file("/f.bin", &content);
    fake.put_file("/d/f.bin", &content);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f.bin");
    let parts = PartialPaths::for_target(&target);
    let seed_partial = || {
        std::fs::write(&parts.data, &content[..4000]).unwrap();
        parts.write_sidecar(&Sidecar { remote: "/f.bin".into(), etag: "v1".into(), length: 10_000 }).unwrap();
    };
    seed_partial();
    let r = fake.client().get("/d/f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(r.offset, 0, "a partial of /f.bin must not seed /d/f.bin");
    seed_partial();
    let r = fake.client().get("f.bin", &target, &GetOptions { resume: false }, &mut NoProgress).unwrap();
    assert_eq!(r.offset, 0);
    seed_partial();
    let r = fake.client().get("f.bin", &target, &GetOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(r.offset, 4000);
    assert_eq!(std::fs::read(&target).unwrap(), content);
    let offsets: Vec<_> = fake.requests("get").iter().map(|g| g["offset"].as_u64()).collect();
    assert_eq!(offsets, [Some(0), Some(0), Some(4000)]);
}

#[test]
fn a_refused_get_leaves_no_partial_behind() {
    let fake = Fake::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = fake.client();
    let err = c.get("missing", &dir.path().join("missing"), &GetOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.to_string(), "no such file");
    assert!(!err.is_fatal());
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

#[test]
fn an_upload_resumes_after_checking_the_servers_prefix() {
    let fake = Fake::start();
    let content = data(600_000, 6);
    fake.state.lock().unwrap().partials.insert("/u.bin".into(), (600_000, content[..250_000].to_vec()));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("u.bin");
    std::fs::write(&local, &content).unwrap();
    let report = fake.client().put(&local, "u.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.sent, report.size, report.restarted), (250_000, 350_000, 600_000, false));
    assert_eq!(report.sha256, sha(&content));
    assert_eq!(fake.file("/u.bin").unwrap(), content);
    assert_eq!(fake.requests("put_data")[0]["size"], 350_000);
}

#[test]
fn an_upload_whose_server_prefix_differs_restarts_with_resume_false() {
    let fake = Fake::start();
    let content = data(300_000, 7);
    fake.state.lock().unwrap().partials.insert("/u.bin".into(), (300_000, data(100_000, 8)));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("u.bin");
    std::fs::write(&local, &content).unwrap();
    let report = fake.client().put(&local, "u.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    assert!(report.restarted);
    assert_eq!((report.offset, report.sent), (0, 300_000));
    assert_eq!(fake.file("/u.bin").unwrap(), content);
    let resumes: Vec<_> = fake.requests("put").iter().map(|p| p["resume"].as_bool()).collect();
    assert_eq!(resumes, [Some(true), Some(false)]);
}

#[test]
fn no_resume_uploads_send_resume_false_and_everything() {
    let fake = Fake::start();
    let content = data(50_000, 9);
    fake.state.lock().unwrap().partials.insert("/u.bin".into(), (50_000, content[..20_000].to_vec()));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("u.bin");
    std::fs::write(&local, &content).unwrap();
    let report = fake.client().put(&local, "u.bin", &PutOptions { resume: false }, &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.sent), (0, 50_000));
    assert_eq!(fake.requests("put")[0]["resume"], false);
    assert_eq!(fake.file("/u.bin").unwrap(), content);
}

#[test]
fn empty_files_go_both_ways() {
    let fake = Fake::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("empty");
    std::fs::write(&local, b"").unwrap();
    let mut c = fake.client();
    let up = c.put(&local, "empty", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(up.sha256, sha(b""));
    let back = dir.path().join("back");
    let down = c.get("empty", &back, &GetOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((down.size, down.sha256), (0, sha(b"")));
    assert_eq!(std::fs::read(&back).unwrap(), b"");
}
