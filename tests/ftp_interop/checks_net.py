"""Interop checks on the network side: PORT/EPRT bounce attempts refused
before any connection, a data connection from a foreign address (127.0.0.2)
refused while the real client's transfer goes through, and many clients at
once."""

import ftplib
import select
import socket
import threading

from common import CheckFailed, expect, expect_code, final_reply, payload, read_to_eof, retr, sha, stor

FOREIGN = "127.0.0.2"


def _listener(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(4)
    return s


def _port_arg(host, port):
    return ",".join(host.split(".") + [str(port >> 8), str(port & 0xFF)])


def port_bounce(ctx):
    """PORT and EPRT naming another host, or a privileged port, are refused (5yz) and no connection reaches the target."""
    expect(ctx.args.host.startswith("127."), "needs a loopback --host (the foreign target is 127.0.0.2)")
    ftp = ctx.connect()
    target = _listener(FOREIGN)
    try:
        tport = target.getsockname()[1]
        attempts = [
            f"PORT {_port_arg(FOREIGN, tport)}",
            f"EPRT |1|{FOREIGN}|{tport}|",
            f"PORT {_port_arg('127.0.0.1', 21)}",
            "EPRT |1|127.0.0.1|23|",
        ]
        codes = []
        for cmd in attempts:
            text = expect_code(lambda: ftp.sendcmd(cmd), ("500", "501", "502", "504", "522"), cmd)
            codes.append(text[:3])
            # Had the server taken the address, a transfer would now connect to it.
            _transfer_without_data_connection(ftp)
        ready, _, _ = select.select([target], [], [], 1.0)
        expect(not ready, "the bounce target received a connection")
    finally:
        target.close()
    ftp.quit()
    # Active mode to the client's own address, if the server allows active
    # mode, on a fresh session.
    ftp = ctx.connect()
    stor(ftp, "active.txt", b"x")
    own = _listener("127.0.0.1")
    try:
        oport = own.getsockname()[1]
        try:
            resp = ftp.sendcmd(f"PORT {_port_arg('127.0.0.1', oport)}")
        except ftplib.error_perm as e:
            resp = str(e)
        if resp.startswith("200"):
            ftp.putcmd("NLST")
            own.settimeout(ctx.args.timeout)
            conn, _ = own.accept()
            mark = final_reply(ftp)
            names = read_to_eof(conn)
            conn.close()
            done = final_reply(ftp)
            expect(mark[:3] in ("125", "150") and done.startswith("226"), f"active NLST: {mark!r}, {done!r}")
            expect(b"active.txt" in names, f"active NLST data: {names!r}")
            active = "active mode to own address works"
        else:
            expect(resp[:3] == "502", f"PORT to own address: expected 200 or 502 (active off), got {resp!r}")
            active = "active mode is off (502)"
    finally:
        own.close()
    ftp.quit()
    return f"refusals {'/'.join(codes)}; {active}"


def _transfer_without_data_connection(ftp):
    """Asks for a listing with no usable data connection: a server that
    connects lazily would try the refused address now. The reply is a
    refusal (4yz/5yz), or, as pyftpdlib does, a 150 while it waits for a data
    connection, which an ABOR then cancels."""
    ftp.putcmd("NLST")
    resp = final_reply(ftp)
    if resp.startswith("1"):
        ftp.putcmd("ABOR")
        for _ in range(3):
            resp = final_reply(ftp)
            if resp.startswith("2"):
                return
        raise CheckFailed(f"ABOR of a transfer waiting for its connection: {resp!r}")
    expect(resp[:1] in ("4", "5"), f"NLST with no data connection: {resp!r}")


def foreign_ip_data(ctx):
    """A connection to the passive port from 127.0.0.2 gets no data and is closed; the client's own connection then lists normally."""
    expect(ctx.args.host.startswith("127."), "needs a loopback --host")
    ftp = ctx.connect()
    stor(ftp, "foreign.txt", b"x")
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    intruder = socket.create_connection((host, port), timeout=ctx.args.timeout, source_address=(FOREIGN, 0))
    try:
        legit = socket.create_connection((host, port), timeout=ctx.args.timeout)
    except ConnectionRefusedError:
        raise CheckFailed("the passive port closed after the foreign connection: it was taken as the data connection")
    ftp.putcmd("NLST")
    notes = []

    def reply():
        # pyftpdlib reports the rejection as an extra, unsolicited 425 on the
        # control connection, before or after the client's own replies. That
        # breaks the one-reply-per-command pairing; it is noted, not failed.
        r = final_reply(ftp)
        if r.startswith("425") and "foreign" in r.lower():
            notes.append("server sent an unsolicited 425 about the foreign connection")
            r = final_reply(ftp)
        return r

    mark = reply()
    expect(mark[:3] in ("125", "150"), f"NLST on the client's own connection: {mark!r}")
    listing = read_to_eof(legit)
    legit.close()
    done = reply()
    expect(done.startswith("226"), f"end of the listing: {done!r}")
    intruder.settimeout(ctx.args.timeout)
    try:
        stolen = intruder.recv(65536)
    except ConnectionResetError:
        stolen = b""
    except socket.timeout:
        raise CheckFailed("the foreign data connection was neither served nor closed")
    finally:
        intruder.close()
    expect(stolen == b"", f"the foreign connection received {len(stolen)} bytes")
    expect(b"foreign.txt" in listing, f"the client's listing lacks foreign.txt: {listing!r}")
    ftp.quit()
    return "; ".join(notes + [f"client listing {len(listing)} bytes"])


def concurrent_clients(ctx):
    """--clients (200) clients log in, all stay connected at once, then each stores and reads back its own file."""
    n = ctx.args.clients
    barrier = threading.Barrier(n, timeout=ctx.args.timeout * 2)
    errors = []
    lock = threading.Lock()

    def client(i):
        ftp = None
        try:
            ftp = ctx.connect()
            barrier.wait()
            data = payload(64 * 1024 + i, seed=1000 + i)
            stor(ftp, f"client-{i}.bin", data)
            got = retr(ftp, f"client-{i}.bin")
            if sha(got) != sha(data):
                raise CheckFailed(f"client {i}: read back differs")
            ftp.delete(f"client-{i}.bin")
            ftp.quit()
        except Exception as e:
            with lock:
                errors.append(f"client {i}: {type(e).__name__}: {e}")
            try:
                barrier.abort()
            except Exception:
                pass
            if ftp is not None:
                ftp.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    real = [e for e in errors if "BrokenBarrierError" not in e]
    expect(not errors, f"{len(errors)} of {n} clients failed; first: {(real or errors)[:3]}")
    return f"{n} clients"


ALL = [
    ("port_bounce", port_bounce),
    ("foreign_ip_data", foreign_ip_data),
    ("concurrent_clients", concurrent_clients),
]
