//! kill -9 safety of the real `mioftpd` binary.
//!
//! Client threads upload (several sizes, resuming what earlier attempts
//! left), cut their own uploads short, delete files and register accounts,
//! while the server is SIGKILLed at pseudo-random moments and restarted on
//! the same data root, several times. After every kill the data root must
//! be consistent:
//!
//! - every file under its final name is exactly one version that was
//!   uploaded to that path (SHA-256), and is the last acknowledged state of
//!   that path or the effect of the operation that was in flight;
//! - every acknowledged upload has its `complete` audit record, every
//!   acknowledged registration its account, and every `accounts/*.json`
//!   parses;
//! - every audit log is whole JSON lines, except a line torn by a crash,
//!   which the restarted server ends with a newline before writing again;
//!   `mioftpd audit` reads such logs, skipping only the torn line.
//!
//! Finally every interrupted upload is resumed with the client library, from
//! the exact checkpoint offset where one is valid, to the right digest.
//!
//! The schedule comes from a seed, printed at the start; set
//! `MIOFTP_CRASH_SEED` to replay one. (Thread interleavings still vary.)

mod common;
use common::*;
use mioftp_client::{Client, NoProgress, PutOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: u64 = 5;
const USERS: usize = 3;
/// Each path's versions have distinct lengths, so a partial's length names
/// the version it belongs to.
const PATHS: [(&str, [u64; 3]); 3] =
    [("a.bin", [0, 1, 5_000]), ("b.bin", [100_000, 250_001, 400_000]), ("c.bin", [1_000_000, 2_000_003, 3_000_000])];

fn user_name(u: usize) -> String {
    format!("crash{u}")
}

/// The local files of every version, and their digests.
struct Versions {
    files: HashMap<(usize, usize, usize), (PathBuf, String)>,
}

impl Versions {
    fn make(dir: &Path) -> Versions {
        let mut files = HashMap::new();
        for u in 0..USERS {
            for (p, (name, lens)) in PATHS.iter().enumerate() {
                for (v, len) in lens.iter().enumerate() {
                    let local = dir.join(format!("u{u}-v{v}-{name}"));
                    let digest = random_file(&local, *len, (u * 100 + p * 10 + v) as u64 + 1);
                    files.insert((u, p, v), (local, digest));
                }
            }
        }
        Versions { files }
    }

    fn local(&self, u: usize, p: usize, v: usize) -> &Path {
        &self.files[&(u, p, v)].0
    }

    fn digest(&self, u: usize, p: usize, v: usize) -> &str {
        &self.files[&(u, p, v)].1
    }
}

/// What the clients know about one path: the states it may be in on disk
/// (`None`: absent). An acknowledged operation leaves one; one whose reply
/// never came (the server was killed) adds its effect as a possibility.
#[derive(Debug, Clone)]
struct PathState {
    possible: Vec<Option<usize>>,
    /// The operation in progress added its effect to `possible`.
    added: bool,
    last_put: Option<usize>,
}

impl Default for PathState {
    fn default() -> Self {
        PathState { possible: vec![None], added: false, last_put: None }
    }
}

impl PathState {
    fn begin(&mut self, effect: Option<usize>) {
        self.added = !self.possible.contains(&effect);
        if self.added {
            self.possible.push(effect);
        }
    }

    fn acked(&mut self, effect: Option<usize>) {
        self.possible = vec![effect];
        self.added = false;
    }

    /// A refusal had no effect.
    fn refused(&mut self, effect: Option<usize>) {
        if self.added {
            self.possible.retain(|e| *e != effect);
        }
        self.added = false;
    }
}

#[derive(Debug, Default)]
struct Tracker {
    paths: HashMap<(usize, usize), PathState>,
    registered: Vec<String>,
    /// (user, path, sha256) of every acknowledged upload.
    acked_puts: Vec<(usize, usize, String)>,
    stats: HashMap<&'static str, u64>,
}

impl Tracker {
    fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }
}

type Shared = Arc<Mutex<Tracker>>;

