#!/bin/bash
# escudo content install (issue 16, "Content a user has, by default"): a security_content
# checkout copied once into the user's content folder is what hunt, lint, content list and
# --version use without --content; symbolic links in the checkout are not followed; a bad
# --from changes nothing; the copy replaces the previous one whole.
. "$(dirname "$0")/lib.sh"
export XDG_DATA_HOME=$T/xdg
EVTX=$DATA/evtx

# before: the shipped example, and the summary says how to install
"$ESCUDO" hunt --format json "$EVTX" >/dev/null 2>"$T/err"
grep -q "escudo content install --from" "$T/err" && ok "no content: says how to install" ||
    bad "no content: no install hint ($(tail -2 "$T/err"))"

"$ESCUDO" content install >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q -- "--from" "$T/err" && ok "install without --from: exit 2" ||
    bad "install without --from"
"$ESCUDO" content install --from "$T/none" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && [ ! -e "$XDG_DATA_HOME/escudo/content" ] &&
    ok "install from a folder without detections: exit 2, nothing installed" || bad "bad --from"

# a checkout with a symbolic link that points outside it
mkdir -p "$T/co"
cp -r "$DATA/escu/detections" "$DATA/escu/macros" "$DATA/escu/lookups" "$T/co/"
printf 'version: 4.99.0\n' >"$T/co/contentctl.yml"
ln -s /etc/passwd "$T/co/macros/outside.yml"
"$ESCUDO" content install --from "$T/co" >"$T/out" 2>"$T/err"
rc=$?
dir=$XDG_DATA_HOME/escudo/content
[ $rc -eq 0 ] && [ -d "$dir/detections" ] && ok "installed" || bad "install: exit $rc $(cat "$T/err")"
[ ! -e "$dir/macros/outside.yml" ] && grep -q "skipped.*outside.yml" "$T/err" &&
    ok "a symbolic link is skipped and said" || bad "symbolic link followed or not said"
sup=$("$ESCUDO" lint --content "$DATA/escu" 2>/dev/null | sed -n 's/^[0-9]* detections, \([0-9]*\) supported.*/\1/p')
grep -q "$sup supported by escudo" "$T/out" && ok "says how many are supported ($sup)" ||
    bad "supported count: $(cat "$T/out")"
"$ESCUDO" --version | grep -q "security_content 4.99.0" && ok "--version names the installed content" ||
    bad "--version: $("$ESCUDO" --version)"

# afterwards: no --content needed
"$ESCUDO" hunt --format json "$EVTX" >"$T/rows" 2>"$T/err"
"$ESCUDO" hunt --format json --content "$DATA/escu" "$EVTX" >"$T/rows2" 2>/dev/null
cmp -s "$T/rows" "$T/rows2" && ok "hunt without --content = hunt --content ESCU" ||
    bad "hunt without --content differs from --content ESCU"
grep -q "only the shipped example" "$T/err" && bad "still says only the example ran" ||
    ok "no shipped-example note"
"$ESCUDO" lint 2>/dev/null | grep -q "^529 detections, $sup supported" && ok "lint uses it" ||
    bad "lint does not use the installed content"

# again: replaced whole, no leftovers
"$ESCUDO" content install --from "$DATA/escu" >/dev/null 2>&1
[ $? -eq 0 ] && [ ! -e "$dir.new" ] && [ ! -e "$dir.old" ] && ! grep -q 4.99.0 "$dir/VERSION" &&
    ok "a second install replaces the first" || bad "second install"
exit $fail
