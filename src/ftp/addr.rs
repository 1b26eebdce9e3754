//! Data-connection addresses, pure: the PASV (227) and EPSV (229) replies,
//! parsing of PORT and EPRT arguments, the anti-bounce and anti-stealing
//! checks, and the passive port range with its random order of tries.
//!
//! Security rules (RFC 2577):
//! - an active-mode target must be the control connection's own peer
//!   address, on a port >= 1024, checked before any connect (no "FTP
//!   bounce" to a third host or to a privileged service);
//! - a passive data connection must come from the control peer's address
//!   (no "port stealing" by another host racing to the open port).
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, seen on dual-stack
//! sockets) compare equal to the IPv4 address they carry.

use super::reply::Reply;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

/// Lowest port an active-mode target may use.
pub const MIN_ACTIVE_PORT: u16 = 1024;

/// Why a PORT or EPRT argument is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrError {
    /// Not of the form the command needs (501).
    Syntax,
    /// EPRT with an address family other than 1 (IPv4) or 2 (IPv6) (522).
    UnsupportedFamily,
}

/// Why an active-mode target is refused (501, before any connection is tried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceError {
    /// The address is not the control connection's peer.
    ForeignAddress,
    /// The port is below [`MIN_ACTIVE_PORT`].
    PrivilegedPort,
}

