//! The fixed texts of the FTP front end: the FEAT reply (RFC 2389), HELP
//! (RFC 959), and SYST. FEAT depends on the server's settings (active mode,
//! TLS) and on the session's `OPTS MLST` selection, so it is built from
//! [`FeatOptions`]; HELP is built from the verb table.

use super::listing::FactSet;
use super::reply::Reply;
use super::verb::Verb;

/// What FEAT advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatOptions {
    /// FTPS is configured: list AUTH TLS, PBSZ and PROT (RFC 4217 §6).
    pub tls: bool,
    /// Active mode is enabled (`--ftp-active`): list EPRT.
    pub active: bool,
    /// The MLST facts the session has selected (marked `*`).
    pub facts: FactSet,
}

/// The one HASH algorithm (draft-bryan-ftpext-hash).
pub const HASH_ALGORITHM: &str = "SHA-256";

/// The FEAT reply: `211-Features:`, one extension per line (each sent after
/// one space, as RFC 2389 requires), `211 End`. Lines are in ASCII order.
pub fn feat_reply(opts: &FeatOptions) -> Reply {
    let mut lines: Vec<String> = Vec::new();
    if opts.tls {
        lines.push("AUTH TLS".into());
    }
    if opts.active {
        lines.push("EPRT".into());
    }
    lines.push("EPSV".into());
    lines.push(format!("HASH {HASH_ALGORITHM}*"));
    lines.push("MDTM".into());
    lines.push(format!("MLST {}", opts.facts.feat_list()));
    lines.push("PASV".into());
    if opts.tls {
        lines.push("PBSZ".into());
        lines.push("PROT".into());
    }
    lines.push("REST STREAM".into());
    lines.push("SIZE".into());
    lines.push("TVFS".into());
    lines.push("UTF8".into());
    Reply::multi(211, "Features:", lines, "End")
}

/// The reply to HELP: with a verb, `214 Syntax: ...`; without, the
/// implemented command words (aliases included), eight to a line.
pub fn help_reply(verb: Option<Verb>) -> Reply {
    if let Some(v) = verb {
        return Reply::new(214, v.help());
    }
    let mut words: Vec<&str> = Verb::ALL
        .iter()
        .filter(|v| v.supported())
        .flat_map(|v| std::iter::once(v.name()).chain(v.aliases().iter().copied()))
        .collect();
    words.sort_unstable();
    let body = words.chunks(8).map(|row| row.iter().map(|w| format!("{w:<6}")).collect::<Vec<_>>().join(" ")).collect();
    Reply::multi(214, "The following commands are recognized:", body, "Help OK.")
}

/// The reply to SYST. "UNIX Type: L8" is what clients expect for a server
/// whose listings are `ls -l` style and whose files are 8-bit bytes.
pub fn syst_reply() -> Reply {
    Reply::new(215, "UNIX Type: L8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Reply) -> String {
        String::from_utf8(r.to_bytes()).unwrap()
    }

    #[test]
    fn feat_without_tls_or_active() {
        let r = feat_reply(&FeatOptions { tls: false, active: false, facts: FactSet::ALL });
        assert_eq!(
            text(&r),
            "211-Features:\r\n EPSV\r\n HASH SHA-256*\r\n MDTM\r\n MLST type*;size*;modify*;perm*;unique*;\r\n PASV\r\n \
             REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n"
        );
    }

    #[test]
    fn feat_with_tls_and_active_lists_them() {
        let r = feat_reply(&FeatOptions { tls: true, active: true, facts: FactSet::TYPE });
        let t = text(&r);
        for line in [" AUTH TLS\r\n", " EPRT\r\n", " PBSZ\r\n", " PROT\r\n", " MLST type*;size;modify;perm;unique;\r\n"]
        {
            assert!(t.contains(line), "{line:?} in {t}");
        }
        // Sorted, so a client's eye (and a diff) finds lines easily.
        let mut body: Vec<&str> = t.lines().filter(|l| l.starts_with(' ')).collect();
        let original = body.clone();
        body.sort_unstable();
        assert_eq!(body, original);
    }

    #[test]
    fn help_lists_every_supported_word_and_no_unsupported_one() {
        let t = text(&help_reply(None));
        assert!(t.starts_with("214-The following commands are recognized:\r\n"));
        assert!(t.ends_with("214 Help OK.\r\n"));
        let words: Vec<&str> = t.lines().filter(|l| l.starts_with(' ')).flat_map(|l| l.split_whitespace()).collect();
        for v in Verb::ALL {
            assert_eq!(words.contains(&v.name()), v.supported(), "{v}");
        }
        assert!(words.contains(&"XPWD"));
        assert_eq!(text(&help_reply(Some(Verb::Retr))), "214 Syntax: RETR <SP> file-name (download)\r\n");
    }

    #[test]
    fn syst() {
        assert_eq!(text(&syst_reply()), "215 UNIX Type: L8\r\n");
    }
}
