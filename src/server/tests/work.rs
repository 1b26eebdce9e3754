//! The driver and the worker pool, over loopback, with a toy endpoint that
//! asks for a job per line, on the memory storage with its writes stalled
//! (a disk that is slow on demand), so jobs stay in flight as long as the
//! test wants: one job per connection, two pre-login jobs per address, an
//! endpoint that hears its job's end before its close, and a shutdown that
//! waits for the job.

use super::*;
use crate::accounts::Account;
use crate::storage::memory::{Fault, MemoryStorage};
use crate::worker::{Job, JobOutput};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::sync::Mutex;

/// What the toy endpoints did, in order, shared with the test.
type Log = Arc<Mutex<Vec<String>>>;

/// Reads lines `account NAME` (asks for an account write, a pre-login job),
/// `two NAME` (asks for two at once) and `ping` (answered `pong` once the
/// driver has taken every job asked before it); answers each job's end with
/// `done NAME` or `busy`.
struct Asker {
    id: u64,
    peer: SocketAddr,
    storage: Arc<dyn crate::storage::Storage>,
    line: Vec<u8>,
    asks: VecDeque<DriverRequest>,
    out: Vec<u8>,
    pings: usize,
    /// Names of the jobs in flight, oldest first.
    names: VecDeque<String>,
    eof: bool,
    closing: bool,
    log: Log,
}

impl Asker {
    fn note(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }

    fn ask(&mut self, name: &str) {
        let account = Account {
            v: 1,
            user: name.to_owned(),
            salt: String::new(),
            iterations: 1,
            stored_key: String::new(),
            server_key: String::new(),
            created: String::new(),
            quota: None,
            disabled: false,
            last_login: None,
        };
        self.names.push_back(name.to_owned());
        self.asks.push_back(DriverRequest::Work(Job::CreateAccount { storage: self.storage.clone(), account }));
    }
}

impl Endpoint for Asker {
    fn id(&self) -> u64 {
        self.id
    }
    fn peer(&self) -> SocketAddr {
        self.peer
    }
    fn wants_read(&self, _: Channel) -> bool {
        !self.eof
    }
    fn read_from(
        &mut self,
        _: Channel,
        rd: &mut dyn io::Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        let n = rd.read(&mut scratch[..256])?;
        budget.charge(n.max(1));
        if n == 0 {
            self.eof = true;
            self.closing = true;
            self.note(format!("eof {}", self.id));
        }
        self.line.extend_from_slice(&scratch[..n]);
        while let Some(end) = self.line.iter().position(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(&self.line[..end]).into_owned();
            self.line.drain(..=end);
            match text.split_once(' ') {
                Some(("account", name)) => self.ask(name),
                Some(("two", name)) => {
                    self.ask(name);
                    self.ask(&format!("{name}-again"));
                }
                _ if text == "ping" => self.pings += 1,
                _ => {}
            }
        }
        Ok(n)
    }
    fn wants_write(&self, _: Channel) -> bool {
        !self.out.is_empty() || (self.pings > 0 && self.asks.is_empty())
    }
    fn write_to(
        &mut self,
        _: Channel,
        wr: &mut dyn io::Write,
        budget: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        if self.asks.is_empty() {
            for _ in 0..std::mem::take(&mut self.pings) {
                self.out.extend_from_slice(b"pong\n");
            }
        }
        let n = wr.write(&self.out)?;
        self.out.drain(..n);
        budget.charge(n);
        Ok(n)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant, _: &mut Services) {}
    /// At EOF at once, jobs in flight or not; at shutdown once they are done.
    fn is_closed(&self) -> bool {
        self.out.is_empty() && (self.eof || (self.closing && self.names.is_empty()))
    }
    fn on_close(&mut self, reason: CloseReason, _: Instant, _: &mut Services) {
        self.note(format!("close {} {reason:?}", self.id));
    }
    fn begin_shutdown(&mut self, _: Instant, _: &mut Services) {
        self.note(format!("shutdown {}", self.id));
        self.closing = true;
    }
    fn is_waiting(&self) -> bool {
        !self.names.is_empty()
    }
    fn poll_request(&mut self) -> Option<DriverRequest> {
        self.asks.pop_front()
    }
    fn work_done(&mut self, output: JobOutput, _: Instant, _: &mut Services) {
        // A refusal is at once, so for the latest ask; an output for the oldest.
        let busy = matches!(output, JobOutput::Busy);
        let name = if busy { self.names.pop_back() } else { self.names.pop_front() }.unwrap_or_default();
        let said = match output {
            JobOutput::AccountCreated(Ok(())) => format!("done {name}\n"),
            JobOutput::Busy => "busy\n".to_owned(),
            other => format!("odd {other:?}\n"),
        };
        self.note(format!("work {} {}", self.id, said.trim_end()));
        self.out.extend_from_slice(said.as_bytes());
    }
}

/// Admits each connection as the address on its first line (`PEER a:p`),
/// then starts an [`Asker`].
struct AskerToy {
    storage: Arc<dyn crate::storage::Storage>,
    log: Log,
}

