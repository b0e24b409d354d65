#!/bin/bash
# A run --config file over 1 MiB is refused with a message, exit 2, before anything runs (issue
# 19, item 9): it used to be cut at 1 MiB silently (`state: .../intended_state_dir` became
# `.../intended`). A config just under the limit is read whole.
. "$(dirname "$0")/lib.sh"
X=$DATA/crafted/worked_example.xml
ESCUDO=$(realpath "$ESCUDO")
X=$(realpath "$X")
cd "$T" || exit 1 # a config cut short falls back to .escudo-state here
# a config of `size` bytes whose last line is `state: $T/intended_state_dir`
config() { # file size
    python3 - "$1" "$2" "$T/intended_state_dir" <<'PY'
import sys
path, size, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = "enable: 743a322c-9a68-4a0f-9c17-85d9cce2a27c\nclock-start: 2024-03-06T00:00:00Z\n" \
       "clock-speed: max\nonce-until: 2024-03-06T01:00:00Z\n"
tail = "state: %s\n" % state
pad = size - len(head) - len(tail)
body = ("#" + "x" * 99 + "\n") * (pad // 101)
body += "#" + "x" * (pad - len(body) - 2) + "\n" if pad - len(body) >= 2 else "\n" * (pad - len(body))
open(path, "w").write(head + body + tail)
assert len(open(path).read()) == size
PY
}
config "$T/big.yml" $(((1 << 20) + 64))
"$ESCUDO" run --config "$T/big.yml" "$X" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "larger than 1 MiB" "$T/err" && [ ! -e "$T/intended" ] &&
    [ ! -e "$T/intended_state_dir" ] && [ ! -e "$T/.escudo-state" ]; then
    echo "ok: a config over 1 MiB is refused"
else
    echo "FAIL: config over 1 MiB: exit $rc, $(cat "$T/err"); $(ls "$T")"
    fail=1
fi
config "$T/fits.yml" $(((1 << 20) - 16))
"$ESCUDO" run --quiet --config "$T/fits.yml" "$X" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ -d "$T/intended_state_dir" ]; then
    echo "ok: a config just under 1 MiB is read whole"
else
    echo "FAIL: config under 1 MiB: exit $rc, $(cat "$T/err"); $(ls "$T")"
    fail=1
fi
[ $fail -eq 0 ] && echo "config size: all passed"
exit $fail
