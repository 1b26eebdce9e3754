//! Handles on a server from other threads: [`ShutdownHandle`] stops its
//! loop, [`RunningServer`] owns a server running on its own thread (tests,
//! benchmarks, embedding) and stops it when dropped.

use mio::Waker;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stops a running server from another thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(super) stop: Arc<AtomicBool>,
    pub(super) waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the server to stop; `run` returns soon after.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// A server running on its own thread; stops when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub(super) handle: ShutdownHandle,
    pub(super) thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    /// Stops the server and returns how its loop ended.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> io::Result<()> {
        self.handle.shutdown();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
