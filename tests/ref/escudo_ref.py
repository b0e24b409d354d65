#!/usr/bin/env python3
"""Independent reference for escudo: SPEC.md sections 2 and 4, XmlWinEventLog input only,
restricted to the seed detection "Create or delete windows shares using net exe".

Written from the specification alone (not from the C sources), so that the engine and this
script can check each other. Slow and simple on purpose.

What it does, in order:
  1. Reads XmlWinEventLog text: gzip or not; UTF-8 (optional BOM) or UTF-16 with a BOM;
     <Event> elements one after another, with or without an <Events> wrapper, pretty-printed
     or not; text between events (such as the banner line `evtxexport -f xml` prints) ignored.
  2. Maps Sysmon EventID 1 and Security 4688 events to CIM Endpoint.Processes records
     (SPEC section 2, profile `splunk` or `native`, notes (a) and (c)), and the other events
     the add-ons tag `process report` (Endpoint.Processes' constraint): Sysmon 5, 6, 8, 9, 10,
     15, 17, 18 (Splunk_TA_microsoft_sysmon eventtype ms-sysmon-process) and Security 4689,
     4696, 4673, 4674 (Splunk_TA_windows eventtype windows_endpoint_processes), with the
     fields the add-ons' props.conf gives them (docs/fields.md; see map_tagged).
  3. Runs the seed search (SPEC sections 1 and 4): `process_net`, group by process,
     process_name, parent_process_name, original_file_name, dest (fillnull "null"), count,
     values(user), values(parent_process), min/max(_time) with ctime, `search process=*share*`,
     rows sorted by the BY fields (byte order).
  4. Prints one JSON object a line, like `escudo hunt --format json`.

With --all the `process_net` and `*share*` filters are dropped, so every process record
becomes a row: that checks the CIM mapping on every event, not only on net.exe.

Decisions where the specification is silent (keep docs and this list in step):
  - Each event is parsed on its own with a real XML parser (expat through ElementTree).
    An event is the text from `<Event` (followed by space, `>` or `/`) to the next `</Event>`;
    if another `<Event` starts before that end, the first one is truncated and skipped.
    An event that is not well-formed XML (unclosed or mismatched tag, ...) is skipped and
    counted; every other event is still read.
  - An `&` that does not start a predefined entity or a character reference (`&foo;`,
    `&nbsp;`, a bare `&`) is kept as text and the record is kept (SPEC section 2: only a
    structurally broken record is skipped).
  - Characters that XML 1.0 forbids (C0 controls other than tab, LF, CR; U+FFFE; U+FFFF),
    which `evtxexport` prints raw, are kept in values as they are: before parsing they are
    swapped for private-use placeholders that do not occur in the input, and swapped back
    afterwards. The same holds for numeric character references to them (`&#x1;`).
    NUL (raw or `&#0;`) and references to UTF-16 surrogates become U+FFFD (SPEC section 2).
  - Raw CR characters are kept (no XML end-of-line normalisation), so that a value with
    CRLF reads the same from EVTX, XML and JSON.
  - Invalid UTF-8 is decoded with Python's "replace" handler (one U+FFFD per maximal invalid
    subsequence, as the Unicode standard recommends).
  - A value is the element's text content. `<Data>` elements without a Name are ignored; for
    a duplicated Name the last one wins.
  - A value that is absent, empty or exactly `-` is missing (whitespace is not trimmed).
  - basename() of a value that ends with `\` or `/` is empty, hence missing.
  - The 4688 split regex of note (a) uses ASCII whitespace for `\s` (PCRE without UCP). A
    command line with no match (only whitespace) is kept as it is.
  - Case-insensitive comparisons fold ASCII letters only (for the literals of this search,
    `net.exe`, `net1.exe` and `share`, full Unicode lower-casing gives the same answers).
  - Times: UtcTime `YYYY-MM-DD HH:MM:SS[.fff]` without zone is UTC; SystemTime is ISO 8601
    with an optional zone; an unparsable UtcTime falls back to the system time. A record with
    no usable time at all is kept and contributes no time (firstTime/lastTime absent if the
    whole group has none; this never happens in the test data).
"""

