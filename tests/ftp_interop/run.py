#!/usr/bin/env python3
"""FTP interop runner: named checks against a live FTP server, on the
standard library's ftplib only (no install needed).

It proves that a real, unmodified client (Python's ftplib, with the same
command sequences curl, lftp and FileZilla use) can do everything issue 15
lists against mioftpd's FTP front end: log in, manage files and folders, list
in all four ways, transfer empty, 1-byte and large files byte-identically,
resume after a cut, abort mid-download, be refused over quota, be refused a
PORT bounce, see a foreign-IP data connection refused, and run 200 clients at
once.

Usage:
    run.py --host 127.0.0.1 --port 2100 --user alice --password secret \\
           [--quota-user bob --quota-password pw --quota-bytes 1048576] \\
           [--only NAME ...] [--skip NAME ...] [--list]

Every check works in its own scratch folder under the user's home
(`mioftp-interop-<random>`), removed at the end. The exit status is 0 only if
every check that ran passed. `--skip` exists for dry runs against servers
that lack a feature (pyftpdlib has no quota); it is refused when CI=true, so
CI can never skip a check.
"""

import argparse
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import checks  # noqa: E402
from common import CheckFailed, Ctx  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2100)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--quota-user", help="account with a small quota (default: --user)")
    p.add_argument("--quota-password", help="its password (default: --password)")
    p.add_argument("--quota-bytes", type=int, help="that account's free quota, in bytes")
    p.add_argument("--big-mib", type=int, default=64, help="size of the large transfer (MiB)")
    p.add_argument("--clients", type=int, default=200, help="concurrent clients")
    p.add_argument("--timeout", type=float, default=60.0, help="socket timeout, seconds")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these checks")
    p.add_argument("--skip", action="append", default=[], metavar="NAME", help="skip a check (not allowed when CI=true)")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    names = [name for name, _ in checks.ALL]
    if args.list:
        for name, fn in checks.ALL:
            print(f"{name:28} {fn.__doc__.strip().splitlines()[0]}")
        return 0
    unknown = [n for n in args.only + args.skip if n not in names]
    if unknown:
        print(f"unknown check(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if args.skip and os.environ.get("CI", "").lower() == "true":
        print("--skip is refused under CI=true: every check must run", file=sys.stderr)
        return 2

    ctx = Ctx(args)
    results = []  # (name, status, seconds, detail)
    try:
        ctx.setup()
    except Exception as e:  # the server is not there, or login fails
        print(f"setup failed: {e}", file=sys.stderr)
        return 1
    for name, fn in checks.ALL:
        if args.only and name not in args.only:
            continue
        if name in args.skip:
            results.append((name, "SKIP", 0.0, "skipped by --skip"))
            print(f"SKIP {name}", flush=True)
            continue
        start = time.monotonic()
        try:
            detail = fn(ctx) or ""
            status = "PASS"
        except CheckFailed as e:
            status, detail = "FAIL", str(e)
        except Exception as e:  # a crash in a check is a failure, with its trace
            status = "FAIL"
            detail = f"{type(e).__name__}: {e}\n" + traceback.format_exc(limit=4)
        took = time.monotonic() - start
        results.append((name, status, took, detail))
        line = f"{status} {name} ({took:.2f}s)"
        if detail:
            line += f": {detail}"
        print(line, flush=True)
    ctx.teardown()

    failed = [r for r in results if r[1] == "FAIL"]
    skipped = [r for r in results if r[1] == "SKIP"]
    passed = [r for r in results if r[1] == "PASS"]
    print()
    print(f"summary: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped "
          f"({args.host}:{args.port})")
    for name, _, _, detail in failed:
        first = detail.splitlines()[0] if detail else ""
        print(f"  FAILED  {name}: {first}")
    for name, _, _, _ in skipped:
        print(f"  SKIPPED {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
