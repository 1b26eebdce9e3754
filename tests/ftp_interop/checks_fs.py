"""Interop checks on sessions, folders, files and listings: login, failed
login, PWD/CWD/CDUP, MKD/RMD, DELE, RNFR/RNTO, LIST, NLST, MLSD, MLST."""


from common import expect, expect_code, stor


def login(ctx):
    """USER/PASS of a valid account gets 230, and PWD works after it."""
    ftp = ctx.connect(login=False)
    welcome = ftp.getwelcome()
    expect(welcome.startswith("220"), f"greeting is not 220: {welcome!r}")
    resp = ftp.sendcmd(f"USER {ctx.args.user}")
    expect(resp.startswith("331"), f"USER: {resp!r}")
    resp = ftp.sendcmd(f"PASS {ctx.args.password}")
    expect(resp.startswith("230"), f"PASS: {resp!r}")
    expect(ftp.pwd().startswith("/"), "PWD after login")
    ftp.quit()


def failed_login(ctx):
    """A wrong password and a missing account both get 331 then 530, with the same text."""
    texts = []
    for user, password in [(ctx.args.user, ctx.args.password + "-wrong"), ("no-such-user-x7", "whatever")]:
        ftp = ctx.connect(login=False)
        resp = ftp.sendcmd(f"USER {user}")
        expect(resp.startswith("331"), f"USER {user}: expected 331 for every name, got {resp!r}")
        texts.append(expect_code(lambda: ftp.sendcmd(f"PASS {password}"), ("530",), f"PASS for {user}"))
        # Not logged in: a file command is refused.
        expect_code(lambda: ftp.sendcmd("PWD"), ("530",), "PWD before login")
        ftp.close()
    expect(texts[0] == texts[1], f"the refusals differ, which tells accounts apart: {texts!r}")


def pwd_cwd(ctx):
    """PWD answers 257 with the quoted path; CWD, CDUP and a CWD to a missing folder."""
    ftp = ctx.connect()
    base = "/" + ctx.scratch
    expect(ftp.pwd() == base, f"PWD is {ftp.pwd()!r}, expected {base!r}")
    ftp.mkd('with "quotes"')
    ftp.cwd('with "quotes"')
    expect(ftp.pwd() == f'{base}/with "quotes"', f"PWD with quotes: {ftp.pwd()!r}")
    resp = ftp.sendcmd("CDUP")
    expect(resp[:3] in ("200", "250"), f"CDUP: {resp!r}")
    expect(ftp.pwd() == base, f"PWD after CDUP: {ftp.pwd()!r}")
    expect_code(lambda: ftp.cwd("no-such-dir"), ("550",), "CWD to a missing folder")
    expect(ftp.pwd() == base, "a failed CWD must not move")
    ftp.sendcmd("XCWD " + 'with "quotes"')
    expect(ftp.sendcmd("XPWD").startswith("257"), "XPWD")
    ftp.quit()


def mkd_rmd(ctx):
    """MKD answers 257 with the path; MKD of an existing folder, RMD, RMD of a missing one."""
    ftp = ctx.connect()
    path = ftp.mkd("newdir")
    expect(path.endswith("newdir"), f"MKD returned {path!r}")
    expect_code(lambda: ftp.mkd("newdir"), ("550", "521"), "MKD of an existing folder")
    ftp.mkd("newdir/inner")
    expect_code(lambda: ftp.rmd("newdir"), ("550",), "RMD of a folder that is not empty")
    ftp.rmd("newdir/inner")
    resp = ftp.rmd("newdir")
    expect(resp.startswith("250"), f"RMD: {resp!r}")
    expect_code(lambda: ftp.rmd("newdir"), ("550",), "RMD of a missing folder")
    ftp.quit()


def dele(ctx):
    """DELE removes a file; a second DELE and DELE of a folder get 550."""
    ftp = ctx.connect()
    stor(ftp, "victim.bin", b"abc")
    expect(ftp.size("victim.bin") == 3, "SIZE after STOR")
    resp = ftp.delete("victim.bin")
    expect(resp.startswith("250"), f"DELE: {resp!r}")
    expect_code(lambda: ftp.size("victim.bin"), ("550",), "SIZE after DELE")
    expect_code(lambda: ftp.delete("victim.bin"), ("550",), "second DELE")
    ftp.mkd("adir")
    expect_code(lambda: ftp.delete("adir"), ("550",), "DELE of a folder")
    ftp.quit()


def rename(ctx):
    """RNFR/RNTO renames a file and a folder, overwrites a file, and RNTO alone gets 503."""
    ftp = ctx.connect()
    stor(ftp, "old.bin", b"one")
    ftp.rename("old.bin", "new.bin")
    expect_code(lambda: ftp.size("old.bin"), ("550",), "the old name after RNTO")
    expect(ftp.size("new.bin") == 3, "the new name after RNTO")
    stor(ftp, "other.bin", b"second file")
    ftp.rename("other.bin", "new.bin")
    expect(ftp.size("new.bin") == len(b"second file"), "RNTO over an existing file replaces it")
    ftp.mkd("dir-a")
    ftp.rename("dir-a", "dir-b")
    ftp.cwd("dir-b")
    ftp.cwd("..")
    expect_code(lambda: ftp.rename("missing.bin", "x.bin"), ("550",), "RNFR of a missing file")
    expect_code(lambda: ftp.sendcmd("RNTO x.bin"), ("503",), "RNTO without RNFR")
    ftp.quit()


