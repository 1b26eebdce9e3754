#!/usr/bin/env python3
# Writes the benchmark's tree for bench/tree/run.sh: FILES files of mixed
# sizes in nested folders (up to four levels, 80 folders), from a
# seeded PRNG so every run and every machine gets the same bytes. Sizes:
# 70% under 4 KiB (some empty), 25% from 4 KiB to 256 KiB, 5% from 256 KiB
# to 2 MiB. Prints the total number of bytes.
#
# usage: gen.py DIR [FILES] [SEED]
import os
import random
import sys

root = sys.argv[1]
files = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
rng = random.Random(seed)
total = 0
for i in range(files):
    c = i % 20
    if c < 14:
        size = rng.randrange(4096)
    elif c < 19:
        size = 4096 + rng.randrange(252 * 1024)
    else:
        size = 256 * 1024 + rng.randrange(1792 * 1024)
    shape = i % 7
    if shape == 0:
        d = ""
    elif shape < 3:
        d = f"d{i % 5}"
    elif shape < 5:
        d = f"d{i % 5}/s{i % 3}"
    else:
        d = f"d{i % 5}/s{i % 3}/deep{i % 2}/deeper"
    folder = os.path.join(root, d)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"f{i:04}.bin"), "wb") as f:
        f.write(rng.randbytes(size))
    total += size
print(total)
