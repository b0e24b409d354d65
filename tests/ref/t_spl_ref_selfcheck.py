#!/usr/bin/env python3
"""spl_ref.py on its own: hand-written expected rows for searches over hand-made events.

Each case is (name, search, events, expected rows). Events are field dicts as
`escudo dump --fields` writes them, so this checks the SPL side only (no field
extraction). Every expected row is argued from Splunk's documentation or SPEC.md in the
comment above it, not from the reference's output. Two cases are ESCU detections with their
own macros (escu-full); they also run over the crafted XML that spl_craft.py wrote for
them, through the stand-in extractor, and must give the rows argued for those events.

Environment: ESC_SHARED_DATA (for escu-full's macros and lookups)."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import spl_ref  # noqa: E402
import spl_events  # noqa: E402

SYS = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"


def sysmon(code, t, **kw):
    e = {"_time": t, "source": SYS, "sourcetype": "XmlWinEventLog", "EventCode": str(code),
         "Channel": "Microsoft-Windows-Sysmon/Operational"}
    e.update(kw)
    e.setdefault("_raw", "<Event>" + " ".join("%s=%s" % kv for kv in kw.items()) + "</Event>")
    return e


CASES = []


def case(name, search, events, expected):
    CASES.append((name, search, events, expected))


# SPEC 4 / Search Reference "Boolean expressions": in search, OR binds tighter than the
# implicit AND, so `a=1 b=2 OR c=3` is a=1 AND (b=2 OR c=3). Values match case-insensitively
# with * wildcards. Event 3 has a=1 and c=3; event 2 has a=1 only; event 1 a=2.
case("precedence and wildcards",
     "a=1 b=2 OR c=3 | stats count by id",
     [sysmon(1, 1, a="2", b="2", id="e1"), sysmon(1, 2, a="1", id="e2"),
      sysmon(1, 3, a="1", c="3", id="e3"), sysmon(1, 4, a="1", b="2", id="e4")],
     [{"id": "e3", "count": 1}, {"id": "e4", "count": 1}])

# Search Reference "search" ("Difference between NOT and !="): `f!=v` keeps only events that
# have f; `NOT f=v` also keeps events without f.
case("NOT versus !=",
     "EventCode=1 NOT user=admin | stats count by id",
     [sysmon(1, 1, id="nouser"), sysmon(1, 2, user="ADMIN", id="admin"),
      sysmon(1, 3, user="bob", id="bob")],
     [{"id": "bob", "count": 1}, {"id": "nouser", "count": 1}])
case("!= needs the field",
     "EventCode=1 user!=admin | stats count by id",
     [sysmon(1, 1, id="nouser"), sysmon(1, 2, user="ADMIN", id="admin"),
      sysmon(1, 3, user="bob", id="bob")],
     [{"id": "bob", "count": 1}])

# SPEC 4: a multivalue field matches a search term when any of its values does; IN (...) is
# an OR of `=` terms; `*` matches the empty text too.
case("multivalue, IN and empty wildcard",
     'EventCode=1 v IN ("x*", "*.exe") | stats count by id',
     [sysmon(1, 1, v=["a", "X"], id="mv"), sysmon(1, 2, v=".exe", id="dot"),
      sysmon(1, 3, v="abc", id="no")],
     [{"id": "dot", "count": 1}, {"id": "mv", "count": 1}])

# A bare term matches _raw as an indexed token (Search Manual "About segmentation": terms are
# split at breakers): `net` is found in "c:\\w\\net.exe" (\\ and . are breakers) but not in
# "netstat"; `*stat` lifts the left edge.
case("bare terms over _raw",
     "net | stats count by id",
     [sysmon(1, 1, _raw="run c:\\w\\net.exe now", id="net"),
      sysmon(1, 2, _raw="run netstat -a", id="netstat")],
     [{"id": "net", "count": 1}])
case("bare wildcard term",
     "*stat | stats count by id",
     [sysmon(1, 1, _raw="run c:\\w\\net.exe now", id="net"),
      sysmon(1, 2, _raw="run netstat -a", id="netstat")],
     [{"id": "netstat", "count": 1}])

# Search Reference "stats": an event without a BY field is left out; a multivalue BY field
# makes one group per value; values() is distinct and (SPEC 4) byte-sorted, always an array;
# dc() counts case variants apart; min/max of _time are numbers; groups sorted by bytes.
case("stats by, values, dc, min, max",
     "EventCode=1 | stats count dc(u) as du values(u) as vu min(_time) as f max(_time) as l by h",
     [sysmon(1, 10, h="b", u="admin"), sysmon(1, 20, h="b", u="SYSTEM"),
      sysmon(1, 30, h="b", u="Admin"), sysmon(1, 40, u="x"),
      sysmon(1, 50, h=["B", "b"], u="admin")],
     [{"h": "B", "count": 1, "du": 1, "vu": ["admin"], "f": 50, "l": 50},
      {"h": "b", "count": 4, "du": 3, "vu": ["Admin", "SYSTEM", "admin"], "f": 10, "l": 50}])

# Search Reference "eval" and "Evaluation functions": if/case/like/match/replace/lower/len/
# substr/split/mvcount/mvjoin/coalesce; `=` in eval is case-sensitive; `.` concatenates.
case("eval functions",
     'EventCode=1 | eval a=if(like(p, "%.EXE"), "yes", "no"), b=case(len(p)>5, "long", '
     'true(), "short"), c=if(match(p, "^C:"), "m", "n"), d=replace(p, "(\\w+)\\.exe", "\\1"), e=lower(p), '
     'f=substr(p, 2, 3), g=mvcount(split(p, "\\\\")), h=mvjoin(split(p, "\\\\"), "/"), '
     'i=coalesce(missing, p), j=if(p="c:\\w\\x.exe", "eq", "ne"), k=p . "!" '
     '| table a b c d e f g h i j k',
     [sysmon(1, 1, p="C:\\w\\x.EXE")],
     [{"a": "yes", "b": "long", "c": "m", "d": "C:\\w\\x.EXE", "e": "c:\\w\\x.exe",
       "f": ":\\w", "g": 3, "h": "C:/w/x.EXE", "i": "C:\\w\\x.EXE", "j": "ne",
       "k": "C:\\w\\x.EXE!"}])

# Search Reference "where": a row is kept when the expression is true; a comparison with a
# missing field is not true, so that row goes.
case("where",
     'EventCode=1 | where n > 5 AND like(s, "a%") | table id',
     [sysmon(1, 1, n="10", s="abc", id="keep"), sysmon(1, 2, n="3", s="abc", id="small"),
      sysmon(1, 3, s="abc", id="nonum"), sysmon(1, 4, n="9", s="Abc", id="case")],
     [{"id": "keep"}])

# Search Reference "rex": named groups become fields; field= names the input; a row without a
# match keeps its fields; max_match=0 collects every match as a multivalue. Rows come newest
# first (Search Manual "About retrieving events": events are retrieved in reverse time order).
case("rex",
     'EventCode=1 | rex field=cmd "-u (?<usr>\\S+)" | rex field=cmd max_match=0 "(?<flag>-\\w)" '
     '| table id usr flag',
     [sysmon(1, 1, cmd="tool -u bob -x", id="1"), sysmon(1, 2, cmd="tool", id="2")],
     [{"id": "2"}, {"id": "1", "usr": "bob", "flag": ["-u", "-x"]}])

# Search Reference "rename" (wildcards move the matched text), "fillnull" (value= for the
# named fields), "dedup" (first row per key), "fields - " (drop).
case("rename, fillnull, dedup, fields",
     'EventCode=1 | stats count by P.a P.b | rename "P.*" as * | fillnull value=none c '
     '| dedup a | fields - count',
     [sysmon(1, 1, **{"P.a": "x", "P.b": "1"}), sysmon(1, 2, **{"P.a": "x", "P.b": "2"}),
      sysmon(1, 3, **{"P.a": "y", "P.b": "1"})],
     [{"a": "x", "b": "1", "c": "none"}, {"a": "y", "b": "1", "c": "none"}])

# Search Reference "rename": a new name that already exists is replaced by the renamed field
# (ESCU's `values(Filesystem.dest) as dest ... by Filesystem.dest | rename "Filesystem.*" as *`
# keeps the BY value, at the BY field's place).
case("rename onto an existing field",
     'EventCode=1 | stats values(F.d) as d count by F.d | rename "F.*" as *',
     [sysmon(1, 1, **{"F.d": "h1"})],
     [{"d": "h1", "count": 1}])

# tstats over a data model (Search Reference "tstats"; SPEC 8): only events carrying the
# dataset's tags (Endpoint.Registry: endpoint and registry) enter; a model field the event
# lacks is "unknown"; `by _time span=1h` floors _time to the hour. security_content_ctime is
# `convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(X)` (UTC, SPEC 4).
REG = ["endpoint", "registry", "change"]
case("tstats Registry",
     '| tstats count min(_time) as firstTime from datamodel=Endpoint.Registry where '
     'Registry.registry_path="*\\\\Run\\\\*" by _time span=1h Registry.dest '
     'Registry.registry_value_name | `drop_dm_object_name(Registry)` '
     '| `security_content_ctime(firstTime)`',
     [sysmon(13, 3700, tag=REG, dest="h1", registry_path="HKLM\\x\\Run\\v",
             registry_value_name="v"),
      sysmon(13, 3900, tag=REG, dest="h1", registry_path="HKLM\\x\\RUN\\v"),
      sysmon(13, 4000, tag=["endpoint"], dest="h2", registry_path="HKLM\\x\\Run\\v"),
      sysmon(13, 100, tag=REG, dest="h3", registry_path="HKLM\\x\\Other")],
     [{"_time": 3600, "dest": "h1", "registry_value_name": "unknown", "count": 1,
       "firstTime": "1970-01-01T01:05:00"},
      {"_time": 3600, "dest": "h1", "registry_value_name": "v", "count": 1,
       "firstTime": "1970-01-01T01:01:40"}])

# Search Reference "join": type=inner by default, max=1 (first matching subsearch row),
# the subsearch's fields overwrite; a row without a match is dropped.
PROC = ["process", "report"]
case("join Processes with Filesystem",
     '| tstats count from datamodel=Endpoint.Processes by Processes.process_guid '
     'Processes.process_name | `drop_dm_object_name(Processes)` | join process_guid '
     '[| tstats count min(_time) as t from datamodel=Endpoint.Filesystem by '
     'Filesystem.process_guid Filesystem.file_name | `drop_dm_object_name(Filesystem)`] '
     '| table process_name file_name count t',
     [sysmon(1, 5, tag=PROC, process_guid="g1", process_name="a.exe"),
      sysmon(1, 6, tag=PROC, process_guid="g2", process_name="b.exe"),
      sysmon(11, 7, tag=["endpoint", "filesystem"], process_guid="g1", file_name="x.txt"),
      sysmon(11, 8, tag=["endpoint", "filesystem"], process_guid="g1", file_name="y.txt")],
     [{"process_name": "a.exe", "file_name": "x.txt", "count": 1, "t": 7}])

# ESCU "Clop Ransomware Known Service Name" (wineventlog_system = eventtype=wineventlog_system):
# EventCode=7045 ServiceName IN ("SecurityCenterIBM", "WinCheckDRVs"), stats by Computer
# EventCode ServiceName StartType ServiceType, Computer renamed dest. Only events of the
# eventtype with the right code and one of the two names give a row.
SYSTEM = {"source": "XmlWinEventLog:System", "sourcetype": "XmlWinEventLog",
          "eventtype": ["wineventlog_system"], "Channel": "System"}


def sysev(t, **kw):
    e = dict(SYSTEM)
    e.update({"_time": t, "EventCode": "7045", "StartType": "s", "ServiceType": "k"})
    e.update(kw)
    return e


CLOP = "07e08a12-870c-11eb-b5f9-acde48001122"
case("ESCU " + CLOP,
     None,
     [sysev(1, Computer="c1", ServiceName="SecurityCenterIBM"),
      sysev(2, Computer="c2", ServiceName="wincheckdrvs"),
      sysev(3, Computer="c3", ServiceName="SecurityCenterIBM", eventtype=[]),
      sysev(4, Computer="c4", ServiceName="SecurityCenterIBM", EventCode="7036"),
      sysev(5, Computer="c5", ServiceName="Other"),
      sysev(6, Computer="c6", ServiceName="SecurityCenterIBM", StartType=None)],
     # c2: search values are case-insensitive; c6: a missing BY field drops the event.
     [{"dest": "c1", "EventCode": "7045", "ServiceName": "SecurityCenterIBM", "StartType": "s",
       "ServiceType": "k", "count": 1, "firstTime": "1970-01-01T00:00:01",
       "lastTime": "1970-01-01T00:00:01"},
      {"dest": "c2", "EventCode": "7045", "ServiceName": "wincheckdrvs", "StartType": "s",
       "ServiceType": "k", "count": 1, "firstTime": "1970-01-01T00:00:02",
       "lastTime": "1970-01-01T00:00:02"}])

# ESCU "Powershell Using memory As Backing Store": source PowerShell/Operational, EventCode=4104,
# ScriptBlockText matching both *New-Object* and *IO.MemoryStream* (any case: search values are
# case-insensitive), stats by EventCode ScriptBlockText Computer UserID, then Computer renamed
# dest and UserID renamed user (each rename keeps the column's place).
PS = {"source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
      "sourcetype": "XmlWinEventLog", "Channel": "Microsoft-Windows-PowerShell/Operational",
      "EventCode": "4104", "UserID": "S-1-5-18"}


def psev(t, **kw):
    e = dict(PS)
    e.update({"_time": t})
    e.update(kw)
    return e


MEMSTREAM = "c396a0c4-c9f2-11eb-b4f5-acde48001122"
case("ESCU " + MEMSTREAM,
     None,
     [psev(60, Computer="p1", ScriptBlockText="$s = new-object io.memorystream"),
      psev(120, Computer="p1", ScriptBlockText="$s = new-object io.memorystream"),
      psev(3, Computer="p2", ScriptBlockText="New-Object Net.WebClient"),
      psev(4, Computer="p3", ScriptBlockText="New-Object IO.MemoryStream", EventCode="4103"),
      psev(5, Computer="p4", ScriptBlockText="New-Object IO.MemoryStream",
           source="XmlWinEventLog:Windows PowerShell"),
      psev(6, Computer="p5", ScriptBlockText="New-Object IO.MemoryStream", UserID=None)],
     # p2 lacks IO.MemoryStream, p3 is 4103, p4 another source, p5 has no UserID (BY field).
     [{"EventCode": "4104", "ScriptBlockText": "$s = new-object io.memorystream",
       "dest": "p1", "user": "S-1-5-18", "count": 2, "firstTime": "1970-01-01T00:01:00",
       "lastTime": "1970-01-01T00:02:00"}])

# ESCU "Windows Service Deletion In Registry" (tstats over Endpoint.Registry, fillnull_value=null):
# registry_path under *\\SYSTEM\\CurrentControlSet\\Services* and either action=deleted or a
# DeleteFlag value 0x00000001 modified. A missing registry_value_name/_data is "unknown" (CIM 8.5
# Registry: if(isnull(f) OR f="","unknown",f)), never "null". r3 has the wrong data, r4 another
# path, r5 lacks the registry tag. Rows sort by registry_key_name: "evil" < "svc".
def regev(t, **kw):
    e = sysmon(13, t, tag=REG, dest="h1", user="u1")
    e.update(kw)
    return e


SVCDEL = "daed6823-b51c-4843-a6ad-169708f1323e"
case("ESCU " + SVCDEL,
     None,
     [regev(10, registry_path="HKLM\\System\\CurrentControlSet\\Services\\evil",
            registry_key_name="evil", action="deleted"),
      regev(20, registry_path="HKLM\\System\\CurrentControlSet\\Services\\svc\\DeleteFlag",
            registry_key_name="svc", registry_value_name="DeleteFlag",
            registry_value_data="0x00000001", action="modified"),
      regev(30, registry_path="HKLM\\System\\CurrentControlSet\\Services\\svc\\DeleteFlag",
            registry_key_name="svc", registry_value_name="DeleteFlag",
            registry_value_data="0x00000000", action="modified"),
      regev(40, registry_path="HKLM\\Software\\x", registry_key_name="x", action="deleted"),
      regev(50, registry_path="HKLM\\System\\CurrentControlSet\\Services\\evil",
            registry_key_name="evil", action="deleted", tag=["endpoint"])],
     [{"registry_key_name": "evil", "user": "u1",
       "registry_path": "HKLM\\System\\CurrentControlSet\\Services\\evil",
       "registry_value_data": "unknown", "registry_value_name": "unknown", "action": "deleted",
       "dest": "h1", "count": 1, "firstTime": "1970-01-01T00:00:10",
       "lastTime": "1970-01-01T00:00:10"},
      {"registry_key_name": "svc", "user": "u1",
       "registry_path": "HKLM\\System\\CurrentControlSet\\Services\\svc\\DeleteFlag",
       "registry_value_data": "0x00000001", "registry_value_name": "DeleteFlag",
       "action": "modified", "dest": "h1", "count": 1, "firstTime": "1970-01-01T00:00:20",
       "lastTime": "1970-01-01T00:00:20"}])

# The crafted XML for the same detection (spl_craft.py): P0 crafted-1 (SecurityCenterIBM) and
# P-or crafted-2 (WinCheckDRVs) give rows; N-source crafted-3 is in another channel (no
# eventtype), N-fail crafted-4 has EventCode 99999, N-fail crafted-5 another name, N-missing
# crafted-6 no ServiceName: none of them does.
CRAFTED = {
    CLOP: [
        {"dest": "crafted-1", "EventCode": "7045", "ServiceName": "SecurityCenterIBM",
         "StartType": "crafted-StartType", "ServiceType": "crafted-ServiceType", "count": 1,
         "firstTime": "2024-03-01T10:00:01", "lastTime": "2024-03-01T10:00:01"},
        {"dest": "crafted-2", "EventCode": "7045", "ServiceName": "WinCheckDRVs",
         "StartType": "crafted-StartType", "ServiceType": "crafted-ServiceType", "count": 1,
         "firstTime": "2024-03-01T10:00:02", "lastTime": "2024-03-01T10:00:02"}],
}


def main():
    shared = os.environ.get("ESC_SHARED_DATA") or os.path.join(HERE, "..", "..", "..",
                                                                "shared", "data")
    content = spl_ref.Content([os.path.join(shared, "escu-full")])
    bad = 0
    for name, search, events, expected in CASES:
        try:
            if search is None:
                det = content.find(name.split()[-1])
                rows = spl_ref.run_detection(content, det, [dict(e) for e in events])
            else:
                rows = spl_ref.Runner(content, [dict(e) for e in events]).run(
                    spl_ref.expand(search, content))
            got = [json.loads(x) for x in spl_ref.rows_json(rows)]
        except (spl_ref.Unsupported, spl_ref.SplError) as e:
            got = "error: %s" % e
        if got != expected or (isinstance(got, list) and
                               [list(r) for r in got] != [list(r) for r in expected]):
            bad += 1
            print("FAIL %s\n  expected %s\n  got      %s" % (name, expected, got))
        else:
            print("ok   %s" % name)
    for did, expected in CRAFTED.items():
        det = content.find(did)
        events = list(spl_events.events_from([os.path.join(HERE, "crafted", did + ".xml")]))
        got = [json.loads(x) for x in spl_ref.rows_json(spl_ref.run_detection(content, det,
                                                                               events))]
        if got != expected:
            bad += 1
            print("FAIL crafted %s\n  expected %s\n  got      %s" % (did, expected, got))
        else:
            print("ok   crafted %s" % did)
    # unsupported constructs are reported by name
    try:
        spl_ref.Runner(content, []).run("EventCode=1 | transaction dest maxspan=5m")
        bad += 1
        print("FAIL transaction was not refused")
    except spl_ref.Unsupported as e:
        if str(e) != "unsupported: command 'transaction'":
            bad += 1
            print("FAIL unexpected message %r" % str(e))
    print("t_spl_ref_selfcheck: %d cases, %d failed" % (len(CASES) + len(CRAFTED) + 1, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
