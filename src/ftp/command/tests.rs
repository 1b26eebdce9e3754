//! Unit tests of the command parser: every verb with and without its
//! argument, the 500/501/502/504/522 distinctions, ls-flag stripping, and
//! the cases pyftpdlib's functional tests check.

use super::*;

fn ok(line: &str) -> Command {
    parse(line).unwrap_or_else(|e| panic!("{line:?}: {e:?}"))
}

fn code(line: &str) -> u16 {
    match parse(line) {
        Ok(c) => panic!("{line:?} parsed as {c:?}"),
        Err(e) => e.code(),
    }
}

#[test]
fn verbs_are_case_insensitive_and_aliases_work() {
    assert_eq!(ok("user alice"), Command::User("alice".into()));
    assert_eq!(ok("UsEr alice"), Command::User("alice".into()));
    assert_eq!(ok("xpwd"), Command::Pwd);
    assert_eq!(ok("XCWD /a"), Command::Cwd(Some("/a".into())));
    assert_eq!(ok("xcup"), Command::Cdup);
    assert_eq!(ok("XMKD d"), Command::Mkd("d".into()));
    assert_eq!(ok("xrmd d"), Command::Rmd("d".into()));
}

#[test]
fn every_supported_verb_parses_and_reports_itself() {
    // One valid line per supported verb.
    let lines = [
        "USER a",
        "PASS b",
        "QUIT",
        "NOOP",
        "SYST",
        "FEAT",
        "OPTS UTF8 ON",
        "HELP",
        "PWD",
        "CWD x",
        "CDUP",
        "TYPE I",
        "MODE S",
        "STRU F",
        "ALLO 10",
        "PASV",
        "EPSV",
        "PORT 127,0,0,1,4,1",
        "EPRT |1|127.0.0.1|2000|",
        "LIST",
        "NLST",
        "MLSD",
        "MLST",
        "RETR f",
        "STOR f",
        "APPE f",
        "REST 0",
        "SIZE f",
        "MDTM f",
        "DELE f",
        "MKD d",
        "RMD d",
        "RNFR a",
        "RNTO b",
        "ABOR",
        "STAT",
        "HASH f",
        "AUTH TLS",
        "PBSZ 0",
        "PROT P",
        "CCC",
    ];
    let mut seen = Vec::new();
    for line in lines {
        let c = ok(line);
        let verb = c.verb();
        assert!(line.starts_with(verb.name()), "{line} -> {verb}");
        seen.push(verb);
    }
    for v in Verb::ALL.iter().filter(|v| v.supported()) {
        assert!(seen.contains(v), "{v} has no sample line");
    }
}

#[test]
fn unknown_verbs_are_500_with_no_verb() {
    for line in ["", " ", "FOO", "RETRX f", "SITEFOO bar", "\u{e9}t\u{e9}", "MLS", "12345"] {
        let e = parse(line).unwrap_err();
        assert_eq!((e.kind, e.verb, e.code()), (ParseErrorKind::UnknownCommand, None, 500), "{line:?}");
        assert!(e.precedes_login_check());
    }
}

#[test]
fn missing_and_unexpected_arguments_are_501_as_pyftpdlib_words_them() {
    for verb in [
        "allo", "appe", "dele", "eprt", "mdtm", "mkd", "mode", "opts", "port", "rest", "retr", "rmd", "rnfr", "rnto",
        "size", "stor", "stru", "type", "user", "xmkd", "xrmd", "hash", "auth", "pbsz", "prot",
    ] {
        let e = parse(verb).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::MissingArgument, "{verb}");
        assert_eq!(e.reply().to_bytes(), b"501 Syntax error: command needs an argument.\r\n");
        // A lone trailing space is no argument either.
        assert_eq!(parse(&format!("{verb} ")).unwrap_err().kind, ParseErrorKind::MissingArgument);
    }
    for verb in ["abor", "cdup", "feat", "noop", "pasv", "pwd", "quit", "syst", "xcup", "xpwd", "ccc"] {
        let e = parse(&format!("{verb} arg")).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::UnexpectedArgument, "{verb}");
        assert_eq!(e.reply().to_bytes(), b"501 Syntax error: command does not accept arguments.\r\n");
        assert!(e.precedes_login_check());
    }
}

#[test]
fn known_but_unsupported_verbs_are_502() {
    for line in ["SITE CHMOD 777 f", "SITE", "STOU", "ACCT x", "SMNT /", "REIN", "site help"] {
        let e = parse(line).unwrap_err();
        assert_eq!((e.kind, e.code()), (ParseErrorKind::NotImplemented, 502), "{line}");
        assert!(e.verb.is_some());
    }
    // Arity comes first, as in pyftpdlib.
    assert_eq!(code("REIN now"), 501);
}

