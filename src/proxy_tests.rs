//! Unit tests of the PROXY protocol reader: every valid header split at every
//! byte offset, both families in both versions, TLVs, LOCAL, garbage,
//! oversize headers, and the trust policy. v2 headers are built by hand here
//! from the spec, not with the parsing crate, so the two can disagree.

use super::*;

const PAYLOAD: &[u8] = b"hello after the header";

/// A v2 header: version 2, `command` (0 LOCAL, 1 PROXY), `fam_proto`
/// (0x11 TCP/IPv4, 0x21 TCP/IPv6, 0x00 UNSPEC), then addresses and TLVs.
fn v2(command: u8, fam_proto: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(fam_proto);
    let len = (addresses.len() + tlvs.len()) as u16;
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(addresses);
    h.extend_from_slice(tlvs);
    h
}

fn v2_tcp4(tlvs: &[u8]) -> Vec<u8> {
    // 203.0.113.9:40000 -> 10.0.0.1:2121
    let mut a = vec![203, 0, 113, 9, 10, 0, 0, 1];
    a.extend_from_slice(&40000u16.to_be_bytes());
    a.extend_from_slice(&2121u16.to_be_bytes());
    v2(1, 0x11, &a, tlvs)
}

fn v2_tcp6() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let mut a = src.octets().to_vec();
    a.extend_from_slice(&dst.octets());
    a.extend_from_slice(&5555u16.to_be_bytes());
    a.extend_from_slice(&2121u16.to_be_bytes());
    v2(1, 0x21, &a, &[])
}

fn with_payload(header: &[u8]) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend_from_slice(PAYLOAD);
    v
}

fn trusted() -> ProxyReader {
    ProxyReader::new(true)
}

/// Feeds every prefix of `bytes`: all shorter than `header_len` must be
/// `NeedMore`, and every prefix from `header_len` on gives `expected`.
fn check_every_split(bytes: &[u8], header_len: usize, expected: Step) {
    let reader = trusted();
    for cut in 0..bytes.len() {
        let got = reader.feed(&bytes[..cut]);
        if cut < header_len {
            assert_eq!(got, Step::NeedMore, "prefix of {cut} bytes");
        } else {
            assert_eq!(got, expected, "prefix of {cut} bytes");
        }
    }
    assert_eq!(reader.feed(bytes), expected);
}

#[test]
fn v1_tcp4_gives_the_client_address_at_every_split() {
    let header = b"PROXY TCP4 198.51.100.22 10.0.0.1 35646 2121\r\n";
    let bytes = with_payload(header);
    let peer = "198.51.100.22:35646".parse().unwrap();
    check_every_split(&bytes, header.len(), Step::Done { peer, consumed: header.len() });
}

#[test]
fn v1_tcp6_gives_the_client_address_and_unmaps_ipv4() {
    let header = b"PROXY TCP6 2001:db8::5 2001:db8::1 4000 2121\r\n";
    let peer = "[2001:db8::5]:4000".parse().unwrap();
    check_every_split(&with_payload(header), header.len(), Step::Done { peer, consumed: header.len() });
    let mapped = b"PROXY TCP6 ::ffff:127.0.0.9 ::ffff:127.0.0.1 4000 2121\r\n";
    let peer = "127.0.0.9:4000".parse().unwrap();
    assert_eq!(trusted().feed(mapped), Step::Done { peer, consumed: mapped.len() });
}

#[test]
fn v1_unknown_keeps_the_socket_peer() {
    let header = b"PROXY UNKNOWN\r\n";
    check_every_split(&with_payload(header), header.len(), Step::Local { consumed: header.len() });
    // UNKNOWN may carry anything up to the CRLF; it is ignored.
    let long = b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
    assert_eq!(trusted().feed(long), Step::Local { consumed: long.len() });
}

#[test]
fn v1_the_longest_legal_headers_are_accepted() {
    let f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let tcp6 = format!("PROXY TCP6 {f} {f} 65535 65535\r\n");
    let peer = format!("[{f}]:65535").parse().unwrap();
    assert_eq!(trusted().feed(tcp6.as_bytes()), Step::Done { peer, consumed: tcp6.len() });
    // The spec's worst case, 107 bytes, is UNKNOWN followed by TCP6-sized text.
    let unknown = format!("PROXY UNKNOWN {f} {f} 65535 65535\r\n");
    assert_eq!(unknown.len(), V1_MAX);
    assert_eq!(trusted().feed(unknown.as_bytes()), Step::Local { consumed: V1_MAX });
}