def _listing_fixture(ftp):
    ftp.mkd("list")
    ftp.cwd("list")
    stor(ftp, "a.txt", b"abc")
    stor(ftp, "empty.bin", b"")
    ftp.mkd("sub")


def listings(ctx):
    """LIST (with and without -la), NLST, MLSD and MLST agree on a known folder."""
    ftp = ctx.connect()
    _listing_fixture(ftp)
    expected = {"a.txt", "empty.bin", "sub"}

    names = set(ftp.nlst())
    names = {n.rsplit("/", 1)[-1] for n in names} - {".", ".."}
    expect(names == expected, f"NLST: {sorted(names)}")

    for cmd in ("LIST", "LIST -la", "LIST -a"):
        lines = []
        ftp.retrlines(cmd, lines.append)
        lines = [l for l in lines if not l.startswith("total")]
        by_name = {l.split()[-1]: l for l in lines if l.split()[-1] not in (".", "..")}
        expect(set(by_name) == expected, f"{cmd}: names {sorted(by_name)}")
        expect(by_name["sub"].startswith("d"), f"{cmd}: sub is not a directory: {by_name['sub']!r}")
        expect(by_name["a.txt"].startswith("-"), f"{cmd}: a.txt is not a file: {by_name['a.txt']!r}")
        expect(by_name["a.txt"].split()[4] == "3", f"{cmd}: size column of a.txt: {by_name['a.txt']!r}")

    facts = {n: f for n, f in ftp.mlsd(facts=["type", "size", "modify"]) if f.get("type") not in ("cdir", "pdir")}
    expect(set(facts) == expected, f"MLSD names: {sorted(facts)}")
    expect(facts["a.txt"].get("type") == "file" and facts["a.txt"].get("size") == "3", f"MLSD a.txt: {facts['a.txt']}")
    expect(facts["sub"].get("type") == "dir", f"MLSD sub: {facts['sub']}")
    modify = facts["a.txt"].get("modify", "")
    expect(len(modify) >= 14 and modify[:14].isdigit(), f"MLSD modify fact: {modify!r}")

    resp = ftp.sendcmd("MLST a.txt")
    lines = resp.splitlines()
    expect(lines[0].startswith("250-") and lines[-1].startswith("250"), f"MLST framing: {resp!r}")
    expect(lines[1].startswith(" ") and "type=file;" in lines[1].lower(), f"MLST fact line: {lines[1]!r}")
    expect(lines[1].rstrip().endswith("a.txt"), f"MLST path: {lines[1]!r}")
    expect_code(lambda: ftp.sendcmd("MLST no-such-file"), ("550",), "MLST of a missing path")
    expect_code(lambda: ftp.retrlines("LIST no-such-dir", lambda _: None), ("550", "450"), "LIST of a missing path")

    empty = []
    ftp.retrlines("NLST sub", empty.append)
    expect(empty == [], f"NLST of an empty folder: {empty}")
    ftp.quit()


def feat_and_misc(ctx):
    """FEAT lists the extensions clients rely on; SYST, NOOP, TYPE, MODE, STRU, SIZE and MDTM answer as RFC 959 and 3659 say."""
    ftp = ctx.connect()
    feat = ftp.sendcmd("FEAT")
    for word in ("UTF8", "EPSV", "MLST", "SIZE", "MDTM", "REST STREAM"):
        expect(word in feat, f"FEAT lacks {word}: {feat!r}")
    expect(ftp.sendcmd("SYST").startswith("215"), "SYST")
    expect(ftp.sendcmd("NOOP").startswith("200"), "NOOP")
    expect(ftp.sendcmd("TYPE A").startswith("200"), "TYPE A")
    expect(ftp.sendcmd("TYPE I").startswith("200"), "TYPE I")
    expect(ftp.sendcmd("MODE S").startswith("200"), "MODE S")
    expect(ftp.sendcmd("STRU F").startswith("200"), "STRU F")
    expect_code(lambda: ftp.sendcmd("MODE B"), ("504",), "MODE B")
    expect_code(lambda: ftp.sendcmd("XYZZY"), ("500",), "unknown command")
    expect_code(lambda: ftp.sendcmd("RETR"), ("501",), "RETR without an argument")
    stor(ftp, "t.bin", b"12345")
    expect(ftp.size("t.bin") == 5, "SIZE")
    mdtm = ftp.sendcmd("MDTM t.bin")
    expect(mdtm.startswith("213 ") and mdtm[4:18].isdigit(), f"MDTM: {mdtm!r}")
    ftp.quit()


ALL = [
    ("login", login),
    ("failed_login", failed_login),
    ("pwd_cwd", pwd_cwd),
    ("mkd_rmd", mkd_rmd),
    ("dele", dele),
    ("rename", rename),
    ("listings", listings),
    ("feat_and_misc", feat_and_misc),
]