import argparse
import gzip
import io
import json
import re
import sys
import time
import xml.etree.ElementTree as ET

SYSMON = "Microsoft-Windows-Sysmon"
SECURITY = "Microsoft-Windows-Security-Auditing"
BY_FIELDS = ("process", "process_name", "parent_process_name", "original_file_name", "dest")
UNKNOWN_DEFAULT = ("dest", "user", "process", "process_name", "parent_process",
                   "parent_process_name", "original_file_name")
FILLNULL = "null"
CTIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

# ---------------------------------------------------------------------------------------------
# 1. Reading XmlWinEventLog


def read_bytes(path):
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    return data


def decode_text(data):
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:].decode("utf-8", "replace")
    if data[:2] == b"\xff\xfe":
        return data[2:].decode("utf-16-le", "replace")
    if data[:2] == b"\xfe\xff":
        return data[2:].decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace")


# Characters XML 1.0 does not allow (surrogates cannot occur in a decoded str here).
ILLEGAL = [chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)] + ["\ufffe", "\uffff"]
ILLEGAL_RE = re.compile("[" + "".join(re.escape(c) for c in ILLEGAL) + "]")
ILLEGAL_CR_RE = re.compile("[" + "".join(re.escape(c) for c in ILLEGAL) + "\r]")
TAG_RE = re.compile(r"(<[^>]*>)")
BAD_AMP_RE = re.compile(r"&(?!(?:lt|gt|amp|quot|apos|#[0-9]+|#[xX][0-9A-Fa-f]+);)")
CHARREF_RE = re.compile(r"&#(x[0-9A-Fa-f]+|[0-9]+);")
EVENT_START_RE = re.compile(r"<Event[\s>/]")
EVENT_END = "</Event>"


class Protector:
    """Swaps characters expat would reject (or normalise) for placeholders and back."""

    def __init__(self, text):
        # A block of private-use code points that the text does not use.
        base = 0xF0000
        used = set(ch for ch in text if ord(ch) >= 0xF0000)
        while any(chr(base + i) in used for i in range(len(ILLEGAL) + 1)):
            base += 64
        self.to_ph = {c: chr(base + i) for i, c in enumerate(ILLEGAL)}
        self.to_ph["\r"] = chr(base + len(ILLEGAL))
        self.to_ph["\x00"] = "\ufffd"  # NUL is replaced, not kept (SPEC section 2)
        self.from_ph = {v: k for k, v in self.to_ph.items() if k != "\x00"}
        self.back_re = re.compile("[" + "".join(self.from_ph) + "]")

    def protect(self, s):
        # CR is protected in text only: inside a tag it is plain white space.
        parts = TAG_RE.split(s)
        for i, part in enumerate(parts):
            rx = ILLEGAL_RE if i % 2 else ILLEGAL_CR_RE
            part = rx.sub(lambda m: self.to_ph[m.group(0)], part)
            part = BAD_AMP_RE.sub("&amp;", part)
            parts[i] = CHARREF_RE.sub(self._charref, part)
        return "".join(parts)

    def _charref(self, m):
        ref = m.group(1)
        try:
            cp = int(ref[1:], 16) if ref[0] in "xX" else int(ref)
        except ValueError:
            return m.group(0)
        if cp == 0 or 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
            return "\ufffd"
        ch = chr(cp)
        if ch in self.to_ph:
            return self.to_ph[ch]
        return m.group(0)

    def restore(self, s):
        if s is None:
            return None
        return self.back_re.sub(lambda m: self.from_ph[m.group(0)], s)