#[test]
fn v1_without_crlf_within_107_bytes_is_too_long() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(V1_MAX - 1, b'x');
    assert_eq!(trusted().feed(&line), Step::NeedMore, "106 bytes may still end in CRLF");
    line.push(b'x');
    assert_eq!(trusted().feed(&line), Step::Error(ProxyError::TooLong));
    line.extend_from_slice(b"\r\n");
    assert_eq!(trusted().feed(&line), Step::Error(ProxyError::TooLong), "a CRLF past the limit does not help");
}

#[test]
fn v1_malformed_lines_are_refused() {
    for bad in [
        &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
        b"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n",
        b"PROXY \xff\xfe\r\n",
    ] {
        assert!(
            matches!(trusted().feed(bad), Step::Error(ProxyError::Malformed(_))),
            "{:?} gave {:?}",
            String::from_utf8_lossy(bad),
            trusted().feed(bad)
        );
    }
}

#[test]
fn v2_tcp4_and_tcp6_give_the_client_address_at_every_split() {
    let h4 = v2_tcp4(&[]);
    let peer = "203.0.113.9:40000".parse().unwrap();
    check_every_split(&with_payload(&h4), h4.len(), Step::Done { peer, consumed: h4.len() });
    let h6 = v2_tcp6();
    let peer = "[2001:db8::7]:5555".parse().unwrap();
    check_every_split(&with_payload(&h6), h6.len(), Step::Done { peer, consumed: h6.len() });
}

#[test]
fn v2_tlvs_are_consumed_with_the_header() {
    // ALPN "ftp", AUTHORITY "files.example", NOOP with 3 bytes.
    let mut tlvs = vec![0x01, 0, 3];
    tlvs.extend_from_slice(b"ftp");
    tlvs.extend_from_slice(&[0x02, 0, 13]);
    tlvs.extend_from_slice(b"files.example");
    tlvs.extend_from_slice(&[0x04, 0, 3, 0, 0, 0]);
    let h = v2_tcp4(&tlvs);
    let peer = "203.0.113.9:40000".parse().unwrap();
    check_every_split(&with_payload(&h), h.len(), Step::Done { peer, consumed: h.len() });
}

#[test]
fn v2_a_tlv_overrunning_the_header_is_malformed() {
    let h = v2_tcp4(&[0x01, 0, 9, b'f', b't', b'p']);
    assert!(matches!(trusted().feed(&h), Step::Error(ProxyError::Malformed(_))));
}

#[test]
fn v2_local_keeps_the_socket_peer_whatever_it_carries() {
    let h = v2(0, 0x00, &[], &[]);
    check_every_split(&with_payload(&h), h.len(), Step::Local { consumed: h.len() });
    // A health check may carry addresses with LOCAL; they are ignored.
    let mut with_addrs = v2_tcp4(&[]);
    with_addrs[12] = 0x20;
    assert_eq!(trusted().feed(&with_addrs), Step::Local { consumed: with_addrs.len() });
}

#[test]
fn v2_unspec_family_keeps_the_socket_peer() {
    let h = v2(1, 0x00, &[], &[]);
    assert_eq!(trusted().feed(&h), Step::Local { consumed: h.len() });
}

#[test]
fn v2_bad_version_command_family_or_datagram_are_refused() {
    let mut bad_version = v2_tcp4(&[]);
    bad_version[12] = 0x11;
    let mut bad_command = v2_tcp4(&[]);
    bad_command[12] = 0x2F;
    let mut bad_family = v2_tcp4(&[]);
    bad_family[13] = 0x41;
    let mut datagram = v2_tcp4(&[]);
    datagram[13] = 0x12;
    let short_addresses = v2(1, 0x21, &[0; 12], &[]);
    for (name, h) in [
        ("version", bad_version),
        ("command", bad_command),
        ("family", bad_family),
        ("datagram", datagram),
        ("short", short_addresses),
    ] {
        assert!(matches!(trusted().feed(&h), Step::Error(ProxyError::Malformed(_))), "{name}");
    }
}

