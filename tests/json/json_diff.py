#!/usr/bin/env python3
"""Compare escudo's JSON tokenizer output (written by tests/unit/test_json_diff.c) with
Python's json module on the same files.

Input: lines "F<TAB>path" naming a file, then one JSON array per record of that file, each
element [path, type, text]: path a list of keys and array indexes, type one of s n t f z o a,
text the decoded string (s), the literal number text (n), else "". Python parses the file with
json.JSONDecoder.raw_decode in a loop (so JSON lines and concatenated pretty-printed objects
both work), keeping every key/value pair in order (duplicates included) and numbers as text.
SPEC section 2 repair: lone surrogates and NUL become U+FFFD; invalid UTF-8 is replaced when the
file is decoded. Exit 0 when everything agrees, 1 with the first differences otherwise."""
import json
import re
import sys

REPAIR = re.compile("[\ud800-\udfff\x00]")


def fix(s):
    return REPAIR.sub("\ufffd", s)


class Obj(list):
    """An object as its (key, value) pairs, in order, duplicates kept."""


class Num(str):
    """A number as its literal text."""


DEC = json.JSONDecoder(object_pairs_hook=Obj, parse_int=Num, parse_float=Num,
                       parse_constant=Num, strict=False)


def flatten(v, path, out):
    if isinstance(v, Obj):
        for k, x in v:
            p = path + [fix(k)]
            leaf(x, p, out)
    else:
        for i, x in enumerate(v):
            leaf(x, path + [i], out)


def leaf(x, p, out):
    if isinstance(x, Obj):
        out.append([p, "o", ""])
        flatten(x, p, out)
    elif isinstance(x, list):
        out.append([p, "a", ""])
        flatten(x, p, out)
    elif x is True:
        out.append([p, "t", "true"])
    elif x is False:
        out.append([p, "f", "false"])
    elif x is None:
        out.append([p, "z", "null"])
    elif isinstance(x, Num):
        out.append([p, "n", str(x)])
    else:
        out.append([p, "s", fix(x)])


def python_records(path):
    text = open(path, "rb").read().decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    recs = []
    i, n = 0, len(text)
    ws = re.compile(r"[ \t\r\n]*")
    while True:
        i = ws.match(text, i).end()
        if i >= n:
            break
        v, i = DEC.raw_decode(text, i)
        out = []
        flatten(v, [], out)
        recs.append(out)
    return recs


def main():
    files = {}
    order = []
    cur = None
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.startswith("F\t"):
                cur = line[2:].rstrip("\n")
                files[cur] = []
                order.append(cur)
            else:
                files[cur].append(json.loads(line))
    bad = 0
    nrec = nval = 0
    for path in order:
        mine = files[path]
        theirs = python_records(path)
        if len(mine) != len(theirs):
            print(f"{path}: {len(mine)} records here, {len(theirs)} in Python")
            bad += 1
            continue
        for r, (a, b) in enumerate(zip(mine, theirs)):
            nrec += 1
            if len(a) != len(b):
                print(f"{path} record {r + 1}: {len(a)} values here, {len(b)} in Python")
                bad += 1
                break
            for x, y in zip(a, b):
                nval += 1
                px, tx, vx = x
                py, ty, vy = y
                if px != py or tx != ty or vx != vy:
                    print(f"{path} record {r + 1}: here {x!r}, Python {y!r}")
                    bad += 1
                    break
            if bad > 20:
                break
    print(f"json_diff: {len(order)} files, {nrec} records, {nval} values compared, "
          f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
