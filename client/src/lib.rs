//! mioftp client library: a blocking client for mioftpd, used by the `mioftp`
//! command and by the integration tests and benchmarks. Frames, messages and
//! SCRAM come from the `mioftp-proto` crate; nothing of the protocol is copied here.
//!
//! Module map:
//! - [`client`]: connect, connection check, register, login, logout.
//! - [`connection`]: the blocking framed socket.
//! - [`reconnect`]: a new connection and login with the kept keys.
//! - [`files`]: `pwd`, `cd`, `mkdir`, `rm`, `quota`, `dir`.
//! - [`remove`]: `rm -r`, and telling a server without it.
//! - [`tree`]: walks of local and remote folders for `put -r` / `get -r`.
//! - [`globs`]: `*`, `?`, `[...]` in local and remote names.
//! - [`upload`] / [`download`]: `put` and `get` with resume and SHA-256.
//! - [`partial`]: a download's partial file and its sidecar.
//! - [`digest`]: streaming SHA-256 in bounded chunks.
//! - [`hashpipe`]: a download's body read, hashed and written on three threads.
//! - [`progress`]: the [`Progress`] trait transfers report to.
//! - [`paths`]: remote path arithmetic (resolve, base name).
//! - [`error`], [`keyfile`].

pub mod client;
pub mod connection;
pub mod digest;
pub mod download;
pub mod error;
pub mod files;
pub mod globs;
pub mod hashpipe;
pub mod keyfile;
pub mod partial;
pub mod paths;
pub mod progress;
pub mod reconnect;
pub mod remove;
pub mod tree;
pub mod upload;

pub use client::{Client, Endpoint, Options};
pub use connection::CancelHandle;
pub use download::{GetOptions, GetReport, local_target};
pub use error::{ClientError, Result};
pub use files::Listing;
pub use progress::{NoProgress, Progress};
pub use reconnect::Reconnected;
pub use upload::{PutOptions, PutReport};
