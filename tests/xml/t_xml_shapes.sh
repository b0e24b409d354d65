#!/bin/bash
# The shapes the XML event parser reads in one go (<Data Name='n'>text</Data> in EventData,
# <Name>text</Name> in System) and their near misses (a space, a second attribute, a prefix, an
# entity, a comment, CDATA, a wrong end tag, a child element, an empty value): dump and
# dump --fields must give the lines and warnings pinned here, which the parser gave before it
# had those fast paths (expected files made by the build before them, 4517d4b; the whole-element
# fields added since, each a verbatim piece of shapes.xml).
set -u
ESCUDO=${ESCUDO:-build/escudo}
case $ESCUDO in /*) ;; *) ESCUDO=$PWD/$ESCUDO ;; esac
cd "${ESC_SOURCE_DIR:-.}/tests/xml/shapes" || exit 1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
for mode in dump fields; do
    if [ $mode = dump ]; then args=(--format json); else args=(--fields); fi
    "$ESCUDO" dump "${args[@]}" shapes.xml >"$T/out" 2>"$T/err"
    if cmp -s "$T/out" shapes.$mode.jsonl && cmp -s "$T/err" shapes.$mode.err; then
        echo "ok: $mode"
    else
        echo "FAIL: $mode"
        diff "$T/out" shapes.$mode.jsonl | head -20
        diff "$T/err" shapes.$mode.err | head -20
        fail=1
    fi
done
exit $fail