#[test]
fn path_arguments_are_kept_verbatim() {
    assert_eq!(ok("RETR  two spaces "), Command::Retr(" two spaces ".into()));
    assert_eq!(ok("STOR a;b \"c\""), Command::Stor("a;b \"c\"".into()));
    assert_eq!(ok("PASS"), Command::Pass(String::new()));
    assert_eq!(ok("PASS "), Command::Pass(String::new()));
    assert_eq!(ok("PASS  x "), Command::Pass(" x ".into()));
    assert_eq!(ok("CWD"), Command::Cwd(None));
    assert_eq!(ok("MLST"), Command::Mlst(None));
    assert_eq!(ok("STAT /"), Command::Stat(Some("/".into())));
}

#[test]
fn ls_flags_are_stripped_from_list_and_nlst() {
    assert_eq!(ok("LIST"), Command::List(None));
    for flags in ["-a", "-l", "-al", "-la", "-la ", "-a -l", "-LA1"] {
        assert_eq!(ok(&format!("LIST {flags}")), Command::List(None), "{flags}");
    }
    assert_eq!(ok("LIST -la /dir"), Command::List(Some("/dir".into())));
    assert_eq!(ok("LIST -l -a sub dir"), Command::List(Some("sub dir".into())));
    assert_eq!(ok("NLST -a x"), Command::Nlst(Some("x".into())));
    assert_eq!(ok("LIST -- -name"), Command::List(Some("-name".into())));
    assert_eq!(ok("LIST ./-name"), Command::List(Some("./-name".into())));
    assert_eq!(ok("LIST -"), Command::List(Some("-".into())));
    assert_eq!(ok("LIST -x.y"), Command::List(Some("-x.y".into())));
}

#[test]
fn type_mode_and_stru() {
    for (line, t) in [
        ("TYPE A", DataType::Ascii),
        ("type a n", DataType::Ascii),
        ("TYPE AN", DataType::Ascii),
        ("TYPE I", DataType::Image),
        ("type i", DataType::Image),
        ("TYPE L 8", DataType::Image),
        ("TYPE L8", DataType::Image),
    ] {
        assert_eq!(ok(line), Command::Type(t), "{line}");
    }
    for line in ["TYPE E", "TYPE L 7", "TYPE L7", "TYPE A T", "TYPE A C"] {
        assert_eq!(code(line), 504, "{line}");
    }
    assert_eq!(parse("TYPE ?!?").unwrap_err().reply().code, 501);
    assert_eq!(ok("mode s"), Command::ModeStream);
    assert_eq!(ok("MODE S"), Command::ModeStream);
    assert_eq!(parse("mode b").unwrap_err().reply().to_bytes(), b"504 Unimplemented MODE type.\r\n");
    assert_eq!(code("MODE C"), 504);
    assert_eq!(parse("mode ?!?").unwrap_err().reply().to_bytes(), b"501 Unrecognized MODE type.\r\n");
    assert_eq!(ok("stru f"), Command::StruFile);
    assert_eq!(code("STRU R"), 504);
    assert_eq!(code("STRU P"), 504);
    assert_eq!(code("STRU ?!?"), 501);
    // A bad argument is not a shape error: before login it is a 530.
    assert!(!parse("TYPE ?!?").unwrap_err().precedes_login_check());
}

#[test]
fn rest_pbsz_and_allo_take_plain_decimals() {
    assert_eq!(ok("REST 0"), Command::Rest(0));
    assert_eq!(ok("REST 18446744073709551615"), Command::Rest(u64::MAX));
    for bad in ["REST str", "REST -1", "REST 10.1", "REST +5", "REST 18446744073709551616", "REST 1 2"] {
        assert_eq!(code(bad), 501, "{bad}");
    }
    assert_eq!(ok("ALLO 1000"), Command::Allo(1000));
    assert_eq!(ok("ALLO 1000 R 512"), Command::Allo(1000));
    for bad in ["ALLO x", "ALLO 1 2", "ALLO 1 R", "ALLO 1 R x", "ALLO -1"] {
        assert_eq!(code(bad), 501, "{bad}");
    }
    assert_eq!(ok("PBSZ 0"), Command::Pbsz(0));
    assert_eq!(code("PBSZ x"), 501);
}