def local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def iter_events(text, stats):
    """Yields (raw dict) per well-formed <Event>: provider, event_id, system_time, computer,
    data (EventData name -> value)."""
    prot = Protector(text)
    pos = 0
    n = len(text)
    while True:
        m = EVENT_START_RE.search(text, pos)
        if not m:
            break
        start = m.start()
        # Self-closing <Event/>: structurally empty, skip.
        end = text.find(EVENT_END, start)
        nxt = EVENT_START_RE.search(text, start + 1)
        if end < 0 or (nxt and nxt.start() < end):
            stats["malformed"] += 1
            pos = nxt.start() if nxt else n
            if not nxt:
                break
            continue
        chunk = text[start:end + len(EVENT_END)]
        pos = end + len(EVENT_END)
        try:
            root = ET.fromstring(prot.protect(chunk))
        except ET.ParseError:
            stats["malformed"] += 1
            continue
        stats["events"] += 1
        yield to_raw(root, prot)


def text_of(el, prot):
    if el is None:
        return None
    return prot.restore("".join(el.itertext()))


def to_raw(root, prot):
    raw = {"provider": None, "event_id": None, "system_time": None, "computer": None,
           "data": {}}
    for child in root:
        name = local(child.tag)
        if name == "System":
            for s in child:
                sn = local(s.tag)
                if sn == "Provider":
                    raw["provider"] = prot.restore(s.get("Name"))
                elif sn == "EventID":
                    raw["event_id"] = text_of(s, prot)
                elif sn == "TimeCreated":
                    raw["system_time"] = prot.restore(s.get("SystemTime"))
                elif sn == "Computer":
                    raw["computer"] = text_of(s, prot)
        elif name == "EventData":
            for d in child:
                if local(d.tag) != "Data":
                    continue
                key = d.get("Name")
                if key is None:
                    continue
                raw["data"][prot.restore(key)] = text_of(d, prot)
    return raw


# ---------------------------------------------------------------------------------------------
# 2. CIM mapping (SPEC section 2)


def missing(v):
    return v is None or v == "" or v == "-"


def val(v):
    return None if missing(v) else v


def basename(p):
    if p is None:
        return None
    i = max(p.rfind("\\"), p.rfind("/"))
    return val(p[i + 1:])


def no_domain(u):
    if u is None:
        return None
    i = u.rfind("\\")
    rest = u[i + 1:]
    return rest if (i >= 0 and rest != "") else u


TIME_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?\s*$")


def parse_time(s):
    """Epoch seconds (float, sub-seconds kept) or None."""
    if s is None:
        return None
    m = TIME_RE.match(s)
    if not m:
        return None
    y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
    try:
        import calendar
        import datetime
        datetime.datetime(y, mo, d, h, mi, se)  # validates ranges
        t = calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))
    except ValueError:
        return None
    frac = float(m.group(7)) if m.group(7) else 0.0
    zone = m.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        z = zone[1:].replace(":", "")
        t -= sign * (int(z[:2]) * 3600 + int(z[2:]) * 60)
    return t + frac


SPLIT_4688 = re.compile(r'(^"[^"]+"|[^\s]+)\s*(.*)', re.ASCII)
WS_ASCII = re.compile(r"[ \t\n\r\f\v]+")


def process_4688_splunk(cmd, newproc):
    """SPEC section 2 note (a)."""
    if cmd is None:
        return newproc
    m = SPLIT_4688.search(cmd)
    if not m:
        return cmd
    token, args = m.group(1), m.group(2)
    if "\\" in token:
        return cmd
    if newproc is None:
        return None
    if re.search(r"\s", newproc):
        newproc = '"' + newproc + '"'
    return newproc + " " + args


def first_token(s):
    if s is None:
        return None
    parts = WS_ASCII.split(s.strip(" \t\n\r\f\v"))
    return val(parts[0]) if parts else None


SYSMON_TAGGED = (5, 6, 8, 9, 10, 15, 17, 18)
SECURITY_TAGGED = (4689, 4696, 4673, 4674)


