//! `mioftp-proto`: the mioftp wire protocol, pure: frames, requests, replies,
//! error codes, SCRAM arithmetic, the key-file format, and the escaping of
//! peer text for display. No sockets, no event
//! loop, no clocks: the server's session machine, the client, the benchmark
//! and the fuzz targets all build on this crate, so there is one copy of it,
//! and a client links nothing of the server.

pub mod display;
pub mod error;
pub mod frame;
pub mod keyfile;
pub mod messages;
pub mod request;
pub mod scram;

pub use error::{ErrorCode, WireError};
pub use frame::{Frame, FrameError, Header};
pub use messages::Notice;
pub use request::{Op, Refused, Request};

/// A byte count for people, in binary units: `0 B`, `1.5 KiB`, `3.0 GiB`.
/// The project's one size formatter (server messages, the client, `mioftpd
/// audit`, the benchmark), so a size reads the same everywhere.
pub fn human_size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
}

/// Longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = 32;

/// Checks a username against `^[a-z0-9_][a-z0-9_.-]{0,31}$`, explaining a refusal.
///
/// The rule keeps names safe as file names (`accounts/<user>.json`,
/// `home/<user>/`): no '/', no NUL, no leading '.', so never `.` or `..`.
pub fn check_username(user: &str) -> Result<(), String> {
    let bytes = user.as_bytes();
    let Some(first) = bytes.first() else {
        return Err("username is empty".into());
    };
    if bytes.len() > MAX_USERNAME_LEN {
        return Err(format!("username is {} bytes; the limit is {MAX_USERNAME_LEN}", bytes.len()));
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit() || *first == b'_') {
        return Err("username must start with a lowercase letter, digit or '_'".into());
    }
    if let Some(bad) = user.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(*c))) {
        return Err(format!("username may only contain a-z, 0-9, '_', '.' and '-' (found {:?})", bad));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_username, human_size};

    #[test]
    fn sizes_use_binary_units_with_one_decimal() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1_048_576), "1.0 MiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn valid_usernames() {
        for u in ["alice", "a", "_", "0day", "bob.smith", "x-y_z", &"a".repeat(32)] {
            assert!(check_username(u).is_ok(), "{u}");
        }
    }

    #[test]
    fn invalid_usernames() {
        for u in ["", "..", ".", ".hidden", "-x", "Alice", "a/b", "a\0b", "a b", "é", &"a".repeat(33), "a\\b"] {
            assert!(check_username(u).is_err(), "{u:?}");
        }
    }
}
