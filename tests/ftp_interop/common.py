"""Shared helpers of the FTP interop runner: the run context (arguments,
scratch folder, cached payloads), connections, transfers and assertions.
Standard library only."""

import ftplib
import hashlib
import io
import random
import socket


class CheckFailed(Exception):
    """A check's expectation did not hold; the message says which."""


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def expect_code(fn, codes, what):
    """Runs fn(), which must fail with an ftplib error whose reply code is in
    `codes`; returns the reply text."""
    try:
        resp = fn()
    except ftplib.all_errors as e:
        text = str(e)
        expect(text[:3] in codes, f"{what}: expected {'/'.join(codes)}, got {text!r}")
        return text
    raise CheckFailed(f"{what}: expected {'/'.join(codes)}, got success {resp!r}")


def final_reply(ftp):
    """The next reply's text, whether positive or not (ftplib raises on 4yz
    and 5yz; here a refusal is an answer to look at, not an error)."""
    try:
        return ftp.getresp()
    except ftplib.all_errors as e:
        return str(e)


def payload(size, seed):
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Ctx:
    """What every check shares: arguments, a scratch folder, payloads."""

    def __init__(self, args):
        self.args = args
        self.scratch = f"mioftp-interop-{random.SystemRandom().randrange(16**8):08x}"
        self._payloads = {}

    def connect(self, login=True, user=None, password=None, source=None):
        """A new control connection, logged in unless told otherwise, with
        its working directory at the scratch folder."""
        ftp = ftplib.FTP(timeout=self.args.timeout)
        ftp.connect(self.args.host, self.args.port, source_address=source)
        if login:
            ftp.login(user or self.args.user, password or self.args.password)
            ftp.voidcmd("TYPE I")
            if user is None:
                ftp.cwd("/" + self.scratch)
        return ftp

    def setup(self):
        ftp = ftplib.FTP(timeout=self.args.timeout)
        ftp.connect(self.args.host, self.args.port)
        ftp.login(self.args.user, self.args.password)
        ftp.mkd("/" + self.scratch)
        ftp.quit()

    def teardown(self):
        """Best effort: remove the scratch folder and everything in it."""
        try:
            ftp = ftplib.FTP(timeout=self.args.timeout)
            ftp.connect(self.args.host, self.args.port)
            ftp.login(self.args.user, self.args.password)
            remove_tree(ftp, "/" + self.scratch)
            ftp.quit()
        except ftplib.all_errors as e:
            print(f"note: could not remove /{self.scratch}: {e}")

    def data(self, size, seed=1):
        key = (size, seed)
        if key not in self._payloads:
            self._payloads[key] = payload(size, seed)
        return self._payloads[key]


def remove_tree(ftp, path):
    for name, facts in list(ftp.mlsd(path, facts=["type"])):
        if name in (".", ".."):
            continue
        child = f"{path}/{name}"
        if facts.get("type") == "dir":
            remove_tree(ftp, child)
        else:
            ftp.delete(child)
    ftp.rmd(path)


def stor(ftp, name, data, blocksize=256 * 1024, rest=None):
    """STOR (binary); returns the final reply."""
    return ftp.storbinary(f"STOR {name}", io.BytesIO(data), blocksize=blocksize, rest=rest)


def retr(ftp, name, rest=None):
    """RETR (binary); returns the bytes."""
    out = bytearray()
    ftp.retrbinary(f"RETR {name}", out.extend, blocksize=256 * 1024, rest=rest)
    return bytes(out)


def read_exactly(conn, n):
    """Reads exactly n bytes from a data socket (fewer only at EOF)."""
    out = bytearray()
    while len(out) < n:
        chunk = conn.recv(min(256 * 1024, n - len(out)))
        if not chunk:
            break
        out.extend(chunk)
    return bytes(out)


def read_to_eof(conn):
    out = bytearray()
    while True:
        chunk = conn.recv(256 * 1024)
        if not chunk:
            return bytes(out)
        out.extend(chunk)


def reset_close(sock):
    """Closes with a TCP RST instead of a FIN (SO_LINGER 0): a cut, not an end."""
    import struct

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
