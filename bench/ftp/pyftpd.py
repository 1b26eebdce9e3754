"""pyftpdlib's standard server (FTPServer + FTPHandler + DummyAuthorizer, the
same classes `python -m pyftpdlib` uses), with its connection limits raised
to fit the benchmark's clients: `python -m pyftpdlib` has no flag for them
and its default of 512 connections is less than 300 clients' control and
data connections.

usage: pyftpd.py HOST PORT ROOT USER PASSWORD PASSIVE_LOW PASSIVE_HIGH
"""

import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

host, port, root, user, password, low, high = sys.argv[1:8]
authorizer = DummyAuthorizer()
authorizer.add_user(user, password, root, perm="elradfmwMT")
handler = FTPHandler
handler.authorizer = authorizer
handler.passive_ports = range(int(low), int(high) + 1)
server = FTPServer((host, int(port)), handler)
server.max_cons = 4096
server.max_cons_per_ip = 0
server.serve_forever()
