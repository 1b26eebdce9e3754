"""Interop checks on data transfers: STOR/RETR of 0, 1 and many bytes,
byte-identical; REST resume after a cut, both ways; ABOR in the middle of a
RETR (ftplib's urgent ABOR, and a Telnet IP/DM prefixed one); the quota
refusal."""

import socket

from common import CheckFailed, expect, expect_code, final_reply, read_exactly, reset_close, retr, sha, stor

IAC_IP_DM = b"\xff\xf4\xff\xf2"


def _round_trip(ctx, name, data):
    ftp = ctx.connect()
    resp = stor(ftp, name, data)
    expect(resp.startswith("226"), f"STOR {name}: {resp!r}")
    expect(ftp.size(name) == len(data), f"SIZE {name} after STOR: {ftp.size(name)} != {len(data)}")
    got = retr(ftp, name)
    expect(len(got) == len(data), f"RETR {name}: {len(got)} bytes, expected {len(data)}")
    expect(sha(got) == sha(data), f"RETR {name}: content differs from what was stored")
    ftp.quit()


def stor_retr_empty(ctx):
    """An empty file goes up and comes back empty."""
    _round_trip(ctx, "empty.bin", b"")


def stor_retr_one_byte(ctx):
    """A 1-byte file goes up and comes back identical."""
    _round_trip(ctx, "one.bin", b"\xff")


def stor_retr_big(ctx):
    """A large file (--big-mib, 64 MiB by default) goes up and comes back byte-identical."""
    data = ctx.data(ctx.args.big_mib * 1024 * 1024)
    _round_trip(ctx, "big.bin", data)
    return f"{ctx.args.big_mib} MiB, sha256 {sha(data)[:16]}…"


def rest_resume_retr(ctx):
    """A download cut after 1 MiB resumes with REST 1 MiB + RETR, and the two parts make the file."""
    data = ctx.data(16 * 1024 * 1024, seed=2)
    ftp = ctx.connect()
    stor(ftp, "resume-get.bin", data)
    cut = 1024 * 1024
    conn = ftp.transfercmd("RETR resume-get.bin")
    first = read_exactly(conn, cut)
    expect(len(first) == cut, f"read {len(first)} bytes before the cut")
    reset_close(conn)
    # The transfer was cut: 426 (or 451). A 226 is tolerated: the server may
    # have written everything to the socket before it saw the reset.
    resp = final_reply(ftp)
    expect(resp[:3] in ("426", "451", "226"), f"reply after the cut: {resp!r}")
    rest = retr(ftp, "resume-get.bin", rest=cut)
    expect(first + rest == data, f"resumed download differs ({len(first)} + {len(rest)} bytes)")
    ftp.quit()
    return f"cut reply {resp[:3]}"


def rest_resume_stor(ctx):
    """An upload cut by a reset is completed afterwards: REST <SIZE> + STOR of the rest if the server shows what it kept, a fresh STOR if it keeps the cut upload hidden; the result is byte-identical either way."""
    data = ctx.data(8 * 1024 * 1024, seed=3)
    ftp = ctx.connect()
    conn = ftp.transfercmd("STOR resume-put.bin")
    conn.sendall(data[: 3 * 1024 * 1024])
    reset_close(conn)
    resp = final_reply(ftp)
    try:
        kept = ftp.size("resume-put.bin")
    except Exception:
        kept = None
    if kept:
        expect(0 < kept <= 3 * 1024 * 1024, f"SIZE after the cut: {kept}")
        final = stor(ftp, "resume-put.bin", data[kept:], rest=kept)
        how = f"resumed at {kept} (REST + STOR)"
    else:
        final = stor(ftp, "resume-put.bin", data)
        how = "cut upload hidden; sent again whole"
    expect(final.startswith("226"), f"final STOR: {final!r}")
    got = retr(ftp, "resume-put.bin")
    expect(got == data, f"after resuming: {len(got)} bytes, differs from the {len(data)} sent")
    ftp.quit()
    return f"cut reply {resp[:3]}; {how}"


def _abor_mid_retr(ctx, send_abor):
    data = ctx.data(ctx.args.big_mib * 1024 * 1024)
    ftp = ctx.connect()
    stor(ftp, "abort.bin", data)
    conn = ftp.transfercmd("RETR abort.bin")
    got = read_exactly(conn, 256 * 1024)
    expect(len(got) == 256 * 1024, "could not read the first 256 KiB")
    send_abor(ftp)
    first = ftp.getline()
    if first[:3] == "426":
        # The transfer's reply; then the ABOR's own.
        second = ftp.getline()
        expect(second[:3] in ("226", "225"), f"after 426, expected 226 for ABOR, got {second!r}")
        replies = f"{first[:3]} then {second[:3]}"
    else:
        raise CheckFailed(f"expected 426 for the aborted transfer, got {first!r}")
    conn.close()
    # The session is still usable.
    expect(ftp.sendcmd("NOOP").startswith("200"), "NOOP after ABOR")
    expect(ftp.size("abort.bin") == len(data), "the file is intact after ABOR")
    ftp.quit()
    return replies


def abor_mid_retr(ctx):
    """ABOR sent as ftplib sends it (urgent, MSG_OOB) in the middle of a RETR: 426, then 226."""
    def send(ftp):
        ftp.sock.sendall(b"ABOR\r\n", socket.MSG_OOB)
    return _abor_mid_retr(ctx, send)


def abor_mid_retr_telnet(ctx):
    """ABOR preceded by Telnet IAC IP, IAC DM (RFC 959 §4.1.3), in band, in the middle of a RETR: 426, then 226."""
    def send(ftp):
        ftp.sock.sendall(IAC_IP_DM + b"ABOR\r\n")
    return _abor_mid_retr(ctx, send)


def quota_refusal(ctx):
    """An upload larger than the free quota is refused with 552, and nothing is left visible under its name."""
    a = ctx.args
    if a.quota_bytes is None:
        raise CheckFailed("needs --quota-bytes (and an account with that much free quota)")
    user = a.quota_user or a.user
    password = a.quota_password or a.password
    ftp = ctx.connect(user=user, password=password)
    name = f"over-quota-{ctx.scratch}.bin"
    data = ctx.data(a.quota_bytes + 1024 * 1024, seed=4)
    try:
        resp = stor(ftp, name, data)
    except Exception as e:  # 552 before or after 150, or a reset data connection
        resp = str(e)
        if resp[:3] != "552":
            # The server may reset the data connection first; the 552 follows.
            resp = final_reply(ftp)
    expect(resp[:3] == "552", f"over-quota STOR: expected 552, got {resp!r}")
    expect_code(lambda: ftp.size(name), ("550",), "SIZE of the refused upload")
    ftp.quit()
    return resp.strip()
