//! Running out of file descriptors: a client arriving at the limit is served
//! once they free; a login, a usage scan or an upload commit that fails for
//! lack of them is reported as the server's problem, never as a wrong
//! password, a reset quota or a half-stored file.

use super::*;

//
// The connection cap is the descriptor limit less a reserve, one descriptor
// per connection; but a logged-in session can hold more (its socket, its
// user's home, a file being transferred, a usage scan). These tests run the
// server under a low RLIMIT_NOFILE (set in the child before exec) and use up
// its descriptors with real sessions, then look at what others get.

const NOFILE: usize = 128;

/// Descriptors in use below the limit. (Ones above it, such as a pipe
/// inherited from cargo's jobserver, do not take a slot a new one could use.)
fn open_fds(d: &Daemon) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", d.child.id()))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<usize>().ok())
        .filter(|fd| *fd < NOFILE)
        .count()
}

fn low_fd_daemon(root: &Path, extra: &[&str]) -> Daemon {
    Daemon::start_limited(root, Some(NOFILE as u64), extra)
}

/// Sessions that hold descriptors until dropped.
#[derive(Default)]
struct Hogs(Vec<Raw>);

impl Hogs {
    /// Fills the server's descriptor table until exactly `free` are left:
    /// uploads in progress (two each) while far from it, bare connections
    /// (one each) for the last few.
    fn fill(&mut self, d: &Daemon, free: usize) {
        let left = |d: &Daemon| NOFILE.saturating_sub(open_fds(d));
        while left(d) > free + 2 {
            let mut raw = daemon_login(d, "hog");
            let n = self.0.len();
            assert_eq!(raw.call(json!({"op": "put", "path": format!("f{n}"), "length": 1}))["ok"], true);
            self.0.push(raw);
        }
        while left(d) > free {
            let mut raw = Raw::connect(d.addr);
            let first = raw.recv();
            if code(&first) == "server_busy" {
                // The server briefly frees its spare descriptor to answer
                // clients when it runs out; a count taken in that moment is
                // one too high. The table is full: look again.
                continue;
            }
            assert_eq!(first["notice"], "hello", "{first}");
            self.0.push(raw);
        }
        assert_eq!(left(d), free, "{} sessions hold the descriptors", self.0.len());
    }

    /// Lets `n` sessions go and waits until the server has closed them.
    fn release(&mut self, d: &Daemon, n: usize) {
        let before = open_fds(d);
        let n = n.min(self.0.len());
        self.0.truncate(self.0.len() - n);
        assert!(poll_until(IO_TIMEOUT, || open_fds(d) + n <= before), "the server closed them");
    }
}

/// A SCRAM login on `raw`; the error code, or "" on success.
fn try_scram_login(raw: &mut Raw, user: &str) -> String {
    use mioftp::protocol::scram::{self, ClientKeys, Exchange};
    let nonce = "descriptorsnonce";
    let first = raw.call(json!({"op": "login", "user": user, "nonce": nonce}));
    if first["ok"] != true {
        return code(&first).to_owned();
    }
    let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
    let iterations = first["iterations"].as_u64().unwrap() as u32;
    let ex = Exchange { user, client_nonce: nonce, nonce: first["nonce"].as_str().unwrap(), salt: &salt, iterations };
    let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), &salt, iterations));
    code(&raw.call(json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))}))).to_owned()
}

#[test]
fn a_client_arriving_when_descriptors_are_exhausted_is_served_once_they_free() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let d = low_fd_daemon(&root, &[]);
    let mut late_user = d.client();
    late_user.register("late", PASSWORD).unwrap();
    late_user.exit().unwrap();
    let mut keeper = daemon_login(&d, "keeper");
    let mut hogs = Hogs::default();
    hogs.fill(&d, 0);
    let mut late = Raw::connect(d.addr);
    // The server cannot accept it: it either answers server_busy and closes,
    // or leaves it queued in the kernel (it retries accepting, without spinning).
    let refused = match late.recv_within(Duration::from_millis(500)) {
        Seen::Frame(v) => {
            assert_eq!(code(&v), "server_busy", "{v}");
            true
        }
        Seen::Closed => panic!("closed without a word"),
        Seen::Nothing => false,
    };
    let before = cpu_ticks(d.child.id());
    std::thread::sleep(Duration::from_millis(500));
    assert!(cpu_ticks(d.child.id()) - before <= 15, "no busy loop while out of descriptors");
    assert_eq!(keeper.call(json!({"op": "noop"})), json!({"ok": true}), "sessions already in are served");
    assert_eq!(keeper.call(json!({"op": "pwd"}))["cwd"], "/");
    hogs.release(&d, 10);
    if refused {
        // Told to come back later: it does, and is served now.
        late = Raw::connect(d.addr);
    }
    let hello = late.recv();
    assert_eq!(hello["notice"], "hello", "{hello}");
    let challenge = mioftp::protocol::scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
    let mac = mioftp::protocol::scram::hmac(&d.key(), &challenge);
    assert_eq!(late.call(json!({"op": "auth", "hmac": mioftp::protocol::scram::b64(&mac)})), json!({"ok": true}));
    assert_eq!(try_scram_login(&mut late, "late"), "");
}

