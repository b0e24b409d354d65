#!/bin/bash
# Macro expansion bombs (docs/limits.md): a macro calling itself twice (a cycle), a chain of ten
# macros each calling the next twice over a 2 KB definition (2 MB of text > the 1 MiB
# expansion cap), and a chain 150 deep (> the depth limit of 100). Each stops at once with exit 2
# and a message naming the detection and the limit; memory stays small: the doubling chain takes
# less than 16 MB over the cycle's run, which stops at once (an absolute bound would measure the
# build: under the sanitizers that run alone takes 55 MB).
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/local/macros"
python3 - "$T/local/macros" <<'PY'
import sys
d = sys.argv[1]
def macro(name, definition):
    with open("%s/%s.yml" % (d, name), "w") as f:
        f.write("name: %s\ndefinition: '%s'\ndescription: pathological\n" % (name, definition.replace("'", "''")))
macro("selfbomb", "`selfbomb` `selfbomb`")
for i in range(10):
    macro("dbl%d" % i, "`dbl%d` OR `dbl%d`" % (i + 1, i + 1))
macro("dbl10", 'Processes.process="' + "a" * 2000 + '"')
for i in range(150):
    macro("deep%d" % i, "`deep%d`" % (i + 1))
macro("deep150", "Processes.process=*")
PY
for m in selfbomb dbl0 deep0; do
    detection "$T/$m.yml" "bomb $m" "| tstats count from datamodel=Endpoint.Processes where \`$m\` by Processes.dest"
done

run 30 hunt --format json --local "$T/local" --detection "$T/selfbomb.yml" "$CRAFTED/worked_example.xml"
check "self-calling macro: exit 2" rc_is 2
check "self-calling macro: cycle named" err_has "bomb selfbomb: macro cycle: selfbomb -> selfbomb"
check "self-calling macro: no sanitizer report" no_sanitizer
BASE=$RSS # the same start, stopped at once: what the build itself takes (sanitizers: about 55 MB)

run 30 hunt --format json --local "$T/local" --detection "$T/dbl0.yml" "$CRAFTED/worked_example.xml"
check "doubling chain: exit 2" rc_is 2
check "doubling chain: size limit named" err_has "bomb dbl0: macro expansion exceeds 1048576 bytes"
check "doubling chain: RSS < the cycle's + 16 MB" eval '[ "$RSS" -lt $((BASE + 16 * 1024)) ]'
check "doubling chain: no sanitizer report" no_sanitizer

run 30 hunt --format json --local "$T/local" --detection "$T/deep0.yml" "$CRAFTED/worked_example.xml"
check "150-deep chain: exit 2" rc_is 2
check "150-deep chain: depth limit named" err_has "bomb deep0: macro expansion nested deeper than 100"
check "150-deep chain: no sanitizer report" no_sanitizer

# the same macros through `escudo explain`, which expands without reading events
run 30 explain --local "$T/local" --detection "$T/dbl0.yml"
check "explain doubling chain: exit 2 with the size limit" eval 'rc_is 2 && grep -q "exceeds 1048576 bytes" "$T/out" "$T/err"'
finish
