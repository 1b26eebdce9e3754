//! `mioftp-testkit`: what mioftp's test suites, the client's tests, the fuzz
//! harness and the benchmark share, so that none of them keeps a copy of its
//! own. Dev-only: it is never published and the server and client do not
//! link it.
//!
//! - [`frames`]: reading the frames a peer sends, the one way every test
//!   does it: fed piece by piece ([`FrameReader`]), from a blocking stream
//!   ([`read_frame`]) or from a buffer ([`split_frames`]).
//! - [`rng`]: one reproducible pseudo-random generator ([`XorShift`]).
//! - [`net`]: connecting from another loopback address ([`connect_from`]).
//! - [`tools`]: external tools the tests drive, installed when missing
//!   ([`tools::require`]); a tool that cannot be had fails the test.

pub mod frames;
pub mod net;
pub mod rng;
pub mod tools;

pub use frames::{FrameReader, Piece, read_frame, split_frames};
pub use net::connect_from;
pub use rng::{XorShift, bytes};
