#!/usr/bin/env python3
"""Write crafted XmlWinEventLog events that exercise each condition of a detection's search.

    python3 tests/ref/spl_craft.py --content DIR --list LIST --out DIR

For every detection id in LIST (one a line, `#` comments) this reads the first command of
its expanded search (the raw search, or the `where` of each `tstats`, including the one
inside a `join [...]`), and writes tests/ref/crafted/<id>.xml holding:
  - P0, a positive event: every leaf condition on the path through the search made true
    (the first branch of each OR; `*` in a value becomes empty text; a NOT'd condition left
    without its field, so it holds);
  - P1..: one positive per other branch of each OR on that path;
  - N..: for each condition P0 made true, one event where only that condition fails (the
    field holds a value that does not match) and, for `=` conditions, one where the field is
    missing; for each NOT'd condition, one event where it is true.
Every variant has its own Computer (crafted-<n>), time and record id, so the rows it makes
(if any) can be told apart. Which rows each variant gives is for the reference (spl_ref.py)
and the engine to say; the selfcheck (t_spl_ref_selfcheck.py) pins some by hand.

Raw searches take their channel and provider from the macro's source terms; tstats datasets
become the Sysmon event that carries them (Registry: 13, Filesystem: 11, Network_Traffic: 3,
Processes: 1) with the model's fields written to the Sysmon fields they come from."""

import argparse
import os
import re
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import spl_ref  # noqa: E402

PROVIDERS = {
    "Microsoft-Windows-Sysmon/Operational": "Microsoft-Windows-Sysmon",
    "Security": "Microsoft-Windows-Security-Auditing",
    "System": "Service Control Manager",
    "Microsoft-Windows-PowerShell/Operational": "Microsoft-Windows-PowerShell",
    "Windows PowerShell": "PowerShell",
    "Application": "Application",
}

# model field -> (Sysmon field, how): "full" the whole value, "leaf" the text after the last \
MODEL_MAP = {
    "Endpoint.Registry": ("13", {
        "registry_path": ("TargetObject", "full"), "registry_key_name": ("TargetObject", "leaf"),
        "registry_value_name": ("TargetObject", "leaf"), "registry_value_data": ("Details", "full"),
        "process_guid": ("ProcessGuid", "full"), "process_id": ("ProcessId", "full"),
        "process_path": ("Image", "full"), "process_name": ("Image", "leaf"),
        "user": ("User", "full"), "dest": ("Computer", "full")}),
    "Endpoint.Filesystem": ("11", {
        "file_path": ("TargetFilename", "full"), "file_name": ("TargetFilename", "leaf"),
        "file_create_time": ("CreationUtcTime", "full"), "process_guid": ("ProcessGuid", "full"),
        "process_id": ("ProcessId", "full"), "process_path": ("Image", "full"),
        "process_name": ("Image", "leaf"), "user": ("User", "full"),
        "dest": ("Computer", "full")}),
    "Network_Traffic.All_Traffic": ("3", {
        "dest_port": ("DestinationPort", "full"), "dest_ip": ("DestinationIp", "full"),
        "src_ip": ("SourceIp", "full"), "src_port": ("SourcePort", "full"),
        "process_id": ("ProcessId", "full"), "process_guid": ("ProcessGuid", "full"),
        "process_path": ("Image", "full"), "process_name": ("Image", "leaf"),
        "app": ("Image", "full"), "transport": ("Protocol", "full"),
        "user": ("User", "full"), "dest": ("DestinationHostname", "full"),
        "src": ("SourceHostname", "full")}),
    "Endpoint.Processes": ("1", {
        "process_name": ("Image", "leaf"), "process_path": ("Image", "full"),
        "process": ("CommandLine", "full"), "parent_process_name": ("ParentImage", "leaf"),
        "parent_process_path": ("ParentImage", "full"),
        "parent_process": ("ParentCommandLine", "full"),
        "original_file_name": ("OriginalFileName", "full"), "process_guid": ("ProcessGuid", "full"),
        "process_id": ("ProcessId", "full"), "parent_process_guid": ("ParentProcessGuid", "full"),
        "parent_process_id": ("ParentProcessId", "full"),
        "process_integrity_level": ("IntegrityLevel", "full"),
        "process_current_directory": ("CurrentDirectory", "full"),
        "process_hash": ("Hashes", "full"), "user": ("User", "full"),
        "dest": ("Computer", "full")}),
}
SYSTEM_FIELDS = {"EventCode", "EventID", "Computer", "host", "source", "sourcetype", "index",
                 "Channel", "eventtype", "tag", "_time", "UserID", "SecurityID", "Opcode",
                 "Level", "Task", "Keywords", "Version", "ProcessID", "ThreadID", "Name",
                 "RecordNumber", "EventRecordID", "Guid", "ActivityID", "Correlation"}
