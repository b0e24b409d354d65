#!/bin/bash
# Content that is not ESCU is reported as what it is (issue 16, problem 9): a Sigma rule
# (detection: and logsource:, no search:) is "a Sigma rule, not ESCU content", a YAML without a
# search is "not an ESCU detection", never "detection without a name".
. "$(dirname "$0")/lib.sh"
SRC=${ESC_SOURCE_DIR:-.}
X=$DATA/crafted/worked_example.xml
check() { # name, want substring, file
    if grep -qF -- "$2" "$3" && ! grep -q "without a name" "$3"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: $(cat "$3")"
        fail=1
    fi
}
mkdir -p "$T/sigma/detections" "$T/nosearch/detections" "$T/mixed/detections"
cat >"$T/sigma/detections/curl.yml" <<'YML'
title: Curl Web Request With Potential Custom User-Agent
id: 85de1f22-d189-44e4-8239-dc276b45379b
status: test
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\curl.exe'
    condition: selection
level: medium
YML
cat >"$T/nosearch/detections/story.yml" <<'YML'
name: Ransomware
id: 12345678-1234-1234-1234-123456789012
description: an analytic story, not a detection
narrative: stories group detections
YML
cp "$T/sigma/detections/curl.yml" "$T/mixed/detections/"
cp "$SRC"/content/detections/endpoint/*.yml "$T/mixed/detections/"
cp -r "$SRC/content/macros" "$T/mixed/"

SIG="Sigma rule, not ESCU content: escudo reads ESCU detections"
"$ESCUDO" hunt --detection "$T/sigma/detections/curl.yml" "$X" >/dev/null 2>"$T/err"
[ $? -eq 2 ] || { echo "FAIL: hunt --detection SIGMA: exit not 2"; fail=1; }
check "hunt --detection SIGMA" "$SIG" "$T/err"
"$ESCUDO" hunt --content "$T/sigma" "$X" >/dev/null 2>"$T/err"
[ $? -eq 2 ] || { echo "FAIL: hunt --content SIGMA-FOLDER: exit not 2"; fail=1; }
check "hunt --content SIGMA-FOLDER" "$SIG" "$T/err"
"$ESCUDO" test --static-only --content "$T/sigma" >/dev/null 2>"$T/err"
check "test --content SIGMA-FOLDER" "$SIG" "$T/err"
"$ESCUDO" hunt --content "$T/nosearch" "$X" >/dev/null 2>"$T/err"
check "YAML without a search" "YAML without a search: not an ESCU detection" "$T/err"
# among ESCU detections: a warning under --verbose, the ESCU ones still run
"$ESCUDO" hunt --verbose --content "$T/mixed" "$X" >"$T/out" 2>"$T/err"
rc=$?
check "mixed folder, --verbose" "$SIG" "$T/err"
[ $rc -eq 0 ] && [ -s "$T/out" ] || { echo "FAIL: mixed folder: exit $rc"; fail=1; }
[ $fail -eq 0 ] && echo "non-ESCU content: all passed"
exit $fail
