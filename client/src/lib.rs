//! mioftp client library: a blocking client for mioftpd, used by the `mioftp`
//! command and by the integration tests and benchmarks. Frames, messages and
//! SCRAM come from the `mioftp` crate; nothing of the protocol is copied here.

pub mod client;
pub mod connection;
pub mod error;
pub mod keyfile;

pub use client::{Client, Options};
pub use error::{ClientError, Result};
