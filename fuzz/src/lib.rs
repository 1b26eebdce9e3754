//! Fuzz harnesses for mioftp, as a library so that the libFuzzer binaries in
//! `fuzz_targets/` and the corpus replay tests (`cargo test`, run by `ci.sh`)
//! execute exactly the same code.
//!
//! - [`frame_decode`]: the pure frame decoder against arbitrary bytes.
//! - [`session`]: `Session`s driven through the public session contract
//!   ([`conn`]), with a fake clock, by an op script decoded from the input
//!   ([`script`], [`requests`]); every byte the server sends is checked by
//!   [`output`].
//!
//! The counting allocator in [`alloc`] is installed for every binary that
//! links this crate, so the decoder's "no allocation while incomplete" rule is
//! asserted in the replay tests too.

pub mod alloc;
pub mod conn;
pub mod frame_decode;
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
