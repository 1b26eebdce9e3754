//! The setting types that are neither numbers nor plain strings: a quota
//! (a size or `unlimited`) and a umask (octal digits). Each parses the same
//! from a flag, an environment variable and a config file, and prints in a
//! form that parses back to the same value (for `--help` defaults and
//! `mioftpd check-config`).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A quota: `Some(bytes)`, or `None` for unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota(pub Option<u64>);

impl fmt::Display for Quota {
    /// In the largest binary unit that divides it exactly (`10GiB`), else
    /// in bytes: either way it reads back to the same number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(bytes) = self.0 else { return f.write_str("unlimited") };
        let units = [("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
        match units.iter().find(|(_, shift)| bytes != 0 && bytes % (1u64 << shift) == 0) {
            Some((unit, shift)) => write!(f, "{}{unit}", bytes >> shift),
            None => write!(f, "{bytes}"),
        }
    }
}

impl FromStr for Quota {
    type Err = String;
    fn from_str(text: &str) -> Result<Quota, String> {
        crate::config::parse_quota(text).map(Quota)
    }
}

impl Serialize for Quota {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quota {
    /// A string (`"10GiB"`, `"unlimited"`) or a whole number of bytes.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Quota, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quota;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"10GiB\" or 1048576, or \"unlimited\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Quota, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Quota, E> {
                u64::try_from(n).map(|n| Quota(Some(n))).map_err(|_| E::custom("a quota cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Quota, E> {
                Ok(Quota(Some(n)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A umask: the permission bits taken away from what users store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Umask(pub u32);

impl fmt::Display for Umask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03o}", self.0)
    }
}

impl FromStr for Umask {
    type Err = String;
    fn from_str(text: &str) -> Result<Umask, String> {
        crate::perms::Modes::parse_umask(text).map(|m| Umask(m.umask()))
    }
}

impl Serialize for Umask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Umask {
    /// Only a string: a bare TOML number `27` would be decimal, which is
    /// never what a umask means.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Umask, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Umask;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("octal digits in a string, such as \"027\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Umask, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_print_in_a_form_that_parses_back() {
        for q in [
            Quota(None),
            Quota(Some(0)),
            Quota(Some(10 << 30)),
            Quota(Some(1_500_000_001)),
            Quota(Some(u64::MAX)),
            Quota(Some(3 << 19)),
        ] {
            assert_eq!(q.to_string().parse::<Quota>(), Ok(q), "{q}");
        }
        assert_eq!(Quota(Some(10 << 30)).to_string(), "10GiB");
        assert_eq!(Quota(Some(1_500_000_001)).to_string(), "1500000001");
        assert_eq!(Quota(Some(3 << 19)).to_string(), "1536KiB");
    }

    #[test]
    fn umasks_print_as_three_octal_digits() {
        assert_eq!(Umask(0o027).to_string(), "027");
        assert_eq!(Umask(0o7).to_string(), "007");
        assert_eq!("0o077".parse::<Umask>(), Ok(Umask(0o077)));
        assert!("888".parse::<Umask>().is_err());
    }
}
