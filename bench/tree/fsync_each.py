#!/usr/bin/env python3
# For bench/tree/run.sh: fsyncs every regular file under DIR, one by one,
# then every folder, so a tar copy ends as durable as mioftp leaves each
# file it receives (data fsynced, then the folder holding its name).
#
# usage: fsync_each.py DIR
import os
import sys

for folder, _, names in os.walk(sys.argv[1]):
    for name in names:
        fd = os.open(os.path.join(folder, name), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
