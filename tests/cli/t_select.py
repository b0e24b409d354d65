#!/usr/bin/env python3
"""Detection selection (issue 16, problem 6): --detection takes an id, an exact name or a
case-insensitive glob; --mitre (ATT&CK technique glob), --story, --severity and --min-risk
select by tags; kinds combine with AND, values of one kind with OR. An unknown name suggests
the nearest ones, an unknown command the nearest command. The expected sets are computed here
from the YAML, independently of escudo; `escudo explain` lists what a selection picked."""
import glob
import os
import subprocess
import sys
import yaml

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
DATA = os.environ.get("ESC_SHARED_DATA", "../shared/data")
ESCU = os.path.join(DATA, "escu")
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else " " + detail))
    fails += 0 if ok else 1


def run(*args):
    p = subprocess.run([ESCUDO, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def selected(*args):
    rc, out, err = run("explain", "--content", ESCU, *args)
    names = [l[len("detection: "):].rsplit(" (", 1)[0] for l in out.splitlines()
             if l.startswith("detection: ")]
    if rc == 2 and names:  # explain exits 2 when a listed detection is not supported
        rc = 0
    return rc, names, err


dets = []
for path in glob.glob(os.path.join(ESCU, "detections", "**", "*.yml"), recursive=True):
    with open(path) as f:
        d = yaml.safe_load(f)
    if not isinstance(d, dict) or not d.get("name") or not d.get("search"):
        continue
    t = d.get("tags") or {}
    imp, conf = t.get("impact"), t.get("confidence")
    if isinstance(imp, int) and isinstance(conf, int):
        score = int(imp * conf / 100 + 0.5)
    else:
        score = t.get("risk_score") if isinstance(t.get("risk_score"), int) else 0
    sev = ("informational" if score <= 20 else "low" if score <= 40 else "medium"
           if score <= 60 else "high" if score <= 80 else "critical")
    dets.append({"name": d["name"], "id": d.get("id"), "mitre": t.get("mitre_attack_id") or [],
                 "story": t.get("analytic_story") or [], "score": score, "sev": sev})
byname = {d["name"]: d for d in dets}


def want(pred):
    return sorted(d["name"] for d in dets if pred(d))


# --detection: exact name, id, and a case-insensitive glob
rc, got, _ = selected("--detection", "Windows Mimikatz Binary Execution")
check("exact name", rc == 0 and got == ["Windows Mimikatz Binary Execution"], str(got))
mk = byname["Windows Mimikatz Binary Execution"]
rc, got, _ = selected("--detection", mk["id"])
check("id", rc == 0 and got == [mk["name"]], str(got))
rc, got, err = selected("--detection", "*MIMIKATZ*")
check("glob, case-insensitive", rc == 0 and sorted(got) == want(lambda d: "mimikatz" in
      d["name"].lower()) and len(got) >= 2, f"{got} {err}")
rc, got, _ = selected("--detection", "windows ?imikatz binary execution")
check("glob with ?", rc == 0 and got == ["Windows Mimikatz Binary Execution"], str(got))
rc, got, err = selected("--detection", "*no detection is called this*")
check("glob matching nothing: exit 2", rc == 2 and "no detection matches" in err, err)

# --mitre: technique ids, glob; a bare technique also takes its sub-techniques
rc, got, err = selected("--mitre", "T1003*")
w = want(lambda d: any(m.upper().startswith("T1003") for m in d["mitre"]))
check("--mitre T1003*", rc == 0 and sorted(got) == w and w, f"{len(got)} vs {len(w)} {err}")
rc, got2, _ = selected("--mitre", "t1003")
check("--mitre T1003 takes sub-techniques", sorted(got2) == w, f"{len(got2)} vs {len(w)}")
rc, got, _ = selected("--mitre", "T1003.001")
check("--mitre T1003.001", sorted(got) == want(lambda d: "T1003.001" in d["mitre"]), str(got))

# --story: the analytic story, case-insensitive (glob too)
rc, got, _ = selected("--story", "ransomware")
w = want(lambda d: "Ransomware" in d["story"])
check("--story", rc == 0 and sorted(got) == w and w, f"{len(got)} vs {len(w)}")

# --severity (exact, or LEVEL+ for that level and above) and --min-risk
rc, got, _ = selected("--severity", "high")
w = want(lambda d: d["sev"] == "high")
check("--severity high", rc == 0 and sorted(got) == w and w, f"{len(got)} vs {len(w)}")
rc, got, _ = selected("--severity", "high+")
w = want(lambda d: d["sev"] in ("high", "critical"))
check("--severity high+", rc == 0 and sorted(got) == w, f"{len(got)} vs {len(w)}")
rc, got, _ = selected("--min-risk", "70")
w = want(lambda d: d["score"] >= 70)
check("--min-risk 70", rc == 0 and sorted(got) == w and w, f"{len(got)} vs {len(w)}")
rc, _, err = selected("--severity", "urgent")
check("--severity urgent: exit 2", rc == 2 and "--severity" in err, err)
rc, _, err = selected("--min-risk", "lots")
check("--min-risk lots: exit 2", rc == 2 and "--min-risk" in err, err)

# AND across kinds, OR within a kind
rc, got, _ = selected("--story", "Ransomware", "--story", "Living Off The Land",
                      "--min-risk", "50")
w = want(lambda d: ("Ransomware" in d["story"] or "Living Off The Land" in d["story"])
         and d["score"] >= 50)
check("stories OR, AND min-risk", rc == 0 and sorted(got) == w and w, f"{len(got)} vs {len(w)}")
rc, got, _ = selected("--detection", "*mimikatz*", "--mitre", "T1003*")
w = want(lambda d: "mimikatz" in d["name"].lower() and any(m.startswith("T1003")
                                                            for m in d["mitre"]))
check("glob AND --mitre", rc == 0 and sorted(got) == w, f"{got} vs {w}")
rc, got, err = selected("--mitre", "T1003*", "--story", "no such story at all")
check("empty selection: exit 2", rc == 2 and "no detection matches" in err, err)

# the same selection in hunt and test (and run --enable takes a glob)
rc, out, err = run("test", "--static-only", "--content", ESCU, "--mitre", "T1003*")
n = sum(1 for l in out.splitlines() if " static " in l)
check("test --mitre", rc == 0 and n == len(want(lambda d: any(m.startswith("T1003")
                                                              for m in d["mitre"]))), err)
sample = os.path.join(DATA, "crafted", "worked_example.xml")
rc, out, err = run("hunt", "--format", "json", "--detection", "create or delete windows *",
                   sample)
check("hunt --detection glob", rc == 0 and out.strip(), err)

# near misses: the nearest names, and the nearest command
rc, _, err = selected("--detection", "Windows Mimikatz Binary Executoin")
check("did you mean (name)", rc == 2 and "did you mean" in err and
      "Windows Mimikatz Binary Execution" in err, err)
rc, _, err = selected("--detection", "mimikatz")
check("did you mean (a part of names)", rc == 2 and "Windows Mimikatz Binary Execution" in err,
      err)
rc, _, err = run("hnut")
check("escudo hnut", rc == 2 and "did you mean 'hunt'" in err, err)
rc, _, err = run("hunt", "--detecton", "x", sample)
check("unknown option suggests", rc == 2 and "--detection" in err, err)

sys.exit(1 if fails else 0)
