//! Unit tests of the listing formatters: exact LIST/NLST/MLSx lines, the
//! six-month rule at its edges, fact selection, and the UTC calendar checked
//! against jiff over a wide range of times.

use super::*;

const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

#[test]
fn civil_time_agrees_with_jiff() {
    let mut t: i64 = -62_000_000_000;
    while t < 253_000_000_000 {
        let ours = ftp_time(t);
        let theirs = jiff::Timestamp::from_second(t).unwrap().strftime("%Y%m%d%H%M%S").to_string();
        assert_eq!(ours, theirs, "t = {t}");
        // A prime step, so hours, days and months all vary.
        t += 7_919_993;
    }
    for t in [0, -1, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, 4_107_542_400 /* 2100-03-01 */] {
        let theirs = jiff::Timestamp::from_second(t).unwrap().strftime("%Y%m%d%H%M%S").to_string();
        assert_eq!(ftp_time(t), theirs, "t = {t}");
    }
}

#[test]
fn times_outside_four_digit_years_are_clamped() {
    assert_eq!(ftp_time(i64::MIN), "00000101000000");
    assert_eq!(ftp_time(i64::MAX), "99991231235959");
    // Before 1900 (pyftpdlib's "unforeseen time event") is still a valid time.
    assert!(ftp_time(-9_000_000_000).starts_with("1684"), "{}", ftp_time(-9_000_000_000));
}

#[test]
fn mdtm_reply_is_213_and_fourteen_digits() {
    assert_eq!(mdtm_reply(NOW).to_bytes(), b"213 20231114221320\r\n");
    assert_eq!(mdtm_reply(0).to_bytes(), b"213 19700101000000\r\n");
}

#[test]
fn list_lines_match_the_proftpd_layout() {
    let f = Entry::new("notes.txt", EntryKind::File, 1234, NOW - 3600);
    assert_eq!(list_line(&f, NOW).unwrap(), "-rw-r--r--   1 ftp      ftp          1234 Nov 14 21:13 notes.txt");
    let d = Entry::new("photos", EntryKind::Dir, 4096, 1_000_000_000); // 2001-09-09T01:46:40Z
    assert_eq!(list_line(&d, NOW).unwrap(), "drwxr-xr-x   1 ftp      ftp          4096 Sep 09  2001 photos");
    let l = Entry::new("link", EntryKind::Symlink, 7, NOW);
    assert!(list_line(&l, NOW).unwrap().starts_with("lrwxrwxrwx "));
    let big = Entry::new("big", EntryKind::File, 123_456_789_012, NOW);
    assert!(list_line(&big, NOW).unwrap().contains(" 123456789012 Nov 14 22:13 big"));
    let spaced = Entry::new(" a  b ", EntryKind::File, 0, NOW);
    assert!(list_line(&spaced, NOW).unwrap().ends_with("22:13  a  b "), "names are kept verbatim");
}

#[test]
fn six_months_and_the_future_show_the_year() {
    let at = |t| list_line(&Entry::new("x", EntryKind::File, 0, t), NOW).unwrap();
    assert!(at(NOW).contains("Nov 14 22:13 x"));
    assert!(at(NOW - SIX_MONTHS + 1).contains(':'));
    assert!(at(NOW - SIX_MONTHS).ends_with(" 2023 x"), "{}", at(NOW - SIX_MONTHS));
    assert!(at(NOW + 1).ends_with("Nov 14  2023 x"), "{}", at(NOW + 1));
    assert!(at(NOW + 400 * 86_400).ends_with("Dec 18  2024 x"), "{}", at(NOW + 400 * 86_400));
}

#[test]
fn names_with_line_breaks_are_not_listable() {
    for name in ["a\nb", "a\rb", ""] {
        let e = Entry::new(name, EntryKind::File, 0, NOW);
        assert_eq!(list_line(&e, NOW), None);
        assert_eq!(nlst_line(&e), None);
        assert_eq!(fact_line(&e, FactSet::ALL), None);
        assert_eq!(mlst_reply(&e, FactSet::ALL), None);
        let mut out = Vec::new();
        assert!(!push_line(&mut out, list_line(&e, NOW)));
        assert!(out.is_empty());
    }
}

