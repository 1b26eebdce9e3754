//! mioftp: a single-threaded, event-driven file-transfer server and the
//! protocol library its client shares.
//!
//! Module map:
//! - [`protocol`]: the `mioftp-proto` crate, re-exported: frames, messages,
//!   error codes, SCRAM and the key-file format (pure; shared with the client).
//! - [`session`]: the sans-IO per-connection endpoints and the contract the
//!   driver moves their bytes by (docs/ARCHITECTURE.md); bytes in, bytes out,
//!   time passed in as an argument.
//! - [`server`]: the mio driver around sessions: poll loop, listener, slab of
//!   connections, timers, ready list.
//! - [`storage`]: the storage seam every filesystem effect of a session goes
//!   through: homes and accounts on disk (production) or in memory (tests,
//!   fuzzing, fault injection).
//! - [`ftp`]: the FTP front end's pure core: control lines, commands,
//!   replies, data addresses and listings (RFC 959, 2428, 3659).
//! - [`home`]: a user's home folder: virtual paths confined to it (through
//!   cap-std), and the bounded file operations, listings and walks; the disk
//!   storage's engine.
//! - [`accounts`]: the account store (`accounts/<user>.json`), atomic writes.
//! - [`audit`]: the JSON Lines audit logs under `logs/`.
//! - [`keys`]: the pre-shared key and the server's private secret.
//! - [`partial`]: hidden partial uploads with resumable hash checkpoints.
//! - [`digest_cache`]: a file's SHA-256 kept in an xattr, so downloads can use sendfile.
//! - [`users`]: per-user shared state: home handle, usage and quota, uploads.
//! - [`worker`]: the worker pool: two threads for the slow disk work (fsync,
//!   rename, unlink, walks, account writes, hashing, a KDF), woken back into
//!   the loop by a `mio::Waker`.
//! - [`services`]: the server-wide state sessions act on.
//! - [`throttle`]: brute-force throttling of logins at three levels: user and
//!   address, address, and user across addresses (with a growing back-off).
//! - [`config`]: the server's settings.
//! - [`settings`]: the settings as flags, environment variables and a TOML
//!   config file, and the one precedence rule that stacks them.
//! - [`review`]: `mioftpd audit`, the query tool over the audit logs.
//! - [`admin`]: `mioftpd accounts`: account administration and one-time tokens.
//! - [`netaddr`]: per-IP keys (IPv6 by /64) and CIDR lists.
//! - [`proxy`]: the PROXY protocol v1/v2 reader and its trust policy.
//! - [`metrics`]: Prometheus metrics and the sans-IO `GET /metrics` responder.
//! - [`rootlock`]: one process per data root (`flock` on `<root>/.lock`).
//! - [`perms`]: the file modes policy and the start-up check of secrets.
//! - [`sdnotify`]: systemd `READY=1`, `STOPPING=1` and watchdog pings.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod config;
pub mod digest_cache;
pub mod ftp;
pub mod home;
pub mod keys;
pub mod metrics;
pub mod netaddr;
pub mod ops;
pub mod partial;
pub mod perms;
pub mod proxy;
/// The wire protocol lives in its own crate, `mioftp-proto`, shared with the
/// client; `crate::protocol` names it inside the server.
pub use mioftp_proto as protocol;
pub mod review;
pub mod rootlock;
pub mod sdnotify;
pub mod server;
pub mod services;
pub mod session;
pub mod settings;
pub mod storage;
pub mod throttle;
pub mod users;
pub mod worker;

/// Software name and version, as announced in `hello`.
pub const SERVER_SOFTWARE: &str = concat!("mioftpd ", env!("CARGO_PKG_VERSION"));
