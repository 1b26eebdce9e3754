"""Runs pyftpdlib's own ftpbench (the script's path is the first argument,
its options follow) with one change, made from outside: in the concurrent
STOR phase each client stores its own file name ($testfile.N) instead of all
of them the same one.

Why: mioftpd refuses a second upload to a path that is being uploaded (450,
"busy": one hidden partial per path, the rule both of its front ends
share), where pyftpdlib lets every client overwrite the one file at once.
With the same name, ftpbench stops at that 450. The change applies to both
servers, so both do the same work: N files of 10 MiB each.
"""

import ftplib
import itertools
import runpy
import sys

_transfercmd = ftplib.FTP.transfercmd
_numbers = itertools.count(1)


def transfercmd(self, cmd, rest=None):
    if cmd.startswith("STOR ") and sys._getframe(1).f_code.co_name == "bench_multi_stor":
        cmd = f"{cmd}.{next(_numbers)}"
    return _transfercmd(self, cmd, rest)


ftplib.FTP.transfercmd = transfercmd
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
