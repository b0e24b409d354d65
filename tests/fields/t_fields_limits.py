#!/usr/bin/env python3
"""The caps of search-time extraction (docs/limits.md, "Search-time fields"):
  - ESC_XML_MAX_SYS (64): an event with 80 System elements keeps 64 of them (the reader
    records the warning "too many System elements; extra ones dropped" on the event) and is
    still printed with its data;
  - ESC_FIELDS_MAX_MV (64): an alias copies at most 64 values of a multivalue field
    (FIELDALIAS-service_for_windows over 80 ServiceName values), the field itself keeps all 80.
Environment: ESCUDO."""

import json
import os
import subprocess
import sys
import tempfile


def main():
    escudo = os.environ.get("ESCUDO")
    elems = "".join("<a%d>v%d</a%d>" % (i, i, i) for i in range(80))
    many_sys = ("<Event><System><Provider Name='P'/><EventID>1</EventID>"
                "%s<Channel>Security</Channel><Computer>H</Computer></System>"
                "<EventData><Data Name='X'>1</Data></EventData></Event>" % elems)
    many_mv = ("<Event><System><Provider Name='P'/><EventID>7045</EventID>"
               "<Channel>System</Channel><Computer>H</Computer></System><EventData>%s"
               "</EventData></Event>"
               % "".join("<Data Name='ServiceName'>s%d</Data>" % i for i in range(80)))
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "e.xml")
        with open(path, "w") as f:
            f.write(many_sys + "\n" + many_mv + "\n")
        out = subprocess.run([escudo, "dump", "--fields", path], capture_output=True)
    lines = out.stdout.decode().splitlines()
    err = out.stderr.decode()
    if out.returncode != 0 or len(lines) != 2:
        print("t_fields_limits: exit %d, %d lines\n%s" % (out.returncode, len(lines), err))
        return 1
    a, b = json.loads(lines[0]), json.loads(lines[1])
    kept = [k for k in a if k.startswith("a") and k[1:].isdigit()]
    # 64 System entries: Provider@Name, EventID, then 62 of the elements
    if len(kept) != 62 or a.get("X") != "1" or "Channel" in a:
        bad.append("System cap: %d attributes kept, stderr %r" % (len(kept), err))
    if len(b.get("ServiceName", [])) != 80 or len(b.get("service", [])) != 64:
        bad.append("alias cap: ServiceName %d values, service %d"
                   % (len(b.get("ServiceName", [])), len(b.get("service", []))))
    for x in bad:
        print("t_fields_limits: " + x)
    print("t_fields_limits: %s" % ("ok" if not bad else "FAILED"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
