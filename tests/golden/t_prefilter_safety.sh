#!/bin/bash
# The literal prefilter never loses an event that full decoding would match (SPEC section 3):
# literals hidden by XML character references, JSON \u escapes, or quotes that CrowdStrike's
# mapping deletes (profile splunk) must still reach the detection.
set -u
ESCUDO=${ESCUDO:-build/escudo}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect_rows() { # name want profile file
    local got
    got=$("$ESCUDO" hunt --quiet --format json --profile "$3" "$4" | wc -l)
    if [ "$got" -eq "$2" ]; then echo "ok: $1"; else echo "FAIL: $1 ($got rows, wanted $2)"; fail=1; fi
}
ev() { # CommandLine (raw XML text)
    echo "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2024-03-06T09:00:00.000Z'/><Computer>H</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\net.exe</Data><Data Name='CommandLine'>$1</Data></EventData></Event>"
}
ev 'net sh&#97;re x' >"$T/ncr.xml"
expect_rows "XML: 'share' behind a character reference" 1 splunk "$T/ncr.xml"
ev 'net sh&#x41;RE x' >"$T/ncr2.xml"
expect_rows "XML: hex reference" 1 splunk "$T/ncr2.xml"

cs() { # CommandLine as raw JSON string content
    echo "{\"event_simpleName\": \"ProcessRollup2\", \"timestamp\": \"1709716615346\", \"aid\": \"a1\", \"device_hostname\": \"H\", \"UserSid\": \"S-1-5-18\", \"ImageFileName\": \"\\\\Device\\\\HarddiskVolume2\\\\Windows\\\\System32\\\\net.exe\", \"CommandLine\": \"$1\", \"ParentBaseFileName\": \"cmd.exe\"}"
}
cs 'net.exe sh\u0061re x' >"$T/u.json"
expect_rows "JSON: 'share' behind a \\u escape" 1 splunk "$T/u.json"
cs 'net.exe sh\"are x' >"$T/q.json"
expect_rows "CrowdStrike: quotes deleted by the splunk mapping join 'share'" 1 splunk "$T/q.json"
expect_rows "CrowdStrike: ... but not in profile native" 0 native "$T/q.json"
cs 'net.exe view x' >"$T/neg.json"
expect_rows "CrowdStrike: a real negative stays out" 0 splunk "$T/neg.json"

[ $fail -eq 0 ] && echo "prefilter safety: all passed"
exit $fail
