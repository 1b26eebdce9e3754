//! Client addresses as the server counts them: the per-IP key that connection
//! caps and login throttles use, and the CIDR lists of `--proxy-from`.
//!
//! One IPv6 host usually owns a whole /64 (SLAAC, privacy addresses), so
//! counting IPv6 clients by full address would let one host open as many
//! "different" clients as it likes. [`IpKey`] therefore keys an IPv6 client
//! by its /64 prefix and an IPv4 client by its address. An IPv4-mapped IPv6
//! address (`::ffff:10.0.0.5`, as a dual-stack socket reports IPv4 peers) is
//! the IPv4 address it maps, both here and in [`CidrList::contains`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The key one client address is counted under (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpKey {
    /// An IPv4 client (also one seen through an IPv4-mapped IPv6 address).
    V4(Ipv4Addr),
    /// An IPv6 client's /64: the first 8 bytes of its address.
    V6Net([u8; 8]),
}

impl From<IpAddr> for IpKey {
    fn from(ip: IpAddr) -> IpKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpKey::V4(v4),
            IpAddr::V6(v6) => {
                let mut net = [0u8; 8];
                net.copy_from_slice(&v6.octets()[..8]);
                IpKey::V6Net(net)
            }
        }
    }
}

impl From<Ipv4Addr> for IpKey {
    fn from(ip: Ipv4Addr) -> IpKey {
        IpKey::V4(ip)
    }
}

impl From<Ipv6Addr> for IpKey {
    fn from(ip: Ipv6Addr) -> IpKey {
        IpKey::from(IpAddr::V6(ip))
    }
}

impl fmt::Display for IpKey {
    /// `10.0.0.5`, or `2001:db8:1:2::/64` for an IPv6 network.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpKey::V4(v4) => write!(f, "{v4}"),
            IpKey::V6Net(net) => {
                let mut octets = [0u8; 16];
                octets[..8].copy_from_slice(net);
                write!(f, "{}/64", Ipv6Addr::from(octets))
            }
        }
    }
}

/// One network, `10.0.0.0/8` or `2001:db8::/32`. Host bits must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside this network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_eq(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether the first `prefix` bits of `a` and `b` are equal.
fn mask_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = prefix % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// Whether any bit after the first `prefix` is set.
fn host_bits_set(octets: &[u8], prefix: u8) -> bool {
    octets.iter().enumerate().any(|(i, byte)| {
        let start = i * 8;
        let keep = usize::from(prefix).saturating_sub(start).min(8);
        let host_mask = if keep == 8 { 0 } else { 0xffu8 >> keep };
        byte & host_mask != 0
    })
}

impl FromStr for Cidr {
    type Err = String;

    /// `ADDR/PREFIX`, or a bare address (a /32 or /128). An IPv4-mapped
    /// IPv6 network of /96 or longer becomes the IPv4 network it maps.
    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr_text = addr_text.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("\"{text}\" is not an IP network (use e.g. 10.0.0.0/8 or ::1/128)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("\"{text}\": the prefix length must be 0 to {max}")),
            },
        };
        let octets = match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        if host_bits_set(&octets, prefix) {
            // A typo such as 10.0.0.1/8 would silently trust a whole /8.
            return Err(format!("\"{text}\" has bits set after the /{prefix} prefix; write the network address"));
        }
        if let (IpAddr::V6(v6), true) = (addr, prefix >= 96) {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Ok(Cidr { addr: IpAddr::V4(v4), prefix: prefix - 96 });
            }
        }
        Ok(Cidr { addr, prefix })
    }
}

/// A comma-separated list of networks, as `--proxy-from` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(Vec<Cidr>);

/// Most networks in one list; a longer one is surely a mistake, and
/// [`CidrList::contains`] is a linear scan done at every connect.
pub const MAX_CIDRS: usize = 256;

impl CidrList {
    /// Whether `ip` is in any of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn networks(&self) -> &[Cidr] {
        &self.0
    }
}

impl FromStr for CidrList {
    type Err = String;

    /// `10.0.0.0/8,::1/128`; spaces around items are allowed; the empty
    /// string is the empty list.
    fn from_str(text: &str) -> Result<CidrList, String> {
        let items: Vec<&str> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if items.len() > MAX_CIDRS {
            return Err(format!("{} networks given; the limit is {MAX_CIDRS}", items.len()));
        }
        items.into_iter().map(str::parse).collect::<Result<Vec<_>, _>>().map(CidrList)
    }
}

impl fmt::Display for CidrList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_in_one_slash_64_share_a_key_and_other_networks_do_not() {
        let a = IpKey::from(ip("2001:db8:1:2::1"));
        let b = IpKey::from(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let c = IpKey::from(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_its_ipv4_address() {
        let mapped = IpKey::from(ip("::ffff:10.0.0.5"));
        assert_eq!(mapped, IpKey::from(ip("10.0.0.5")));
        assert_eq!(mapped, IpKey::V4(Ipv4Addr::new(10, 0, 0, 5)));
        assert_ne!(mapped, IpKey::from(ip("10.0.0.6")));
        assert_eq!(mapped.to_string(), "10.0.0.5");
    }

    #[test]
    fn ipv4_clients_are_keyed_by_full_address() {
        assert_ne!(IpKey::from(ip("192.0.2.1")), IpKey::from(ip("192.0.2.2")));
    }

    #[test]
    fn cidr_lists_parse_and_match_both_families() {
        let list: CidrList = "10.0.0.0/8, ::1/128,192.168.1.7".parse().unwrap();
        assert_eq!(list.to_string(), "10.0.0.0/8,::1/128,192.168.1.7/32");
        assert!(list.contains(ip("10.255.0.1")));
        assert!(!list.contains(ip("11.0.0.1")));
        assert!(list.contains(ip("::1")));
        assert!(!list.contains(ip("::2")));
        assert!(list.contains(ip("192.168.1.7")));
        assert!(!list.contains(ip("192.168.1.8")));
        assert!(list.contains(ip("::ffff:10.1.2.3")), "mapped IPv4 matches the IPv4 network");
        assert!(!list.contains(ip("::ffff:11.1.2.3")));
    }

    #[test]
    fn odd_prefix_lengths_match_exactly_their_bits() {
        let c: Cidr = "172.16.0.0/12".parse().unwrap();
        assert!(c.contains(ip("172.31.255.255")));
        assert!(!c.contains(ip("172.32.0.0")));
        assert!(!c.contains(ip("172.15.255.255")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!(!all.contains(ip("::2")), "an IPv4 network never holds a real IPv6 address");
        let v6: Cidr = "2001:db8::/33".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:7fff::1")));
        assert!(!v6.contains(ip("2001:db8:8000::1")));
    }

    #[test]
    fn a_mapped_ipv6_network_becomes_ipv4() {
        let c: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.9.9.9")));
    }

    #[test]
    fn malformed_networks_are_refused_with_a_reason() {
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "::1/129", "nonsense", "10.0.0.0/x", "::1/64"] {
            let err = bad.parse::<CidrList>().unwrap_err();
            assert!(err.contains(bad.split('/').next().unwrap()), "{bad}: {err}");
        }
        assert!("".parse::<CidrList>().unwrap().is_empty());
        let many = vec!["10.0.0.0/8"; MAX_CIDRS + 1].join(",");
        assert!(many.parse::<CidrList>().is_err());
    }
}
