//! The pool with jobs that block on purpose (a full queue, shutdown, a
//! panic), woken through a real `mio::Waker`; and the server's jobs run
//! directly on the memory storage.

use super::*;
use crate::home::VPath;
use crate::protocol::messages::EntryKind;
use crate::protocol::scram::{self, ClientKeys};
use crate::storage::Storage;
use crate::storage::memory::MemoryStorage;
use mio::{Events, Poll, Token};
use sha2::{Digest, Sha256};
use std::sync::mpsc::{Receiver, Sender};

const WAKE: Token = Token(7);

/// A job that waits for its gate to open (or to be dropped), then answers
/// its number; number 99 panics.
struct Gated {
    n: u32,
    gate: Receiver<()>,
}

impl Work for Gated {
    type Output = Result<u32, &'static str>;
    fn run(self) -> Self::Output {
        let _ = self.gate.recv();
        assert_ne!(self.n, 99, "job 99 panics");
        Ok(self.n)
    }
    fn refuse(self) -> Self::Output {
        Err("refused")
    }
    fn crashed() -> Self::Output {
        Err("crashed")
    }
}

fn gated(n: u32) -> (Gated, Sender<()>) {
    let (tx, gate) = mpsc::channel();
    (Gated { n, gate }, tx)
}

fn poll_and_waker() -> (Poll, Arc<Waker>) {
    let poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
    (poll, waker)
}

/// Waits for wake-ups until `n` completions have arrived.
fn collect<W: Work>(poll: &mut Poll, pool: &Pool<W>, n: usize) -> Vec<(u64, W::Output)> {
    let mut events = Events::with_capacity(8);
    let mut got = Vec::new();
    while got.len() < n {
        poll.poll(&mut events, Some(Duration::from_secs(20))).unwrap();
        assert!(!events.is_empty(), "no wake-up within 20 s");
        assert!(events.iter().all(|e| e.token() == WAKE));
        got.extend(pool.completed());
    }
    got
}

#[test]
fn completions_come_back_with_their_tags_and_wake_the_loop() {
    let (mut poll, waker) = poll_and_waker();
    let pool: Pool<Gated> = Pool::new(2, 8, waker).unwrap();
    let mut gates = Vec::new();
    for n in 0..5 {
        let (job, open) = gated(n);
        assert!(pool.submit(u64::from(n) + 100, job).is_ok());
        gates.push(open);
    }
    assert_eq!(pool.outstanding(), 5);
    drop(gates); // every gate opens
    let mut got = collect(&mut poll, &pool, 5);
    got.sort_by_key(|(tag, _)| *tag);
    let want: Vec<_> = (0..5).map(|n| (u64::from(n) + 100, Ok(n))).collect();
    assert_eq!(got, want);
    assert_eq!(pool.outstanding(), 0);
}

#[test]
fn a_full_queue_gives_the_job_back_at_once() {
    let (mut poll, waker) = poll_and_waker();
    let pool: Pool<Gated> = Pool::new(1, 2, waker).unwrap();
    let (first, open_first) = gated(1);
    pool.submit(1, first).ok().unwrap();
    // Wait until the one thread holds job 1, so the queue is empty again.
    let mut opens = Vec::new();
    let mut accepted = 1;
    for n in 2..=10 {
        let (job, open) = gated(n);
        opens.push(open);
        match pool.submit(u64::from(n), job) {
            Ok(()) => accepted += 1,
            Err(back) => {
                assert_eq!(back.n, n, "the refused job is the one given back");
                break;
            }
        }
    }
    // One running (or about to) and two queued at most.
    assert!((2..=3).contains(&accepted), "{accepted} jobs accepted by 1 thread and a queue of 2");
    drop(open_first);
    drop(opens);
    let got = collect(&mut poll, &pool, accepted);
    assert!(got.iter().all(|(_, r)| r.is_ok()));
}

#[test]
fn shutdown_refuses_what_has_not_started_and_waits_for_what_runs() {
    let (_poll, waker) = poll_and_waker();
    let mut pool: Pool<Gated> = Pool::new(1, 4, waker).unwrap();
    let (running, open_running) = gated(1);
    pool.submit(1, running).ok().unwrap();
    let (queued, _open_queued) = gated(2);
    pool.submit(2, queued).ok().unwrap();
    pool.stop();
    // Job 1 finishes only after the stop; job 2 can start only after it.
    drop(open_running);
    let mut got = pool.wait(Instant::now() + Duration::from_secs(20));
    got.sort_by_key(|(tag, _)| *tag);
    // Job 1 may have been taken by the thread before or after the stop.
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1], (2, Err("refused")));
    assert!(pool.submit(3, gated(3).0).is_err(), "a stopped pool takes nothing");
}