NOMATCH = "escudo-nomatch"
SOURCE_FIELDS = ("source", "sourcetype", "index", "eventtype", "tag")
OTHER_CHANNEL = "Microsoft-Windows-Crafted/Operational"


def inst(pattern):
    return pattern.replace("*", "")


class Leaf:
    def __init__(self, node, negated):
        self.node = node  # ("cmp", field, op, value) or ("term", text, case)
        self.negated = negated

    def field(self):
        return self.node[1] if self.node[0] == "cmp" else None


def solve(e, negated, out, alts):
    """Collect the leaves that make e true (e under `negated` NOTs), first OR branch;
    alts gets (or-node, chosen index) to vary later."""
    k = e[0]
    if k in ("true", "false"):
        return
    if k == "not":
        solve(e[1], not negated, out, alts)
        return
    if k in ("and", "or") and (k == "and") != negated:  # AND, or a NOT'd OR: every child
        for x in e[1]:
            solve(x, negated, out, alts)
        return
    if k in ("and", "or"):  # OR, or a NOT'd AND (De Morgan): one child suffices
        alts.append(e)
        solve(e[1][choice.get(id(e), 0)], negated, out, alts)
        return
    out.append(Leaf(e, negated))


choice = {}


def first_stage_exprs(text):
    """[(dataset or None, search AST)] for the raw search or each tstats in the search."""
    stages = spl_ref.split_pipeline(text)
    res = []
    for st in stages:
        if not st:
            continue
        m = re.match(r"tstats\b(.*)$", st, re.S)
        if m:
            mm = re.search(r"datamodel\s*=\s*([\w.]+)(.*?)(?:\b(?:by|BY|By)\b|$)", m.group(1), re.S)
            dm = spl_ref.ALIAS.get(mm.group(1), mm.group(1))
            w = re.match(r"\s*(?:where|WHERE|Where)\b(.*)$", mm.group(2), re.S)
            res.append((dm, spl_ref.SearchParser(w.group(1) if w else "").parse()))
            continue
        m = re.match(r"join\b.*?\[(.*)\]\s*$", st, re.S)
        if m:
            res += first_stage_exprs(m.group(1).strip())
            continue
        if not res and not re.match(r"\w+\b", st) or not res and st.split()[0] not in (
                "search", "eval", "stats", "where", "rename", "table", "fields", "rex"):
            res.append((None, spl_ref.SearchParser(st).parse()))
        elif not res and st.split()[0] == "search":
            res.append((None, spl_ref.SearchParser(st[6:]).parse()))
    return res


class Event:
    def __init__(self, channel, code):
        self.channel = channel
        self.code = code
        self.data = {}
        self.terms = []


def channel_of(leaves):
    for lf in leaves:
        if lf.node[0] == "cmp" and lf.node[1] == "eventtype" and not lf.negated:
            m = re.match(r"wineventlog_(security|system|application)$", lf.node[3], re.I)
            if m:
                return m.group(1).capitalize()
        if lf.node[0] == "cmp" and lf.node[1] in ("source", "sourcetype") and not lf.negated:
            v = lf.node[3]
            m = re.match(r"(?:Xml)?WinEventLog:(.+)$", v)
            if m and "*" not in v:
                return m.group(1)
    return None


def apply(ev, lf, dm, make_true):
    """Write leaf lf into event ev so that it holds (make_true) or fails."""
    n = lf.node
    if n[0] == "term":
        if make_true:
            ev.terms.append(inst(n[1]))
        return
    _, f, op, val = n
    if f in SOURCE_FIELDS:
        if not make_true and f != "index":
            ev.channel = OTHER_CHANNEL  # no source, sourcetype or eventtype term holds
        return
    want = make_true != lf.negated  # the comparison itself must be true
    if op in ("<", ">", "<=", ">="):
        base = float(val) if spl_ref.is_num(val) else 0
        ok = {"<": base - 1, "<=": base, ">": base + 1, ">=": base}[op]
        bad = {"<": base, "<=": base + 1, ">": base, ">=": base - 1}[op]
        v = ok if want else bad
        text = str(int(v)) if float(v).is_integer() else str(v)
    elif op == "!=":
        text = NOMATCH if want else inst(val)
    else:
        if val == "*":
            text = "x" if want else None
        else:
            text = inst(val) if want else NOMATCH
    set_field(ev, f, text, dm)


