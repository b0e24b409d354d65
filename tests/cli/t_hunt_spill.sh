#!/bin/bash
# Groups past the memory budget are spilled to a temporary file and merged back when their
# search finishes (docs/limits.md "group memory"): with --group-memory 0 every table is spilled
# at every step, and the rows and their evidence are byte-identical to a hunt that spills
# nothing (a streamed stats' too, pruned as it spills); the files live in $TMPDIR and nothing is left there; a TMPDIR that cannot be
# written is one warning, and the groups stay in memory (same rows), as when the writes start
# failing; the option is checked.
. "$(dirname "$0")/lib.sh"
IN=$DATA/json/otrf/aptsimulator_cobaltstrike_2021-06-11T21081492.json
H=(hunt --quiet --content "$DATA/escu-full" --format json --evidence)

"$ESCUDO" "${H[@]}" --group-memory 1024 "$IN" >"$T/kept.json" 2>"$T/err0"
mkdir "$T/tmp"
TMPDIR="$T/tmp" "$ESCUDO" "${H[@]}" --group-memory 0 "$IN" >"$T/spilled.json" 2>"$T/err1"
rows=$(wc -l <"$T/kept.json")
[ "$rows" -gt 10 ] && cmp -s "$T/kept.json" "$T/spilled.json" &&
    ok "every table spilled: the same $rows rows and evidence" || bad "rows differ ($rows rows)"
[ -z "$(ls -A "$T/tmp")" ] && ok "nothing left in TMPDIR" || bad "left in TMPDIR: $(ls "$T/tmp")"

TMPDIR="$T/none" "$ESCUDO" hunt --content "$DATA/escu-full" --format json --evidence \
    --group-memory 0 "$IN" >"$T/nodir.json" 2>"$T/err2"
n=$(grep -c "warning: spill file in $T/none: No such file or directory" "$T/err2")
[ "$n" = 1 ] && cmp -s "$T/kept.json" "$T/nodir.json" &&
    ok "unwritable TMPDIR: one warning, the same rows" || bad "unwritable TMPDIR: $n warnings"

# A spill file that stops taking writes (64 KiB of file size allowed, as a disk that fills up;
# SIGXFSZ ignored, so the write fails with EFBIG): one warning and the same rows, whether the
# spills are written on the calling thread (--threads 1: the groups stay in memory) or on a
# thread of their own (the chunks not written are held in memory and merged back).
for th in 1 2; do
    (trap '' XFSZ; ulimit -f 64; TMPDIR="$T/tmp" exec "$ESCUDO" hunt --content "$DATA/escu-full" \
        --format json --evidence --threads $th --group-memory 0 "$IN" 2>"$T/err4") |
        cat >"$T/full.json"
    n=$(grep -c "warning: spill file: write: File too large" "$T/err4")
    [ "$n" = 1 ] && cmp -s "$T/kept.json" "$T/full.json" && [ -z "$(ls -A "$T/tmp")" ] &&
        ok "writes failing (--threads $th): one warning, the same rows" ||
        bad "writes failing (--threads $th): $n warnings"
done

# A streamed stats spilled at every step merges back only the groups the filters after it can
# keep (spl/prune.c: the where's operands that read no aggregate); the rows and evidence are
# those of a hunt that spills nothing: 25,000 Sysmon 7 events of 300 images, one of which loads
# the four DLLs `Windows Remote Access Software BRC4 Loaded Dll` looks for.
python3 - "$T/brc4.xml" <<'PY'
import random, sys
random.seed(1)
out = open(sys.argv[1], "w")
def ev(i, image, dll, ofn, host):
    out.write("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
              "<Provider Name='Microsoft-Windows-Sysmon'/><EventID>7</EventID>"
              f"<TimeCreated SystemTime='2024-03-06T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
              f"{i % 60:02d}.000Z'/><EventRecordID>{i}</EventRecordID>"
              "<Channel>Microsoft-Windows-Sysmon/Operational</Channel>"
              f"<Computer>{host}</Computer></System><EventData>"
              f"<Data Name='Image'>{image}</Data><Data Name='ImageLoaded'>{dll}</Data>"
              f"<Data Name='OriginalFileName'>{ofn}</Data><Data Name='Signed'>true</Data>"
              "</EventData></Event>\n")
i = 0
for n in range(25000):
    i += 1
    d = random.randrange(40)
    ev(i, f"C:\\Apps\\app{random.randrange(300)}.exe", f"C:\\Windows\\lib{d}.dll",
       f"lib{d}.dll", f"host{random.randrange(5)}")
    if n % 5000 == 0:
        for dll in ["credui.dll", "DBGHELP.DLL", "SAMCLI.DLL", "winhttp.dll"]:
            i += 1
            ev(i, "C:\\Users\\Public\\beacon.exe", "C:\\Windows\\" + dll.lower(), dll,
               "host1")
PY
B=(hunt --quiet --content "$DATA/escu-full" --format json --evidence --detection
    "Windows Remote Access Software BRC4 Loaded Dll")
"$ESCUDO" "${B[@]}" --group-memory 1024 "$T/brc4.xml" >"$T/brc4.kept" 2>/dev/null
"$ESCUDO" "${B[@]}" --group-memory 0 "$T/brc4.xml" >"$T/brc4.spilled" 2>/dev/null
[ "$(grep -c beacon.exe "$T/brc4.kept")" = 1 ] && cmp -s "$T/brc4.kept" "$T/brc4.spilled" &&
    ok "streamed stats pruned as it spills: the same row and evidence" ||
    bad "streamed stats spilled: rows differ"

"$ESCUDO" hunt --group-memory -1 "$IN" >/dev/null 2>"$T/err3"
rc=$?
[ "$rc" = 2 ] && grep -q -- "--group-memory" "$T/err3" && ok "--group-memory -1: usage error" ||
    bad "--group-memory -1: exit $rc"
exit $fail
