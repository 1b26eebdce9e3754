//! The FTP front end's pure core (RFC 959 and its extensions): everything
//! the FTP control session needs that does no I/O and reads no clock.
//!
//! - [`line`]: the control-channel line decoder (CRLF, Telnet IAC, the 2 KiB bound);
//! - [`command`]: a line to a typed [`Command`], or the 500/501/502/504/522 it earns;
//! - [`verb`]: the table of command words (arity, login, HELP text);
//! - [`reply`]: [`Reply`] encoding, 257 quoting, and `ErrorCode` to FTP reply;
//! - [`addr`]: PASV/EPSV replies, PORT/EPRT parsing, anti-bounce checks, passive ports;
//! - [`listing`]: LIST, NLST, MLSD/MLST lines and FTP times;
//! - [`feat`]: the FEAT and HELP replies.
//!
//! The control session state machine (issue 15) builds on these; docs/FTP.md
//! documents the resulting protocol.

pub mod addr;
pub mod command;
pub mod feat;
pub mod line;
pub mod listing;
pub mod reply;
pub mod verb;

pub use command::{Command, ParseError, parse};
pub use line::{LineDecoder, LineError, MAX_LINE};
pub use reply::Reply;
pub use verb::Verb;