def set_field(ev, f, text, dm):
    if f in ("EventCode", "EventID"):
        if text is not None and text.isdigit():
            ev.code = text
        elif text is not None:
            ev.code = "99999"
        return
    how = "full"
    if dm:
        obj = dm.split(".")[-1] + "."
        if f.startswith(obj):
            f = f[len(obj):]
        if f in MODEL_MAP.get(dm, ("", {}))[1]:
            f, how = MODEL_MAP[dm][1][f]
        elif f in ("action",):
            if text is not None and dm == "Endpoint.Registry":
                ev.data["EventType"] = {"deleted": "DeleteKey", "created": "CreateKey"}.get(
                    text.lower(), "SetValue")
                ev.code = "12" if text.lower() in ("deleted", "created") else "13"
            return
    if text is None:
        ev.data.pop(f, None)
        ev.data[f + "#missing"] = True
        return
    if f == "Computer":
        ev.data["Computer"] = text
        return
    cur = ev.data.get(f)
    if how == "leaf":
        ev.data[f] = (cur.rstrip("\\") + "\\" if cur else "C:\\crafted\\") + text
    elif cur and text and not cur.endswith(text):
        # two conditions on one field: keep both texts, the last part after the first
        ev.data[f] = cur + text
    else:
        ev.data[f] = text


def is_leaf(lf, dm):
    if not dm or lf.node[0] != "cmp":
        return False
    f = lf.node[1].split(".")[-1]
    return MODEL_MAP.get(dm, ("", {}))[1].get(f, ("", "full"))[1] == "leaf"


