//! Unit tests of the line decoder: every split offset of sample inputs, byte
//! at a time, several lines per feed, Telnet commands, the urgent flag, and
//! the length bound.

use super::*;

type Out = Vec<Result<String, LineError>>;

/// Feeds `chunks` in order, collecting every event.
fn run(dec: &mut LineDecoder, chunks: &[&[u8]]) -> Out {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            let (n, ev) = dec.decode(rest);
            assert!(n <= rest.len());
            rest = &rest[n..];
            match ev {
                Some(ev) => out.push(ev),
                None => {
                    assert!(rest.is_empty(), "None must mean every byte was consumed");
                    break;
                }
            }
        }
    }
    out
}

fn whole(input: &[u8]) -> Out {
    run(&mut LineDecoder::new(), &[input])
}

/// Decoding in one piece, at every split into two, and byte at a time all agree.
fn check_all_splits(input: &[u8], expected: &Out) {
    assert_eq!(&whole(input), expected, "whole input");
    for cut in 0..=input.len() {
        let got = run(&mut LineDecoder::new(), &[&input[..cut], &input[cut..]]);
        assert_eq!(&got, expected, "split at {cut}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(&run(&mut LineDecoder::new(), &bytes), expected, "byte at a time");
}

fn ok(s: &str) -> Result<String, LineError> {
    Ok(s.to_owned())
}

#[test]
fn errors_have_their_replies() {
    assert_eq!(LineError::TooLong.reply().to_bytes(), b"500 Command line too long.\r\n");
    assert_eq!(LineError::NotUtf8.reply().code, 501);
}

#[test]
fn crlf_and_bare_lf_lines_at_every_split() {
    check_all_splits(b"USER alice\r\nPASS x y\r\nNOOP\n", &vec![ok("USER alice"), ok("PASS x y"), ok("NOOP")]);
}

#[test]
fn several_lines_in_one_feed_come_out_one_per_call() {
    let mut dec = LineDecoder::new();
    let input = b"PWD\r\nSYST\r\nQUIT\r\n";
    let (n, ev) = dec.decode(input);
    assert_eq!((n, ev), (5, Some(ok("PWD"))));
    let (m, ev) = dec.decode(&input[n..]);
    assert_eq!((m, ev), (6, Some(ok("SYST"))));
}

#[test]
fn a_partial_line_waits_for_more() {
    let mut dec = LineDecoder::new();
    assert_eq!(dec.decode(b"RETR fi"), (7, None));
    assert_eq!(dec.buffered(), 7);
    assert_eq!(dec.decode(b"le\r"), (3, None));
    assert_eq!(dec.decode(b"\n"), (1, Some(ok("RETR file"))));
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn empty_lines_are_lines() {
    check_all_splits(b"\r\n\n", &vec![ok(""), ok("")]);
}

#[test]
fn only_the_cr_right_before_lf_is_dropped() {
    check_all_splits(b"A\rB\r\r\n", &vec![ok("A\rB\r")]);
}

#[test]
fn telnet_commands_are_stripped_at_every_split() {
    // IAC IAC is a data 0xFF; here it sits in a non-UTF-8 line on purpose.
    let input = [
        b"NO".as_slice(),
        &[IAC, WILL, 1], // option negotiation
        b"O",
        &[IAC, 241], // NOP
        b"P\r\n",
        &[IAC, SB, 24, 1, 2, IAC, IAC, 3, IAC, SE], // subnegotiation, with a doubled IAC inside
        b"A",
        &[IAC, IAC],
        b"\r\n",
    ]
    .concat();
    check_all_splits(&input, &vec![ok("NOOP"), Err(LineError::NotUtf8)]);
}

#[test]
fn doubled_iac_is_a_data_byte() {
    let mut dec = LineDecoder::new();
    let (_, ev) = dec.decode(&[b'X', IAC, IAC, b'\n']);
    assert_eq!(ev, Some(Err(LineError::NotUtf8)));
    // Proved on the buffer directly: the byte kept is 0xFF.
    let mut dec = LineDecoder::new();
    dec.decode(&[IAC, IAC]);
    assert_eq!(dec.buf, vec![0xFF]);
}

#[test]
fn iac_ip_dm_sets_the_urgent_flag_once() {
    let input = [&[IAC, IP, IAC, DM][..], b"ABOR\r\n"].concat();
    for cut in 0..=input.len() {
        let mut dec = LineDecoder::new();
        let out = run(&mut dec, &[&input[..cut], &input[cut..]]);
        assert_eq!(out, vec![ok("ABOR")], "split at {cut}");
        assert!(dec.take_urgent(), "split at {cut}");
        assert!(!dec.take_urgent(), "the flag clears when taken");
    }
}

#[test]
fn a_plain_line_does_not_set_urgent() {
    let mut dec = LineDecoder::new();
    run(&mut dec, &[b"ABOR\r\n"]);
    assert!(!dec.take_urgent());
}

#[test]
fn a_dm_whose_iac_went_out_of_band_is_taken_as_the_synch() {
    // `send(IAC IP IAC, MSG_OOB)` without SO_OOBINLINE: the last IAC is
    // removed from the stream, leaving IAC IP DM.
    let input = [&[IAC, IP, DM][..], b"ABOR\r\n"].concat();
    let mut dec = LineDecoder::new();
    assert_eq!(run(&mut dec, &[&input]), vec![ok("ABOR")]);
    assert!(dec.take_urgent());
    // A DM byte anywhere else is just data (and not UTF-8).
    assert_eq!(whole(&[b'A', DM, b'\n']), vec![Err(LineError::NotUtf8)]);
}

#[test]
fn non_utf8_is_an_error_and_the_next_line_is_fine() {
    check_all_splits(b"CWD \xc3\x28\r\nPWD\r\n", &vec![Err(LineError::NotUtf8), ok("PWD")]);
    check_all_splits("CWD d\u{e9}j\u{e0}\r\n".as_bytes(), &vec![ok("CWD d\u{e9}j\u{e0}")]);
}

#[test]
fn the_longest_line_fits_and_one_more_byte_does_not() {
    let longest = format!("STOR {}\r\n", "a".repeat(MAX_LINE - 7));
    assert_eq!(longest.len(), MAX_LINE);
    assert_eq!(whole(longest.as_bytes()), vec![Ok(longest.trim_end().to_owned())]);
    // A bare LF ending leaves room for one more byte of content.
    let bare = format!("STOR {}\n", "a".repeat(MAX_LINE - 6));
    assert_eq!(bare.len(), MAX_LINE);
    assert_eq!(whole(bare.as_bytes()).len(), 1);
    assert!(whole(bare.as_bytes())[0].is_ok());
    let over = format!("STOR {}\r\n", "a".repeat(MAX_LINE - 6));
    assert_eq!(whole(over.as_bytes()), vec![Err(LineError::TooLong)]);
}

#[test]
fn an_over_long_line_is_reported_once_then_skipped_unbuffered() {
    let mut input = vec![b'x'; 100 * 1024];
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let expected = vec![Err(LineError::TooLong), ok("NOOP")];
    assert_eq!(whole(&input), expected);
    // Byte at a time, the buffer never grows past the limit.
    let mut dec = LineDecoder::new();
    let mut out = Vec::new();
    for b in &input {
        let (n, ev) = dec.decode(std::slice::from_ref(b));
        assert_eq!(n, 1);
        assert!(dec.buffered() < MAX_LINE);
        out.extend(ev);
    }
    assert_eq!(out, expected);
    // At every split of a smaller over-long sample.
    let mut small = vec![b'y'; MAX_LINE + 10];
    small.extend_from_slice(b"\nPWD\n");
    check_all_splits(&small, &vec![Err(LineError::TooLong), ok("PWD")]);
}

#[test]
fn an_endless_subnegotiation_is_cut_like_an_over_long_line() {
    let mut input = vec![IAC, SB];
    input.extend(std::iter::repeat_n(b'q', 3 * MAX_LINE));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    assert_eq!(whole(&input), vec![Err(LineError::TooLong), ok("NOOP")]);
    // A short one, with a doubled IAC inside, is simply dropped.
    assert_eq!(whole(&[&[IAC, SB, 1, IAC, IAC, 2, IAC, SE][..], b"PWD\n"].concat()), vec![ok("PWD")]);
}

#[test]
fn the_error_comes_when_the_limit_is_crossed_not_at_the_line_end() {
    let mut dec = LineDecoder::new();
    let (n, ev) = dec.decode(&vec![b'z'; MAX_LINE + 500]);
    assert_eq!(ev, Some(Err(LineError::TooLong)));
    // The byte that crossed the limit is the one that reported it.
    assert_eq!(n, MAX_LINE);
    // The rest, and more, is swallowed silently up to the LF.
    assert_eq!(dec.decode(&vec![b'z'; 10_000]), (10_000, None));
    assert_eq!(dec.buffered(), 0);
    assert_eq!(dec.decode(b"\nQUIT\n"), (6, Some(ok("QUIT"))));
}
