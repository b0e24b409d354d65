#!/usr/bin/env python3
"""A quick XmlWinEventLog stream for load tests of `escudo run`: N Sysmon EventID 1 events, one
a line, `--eps` a second from `--start`, every `--every`-th one a `net share` command the seed
detection finds (the rest are ordinary process starts that pass the provider and event id
filters). Much faster than tools/gen/escudo-gen, with less variety."""
import argparse
import sys
from datetime import datetime, timezone

ap = argparse.ArgumentParser()
ap.add_argument("--events", type=int, required=True)
ap.add_argument("--start", default="2024-03-06T00:00:00Z")
ap.add_argument("--eps", type=float, default=100.0)
ap.add_argument("--every", type=int, default=1000)
a = ap.parse_args()
t0 = datetime.fromisoformat(a.start.replace("Z", "+00:00")).timestamp()
T = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
     "<Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
     "<TimeCreated SystemTime='{ts}'/><EventRecordID>{n}</EventRecordID>"
     "<Computer>WS{h:04d}.corp.example.com</Computer></System><EventData>"
     "<Data Name='Image'>C:\\Windows\\System32\\{img}</Data>"
     "<Data Name='OriginalFileName'>{img}</Data>"
     "<Data Name='CommandLine'>{cl}</Data><Data Name='User'>CORP\\u{u:03d}</Data>"
     "<Data Name='ParentImage'>C:\\Windows\\System32\\cmd.exe</Data>"
     "<Data Name='ParentCommandLine'>cmd.exe</Data></EventData></Event>\n")
out = sys.stdout
buf = []
base = None
for n in range(a.events):
    t = t0 + n / a.eps
    sec = int(t)
    if sec != base:
        base = sec
        stamp = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    ts = f"{stamp}.{int((t - sec) * 1e6):06d}Z"
    if n % a.every == a.every - 1:
        buf.append(T.format(ts=ts, n=n, h=n % 500, img="net.exe",
                            cl=f"net share s{n % 7}=C:\\s{n % 7}", u=n % 300))
    else:
        buf.append(T.format(ts=ts, n=n, h=n % 500, img="whoami.exe", cl="whoami /all", u=n % 300))
    if len(buf) >= 10000:
        out.write("".join(buf))
        buf.clear()
out.write("".join(buf))