#[test]
fn nlst_is_the_name_and_push_line_adds_crlf() {
    let e = Entry::new("r\u{e9}sum\u{e9}.pdf", EntryKind::File, 1, NOW);
    let mut out = Vec::new();
    assert!(push_line(&mut out, nlst_line(&e)));
    assert!(push_line(&mut out, nlst_line(&Entry::new("b", EntryKind::Dir, 0, NOW))));
    assert_eq!(out, "r\u{e9}sum\u{e9}.pdf\r\nb\r\n".as_bytes());
}

#[test]
fn fact_lines_carry_the_selected_facts_in_order() {
    let mut f = Entry::new("a.txt", EntryKind::File, 42, NOW);
    f.unique = Some((0x801, 0x1234));
    assert_eq!(
        fact_line(&f, FactSet::ALL).unwrap(),
        "type=file;size=42;modify=20231114221320;perm=adfrw;unique=801g1234; a.txt"
    );
    let d = Entry::new("sub", EntryKind::Dir, 4096, NOW);
    assert_eq!(fact_line(&d, FactSet::ALL).unwrap(), "type=dir;modify=20231114221320;perm=cdeflmp; sub");
    assert_eq!(fact_line(&d, FactSet::TYPE).unwrap(), "type=dir; sub");
    assert_eq!(fact_line(&d, FactSet::NONE).unwrap(), " sub");
    let l = Entry::new("ln", EntryKind::Symlink, 3, NOW);
    assert_eq!(fact_line(&l, FactSet::TYPE.union(FactSet::PERM)).unwrap(), "type=OS.unix=symlink;perm=df; ln");
    assert_eq!(fact_line(&Entry::new("p", EntryKind::Other, 0, NOW), FactSet::TYPE).unwrap(), "type=OS.unix=other; p");
}

#[test]
fn mlst_reply_has_one_fact_line_with_one_leading_space() {
    let mut e = Entry::new("/dir/a b.txt", EntryKind::File, 5, 0);
    e.perm = "r";
    let r = mlst_reply(&e, FactSet::TYPE.union(FactSet::SIZE).union(FactSet::PERM)).unwrap();
    assert_eq!(
        String::from_utf8(r.to_bytes()).unwrap(),
        "250-Listing /dir/a b.txt\r\n type=file;size=5;perm=r; /dir/a b.txt\r\n250 End.\r\n"
    );
    let r = mlst_reply(&Entry::new("/", EntryKind::Dir, 0, 0), FactSet::NONE).unwrap();
    assert_eq!(String::from_utf8(r.to_bytes()).unwrap(), "250-Listing /\r\n  /\r\n250 End.\r\n");
}

#[test]
fn opts_mlst_follows_rfc_3659_and_pyftpdlib() {
    assert_eq!(FactSet::parse_opts("type;"), Some(FactSet::TYPE));
    assert_eq!(FactSet::parse_opts("TypE;"), Some(FactSet::TYPE));
    assert_eq!(FactSet::parse_opts(""), Some(FactSet::NONE));
    assert_eq!(FactSet::parse_opts("fish;cakes;"), Some(FactSet::NONE));
    assert_eq!(FactSet::parse_opts("fish;cakes;type;"), Some(FactSet::TYPE));
    assert_eq!(FactSet::parse_opts("size;type;unique;modify;perm;"), Some(FactSet::ALL));
    assert_eq!(FactSet::parse_opts("bad_fact"), None);
    assert_eq!(FactSet::parse_opts("type ;"), None);
    assert_eq!(FactSet::TYPE.union(FactSet::SIZE).selected(), "type;size;");
    assert_eq!(FactSet::NONE.selected(), "");
    assert_eq!(FactSet::ALL.feat_list(), "type*;size*;modify*;perm*;unique*;");
    assert_eq!(FactSet::TYPE.feat_list(), "type*;size;modify;perm;unique;");
}
