//! The FTP command words this server knows, with what each needs: whether
//! it takes an argument, whether it needs a logged-in session, and the line
//! HELP gives for it. One table, so that the parser, HELP and docs/FTP.md
//! cannot disagree.
//!
//! X-aliases (XPWD, XCWD, XCUP, XMKD, XRMD, from RFC 775) map to the same
//! [`Verb`] as the standard word.

/// Whether a verb takes an argument (pyftpdlib's three-way rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Must have none: `PWD x` is a 501.
    None,
    /// Must have one: a bare `RETR` is a 501.
    Required,
    /// Either.
    Optional,
}

macro_rules! verbs {
    ($($v:ident $name:literal [$($alias:literal),*] $arity:ident $login:literal $supported:literal $help:literal;)*) => {
        /// A known FTP command word.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Verb { $($v,)* }

        impl Verb {
            /// Every verb, in HELP order.
            pub const ALL: &'static [Verb] = &[$(Verb::$v,)*];

            /// The standard (upper-case) word.
            pub fn name(self) -> &'static str {
                match self { $(Verb::$v => $name,)* }
            }

            /// The alternative words for this verb (the RFC 775 X-forms).
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(Verb::$v => &[$($alias),*],)* }
            }

            /// Finds a verb by its word or an alias, ignoring ASCII case.
            pub fn lookup(word: &str) -> Option<Verb> {
                $(
                    if word.eq_ignore_ascii_case($name) $(|| word.eq_ignore_ascii_case($alias))* {
                        return Some(Verb::$v);
                    }
                )*
                None
            }

            /// Whether the verb takes an argument.
            pub fn arity(self) -> Arity {
                match self { $(Verb::$v => Arity::$arity,)* }
            }

            /// Whether the verb needs a logged-in session (else 530). STAT
            /// with an argument needs one too: see `Command::needs_login`.
            pub fn needs_login(self) -> bool {
                match self { $(Verb::$v => $login,)* }
            }

            /// False for words we recognise but do not implement (502).
            pub fn supported(self) -> bool {
                match self { $(Verb::$v => $supported,)* }
            }

            /// Syntax and purpose, as `HELP <verb>` gives it.
            pub fn help(self) -> &'static str {
                match self { $(Verb::$v => $help,)* }
            }
        }
    };
}

