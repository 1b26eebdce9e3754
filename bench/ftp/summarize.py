"""Reads the ftpbench logs bench/ftp/run.sh wrote and prints the comparison
table (min-max over the repetitions) as markdown, plus a JSON of every
figure next to the logs.

usage: summarize.py OUT_DIR CLIENTS REPEAT
"""

import json
import pathlib
import re
import sys

out, clients, repeat = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

# (row label in the table, ftpbench's label, unit, bigger is better)
ROWS = [
    ("STOR throughput (one client)", "STOR (client -> server)", "MB/s", True),
    ("RETR throughput (one client)", "RETR (server -> client)", "MB/s", True),
    (f"{clients} logins (connect, USER, PASS)", f"{clients} concurrent clients (connect, login)", "s", False),
    (f"STOR beside {clients} idle clients", f"STOR (1 file with {clients} idle clients)", "MB/s", True),
    (f"RETR beside {clients} idle clients", f"RETR (1 file with {clients} idle clients)", "MB/s", True),
    (f"{clients} concurrent RETR of 10 MiB", f"{clients} concurrent clients (RETR 10.0M file)", "s", False),
    (f"{clients} concurrent STOR of 10 MiB", f"{clients} concurrent clients (STOR 10.0M file)", "s", False),
    (f"{clients} QUIT", f"{clients} concurrent clients (QUIT)", "s", False),
]
LINE = re.compile(r"^(?P<label>.+?)\s+(?P<value>[0-9.]+)\s+(?P<unit>MB/sec|secs)\s*$")
RSS = re.compile(r"^server RSS after the run: (\d+) KiB$")


def parse(path):
    figures = {}
    for line in path.read_text().splitlines():
        m = LINE.match(line.strip())
        if m:
            figures[m["label"].strip()] = float(m["value"])
        m = RSS.match(line.strip())
        if m:
            figures["rss_kib"] = int(m[1])
    return figures


runs = {}
for server in ["mioftpd", "pyftpdlib", "mioftpd-nocache"]:
    runs[server] = [parse(out / f"{server}-{i}.txt") for i in range(1, repeat + 1) if (out / f"{server}-{i}.txt").exists()]
(out / "ftpbench.json").write_text(json.dumps(runs, indent=1) + "\n")


def span(values, unit):
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    fmt = "{:.0f}" if unit == "MB/s" else "{:.2f}"
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"


def values(server, label):
    return [r[label] for r in runs[server] if label in r]


print(f"| row ({repeat} runs, min-max) | mioftpd | pyftpdlib | ahead? |")
print("|---|---|---|---|")
for name, label, unit, bigger in ROWS:
    ours, theirs = values("mioftpd", label), values("pyftpdlib", label)
    ahead = ""
    if ours and theirs:
        mid = lambda v: sorted(v)[len(v) // 2]
        ahead = "yes" if (mid(ours) > mid(theirs)) == bigger else "no"
    print(f"| {name} | {span(ours, unit)} {unit} | {span(theirs, unit)} {unit} | {ahead} |")
    if label.endswith("(connect, login)"):
        nocache = values("mioftpd-nocache", label)
        print(f"| {name}, credential cache off | {span(nocache, unit)} {unit} | (no KDF) | |")
ours = [r["rss_kib"] / 1024 for r in runs["mioftpd"] if "rss_kib" in r]
theirs = [r["rss_kib"] / 1024 for r in runs["pyftpdlib"] if "rss_kib" in r]
mid = lambda v: sorted(v)[len(v) // 2] if v else 0
print(f"| server RSS after the run | {span(ours, 'MiB')} MiB | {span(theirs, 'MiB')} MiB | "
      f"{'yes' if ours and theirs and mid(ours) < mid(theirs) else 'no'} |")