#[test]
fn v2_an_oversize_length_is_refused_before_the_payload_arrives() {
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x11]);
    h.extend_from_slice(&((MAX_V2_PAYLOAD + 1) as u16).to_be_bytes());
    assert_eq!(trusted().feed(&h), Step::Error(ProxyError::TooLong));
    let mut at_limit = V2_SIGNATURE.to_vec();
    at_limit.extend_from_slice(&[0x21, 0x11]);
    at_limit.extend_from_slice(&(MAX_V2_PAYLOAD as u16).to_be_bytes());
    assert_eq!(trusted().feed(&at_limit), Step::NeedMore, "the limit itself is allowed");
}

#[test]
fn a_trusted_balancer_must_send_a_header() {
    for first in [&b"GET / HTTP/1.1\r\n"[..], b"USER alice\r\n", b"\x00\x00\x00\x10{", b"PROXY\r\n", b"\r\n\r\nX"] {
        assert_eq!(trusted().feed(first), Step::Error(ProxyError::Missing), "{first:?}");
    }
    // A prefix of a signature is not decided yet.
    assert_eq!(trusted().feed(b"PROX"), Step::NeedMore);
    assert_eq!(trusted().feed(b"\r\n\r\n\0"), Step::NeedMore);
    assert_eq!(trusted().feed(b""), Step::NeedMore);
}

#[test]
fn an_untrusted_peer_sending_a_header_is_refused() {
    let reader = ProxyReader::new(false);
    let v1 = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
    let v2h = v2_tcp4(&[]);
    assert_eq!(reader.feed(v1), Step::Error(ProxyError::Untrusted));
    assert_eq!(reader.feed(&v2h), Step::Error(ProxyError::Untrusted));
    // Decided as soon as the signature is complete, before the rest arrives.
    assert_eq!(reader.feed(b"PROXY "), Step::Error(ProxyError::Untrusted));
    assert_eq!(reader.feed(&V2_SIGNATURE[..]), Step::Error(ProxyError::Untrusted));
    assert_eq!(reader.feed(b"PROXY"), Step::NeedMore);
}

#[test]
fn an_untrusted_peer_speaking_normally_passes_through_untouched() {
    let reader = ProxyReader::new(false);
    for first in [&b"USER alice\r\n"[..], b"PROT P\r\n", b"PROXYZ", b"\r\n\r\nhello", b"\x00\x00\x00\x10{\"op\":"] {
        assert_eq!(reader.feed(first), Step::NoHeader, "{first:?}");
    }
    // "PRO" could still be "PROXY " or "PROT": wait for the next byte.
    assert_eq!(reader.feed(b"PRO"), Step::NeedMore);
    assert_eq!(reader.feed(b"PROT"), Step::NoHeader);
}

#[test]
fn the_policy_trusts_exactly_the_configured_networks() {
    let from: CidrList = "10.0.0.0/8,::1/128".parse().unwrap();
    assert!(ProxyReader::for_peer("10.1.2.3".parse().unwrap(), &from).trusted());
    assert!(ProxyReader::for_peer("::ffff:10.1.2.3".parse().unwrap(), &from).trusted());
    assert!(ProxyReader::for_peer("::1".parse().unwrap(), &from).trusted());
    assert!(!ProxyReader::for_peer("127.0.0.1".parse().unwrap(), &from).trusted());
    let none = CidrList::default();
    assert!(!ProxyReader::for_peer("10.1.2.3".parse().unwrap(), &none).trusted());
}

#[test]
fn garbage_never_panics_and_never_consumes_past_the_input() {
    // A deterministic pseudo-random walk over inputs that start with a signature.
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..2000 {
        let mut buf = if round % 2 == 0 { V1_PREFIX.to_vec() } else { V2_SIGNATURE.to_vec() };
        let extra = (next() % 64) as usize;
        buf.extend((0..extra).map(|_| next() as u8));
        for reader in [trusted(), ProxyReader::new(false)] {
            match reader.feed(&buf) {
                Step::Done { consumed, .. } | Step::Local { consumed } => assert!(consumed <= buf.len()),
                Step::NeedMore | Step::NoHeader | Step::Error(_) => {}
            }
        }
    }
}

#[test]
fn error_names_are_stable() {
    assert_eq!(ProxyError::Missing.as_str(), "proxy_missing");
    assert_eq!(ProxyError::Untrusted.as_str(), "proxy_untrusted");
    assert_eq!(ProxyError::TooLong.as_str(), "proxy_too_long");
    assert_eq!(ProxyError::Malformed("x").as_str(), "proxy_malformed");
}