verbs! {
    //   name    aliases   arity   login supported help
    User "USER" [] Required false true "Syntax: USER <SP> user-name (set the user to log in as)";
    Pass "PASS" [] Optional false true "Syntax: PASS [<SP> password] (the user's password)";
    Acct "ACCT" [] Required false false "Syntax: ACCT <SP> account (not implemented)";
    Quit "QUIT" [] None false true "Syntax: QUIT (end the session)";
    Rein "REIN" [] None false false "Syntax: REIN (not implemented)";
    Noop "NOOP" [] None false true "Syntax: NOOP (do nothing)";
    Syst "SYST" [] None false true "Syntax: SYST (the system type)";
    Feat "FEAT" [] None false true "Syntax: FEAT (list the extensions supported)";
    Opts "OPTS" [] Required false true "Syntax: OPTS <SP> UTF8 ON | MLST fact-list | HASH [<SP> algorithm]";
    Help "HELP" [] Optional false true "Syntax: HELP [<SP> command]";
    Pwd "PWD" ["XPWD"] None true true "Syntax: PWD (the current directory)";
    Cwd "CWD" ["XCWD"] Optional true true "Syntax: CWD [<SP> dir-name] (change directory; home without an argument)";
    Cdup "CDUP" ["XCUP"] None true true "Syntax: CDUP (go to the parent directory)";
    Smnt "SMNT" [] Required true false "Syntax: SMNT <SP> path-name (not implemented)";
    Type "TYPE" [] Required true true "Syntax: TYPE <SP> A | I (A is accepted and treated as I)";
    Mode "MODE" [] Required true true "Syntax: MODE <SP> S (stream mode only)";
    Stru "STRU" [] Required true true "Syntax: STRU <SP> F (file structure only)";
    Allo "ALLO" [] Required true true "Syntax: ALLO <SP> bytes [<SP> R <SP> record-size] (reserve space for the next upload)";
    Pasv "PASV" [] None true true "Syntax: PASV (open a passive data port, IPv4)";
    Epsv "EPSV" [] Optional true true "Syntax: EPSV [<SP> 1 | 2 | ALL] (open an extended passive data port)";
    Port "PORT" [] Required true true "Syntax: PORT <SP> h1,h2,h3,h4,p1,p2 (active mode, if enabled)";
    Eprt "EPRT" [] Required true true "Syntax: EPRT <SP> |af|address|port| (extended active mode, if enabled)";
    List "LIST" [] Optional true true "Syntax: LIST [<SP> path-name] (long listing; ls flags are ignored)";
    Nlst "NLST" [] Optional true true "Syntax: NLST [<SP> path-name] (names only)";
    Mlsd "MLSD" [] Optional true true "Syntax: MLSD [<SP> dir-name] (machine listing of a directory, RFC 3659)";
    Mlst "MLST" [] Optional true true "Syntax: MLST [<SP> path-name] (machine facts of one entry, RFC 3659)";
    Retr "RETR" [] Required true true "Syntax: RETR <SP> file-name (download)";
    Stor "STOR" [] Required true true "Syntax: STOR <SP> file-name (upload)";
    Stou "STOU" [] Optional true false "Syntax: STOU (not implemented)";
    Appe "APPE" [] Required true true "Syntax: APPE <SP> file-name (upload, appending)";
    Rest "REST" [] Required true true "Syntax: REST <SP> offset (restart the next transfer at offset)";
    Size "SIZE" [] Required true true "Syntax: SIZE <SP> file-name (size of a file, in bytes)";
    Mdtm "MDTM" [] Required true true "Syntax: MDTM <SP> file-name (modification time, UTC)";
    Dele "DELE" [] Required true true "Syntax: DELE <SP> file-name (delete a file)";
    Mkd "MKD" ["XMKD"] Required true true "Syntax: MKD <SP> dir-name (make a directory)";
    Rmd "RMD" ["XRMD"] Required true true "Syntax: RMD <SP> dir-name (remove an empty directory)";
    Rnfr "RNFR" [] Required true true "Syntax: RNFR <SP> path-name (rename from)";
    Rnto "RNTO" [] Required true true "Syntax: RNTO <SP> path-name (rename to)";
    Abor "ABOR" [] None true true "Syntax: ABOR (abort the transfer in progress)";
    Stat "STAT" [] Optional false true "Syntax: STAT [<SP> path-name] (session status, or a listing on the control connection)";
    Hash "HASH" [] Required true true "Syntax: HASH <SP> file-name (SHA-256 of a file)";
    Site "SITE" [] Optional true false "Syntax: SITE <SP> command (not implemented)";
    Auth "AUTH" [] Required false true "Syntax: AUTH <SP> TLS (start TLS on the control connection)";
    Pbsz "PBSZ" [] Required false true "Syntax: PBSZ <SP> 0 (protection buffer size, with TLS)";
    Prot "PROT" [] Required false true "Syntax: PROT <SP> C | P (data channel protection, with TLS)";
    Ccc "CCC" [] None false true "Syntax: CCC (clear the control channel; always refused)";
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_looks_up_to_its_verb_in_any_case() {
        for &v in Verb::ALL {
            for word in std::iter::once(v.name()).chain(v.aliases().iter().copied()) {
                assert_eq!(Verb::lookup(word), Some(v), "{word}");
                assert_eq!(Verb::lookup(&word.to_ascii_lowercase()), Some(v), "{word}");
                assert!(word.bytes().all(|b| b.is_ascii_uppercase()), "{word} is upper-case letters");
            }
        }
        assert_eq!(Verb::lookup("xpwd"), Some(Verb::Pwd));
        assert_eq!(Verb::lookup("PWDX"), None);
        assert_eq!(Verb::lookup(""), None);
    }

    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> =
            Verb::ALL.iter().flat_map(|v| std::iter::once(v.name()).chain(v.aliases().iter().copied())).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn login_free_verbs_are_exactly_the_session_and_tls_ones() {
        let free: Vec<&str> = Verb::ALL.iter().filter(|v| !v.needs_login()).map(|v| v.name()).collect();
        assert_eq!(
            free,
            [
                "USER", "PASS", "ACCT", "QUIT", "REIN", "NOOP", "SYST", "FEAT", "OPTS", "HELP", "STAT", "AUTH", "PBSZ",
                "PROT", "CCC"
            ]
        );
    }

    #[test]
    fn the_unsupported_ones_are_the_brief_list() {
        let unsupported: Vec<&str> = Verb::ALL.iter().filter(|v| !v.supported()).map(|v| v.name()).collect();
        assert_eq!(unsupported, ["ACCT", "REIN", "SMNT", "STOU", "SITE"]);
    }
}
