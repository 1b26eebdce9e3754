//! Cutting a transfer the way Ctrl-C does (shutting the socket from another
//! thread), then carrying on: the client reconnects with its kept keys, and
//! the next `put` of the same path retries `busy` while the server still
//! holds the old upload, instead of failing at once.

mod common;
use common::{Fixture, start_server};
use mioftp_client::{CancelHandle, Client, NoProgress, Progress, PutOptions};
use mioftp_proto::ErrorCode;
use std::time::Duration;

const PASSWORD: &str = "pencil-pencil";

fn client(f: &Fixture) -> Client {
    Client::connect(&f.addr(), &std::fs::read(f.key_path()).unwrap()).unwrap()
}

/// Cuts the connection as soon as the first bytes have moved.
struct CutAtFirstBytes(Option<CancelHandle>);

impl Progress for CutAtFirstBytes {
    fn start(&mut self, _: u64, _: u64) {}
    fn advance(&mut self, _: u64) {
        if let Some(handle) = self.0.take() {
            handle.cancel();
        }
    }
    fn finish(&mut self) {}
}

/// A second session of alice that holds an upload of `path` open (so the
/// server answers `busy` to any other) until it is dropped.
fn hold_upload(f: &Fixture, path: &str) -> Client {
    let mut other = client(f);
    other.login("alice", PASSWORD).unwrap();
    let _: serde_json::Value =
        other.conn.call(&mioftp_proto::Request::Put { path: path.to_owned(), length: 10, resume: true }).unwrap();
    other
}

#[test]
fn the_put_after_a_cut_one_waits_out_busy_for_the_same_path_only() {
    let f = start_server();
    client(&f).register("alice", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    std::fs::write(&local, vec![5u8; 4 << 20]).unwrap();
    let mut c = client(&f);
    c.login("alice", PASSWORD).unwrap();
    let mut cut = CutAtFirstBytes(Some(c.conn.cancel_handle().unwrap()));
    let err = c.put(&local, "big.bin", &PutOptions::default(), &mut cut).unwrap_err();
    assert!(err.is_fatal(), "{err}");
    c.reconnect().unwrap();

    // Another session holds big.bin for a second, as the server does until
    // it notices the cut connection.
    let holder = hold_upload(&f, "big.bin");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        drop(holder.exit());
    });
    let report = c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).expect("retried past busy");
    assert_eq!(report.size, 4 << 20);
    release.join().unwrap();

    // Another path held busy is not waited for: only the cut upload is.
    let other = dir.path().join("other.bin");
    std::fs::write(&other, b"x").unwrap();
    let _holder = hold_upload(&f, "other.bin");
    let err = c.put(&other, "other.bin", &PutOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Busy), "{err}");
}