def map_tagged(raw, eid, g, profile):
    """The add-ons' search-time fields of a non-creation process event, as the Processes
    dataset reads them. Sysmon ([source::XmlWinEventLog:Microsoft-Windows-Sysmon/Operational]):
    dest = Computer, user = User without its domain (native: as logged), process only for
    EventCode 1 (so missing here), process_name = basename of SourceImage for 8 and 10 (the
    process that acts), else of Image; no parent or OriginalFileName fields. Security
    ([source::XmlWinEventLog:Security]): dest = REPORT dest (TargetServerName without leading
    backslashes, else Computer); user = SubjectUserName for 4689/4673/4674, TargetUserName
    for 4696 (EVAL-user; `-` is missing); process = TargetProcessName for 4696, else
    ProcessName (EVAL-process); process_name = its basename (EVAL-process_name); for 4696
    parent_process = ProcessName and parent_process_name its basename (EVAL-parent_process*)."""
    rec = {"_time": parse_time(raw["system_time"])}
    if raw["provider"] == SYSMON:
        rec["dest"] = val(raw["computer"])
        rec["user"] = g("User") if profile == "native" else no_domain(g("User"))
        rec["process"] = None
        rec["process_name"] = basename(g("SourceImage") if eid in (8, 10) else g("Image"))
        rec["original_file_name"] = g("OriginalFileName")
        rec["parent_process"] = None
        rec["parent_process_name"] = None
        return rec
    server = g("TargetServerName")
    server = val(server.lstrip("\\")) if server is not None else None
    rec["dest"] = server if server is not None else val(raw["computer"])
    rec["user"] = g("TargetUserName") if eid == 4696 else g("SubjectUserName")
    rec["process"] = g("TargetProcessName") if eid == 4696 else g("ProcessName")
    rec["process_name"] = basename(rec["process"])
    rec["original_file_name"] = None
    rec["parent_process"] = g("ProcessName") if eid == 4696 else g("ParentProcessName")
    rec["parent_process_name"] = basename(rec["parent_process"])
    return rec


def map_record(raw, profile):
    provider = raw["provider"]
    try:
        eid = int((raw["event_id"] or "").strip())
    except ValueError:
        return None
    d = {k: val(v) for k, v in raw["data"].items()}
    g = d.get
    rec = {}
    if provider == SYSMON and eid == 1:
        t = parse_time(g("UtcTime"))
        if t is None:
            t = parse_time(raw["system_time"])
        rec["_time"] = t
        rec["dest"] = val(raw["computer"])
        rec["user"] = g("User") if profile == "native" else no_domain(g("User"))
        rec["process"] = g("CommandLine")
        rec["process_name"] = basename(g("Image"))
        rec["original_file_name"] = g("OriginalFileName")
        rec["parent_process"] = g("ParentCommandLine")
        rec["parent_process_name"] = basename(g("ParentImage"))
    elif provider == SECURITY and eid == 4688:
        rec["_time"] = parse_time(raw["system_time"])
        rec["dest"] = val(raw["computer"])
        if profile == "native":
            if g("TargetUserName") is not None:
                dom, usr = g("TargetDomainName"), g("TargetUserName")
            else:
                dom, usr = g("SubjectDomainName"), g("SubjectUserName")
            rec["user"] = None if usr is None else (usr if dom is None else dom + "\\" + usr)
            rec["process"] = g("CommandLine") if g("CommandLine") is not None \
                else g("NewProcessName")
        else:
            usr = g("TargetUserName")
            if usr is None:
                usr = g("SubjectUserName")
            rec["user"] = no_domain(usr)
            rec["process"] = process_4688_splunk(g("CommandLine"), g("NewProcessName"))
        rec["process_name"] = basename(g("NewProcessName"))
        rec["original_file_name"] = None
        rec["parent_process"] = g("ParentProcessName")
        rec["parent_process_name"] = basename(g("ParentProcessName"))
    elif (provider == SYSMON and eid in SYSMON_TAGGED) or \
            (provider == SECURITY and eid in SECURITY_TAGGED):
        rec = map_tagged(raw, eid, g, profile)
    else:
        return None
    # Note (c): names from the first token of the command when the path is missing.
    for name_f, cmd_f in (("process_name", "process"),
                          ("parent_process_name", "parent_process")):
        if rec[name_f] is None:
            rec[name_f] = first_token(rec[cmd_f])
    for f in UNKNOWN_DEFAULT:
        if rec.get(f) is None:
            rec[f] = "unknown"
    return rec


