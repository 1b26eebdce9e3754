//! The worker pool: two threads that do the slow, blocking disk work
//! (fsync and rename of a commit, unlinking files and trees, usage walks,
//! partial sweeps, account writes, hashing a file, a password's KDF) off the
//! event loop, as Redis' `bio.c` and nginx's thread pools do.
//!
//! The protocol stays on the loop thread. A session asks for a [`Job`]
//! through the session contract (`DriverRequest::Work`) and waits in an
//! explicit state; the driver submits it here with a tag of its own; a
//! worker runs it and sends back the tag and the [`JobOutput`], then wakes
//! the loop through the `mio::Waker`; the driver hands the output to the
//! session (`Endpoint::work_done`).
//!
//! Bounded everything: a fixed number of threads and a bounded queue. A
//! full queue is refused at once ([`Pool::submit`] gives the job back), so
//! the loop never blocks on the pool. Completions are at most the jobs
//! submitted, so their channel needs no bound of its own. At shutdown,
//! jobs not yet started are answered as refused, and the driver waits a
//! bounded time for those running ([`Pool::shutdown`]).
//!
//! The pool runs anything that is [`Work`], so that its tests can run jobs
//! that block on purpose; the server's pool is [`JobPool`]. A job that
//! panics is answered with [`Work::crashed`] and the thread carries on.

mod job;

pub use job::{Job, JobKind, JobOutput};

use mio::Waker;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Worker threads: the machines we aim at have two cores, and the loop
/// needs one of them.
pub const THREADS: usize = 2;
/// Jobs waiting for a thread, at most.
pub const QUEUE: usize = 256;

/// The server's pool.
pub type JobPool = Pool<Job>;

/// What a pool can run.
pub trait Work: Send + 'static {
    type Output: Send + 'static;
    /// Does the work, on a worker thread.
    fn run(self) -> Self::Output;
    /// The answer for a job that will not run (the pool stopped first).
    fn refuse(self) -> Self::Output;
    /// The answer for a job whose run panicked (what it did is unknown).
    fn crashed() -> Self::Output;
}

/// A fixed set of threads with a bounded queue, reporting to a mio loop.
pub struct Pool<W: Work> {
    /// `None` once shut down: the threads see the queue close and exit.
    queue: Option<SyncSender<(u64, W)>>,
    done: Receiver<(u64, W::Output)>,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Submitted and not yet collected by [`Pool::completed`].
    outstanding: Arc<AtomicUsize>,
}

impl JobPool {
    /// The server's pool: [`THREADS`] threads, a queue of [`QUEUE`] jobs.
    pub fn start(waker: Arc<Waker>) -> io::Result<JobPool> {
        Pool::new(THREADS, QUEUE, waker)
    }
}

impl<W: Work> Pool<W> {
    /// Starts `threads` workers with room for `queue` waiting jobs; each
    /// completion wakes the loop through `waker`.
    pub fn new(threads: usize, queue: usize, waker: Arc<Waker>) -> io::Result<Pool<W>> {
        let (tx, rx) = mpsc::sync_channel::<(u64, W)>(queue);
        let (done_tx, done) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        let stopping = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let (rx, done_tx, stopping, waker) = (rx.clone(), done_tx.clone(), stopping.clone(), waker.clone());
            let handle = std::thread::Builder::new()
                .name(format!("mioftpd-worker-{i}"))
                .spawn(move || work(&rx, &done_tx, &stopping, &waker))?;
            handles.push(handle);
        }
        Ok(Pool { queue: Some(tx), done, stopping, threads: handles, outstanding: Arc::new(AtomicUsize::new(0)) })
    }

    /// Queues `job` under `tag`. A full queue (or a stopped pool) gives the
    /// job back at once: the caller answers "busy" rather than wait.
    pub fn submit(&self, tag: u64, job: W) -> Result<(), W> {
        let Some(queue) = &self.queue else { return Err(job) };
        match queue.try_send((tag, job)) {
            Ok(()) => {
                self.outstanding.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(TrySendError::Full((_, job)) | TrySendError::Disconnected((_, job))) => Err(job),
        }
    }

    /// Every completion that has arrived, without waiting.
    pub fn completed(&self) -> Vec<(u64, W::Output)> {
        let out: Vec<(u64, W::Output)> = self.done.try_iter().collect();
        self.outstanding.fetch_sub(out.len(), Ordering::SeqCst);
        out
    }

    /// Jobs submitted and not yet collected (queued, running, or done and
    /// waiting for [`Pool::completed`]).
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }

    /// Stops the pool: jobs not yet started are answered with
    /// [`Work::refuse`], running ones finish, nothing new is taken.
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.queue = None;
    }

    /// After [`Pool::stop`]: waits until `deadline` at most for the
    /// outstanding completions and returns them; threads still busy then
    /// are left to finish on their own (the process is about to exit).
    pub fn wait(&mut self, deadline: Instant) -> Vec<(u64, W::Output)> {
        let mut out = self.completed();
        while self.outstanding() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.done.recv_timeout(left) {
                Ok(c) => {
                    self.outstanding.fetch_sub(1, Ordering::SeqCst);
                    out.push(c);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        if self.outstanding() == 0 {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        } else {
            log::warn!("shutdown: {} disk job(s) still running; not waiting for them", self.outstanding());
        }
        out
    }

    /// [`Pool::stop`], then [`Pool::wait`].
    pub fn shutdown(&mut self, deadline: Instant) -> Vec<(u64, W::Output)> {
        self.stop();
        self.wait(deadline)
    }
}

impl<W: Work> Drop for Pool<W> {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown(Instant::now() + Duration::from_secs(1));
        }
    }
}

/// One worker: takes jobs until the queue closes, runs each (or refuses it
/// when the pool stops), reports, and wakes the loop.
fn work<W: Work>(
    rx: &Mutex<Receiver<(u64, W)>>,
    done: &mpsc::Sender<(u64, W::Output)>,
    stopping: &AtomicBool,
    waker: &Waker,
) {
    loop {
        // The lock is held only while waiting for the next job: the other
        // worker takes the one after while this one runs.
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((tag, job)) = next else { return };
        let output = if stopping.load(Ordering::SeqCst) {
            job.refuse()
        } else {
            // A panic is a bug in the job; the session still gets an answer,
            // and the thread lives on for the next job.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run())).unwrap_or_else(|_| {
                log::error!("worker: a disk job panicked");
                W::crashed()
            })
        };
        if done.send((tag, output)).is_err() {
            return; // the pool is gone
        }
        if let Err(e) = waker.wake() {
            log::error!("worker: waking the loop failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