fn connect(addr: &str, key: &[u8]) -> Option<Client> {
    let opts = mioftp_client::client::Options { io_timeout: Some(IO_TIMEOUT), connect_timeout: IO_TIMEOUT };
    Client::connect_with(addr, key, &opts).ok()
}

fn login(addr: &str, key: &[u8], user: &str) -> Option<Client> {
    let mut c = connect(addr, key)?;
    c.login(user, PASSWORD).ok()?;
    Some(c)
}

/// One user's client thread: random puts, cuts and removals until the
/// server goes away.
fn user_worker(addr: String, key: Vec<u8>, u: usize, versions: Arc<Versions>, shared: Shared, mut rng: XorShift) {
    let user = user_name(u);
    let Some(mut c) = login(&addr, &key, &user) else { return };
    loop {
        let p = rng.below(PATHS.len() as u64) as usize;
        let v = rng.below(3) as usize;
        let remote = PATHS[p].0;
        match rng.below(10) {
            0..=4 => {
                {
                    let mut t = shared.lock().unwrap();
                    let st = t.paths.entry((u, p)).or_default();
                    st.begin(Some(v));
                    st.last_put = Some(v);
                }
                match c.put(versions.local(u, p, v), remote, &PutOptions::default(), &mut NoProgress) {
                    Ok(report) => {
                        assert_eq!(report.sha256, versions.digest(u, p, v), "the server confirmed another digest");
                        let mut t = shared.lock().unwrap();
                        t.paths.get_mut(&(u, p)).unwrap().acked(Some(v));
                        t.acked_puts.push((u, p, report.sha256.clone()));
                        t.count("puts acknowledged");
                        if report.offset > 0 {
                            t.count("puts resumed from a partial");
                        }
                        if report.restarted {
                            t.count("puts restarted after a prefix mismatch");
                        }
                    }
                    // A refusal (e.g. `busy` while the server still holds
                    // our previous, cut connection) changes nothing.
                    Err(e) if e.code().is_some() && !e.is_fatal() => {
                        shared.lock().unwrap().paths.get_mut(&(u, p)).unwrap().refused(Some(v));
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return, // the server is gone; its effect is unknown
                }
            }
            5 | 6 => {
                shared.lock().unwrap().paths.entry((u, p)).or_default().begin(None);
                match c.rm(remote) {
                    Ok(_) => {
                        let mut t = shared.lock().unwrap();
                        t.paths.get_mut(&(u, p)).unwrap().acked(None);
                        t.count("removals acknowledged");
                    }
                    Err(e) if e.code().is_some() && !e.is_fatal() => {
                        shared.lock().unwrap().paths.get_mut(&(u, p)).unwrap().refused(None);
                    }
                    Err(_) => return,
                }
            }
            _ => {
                // Our own cut: part of a body, then the connection drops.
                // The server keeps a checkpoint for the next put to resume.
                shared.lock().unwrap().paths.entry((u, p)).or_default().last_put = Some(v);
                let data = std::fs::read(versions.local(u, p, v)).unwrap();
                let len = data.len() as u64;
                let sent = (|| -> Option<()> {
                    c.conn.send(&json!({"op": "put", "path": remote, "length": len, "resume": true})).ok()?;
                    c.conn.flush().ok()?;
                    let (ready, _) = c.conn.recv_reply().ok()?;
                    let offset = ready.get("offset")?.as_u64()?;
                    let cut = offset + rng.below(len - offset + 1);
                    c.conn.send(&json!({"op": "put_data", "size": len - offset})).ok()?;
                    c.conn.send_body(&data[offset as usize..cut as usize]).ok()?;
                    c.conn.flush().ok()
                })();
                if sent.is_some() {
                    shared.lock().unwrap().count("uploads cut by the client");
                }
                match login(&addr, &key, &user) {
                    Some(fresh) => c = fresh,
                    None => return,
                }
            }
        }
    }
}

/// Registers fresh accounts (and logs each in once) until the server goes away.
fn register_worker(addr: String, key: Vec<u8>, round: u64, shared: Shared) {
    let Some(mut c) = connect(&addr, &key) else { return };
    for i in 0.. {
        let name = format!("reg{round}x{i}");
        match c.register(&name, PASSWORD) {
            Ok(()) => {
                let mut t = shared.lock().unwrap();
                t.registered.push(name.clone());
                t.count("registrations acknowledged");
            }
            Err(_) => return,
        }
        if c.login(&name, PASSWORD).is_err() || c.logout().is_err() {
            return;
        }
    }
}

/// Checks one audit log: whole JSON lines, plus at most `max_torn` torn
/// records, each ended by a newline; with `ended`, the file must end with a
/// newline too. Returns the number of whole records.
fn check_log(path: &Path, ended: bool, max_torn: usize) -> usize {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8(bytes).expect("audit logs are UTF-8");
    let (body, tail) = match text.rfind('\n') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text.as_str()),
    };
    if ended {
        assert!(tail.is_empty(), "{}: ends inside a line: {tail:?}", path.display());
    } else {
        assert!(tail.is_empty() || tail.starts_with("{\"ts\":"), "{}: tail {tail:?}", path.display());
    }
    let mut whole = 0;
    let mut torn = 0;
    for line in body.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => whole += 1,
            _ => {
                assert!(line.starts_with("{\"ts\":"), "{}: not a record: {line:?}", path.display());
                torn += 1;
            }
        }
    }
    assert!(torn <= max_torn, "{}: {torn} torn lines", path.display());
    whole
}