# ---------------------------------------------------------------------------------------------
# 3. The seed search (SPEC sections 1 and 4)


def ascii_lower(s):
    return s.translate(ASCII_LOWER)


ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def process_net(rec):
    names = ("net.exe", "net1.exe")
    for f in ("process_name", "original_file_name"):
        v = rec.get(f)
        if v is not None and ascii_lower(v) in names:
            return True
    return False


def ctime(t):
    import math
    return time.strftime(CTIME_FORMAT, time.gmtime(math.floor(t)))


def search(records, all_rows=False):
    groups = {}
    for rec in records:
        if not all_rows and not process_net(rec):
            continue
        key = tuple(rec.get(f) if rec.get(f) is not None else FILLNULL for f in BY_FIELDS)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"count": 0, "user": set(), "parent_process": set(),
                               "min": None, "max": None}
        g["count"] += 1
        for f in ("user", "parent_process"):
            if rec.get(f) is not None:
                g[f].add(rec[f])
        t = rec.get("_time")
        if t is not None:
            g["min"] = t if g["min"] is None else min(g["min"], t)
            g["max"] = t if g["max"] is None else max(g["max"], t)
    rows = []
    for key in sorted(groups, key=lambda k: tuple(v.encode("utf-8", "surrogatepass")
                                                   for v in k)):
        g = groups[key]
        if not all_rows and "share" not in ascii_lower(key[0]):
            continue
        row = dict(zip(BY_FIELDS, key))
        row["count"] = g["count"]
        row["user"] = sorted(g["user"], key=lambda s: s.encode("utf-8", "surrogatepass"))
        row["parent_process"] = sorted(g["parent_process"],
                                       key=lambda s: s.encode("utf-8", "surrogatepass"))
        if g["min"] is not None:
            row["firstTime"] = ctime(g["min"])
            row["lastTime"] = ctime(g["max"])
        rows.append(row)
    return rows


def records_from_paths(paths, profile, stats):
    for p in paths:
        text = decode_text(read_bytes(p))
        for raw in iter_events(text, stats):
            rec = map_record(raw, profile)
            if rec is not None:
                stats["process_events"] += 1
                yield rec


def run(paths, profile="splunk", all_rows=False, stats=None):
    """Result rows (list of dicts, keys in output order) for the given XML files."""
    if stats is None:
        stats = {}
    for k in ("events", "process_events", "malformed"):
        stats.setdefault(k, 0)
    return search(records_from_paths(paths, profile, stats), all_rows)


def format_rows(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Reference implementation of the seed detection over XmlWinEventLog "
                    "(SPEC sections 2 and 4). Prints JSON lines like `escudo hunt --format "
                    "json`.")
    ap.add_argument("paths", nargs="+", help="XmlWinEventLog files (gzip allowed, - = stdin)")
    ap.add_argument("--profile", choices=("splunk", "native"), default="splunk")
    ap.add_argument("--all", action="store_true",
                    help="drop the process_net and *share* filters: one row per group of "
                         "every process record")
    ap.add_argument("--stats", action="store_true", help="print counts to stderr")
    a = ap.parse_args(argv)
    stats = {}
    rows = run(a.paths, a.profile, a.all, stats)
    out = sys.stdout.buffer
    out.write(format_rows(rows).encode("utf-8", "surrogatepass"))
    out.flush()
    if a.stats:
        print("events=%d process_events=%d malformed=%d rows=%d" % (
            stats["events"], stats["process_events"], stats["malformed"], len(rows)),
            file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