#[test]
fn pasv_family_commands() {
    assert_eq!(ok("EPSV"), Command::Epsv(EpsvArg::Any));
    assert_eq!(ok("EPSV 1"), Command::Epsv(EpsvArg::Family(1)));
    assert_eq!(ok("epsv 2"), Command::Epsv(EpsvArg::Family(2)));
    assert_eq!(ok("epsv all"), Command::Epsv(EpsvArg::All));
    assert_eq!(code("EPSV 3"), 522);
    assert_eq!(code("EPSV x"), 501);
    assert_eq!(ok("PORT 127,0,0,1,195,81"), Command::Port("127.0.0.1:50001".parse().unwrap()));
    assert_eq!(parse("port 127,0,0,1").unwrap_err().reply().to_bytes(), b"501 Invalid PORT format.\r\n");
    assert_eq!(ok("EPRT |2|::1|5000|"), Command::Eprt("[::1]:5000".parse().unwrap()));
    assert_eq!(parse("eprt ||||").unwrap_err().reply().to_bytes(), b"501 Invalid EPRT format.\r\n");
    let e = parse("eprt |3|127.0.0.1|2000|").unwrap_err();
    assert_eq!(e.reply().to_bytes(), b"522 Network protocol not supported, use (1,2)\r\n");
}

#[test]
fn opts_variants() {
    assert_eq!(ok("OPTS UTF8 ON"), Command::Opts(Opts::Utf8(true)));
    assert_eq!(ok("opts utf8"), Command::Opts(Opts::Utf8(true)));
    assert_eq!(ok("OPTS UTF-8 off"), Command::Opts(Opts::Utf8(false)));
    assert_eq!(ok("opts mLSt TypE;"), Command::Opts(Opts::Mlst(FactSet::TYPE)));
    assert_eq!(ok("opts mlst"), Command::Opts(Opts::Mlst(FactSet::NONE)));
    assert_eq!(ok("OPTS HASH"), Command::Opts(Opts::Hash(None)));
    assert_eq!(ok("OPTS HASH SHA-256"), Command::Opts(Opts::Hash(Some("SHA-256".into()))));
    for bad in ["opts mlst bad_fact", "opts mlst type ;", "opts not_mlst", "OPTS UTF8 maybe"] {
        assert_eq!(code(bad), 501, "{bad}");
    }
}

#[test]
fn help_takes_a_known_verb() {
    assert_eq!(ok("HELP"), Command::Help(None));
    assert_eq!(ok("help retr"), Command::Help(Some(Verb::Retr)));
    assert_eq!(ok("HELP XPWD"), Command::Help(Some(Verb::Pwd)));
    assert_eq!(ok("HELP SITE"), Command::Help(Some(Verb::Site)));
    assert_eq!(parse("help ?!?").unwrap_err().reply().to_bytes(), b"501 Unrecognized command.\r\n");
}

#[test]
fn tls_commands() {
    assert_eq!(ok("AUTH TLS"), Command::Auth(AuthMechanism::Tls));
    assert_eq!(ok("auth tls-c"), Command::Auth(AuthMechanism::Tls));
    assert_eq!(ok("AUTH SSL"), Command::Auth(AuthMechanism::Ssl));
    assert_eq!(code("AUTH KERBEROS_V4"), 504);
    assert_eq!(ok("PROT C"), Command::Prot(ProtLevel::Clear));
    assert_eq!(ok("prot p"), Command::Prot(ProtLevel::Private));
    assert_eq!(ok("PROT S"), Command::Prot(ProtLevel::Safe));
    assert_eq!(ok("PROT E"), Command::Prot(ProtLevel::Confidential));
    assert_eq!(code("PROT X"), 504);
    assert_eq!(ok("CCC"), Command::Ccc);
}

#[test]
fn urgent_leftovers_before_abor_stat_quit_are_tolerated() {
    assert_eq!(ok("\u{f2}ABOR"), Command::Abor);
    assert_eq!(ok("!!abor"), Command::Abor);
    assert_eq!(ok("..STAT"), Command::Stat(None));
    assert_eq!(ok("\u{1}QUIT"), Command::Quit);
    // Only those three, and only after non-letters.
    assert_eq!(code("xABOR"), 500);
    assert_eq!(code("!!RETR f"), 500);
}

#[test]
fn login_requirements() {
    assert!(!ok("USER a").needs_login());
    assert!(!ok("FEAT").needs_login());
    assert!(!ok("OPTS UTF8 ON").needs_login());
    assert!(!ok("STAT").needs_login());
    assert!(ok("STAT /").needs_login());
    assert!(ok("PWD").needs_login());
    assert!(ok("RETR f").needs_login());
    assert!(ok("TYPE I").needs_login());
    assert!(!ok("AUTH TLS").needs_login());
    assert_eq!(parse("RETR").unwrap_err().verb, Some(Verb::Retr));
}