#[test]
fn a_login_when_descriptors_run_out_is_not_a_wrong_password() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let d = low_fd_daemon(&root, &[]);
    let mut c = d.client();
    c.register("victim", PASSWORD).unwrap();
    c.exit().unwrap();
    let mut hogs = Hogs::default();
    // With one descriptor left the connection is accepted and the account
    // file cannot be opened; with a few more, the login succeeds.
    for free in 1..=3 {
        hogs.fill(&d, free);
        let mut victim = d.raw_checked();
        let outcome = try_scram_login(&mut victim, "victim");
        assert_ne!(outcome, "auth_failed", "the right password, {free} descriptor(s) free");
        drop(victim);
        hogs.release(&d, 4);
    }
    let failed: Vec<Value> =
        d.log(ACCOUNTS).into_iter().filter(|r| r["user"] == "victim" && r["reason"] == "auth_failed").collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn a_usage_scan_that_fails_for_lack_of_descriptors_does_not_reset_the_quota() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let d = low_fd_daemon(&root, &["--default-quota", "1000"]);
    let mut c = d.client();
    c.register("quota", PASSWORD).unwrap();
    c.exit().unwrap();
    std::fs::write(root.join("home/quota/old.bin"), [7u8; 900]).unwrap();
    let mut hogs = Hogs::default();
    // Find the tightest spot where the login still succeeds: there the
    // usage scan that starts with it is the first thing to run out.
    for free in 2..=8 {
        hogs.fill(&d, free);
        let mut q = d.raw_checked();
        let outcome = try_scram_login(&mut q, "quota");
        if !outcome.is_empty() {
            drop(q);
            hogs.release(&d, 1);
            continue;
        }
        hogs.release(&d, 10); // room for what follows
        let used = q.call(json!({"op": "quota"}));
        let put = q.call(json!({"op": "put", "path": "more.bin", "length": 500}));
        assert!(used["used"] == 900 || !code(&used).is_empty(), "{free} free: usage {used}");
        assert_eq!(code(&put), "quota_exceeded", "900 + 500 bytes against a 1000-byte quota: {put}");
        return;
    }
    panic!("the login never succeeded");
}

#[test]
fn an_upload_committed_when_descriptors_run_out_is_stored_and_acknowledged_or_neither() {
    for free in 0..=2 {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let d = low_fd_daemon(&root, &[]);
        let mut up = daemon_login(&d, "up");
        assert_eq!(up.call(json!({"op": "put", "path": "x.bin", "length": 5}))["ok"], true);
        up.send(json!({"op": "put_data", "size": 5}));
        up.send_bytes(b"hello");
        let mut hogs = Hogs::default();
        hogs.fill(&d, free);
        let reply = up.call(json!({"op": "put_done", "sha256": sha256_hex(b"hello")}));
        let stored = std::fs::read(root.join("home/up/x.bin")).ok();
        let rec = d.log(UPLOADS).pop().unwrap();
        if reply["ok"] == true {
            assert_eq!(stored.as_deref(), Some(&b"hello"[..]), "{free} free: acknowledged, so stored");
            assert_eq!(rec["outcome"], "complete", "{free} free: {rec}");
        } else {
            // "internal: the request had no effect" (PROTOCOL §6).
            assert_eq!(code(&reply), "internal", "{free} free: {reply}");
            assert_eq!(stored, None, "{free} free: refused, so not stored");
            assert_eq!(rec["outcome"], "fail", "{free} free: {rec}");
            hogs.release(&d, 4);
            let again = up.call(json!({"op": "put", "path": "x.bin", "length": 5}));
            let offset = again["offset"].as_u64().expect("the upload can be sent again") as usize;
            up.send(json!({"op": "put_data", "size": 5 - offset}));
            up.send_bytes(&b"hello"[offset..]);
            let done = up.call(json!({"op": "put_done", "sha256": sha256_hex(b"hello")}));
            assert_eq!(done["ok"], true, "{free} free, then room: {done}");
        }
    }
}