def xml_event(ev, n, host, t, prov, defaults):
    code = ev.code or "1"
    data = dict(defaults)
    for k, v in ev.data.items():
        if k.endswith("#missing"):
            data.pop(k[:-8], None)
        else:
            data[k] = v
    for k in [k for k in ev.data if k.endswith("#missing")]:
        data.pop(k[:-8], None)
    computer = data.pop("Computer", host)
    if ev.terms:
        data["CraftedNote"] = " ".join(ev.terms)
    ts = "2024-03-01T10:%02d:%02d.%03dZ" % (t // 60 % 60, t % 60, n % 1000)
    if prov == "Microsoft-Windows-Sysmon":
        data.setdefault("UtcTime", ts.replace("T", " ").rstrip("Z"))
        data = {"UtcTime": data.pop("UtcTime"), **data}
    lines = ['<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
             '<Provider Name="%s"/><EventID>%s</EventID><Version>0</Version><Level>4</Level>'
             '<Task>0</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>'
             '<TimeCreated SystemTime="%s"/><EventRecordID>%d</EventRecordID>'
             '<Correlation ActivityID="{00000000-0000-0000-0000-%012d}"/>'
             '<Execution ProcessID="4" ThreadID="8"/><Channel>%s</Channel>'
             '<Computer>%s</Computer><Security UserID="S-1-5-18"/></System><EventData>'
             % (escape(prov), code, ts, n, n, escape(ev.channel), escape(computer))]
    for k, v in data.items():
        lines.append('<Data Name="%s">%s</Data>' % (escape(k), escape(str(v))))
    lines.append("</EventData></Event>")
    return "".join(lines)


DEFAULTS = {
    "Microsoft-Windows-Sysmon": {"RuleName": "-", "ProcessGuid": "{00000000-0000-0000-0000-%s}",
                                 "ProcessId": "4242", "Image": "C:\\crafted\\tool.exe",
                                 "User": "CRAFTED\\alice"},
    "Microsoft-Windows-Security-Auditing": {"SubjectUserSid": "S-1-5-21-1", "SubjectUserName":
                                            "alice", "SubjectDomainName": "CRAFTED",
                                            "SubjectLogonId": "0x3e7"},
    "Microsoft-Windows-PowerShell": {"MessageNumber": "1", "MessageTotal": "1",
                                     "ScriptBlockId": "{crafted}"},
}


def by_fields(text):
    """Field names of `stats ... by ...` clauses, to give crafted events a value for each."""
    out = []
    for m in re.finditer(r"\bstats\b[^|]*?\b(?:by|BY)\b([^|]*)", text):
        out += [w for w in re.split(r"[\s,]+", m.group(1)) if w and "=" not in w]
    return out


def craft(content, det, start_n):
    text = spl_ref.expand(det["search"], content)
    exprs = first_stage_exprs(text.strip().lstrip("|").strip())
    if not exprs:
        raise spl_ref.Unsupported("no first search")
    variants = []  # (label, {stage index: (alts choice, flip leaf)})
    # the positive path of each stage, and its OR nodes
    base = []
    for dm, e in exprs:
        leaves, alts = [], []
        solve(e, False, leaves, alts)
        base.append((dm, e, leaves, alts))
    variants.append(("P0", None, None))
    for si, (dm, e, leaves, alts) in enumerate(base):
        for a in alts:
            if all(x[0] == "cmp" and x[1] in SOURCE_FIELDS for x in a[1]):
                continue  # the macro's source alternatives: one channel is enough
            for j in range(1, min(len(a[1]), 6)):
                variants.append(("P-or", si, ("alt", a, j)))
        flipped_source = False
        for li, lf in enumerate(leaves):
            if lf.node[0] == "cmp" and lf.node[1] in SOURCE_FIELDS:
                if not flipped_source and not lf.negated and lf.node[1] != "index":
                    variants.append(("N-source", si, ("flip", li)))
                    flipped_source = True
                continue
            variants.append(("N-fail", si, ("flip", li)))
            if lf.node[0] == "cmp" and lf.node[2] == "=" and not lf.negated and \
                    lf.node[1] not in ("EventCode", "EventID"):
                variants.append(("N-missing", si, ("missing", li)))
    byf = by_fields(text)
    out, n = [], start_n
    for label, si, what in variants[:60]:
        n += 1
        host = "crafted-%d" % n
        guid = "{00000000-0000-0000-0000-%012d}" % n
        evs = []
        for sj, (dm, e, leaves, alts) in enumerate(base):
            choice.clear()
            if what and what[0] == "alt" and sj == si:
                choice[id(what[1])] = what[2]
                leaves, _ = [], []
                solve(e, False, leaves, [])
            if dm:
                code, _ = MODEL_MAP.get(dm, ("1", {}))
                ev = Event("Microsoft-Windows-Sysmon/Operational", code)
            else:
                ev = Event(channel_of(leaves) or "Security", None)
            order = sorted(range(len(leaves)), key=lambda i: is_leaf(leaves[i], dm))
            for li in order:
                lf = leaves[li]
                if lf.negated and lf.node[0] == "cmp" and not (
                        what and sj == si and what[0] == "flip" and what[1] == li):
                    continue  # NOT'd conditions hold when the field is absent
                if what and sj == si and what[0] == "flip" and what[1] == li:
                    apply(ev, lf, dm, False)
                elif what and sj == si and what[0] == "missing" and what[1] == li:
                    set_field(ev, lf.node[1], None, dm)
                else:
                    apply(ev, lf, dm, True)
            prov = PROVIDERS.get(ev.channel, ev.channel.split("/")[0])
            defaults = {k: (v % ("%012d" % n) if "%s" in v else v)
                        for k, v in DEFAULTS.get(prov, {}).items()}
            if prov == "Microsoft-Windows-Sysmon":
                defaults["ProcessGuid"] = guid
                if ev.code == "3":
                    defaults.update({"Protocol": "tcp", "Initiated": "true",
                                     "SourceIp": "10.0.0.%d" % (n % 250 + 1),
                                     "SourceHostname": host, "SourcePort": "49152",
                                     "DestinationIp": "192.0.2.%d" % (n % 250 + 1),
                                     "DestinationPort": "443"})
            for f in byf:
                f = f.split(".")[-1]
                if f not in spl_ref.DATASETS["Endpoint.Processes"][1] and \
                        f not in SYSTEM_FIELDS and not f.startswith("_") and \
                        f not in ev.data and f + "#missing" not in ev.data and \
                        f not in ("signature", "signature_id", "src", "src_user", "dest_user",
                                  "registry_path", "file_path", "file_name", "action", "app"):
                    defaults.setdefault(f, "crafted-" + f)
            evs.append((ev, prov, defaults))
        for ev, prov, defaults in evs:
            out.append("<!-- %s %s -->\n" % (label, host) +
                       xml_event(ev, n, host, n, prov, defaults))
    return out, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", action="append", required=True)
    ap.add_argument("--list", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    content = spl_ref.Content(a.content)
    os.makedirs(a.out, exist_ok=True)
    n = 0
    for line in open(a.list, encoding="utf-8"):
        did = line.split("#")[0].strip()
        if not did:
            continue
        det = content.find(did)
        evs, n2 = craft(content, det, 0)
        with open(os.path.join(a.out, did + ".xml"), "w", encoding="utf-8") as f:
            f.write("<!-- crafted by tests/ref/spl_craft.py for %s -->\n" % det["name"])
            for e in evs:
                f.write(e + "\n")
        n += 1
    print("crafted %d detections" % n)


if __name__ == "__main__":
    main()