impl Acceptor for AskerToy {
    fn preamble(&mut self, id: u64, peer: SocketAddr, now: Instant, _: &Services) -> Option<Box<dyn Endpoint>> {
        let deadline = now + Duration::from_secs(20);
        Some(Box::new(LinePreamble { id, peer, line: Vec::new(), request: None, deadline, failed: false }))
    }
    fn start(&mut self, id: u64, peer: SocketAddr, _: Instant, _: &Services) -> io::Result<Box<dyn Endpoint>> {
        Ok(Box::new(Asker {
            id,
            peer,
            storage: self.storage.clone(),
            line: Vec::new(),
            asks: VecDeque::new(),
            out: Vec::new(),
            pings: 0,
            names: VecDeque::new(),
            eof: false,
            closing: false,
            log: self.log.clone(),
        }))
    }
}

fn start(grace: Duration) -> (RunningServer, MemoryStorage, Log, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(root.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.shutdown_grace = grace;
    let mem = MemoryStorage::new();
    mem.stall(Fault::Account);
    let storage: Arc<dyn crate::storage::Storage> = Arc::new(mem.clone());
    let svc = Services::with_storage(cfg, storage.clone()).unwrap();
    let log = Log::default();
    let toy = AskerToy { storage, log: log.clone() };
    let server = Server::bind_services(svc, Box::new(toy)).unwrap().spawn().unwrap();
    (server, mem, log, root)
}

/// A client from `ip` (as its preamble says).
fn client(server: &RunningServer, ip: &str) -> BufReader<TcpStream> {
    BufReader::new(connect(server.addr, format!("PEER {ip}:1000\n").as_bytes()))
}

fn say(c: &mut BufReader<TcpStream>, line: &str) {
    c.get_mut().write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn hear(c: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

/// Waits (at most 20 s) until the log has an entry starting with `what`.
fn wait_log(log: &Log, what: &str) {
    for _ in 0..2000 {
        if log.lock().unwrap().iter().any(|l| l.starts_with(what)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no {what:?} in {:?}", log.lock().unwrap());
}

#[test]
fn one_job_per_connection_and_two_before_login_per_address() {
    let (server, mem, _log, _root) = start(Duration::from_secs(10));
    let mut a = client(&server, "10.0.0.7");
    say(&mut a, "two a");
    assert_eq!(hear(&mut a), "busy", "a second job while the first runs is refused at once");
    assert!(mem.wait_stalled(1));
    let mut b = client(&server, "10.0.0.7");
    say(&mut b, "account b");
    assert!(mem.wait_stalled(2));
    let mut c = client(&server, "10.0.0.7");
    say(&mut c, "account c\nping");
    assert_eq!(hear(&mut c), "busy", "a third pre-login job from one address is refused at once");
    assert_eq!(hear(&mut c), "pong");
    // Another address has its own two: accepted (no `busy` before the
    // `pong`), and queued behind the two stalled jobs (both workers are
    // held), so it answers once they are done.
    let mut d = client(&server, "10.0.0.8");
    say(&mut d, "account d\nping");
    assert_eq!(hear(&mut d), "pong");
    mem.release(Fault::Account);
    assert_eq!(hear(&mut a), "done a");
    assert_eq!(hear(&mut b), "done b");
    assert_eq!(hear(&mut d), "done d", "not refused: the toy never retries");
    say(&mut c, "account c");
    assert_eq!(hear(&mut c), "done c", "room again once the others are done");
    assert_eq!(mem.stalled().1, 2, "two workers");
    assert_eq!(mem.accounts(), ["a", "b", "c", "d"]);
    server.stop().unwrap();
}

#[test]
fn an_endpoint_whose_connection_ends_mid_job_hears_the_job_then_the_close() {
    let (server, mem, log, _root) = start(Duration::from_secs(10));
    let mut a = client(&server, "10.0.0.7");
    say(&mut a, "account a");
    assert!(mem.wait_stalled(1));
    a.get_mut().shutdown(std::net::Shutdown::Both).unwrap();
    wait_log(&log, "eof");
    mem.release(Fault::Account);
    wait_log(&log, "close");
    let seen = log.lock().unwrap().clone();
    let id = seen[0].split(' ').nth(1).unwrap().to_owned();
    assert_eq!(seen, [format!("eof {id}"), format!("work {id} done a"), format!("close {id} Done")]);
    server.stop().unwrap();
}

#[test]
fn shutdown_waits_for_a_job_in_flight() {
    let (server, mem, log, _root) = start(Duration::from_secs(30));
    let mut a = client(&server, "10.0.0.7");
    say(&mut a, "account a");
    assert!(mem.wait_stalled(1));
    let stopping = std::thread::spawn(move || server.stop());
    wait_log(&log, "shutdown");
    mem.release(Fault::Account);
    stopping.join().unwrap().unwrap();
    let seen = log.lock().unwrap().clone();
    let id = seen[0].split(' ').nth(1).unwrap().to_owned();
    assert_eq!(seen, [format!("shutdown {id}"), format!("work {id} done a"), format!("close {id} Done")]);
    assert_eq!(hear(&mut a), "done a", "the reply went out before the close");
    assert_eq!(mem.accounts(), ["a"]);
}
