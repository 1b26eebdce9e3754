//! Hostile peers over raw sockets, one behaviour per test, in modules by
//! theme: [`framing`] (bytes that are not frames), [`pipelining`] (how
//! frames arrive: a byte at a time, a thousand at once), [`connections`]
//! (storms and stalled peers), [`requests`] (frames that are not valid
//! requests), [`states`] (requests out of order), [`uploads`] and [`files`].
//!
//! Every test runs in an [`Arena`]: a real server, a healthy logged-in client
//! ("steady") that must still be answered after the hostile action, and a
//! hostile user ("mallory"). When the test ends, [`Arena::finish`] proves
//! three things beyond the test's own assertions: the healthy client is still
//! served (noop, pwd, dir), nothing outside mallory's home changed (accounts,
//! other homes, the key files), and mallory's home shows exactly the files
//! the test expects (so no partial upload ever appears under a final name).

#[path = "../common/mod.rs"]
mod common;
mod connections;
mod files;
mod framing;
mod pipelining;
mod requests;
mod states;
mod uploads;

use common::*;
use mioftp::protocol::scram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A server with a healthy client and a hostile account.
struct Arena {
    server: TestServer,
    healthy: mioftp_client::Client,
    skip: Vec<PathBuf>,
    before: BTreeMap<String, Vec<u8>>,
}

fn arena() -> Arena {
    arena_with(|_| {})
}

fn arena_with(tweak: impl FnOnce(&mut mioftp::config::Config)) -> Arena {
    let server = TestServer::start_with(tweak);
    let healthy = server.user("steady");
    std::fs::write(server.path("home/steady/keep.txt"), b"steady's file").unwrap();
    server.user("mallory").exit().unwrap();
    let skip = vec![server.path("logs"), server.path("home/mallory")];
    let before = tree_snapshot(server.root.path(), &skip);
    Arena { server, healthy, skip, before }
}

impl Arena {
    /// A raw connection past the key check, not logged in.
    fn checked(&self) -> Raw {
        self.server.raw_checked()
    }

    /// A raw connection logged in as mallory.
    fn mallory(&self) -> Raw {
        let mut raw = self.server.raw_checked();
        scram_login(&mut raw, "mallory");
        raw
    }

    fn home(&self) -> PathBuf {
        self.server.path("home/mallory")
    }

    /// The checks every test ends with; `files` are mallory's visible files
    /// (directories end with `/`).
    fn finish(mut self, files: &[&str]) {
        self.healthy.noop().expect("the healthy client is still answered");
        assert_eq!(self.healthy.pwd().expect("pwd"), "/");
        let listing = self.healthy.dir(None).expect("dir");
        assert_eq!(listing.get("keep.txt").map(|e| e.size), Some(13), "the healthy client's file is intact");
        assert_eq!(
            tree_snapshot(self.server.root.path(), &self.skip),
            self.before,
            "nothing outside mallory's home may change"
        );
        let mut want: Vec<String> = files.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(visible_files(&self.home()), want, "mallory's visible files");
    }
}

/// The SCRAM proof for a `login` reply, with the test password.
fn proof_for(first: &Value, user: &str, client_nonce: &str) -> String {
    use mioftp::protocol::scram::{ClientKeys, Exchange};
    let salt = scram::unb64(first["salt"].as_str().expect("salt")).unwrap();
    let iterations = first["iterations"].as_u64().expect("iterations") as u32;
    let nonce = first["nonce"].as_str().expect("nonce");
    let ex = Exchange { user, client_nonce, nonce, salt: &salt, iterations };
    let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), &salt, iterations));
    scram::b64(&keys.proof(&ex.auth_message()))
}

/// Sends a header given as raw text on a checked connection and expects a
/// fatal framing error with `code`.
fn fatal_header(header: &[u8], code_wanted: &str) {
    let a = arena();
    let mut raw = a.checked();
    raw.send_bytes(&raw_frame(header));
    raw.expect_fatal(code_wanted);
    a.finish(&[]);
}

/// Starts an upload on `raw`: `put` then the `put_data` header; returns the offset.
fn start_upload(raw: &mut Raw, path: &str, length: u64) -> u64 {
    let ready = raw.call(json!({"op": "put", "path": path, "length": length}));
    assert_eq!(ready["ok"], true, "{ready}");
    let offset = ready["offset"].as_u64().unwrap();
    raw.send(json!({"op": "put_data", "size": length - offset}));
    offset
}

/// A whole upload over raw frames; returns the reply to `put_done`.
fn upload(raw: &mut Raw, path: &str, data: &[u8]) -> Value {
    let offset = start_upload(raw, path, data.len() as u64) as usize;
    raw.send_bytes(&data[offset..]);
    raw.call(json!({"op": "put_done", "sha256": sha256_hex(data)}))
}