const LOGS: [&str; 4] = ["register_login_accounts.log", "shell_command.log", "upload_file.log", "download_file.log"];

/// Everything that must hold of the data root after a crash.
fn check_root(root: &Path, versions: &Versions, t: &Tracker, restarted: bool, max_torn: usize) {
    for entry in std::fs::read_dir(root.join("accounts")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(user) = name.strip_suffix(".json") {
            let account: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            assert_eq!(account["user"], user, "{name}");
        } else if restarted {
            assert!(name == ".secret" || name == ".tokens", "left over in accounts/ after a restart: {name}");
        }
    }
    for name in &t.registered {
        assert!(root.join(format!("accounts/{name}.json")).exists(), "acknowledged registration {name} lost");
    }
    for u in 0..USERS {
        let home = root.join("home").join(user_name(u));
        let mut known = Vec::new();
        for (p, (name, _)) in PATHS.iter().enumerate() {
            known.push(name.to_string());
            let st = t.paths.get(&(u, p)).cloned().unwrap_or_default();
            let file = home.join(name);
            let actual: Option<String> = file.exists().then(|| sha256_file(&file));
            let allowed: Vec<Option<String>> =
                st.possible.iter().map(|s| s.map(|v| versions.digest(u, p, v).to_owned())).collect();
            assert!(
                allowed.contains(&actual),
                "{}/{name}: on disk {actual:?}, allowed {allowed:?} ({st:?})",
                user_name(u)
            );
        }
        if home.exists() {
            let mut visible = visible_files(&home);
            visible.retain(|f| !known.contains(f));
            assert!(visible.is_empty(), "unexpected files in {}: {visible:?}", home.display());
        }
    }
    for log in LOGS {
        check_log(&root.join("logs").join(log), restarted, max_torn);
    }
    let uploads: Vec<Value> = std::fs::read_to_string(root.join("logs/upload_file.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for (u, p, sha) in &t.acked_puts {
        let path = format!("/{}", PATHS[*p].0);
        let found = uploads.iter().any(|r| {
            r["user"] == user_name(*u).as_str()
                && r["path"] == path.as_str()
                && r["outcome"] == "complete"
                && r["sha256"] == sha.as_str()
        });
        assert!(found, "no complete record for the acknowledged upload {} {path} {sha}", user_name(*u));
    }
}

/// The id of a path's partial (as the server names it).
fn partial_id(remote: &str) -> String {
    hex::encode(&mioftp::protocol::scram::sha256(format!("/{remote}").as_bytes())[..16])
}

/// What resuming the upload of `local` should do, from the partial the
/// server holds for it: (offset, restarted).
fn expected_resume(home: &Path, remote: &str, local: &Path) -> (u64, bool) {
    let dir = home.join(".mioftp/partial");
    let id = partial_id(remote);
    let Ok(cp) = std::fs::read(dir.join(format!("{id}.json"))) else { return (0, false) };
    let cp: Value = serde_json::from_slice(&cp).expect("checkpoints are whole JSON");
    let data = std::fs::read(dir.join(format!("{id}.part"))).unwrap_or_default();
    let want = std::fs::read(local).unwrap();
    let (length, offset) = (cp["length"].as_u64().unwrap(), cp["offset"].as_u64().unwrap());
    if length != want.len() as u64 || offset > length || offset > data.len() as u64 {
        return (0, false); // not offered
    }
    if data[..offset as usize] == want[..offset as usize] { (offset, false) } else { (0, true) }
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_partial_or_corrupt_file() {
    let seed: u64 = std::env::var("MIOFTP_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_123);
    eprintln!("crash test seed {seed} (set MIOFTP_CRASH_SEED={seed} to replay the schedule)");
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let locals = tmp.path().join("local");
    std::fs::create_dir(&locals).unwrap();
    let versions = Arc::new(Versions::make(&locals));
    let shared: Shared = Arc::default();
    let mut schedule = XorShift::new(seed);

    let mut d = Daemon::start(&root, &[]);
    for u in 0..USERS {
        let mut c = d.client();
        c.register(&user_name(u), PASSWORD).unwrap();
        c.exit().unwrap();
    }
    let mut torn_budget = 0;
    for round in 0..ROUNDS {
        let (addr, key) = (d.addr_str(), d.key());
        let mut workers: Vec<_> = (0..USERS)
            .map(|u| {
                let (addr, key, versions, shared) = (addr.clone(), key.clone(), versions.clone(), shared.clone());
                let rng = XorShift::new(seed ^ (round << 8) ^ u as u64);
                std::thread::spawn(move || user_worker(addr, key, u, versions, shared, rng))
            })
            .collect();
        let shared2 = shared.clone();
        workers.push(std::thread::spawn(move || register_worker(addr, key, round, shared2)));
        let run_for = Duration::from_millis(300 + schedule.below(1200));
        eprintln!("round {round} at {:?}: SIGKILL after {run_for:?}", started.elapsed());
        std::thread::sleep(run_for);
        d.kill9();
        for w in workers {
            w.join().expect("a client thread panicked");
        }
        eprintln!("round {round}: clients stopped at {:?}", started.elapsed());
        torn_budget += 1;
        {
            let mut t = shared.lock().unwrap();
            let unresolved = t.paths.values().filter(|s| s.possible.len() > 1).count() as u64;
            *t.stats.entry("paths with an unacknowledged operation at a kill").or_default() += unresolved;
            check_root(&root, &versions, &t, false, torn_budget);
        }
        if round == 1 {
            // kill -9 cannot interrupt one write(2) to a regular file, so a
            // torn record is made by hand: as a power cut could leave it.
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(root.join("logs/upload_file.log")).unwrap();
            f.write_all(br#"{"ts":"2026-11-23T07:00:00.000Z","peer":"127.0.0.1:9","session":1,"user":"crash0","ev"#)
                .unwrap();
        }
        d = Daemon::start(&root, &[]);
        let t = shared.lock().unwrap();
        check_root(&root, &versions, &t, true, torn_budget);
    }

    eprintln!("rounds done at {:?}", started.elapsed());
    // A stale checkpoint: a cut leaves one at 1,000,000 bytes; a resume
    // writes a million more and is killed before any new checkpoint. The
    // next resume must start from the checkpoint, not from the bytes on disk.
    let local = locals.join("d.bin");
    let digest = random_file(&local, 3_000_000, seed);
    let data = std::fs::read(&local).unwrap();
    let home = root.join("home/crash0");
    let part = home.join(format!(".mioftp/partial/{}.part", partial_id("d.bin")));
    {
        let mut raw = d.raw_checked();
        scram_login(&mut raw, "crash0");
        assert_eq!(raw.call(json!({"op": "put", "path": "d.bin", "length": data.len()}))["offset"], 0);
        raw.send(json!({"op": "put_data", "size": data.len()}));
        raw.send_bytes(&data[..1_000_000]);
    }
    let cut_recorded = poll_until(IO_TIMEOUT, || {
        std::fs::read_to_string(root.join("logs/upload_file.log"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("\"/d.bin\"") && l.contains("\"incomplete\""))
    });
    assert!(cut_recorded);
    let mut raw = d.raw_checked();
    scram_login(&mut raw, "crash0");
    let ready = raw.call(json!({"op": "put", "path": "d.bin", "length": data.len()}));
    assert_eq!(ready["offset"], 1_000_000, "{ready}");
    raw.send(json!({"op": "put_data", "size": data.len() - 1_000_000}));
    raw.send_bytes(&data[1_000_000..2_000_000]);
    let written = poll_until(IO_TIMEOUT, || std::fs::metadata(&part).is_ok_and(|m| m.len() == 2_000_000));
    assert!(written, "the server wrote the second million");
    d.kill9();
    drop(raw);
    let d = Daemon::start(&root, &[]);
    let mut c = Client::connect(&d.addr_str(), &d.key()).unwrap();
    c.login("crash0", PASSWORD).unwrap();
    let report = c.put(&local, "d.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.restarted, report.sha256.as_str()), (1_000_000, false, digest.as_str()));
    assert_eq!(sha256_file(&home.join("d.bin")), digest);

    eprintln!("stale checkpoint checked at {:?}", started.elapsed());
    // Every upload the crashes interrupted resumes to the right digest.
    let mut resumed = 0;
    for u in 0..USERS {
        let home = root.join("home").join(user_name(u));
        let mut c = Client::connect(&d.addr_str(), &d.key()).unwrap();
        c.login(&user_name(u), PASSWORD).unwrap();
        for (p, (remote, _)) in PATHS.iter().enumerate() {
            let part = home.join(format!(".mioftp/partial/{}.part", partial_id(remote)));
            let st = shared.lock().unwrap().paths.get(&(u, p)).cloned().unwrap_or_default();
            let (Some(v), true) = (st.last_put, part.exists()) else { continue };
            let local = versions.local(u, p, v);
            let (offset, restarted) = expected_resume(&home, remote, local);
            let report = c.put(local, remote, &PutOptions::default(), &mut NoProgress).unwrap();
            assert_eq!((report.offset, report.restarted), (offset, restarted), "{} {remote}", user_name(u));
            assert_eq!(report.sha256, versions.digest(u, p, v));
            assert_eq!(sha256_file(&home.join(remote)), versions.digest(u, p, v));
            resumed += 1;
        }
    }

    // The logs, including the hand-torn line, read back with the tool.
    drop(c);
    let mut d = d;
    d.signal(rustix::process::Signal::TERM);
    assert!(d.wait_exit(IO_TIMEOUT).success());
    let mut whole = 0;
    for log in LOGS {
        whole += check_log(&root.join("logs").join(log), true, torn_budget + 1);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .args(["audit", "all", "--json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records = String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).count();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("upload_file.log") && stderr.contains("skipped"), "{stderr}");
    assert_eq!(records, whole, "the tool reads every whole record and nothing else");

    let t = shared.lock().unwrap();
    eprintln!(
        "{ROUNDS} kills; {} registrations; {resumed} interrupted uploads resumed at the end; {:?}; {:?}",
        t.registered.len(),
        t.stats,
        started.elapsed()
    );
    assert!(t.stats.get("puts acknowledged").copied().unwrap_or(0) > 0, "the load did some work");
}
