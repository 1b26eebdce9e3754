//! Fuzz harnesses for mioftp, as a library so that the libFuzzer binaries in
//! `fuzz_targets/` and the corpus replay tests (`cargo test`, run by `ci.sh`)
//! execute exactly the same code.
//!
//! - [`frame_decode`]: the pure frame decoder against arbitrary bytes.
//! - [`session`]: `Session`s driven through the public session contract
//!   ([`conn`]), with a fake clock, by an op script decoded from the input
//!   ([`script`], [`requests`]); every byte the server sends is checked by
//!   [`output`].
//! - [`ftp_line`]: the FTP control-line decoder and command parser.
//! - [`ftp_session`]: FTP control sessions driven the same way ([`ftp_conn`],
//!   [`ftp_script`]), the harness playing the driver for data connections
//!   and jobs; every reply is checked by [`ftp_reply`].
//!
//! The counting allocator in [`alloc`] is installed for every binary that
//! links this crate, so the decoder's "no allocation while incomplete" rule is
//! asserted in the replay tests too.

pub mod alloc;
pub mod conn;
pub mod frame_decode;
pub mod ftp_conn;
pub mod ftp_line;
pub mod ftp_reply;
pub mod ftp_script;
pub mod ftp_seeds;
pub mod ftp_session;
pub mod output;
pub mod quota;
pub mod requests;
pub mod script;
pub mod seeds;
pub mod session;
pub mod world;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

#[cfg(test)]
mod tests;