#[test]
fn a_panicking_job_is_answered_and_the_thread_carries_on() {
    let (mut poll, waker) = poll_and_waker();
    let pool: Pool<Gated> = Pool::new(1, 4, waker).unwrap();
    let (bad, open_bad) = gated(99);
    let (good, open_good) = gated(5);
    pool.submit(1, bad).ok().unwrap();
    pool.submit(2, good).ok().unwrap();
    drop((open_bad, open_good));
    let mut got = collect(&mut poll, &pool, 2);
    got.sort_by_key(|(tag, _)| *tag);
    assert_eq!(got, vec![(1, Err("crashed")), (2, Ok(5))]);
}

#[test]
fn the_server_pool_runs_storage_jobs() {
    let (mut poll, waker) = poll_and_waker();
    let pool = JobPool::start(waker).unwrap();
    let mem = MemoryStorage::new();
    mem.write_file("u", "a/b", &[1; 300]).unwrap();
    mem.write_file("u", "c", &[2; 20]).unwrap();
    let home = mem.open_home("u").unwrap();
    let path = |s: &str| VPath::resolve(&VPath::root(), s).unwrap();
    pool.submit(1, Job::Scan { home: home.clone() }).ok().unwrap();
    let got = collect(&mut poll, &pool, 1);
    assert!(matches!(got[0], (1, JobOutput::Scanned(Ok(320)))), "{got:?}");
    pool.submit(2, Job::RemoveTree { home: home.clone(), path: path("a") }).ok().unwrap();
    pool.submit(3, Job::Remove { home: home.clone(), path: path("c") }).ok().unwrap();
    let mut got = collect(&mut poll, &pool, 2);
    got.sort_by_key(|(tag, _)| *tag);
    match &got[..] {
        [(2, JobOutput::RemovedTree { freed, result: Ok(EntryKind::Dir) }), (3, JobOutput::Removed(Ok(removed)))] => {
            assert_eq!((freed.count, freed.bytes), (2, 300));
            assert_eq!(*removed, (EntryKind::File, 20));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mem.usage("u"), 0);
}

#[test]
fn a_prefix_hash_covers_exactly_its_length_and_returns_the_file() {
    let mem = MemoryStorage::new();
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    mem.write_file("u", "f", &data).unwrap();
    let home = mem.open_home("u").unwrap();
    let file = home.open_read(&VPath::resolve(&VPath::root(), "f").unwrap()).unwrap().file;
    let JobOutput::Hashed { file, hasher, result } = (Job::Hash { file, len: 300_001 }).run() else { panic!() };
    result.unwrap();
    assert_eq!(hasher.finalize(), Sha256::digest(&data[..300_001]));
    let JobOutput::Hashed { result, .. } = (Job::Hash { file, len: data.len() as u64 + 1 }).run() else { panic!() };
    assert!(result.is_err(), "a file shorter than the length is an error");
}

#[test]
fn derived_keys_are_the_clients_and_bad_iterations_are_refused() {
    let salt = b"saltsaltsaltsalt".to_vec();
    let job = Job::DeriveKeys { password: "pencil-pencil".into(), salt: salt.clone(), iterations: 1000 };
    assert_eq!(format!("{job:?}"), "Job::DeriveKeys", "no password in logs");
    let JobOutput::Keys { stored_key, server_key } = job.run() else { panic!("keys") };
    let want = ClientKeys::from_salted(&scram::salted_password(b"pencil-pencil", &salt, 1000));
    assert_eq!((stored_key, server_key), (want.stored_key, want.server_key));
    for bad in [0, scram::MAX_ITERATIONS + 1] {
        let job = Job::DeriveKeys { password: "x".into(), salt: salt.clone(), iterations: bad };
        assert!(matches!(job.run(), JobOutput::Failed), "{bad}");
    }
    let mut refused = Job::DeriveKeys { password: "secret".into(), salt, iterations: 1000 };
    refused.scrub();
    let Job::DeriveKeys { password, .. } = &refused else { unreachable!() };
    assert!(password.bytes().all(|b| b == 0) || password.is_empty(), "the password is scrubbed");
}
