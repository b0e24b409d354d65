#!/usr/bin/env bash
# `run --kafka --repartition-topic` on the command line (docs/scale.md "Two stages"), without a
# broker: the detections are checked before any connection. A cross-host detection (by
# process_name, dc(dest)) is refused without the flag, naming it; a detection whose search does
# not merge (list()) is refused with it, naming list; the flags need --kafka; the partial cap's
# range is checked. The two-stage path itself is tests/run/t_run_kafka_two_stage.py (heavy).
set -uo pipefail
ESCUDO=${ESCUDO:-build/escudo}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
# the test-only detections, written by runlib (tests/run/runlib.py) as the Python tests do
python3 - "$d/loc" "$(dirname "$0")" <<'PY' || exit 1
import sys
sys.path.insert(0, sys.argv[2])
import runlib
runlib.write_detections(sys.argv[1], [
    ("Cross host", "0d5c1b1e-1818-4b18-9018-000000000021",
     "| tstats count dc(Processes.dest) as hosts from datamodel=Endpoint.Processes"
     " by Processes.process_name | where hosts > 2"),
    ("List across hosts", "0d5c1b1e-1818-4b18-9018-000000000022",
     "| tstats count list(Processes.dest) as dests from datamodel=Endpoint.Processes"
     " by Processes.process_name"),
], "tests/run/t_run_repart_cli.sh")
PY
K=(--kafka 127.0.0.1:9 --topic t --local "$d/loc" --state "$d/st")
fail=0
expect() { # what exit-code stderr-substring args...
    local what=$1 code=$2 want=$3
    shift 3
    out=$(timeout 20 "$ESCUDO" run "$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne "$code" ] || ! grep -qF -- "$want" <<<"$out"; then
        echo "FAIL: $what: exit $rc, wanted $code and '$want': $out"
        fail=1
    fi
}
expect "cross-host without --repartition-topic" 2 "--repartition-topic TOPIC runs it in two stages" \
    "${K[@]}" --enable 0d5c1b1e-1818-4b18-9018-000000000021
expect "list() with --repartition-topic" 2 "does not run in two stages (list" \
    "${K[@]}" --enable 0d5c1b1e-1818-4b18-9018-000000000022 --repartition-topic r
expect "--repartition-topic without --kafka" 2 "--repartition-topic without --kafka" \
    --repartition-topic r --enable 0d5c1b1e-1818-4b18-9018-000000000021 --local "$d/loc" "$d/none.xml"
expect "--repartition-max-message 100" 2 "repartition-max-message" \
    "${K[@]}" --enable 0d5c1b1e-1818-4b18-9018-000000000021 --repartition-topic r \
    --repartition-max-message 100
[ $fail -eq 0 ] && echo "repartition options: 4 refusals as documented"
exit $fail
