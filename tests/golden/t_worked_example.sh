#!/bin/bash
# SPEC section 4's worked example: exactly two rows, (B) then (A), as JSON, CSV and table.
set -u
ESCUDO=${ESCUDO:-build/escudo}
IN=${ESC_SHARED_DATA:-../shared/data}/crafted/worked_example.xml
HERE=$(dirname "$0")
fail=0
for fmt in json csv table; do
    if ! diff <("$ESCUDO" hunt --quiet --format $fmt "$IN") "$HERE/worked_example.$fmt"; then
        echo "FAIL: worked example as $fmt"
        fail=1
    fi
done
[ $fail -eq 0 ] && echo "worked example: 3 passed, 0 failed"
exit $fail