impl BounceError {
    /// The reply: 501 with a reason (as pyftpdlib words it).
    pub fn reply(self) -> Reply {
        match self {
            BounceError::ForeignAddress => Reply::new(501, "Rejected data connection to foreign address."),
            BounceError::PrivilegedPort => Reply::new(501, "Rejected data connection to privileged port."),
        }
    }
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).`
pub fn pasv_reply(ip: Ipv4Addr, port: u16) -> Reply {
    let [h1, h2, h3, h4] = ip.octets();
    let [p1, p2] = port.to_be_bytes();
    Reply::new(227, format!("Entering Passive Mode ({h1},{h2},{h3},{h4},{p1},{p2})."))
}

/// `229 Entering Extended Passive Mode (|||port|)` (RFC 2428: the client
/// reuses the control connection's address).
pub fn epsv_reply(port: u16) -> Reply {
    Reply::new(229, format!("Entering Extended Passive Mode (|||{port}|)"))
}

/// The IPv4 address a PASV reply advertises: the masquerade address if one
/// is set, else the control connection's local address. `None` when that is
/// a genuine IPv6 address: PASV cannot express it, and the client should use
/// EPSV (the session answers 425 or 501 then).
pub fn pasv_address(local: IpAddr, masquerade: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    if let Some(m) = masquerade {
        return Some(m);
    }
    match canonical(local) {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

/// Parses a PORT argument `h1,h2,h3,h4,p1,p2` (decimal, each 0..=255).
pub fn parse_port(arg: &str) -> Result<SocketAddrV4, AddrError> {
    let mut n = [0u8; 6];
    let mut parts = arg.trim().split(',');
    for slot in &mut n {
        let part = parts.next().ok_or(AddrError::Syntax)?;
        *slot = parse_decimal(part.trim()).and_then(|v| u8::try_from(v).ok()).ok_or(AddrError::Syntax)?;
    }
    if parts.next().is_some() {
        return Err(AddrError::Syntax);
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    Ok(SocketAddrV4::new(ip, u16::from_be_bytes([n[4], n[5]])))
}

/// Parses an EPRT argument `<d>af<d>address<d>port<d>` (RFC 2428). The
/// delimiter `<d>` is the argument's first character, usually `|`: any
/// printable ASCII character that is not a letter or a digit.
pub fn parse_eprt(arg: &str) -> Result<SocketAddr, AddrError> {
    let arg = arg.trim();
    let delim = arg.chars().next().ok_or(AddrError::Syntax)?;
    // RFC 2428: the delimiter is in 33..=126; '|' is usual.
    if !delim.is_ascii_graphic() || delim.is_ascii_alphanumeric() {
        return Err(AddrError::Syntax);
    }
    let fields: Vec<&str> = arg.split(delim).collect();
    // "", af, address, port, "" : exactly four delimiters.
    let [first, af, address, port, last] = fields.as_slice() else {
        return Err(AddrError::Syntax);
    };
    if !first.is_empty() || !last.is_empty() {
        return Err(AddrError::Syntax);
    }
    let port = parse_decimal(port).and_then(|p| u16::try_from(p).ok()).ok_or(AddrError::Syntax)?;
    let ip = match *af {
        "1" => IpAddr::V4(address.parse::<Ipv4Addr>().map_err(|_| AddrError::Syntax)?),
        "2" => IpAddr::V6(address.parse::<Ipv6Addr>().map_err(|_| AddrError::Syntax)?),
        _ if parse_decimal(af).is_some() => return Err(AddrError::UnsupportedFamily),
        _ => return Err(AddrError::Syntax),
    };
    Ok(SocketAddr::new(ip, port))
}

/// The anti-bounce check for PORT and EPRT: the target must be the control
/// peer's own address, on an unprivileged port. Run before connecting.
pub fn check_active_target(target: SocketAddr, control_peer: IpAddr) -> Result<(), BounceError> {
    if !same_host(target.ip(), control_peer) {
        return Err(BounceError::ForeignAddress);
    }
    if target.port() < MIN_ACTIVE_PORT {
        return Err(BounceError::PrivilegedPort);
    }
    Ok(())
}

/// The anti-stealing check for passive mode: may a data connection from
/// `data_peer` be accepted on the port opened for `control_peer`?
pub fn data_peer_allowed(data_peer: IpAddr, control_peer: IpAddr) -> bool {
    same_host(data_peer, control_peer)
}

/// Whether two addresses are the same host, an IPv4-mapped IPv6 address
/// being equal to its IPv4 address.
pub fn same_host(a: IpAddr, b: IpAddr) -> bool {
    canonical(a) == canonical(b)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Only ASCII digits (no sign, no space, no "0x"), at most 5 of them, so that
/// no argument can overflow.
fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An inclusive range of passive ports, as in `--ftp-passive-ports 50000-50999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl std::str::FromStr for PortRange {
    type Err = String;

    /// `LOW-HIGH` or a single port; both ends non-zero, LOW <= HIGH.
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let port = |t: &str| -> Result<u16, String> {
            let t = t.trim();
            let v =
                parse_decimal(t).and_then(|v| u16::try_from(v).ok()).ok_or(format!("{t:?} is not a port number"))?;
            if v == 0 {
                return Err("port 0 is not allowed in a passive range".into());
            }
            Ok(v)
        };
        let (first, last) = (port(a)?, port(b)?);
        if first > last {
            return Err(format!("the range {first}-{last} is empty (first > last)"));
        }
        Ok(PortRange { first, last })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl PortRange {
    /// Number of ports in the range (1..=65535).
    pub fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Never true: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The ports to try binding, in a random order chosen by `seed` (from
    /// [`random_seed`] in the server, fixed in tests): every port of the
    /// range exactly once, starting at a random port and stepping by a random
    /// stride coprime with the range's size. The caller takes as many as it
    /// is willing to try (for example 50), then answers 425.
    pub fn candidates(&self, seed: u64) -> impl Iterator<Item = u16> + use<> {
        let n = u64::from(self.len());
        let start = seed % n;
        // A stride coprime with n visits every residue once: a permutation.
        let mut stride = if n > 1 { 1 + (seed >> 32) % (n - 1) } else { 1 };
        while gcd(stride, n) != 1 {
            stride += 1;
        }
        let first = u64::from(self.first);
        (0..n).map(move |i| (first + (start + i * stride) % n) as u16)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A seed for [`PortRange::candidates`] from the operating system's CSPRNG.
pub fn random_seed() -> Result<u64, getrandom::Error> {
    getrandom::u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn pasv_and_epsv_replies() {
        let r = pasv_reply(Ipv4Addr::new(127, 0, 0, 1), 50_001);
        assert_eq!(r.to_bytes(), b"227 Entering Passive Mode (127,0,0,1,195,81).\r\n");
        assert_eq!(epsv_reply(50_001).to_bytes(), b"229 Entering Extended Passive Mode (|||50001|)\r\n");
    }

    #[test]
    fn pasv_address_prefers_masquerade_and_unmaps_ipv4() {
        let m = Ipv4Addr::new(203, 0, 113, 9);
        assert_eq!(pasv_address(v4("10.0.0.1"), Some(m)), Some(m));
        assert_eq!(pasv_address(v4("10.0.0.1"), None), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(pasv_address(v4("::ffff:127.0.0.1"), None), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(pasv_address(v4("::1"), None), None);
    }

    #[test]
    fn port_arguments() {
        assert_eq!(parse_port("127,0,0,1,195,81"), Ok("127.0.0.1:50001".parse().unwrap()));
        assert_eq!(parse_port(" 10, 0,0,2,4,0 "), Ok("10.0.0.2:1024".parse().unwrap()));
        for bad in [
            "127,0,0,1,1.1",
            "X,0,0,1,1,1",
            "127,0,0,1,1,1,1",
            "127,0,0,1",
            "256,0,0,1,1,1",
            "127,0,0,1,256,1",
            "127,0,0,1,-1,0",
            "127,0,0,1,+1,0",
            "",
            "127,,0,1,1,1",
            "127,0,0,1,000000001,1",
        ] {
            assert_eq!(parse_port(bad), Err(AddrError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn eprt_arguments() {
        assert_eq!(parse_eprt("|1|132.235.1.2|6275|"), Ok("132.235.1.2:6275".parse().unwrap()));
        assert_eq!(parse_eprt("|2|1080::8:800:200C:417A|5282|"), Ok("[1080::8:800:200C:417A]:5282".parse().unwrap()));
        assert_eq!(parse_eprt("!1!10.0.0.1!2000!"), Ok("10.0.0.1:2000".parse().unwrap()));
        for bad in [
            "||||",
            "||",
            "|1|127.0.0.1|65536|",
            "|1|127.0.0.1|-1|",
            "|1|1.2.3.4.5|2048|",
            "|1|1.2.3.256|2048|",
            "|2|1.2.3.256|2048|",
            "|1|::1|2048|",
            "|2|::foo|2222|",
            "|x|127.0.0.1|2048|",
            "1|1|127.0.0.1|2048|",
            "|1|127.0.0.1|2048|x",
            "a1a127.0.0.1a2048a",
            "",
        ] {
            assert_eq!(parse_eprt(bad), Err(AddrError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_eprt("|3|127.0.0.1|2048|"), Err(AddrError::UnsupportedFamily));
    }

    #[test]
    fn the_bounce_check_wants_the_peer_and_an_unprivileged_port() {
        let peer = v4("127.0.0.1");
        assert_eq!(check_active_target("127.0.0.1:1024".parse().unwrap(), peer), Ok(()));
        assert_eq!(check_active_target("127.0.0.1:1023".parse().unwrap(), peer), Err(BounceError::PrivilegedPort));
        assert_eq!(check_active_target("127.0.0.2:2000".parse().unwrap(), peer), Err(BounceError::ForeignAddress));
        assert_eq!(check_active_target("1.2.3.4:21".parse().unwrap(), peer), Err(BounceError::ForeignAddress));
        // A dual-stack socket reports the IPv4 peer as mapped.
        assert_eq!(check_active_target("127.0.0.1:5000".parse().unwrap(), v4("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(check_active_target("[::1]:5000".parse().unwrap(), v4("::1")), Ok(()));
        assert_eq!(check_active_target("[::2]:5000".parse().unwrap(), v4("::1")), Err(BounceError::ForeignAddress));
        assert_eq!(BounceError::ForeignAddress.reply().code, 501);
    }

    #[test]
    fn data_connections_must_come_from_the_control_peer() {
        assert!(data_peer_allowed(v4("127.0.0.1"), v4("127.0.0.1")));
        assert!(data_peer_allowed(v4("::ffff:127.0.0.1"), v4("127.0.0.1")));
        assert!(!data_peer_allowed(v4("127.0.0.2"), v4("127.0.0.1")));
        assert!(!data_peer_allowed(v4("::1"), v4("127.0.0.1")));
    }

    #[test]
    fn port_ranges_parse_and_refuse_nonsense() {
        assert_eq!("50000-50999".parse(), Ok(PortRange { first: 50000, last: 50999 }));
        assert_eq!("2100".parse(), Ok(PortRange { first: 2100, last: 2100 }));
        assert_eq!("50000-50999".parse::<PortRange>().unwrap().len(), 1000);
        assert_eq!("1-65535".parse::<PortRange>().unwrap().len(), 65535);
        for bad in ["", "0-10", "10-0", "5-4", "a-b", "1-65536", "-5", "5-", "1--2"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?}");
        }
        assert_eq!(PortRange { first: 1, last: 2 }.to_string(), "1-2");
    }

    #[test]
    fn candidates_visit_every_port_once_in_a_seeded_order() {
        for (range, seeds) in [("50000-50999", 0..50u64), ("7-7", 0..3), ("1-2", 0..5), ("1000-1011", 0..40)] {
            let r: PortRange = range.parse().unwrap();
            for s in seeds {
                let seed = s.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut got: Vec<u16> = r.candidates(seed).collect();
                assert_eq!(got.len() as u32, r.len());
                assert_eq!(r.candidates(seed).collect::<Vec<_>>(), got, "deterministic per seed");
                got.sort_unstable();
                assert_eq!(got, (r.first..=r.last).collect::<Vec<_>>());
            }
        }
        // Different seeds start in different places.
        let r: PortRange = "50000-50999".parse().unwrap();
        let firsts: std::collections::HashSet<u16> =
            (0..20u64).map(|s| r.candidates(s.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next().unwrap()).collect();
        assert!(firsts.len() > 10, "{firsts:?}");
    }

    #[test]
    fn the_full_port_space_does_not_overflow() {
        let r: PortRange = "1-65535".parse().unwrap();
        let seed = u64::MAX;
        assert!(r.candidates(seed).take(100).all(|p| p >= 1));
        assert!(random_seed().is_ok());
    }
}
