//! Ctrl-C in the interactive shell. At the prompt the line editor reads it
//! as a key (the terminal is in raw mode) and clears the line. While a
//! command runs the terminal sends SIGINT, which a small thread turns into a
//! cancel: the protocol has no abort, so it shuts the connection's socket,
//! the blocked transfer fails at once, and the shell reconnects. The
//! partial file on either side is kept, so the same command resumes.

use mioftp_client::CancelHandle;
use signal_hook::consts::SIGINT;
use signal_hook::iterator::Signals;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What the signal thread shares with the shell.
#[derive(Default)]
struct Shared {
    /// The running command's connection, while one runs.
    armed: Mutex<Option<CancelHandle>>,
    /// Set when SIGINT arrived since the last [`Interrupts::arm`].
    fired: AtomicBool,
}

/// SIGINT handling for the interactive shell.
pub struct Interrupts {
    shared: Arc<Shared>,
}

impl Interrupts {
    /// Installs the handler (from now on SIGINT no longer ends the process).
    pub fn install() -> std::io::Result<Interrupts> {
        let shared = Arc::new(Shared::default());
        let mut signals = Signals::new([SIGINT])?;
        let seen = shared.clone();
        std::thread::Builder::new().name("sigint".into()).spawn(move || {
            for _ in signals.forever() {
                seen.fired.store(true, Ordering::SeqCst);
                if let Some(handle) = seen.armed.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                    handle.cancel();
                }
            }
        })?;
        Ok(Interrupts { shared })
    }

    /// A command is about to run on the connection `handle` cuts.
    pub fn arm(&self, handle: Option<CancelHandle>) {
        self.shared.fired.store(false, Ordering::SeqCst);
        *self.shared.armed.lock().unwrap_or_else(PoisonError::into_inner) = handle;
    }

    /// The command ended; returns whether Ctrl-C cut it.
    pub fn disarm(&self) -> bool {
        self.shared.armed.lock().unwrap_or_else(PoisonError::into_inner).take();
        self.shared.fired.swap(false, Ordering::SeqCst)
    }
}
