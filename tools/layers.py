#!/usr/bin/env python3
"""Checks the shape of src/ (STYLE.md, "The shape of the program"); run by `make check`.

1. Includes point down the stack. Every folder of src/ is a layer with a rank; a file may
   include headers of its own layer and of layers below it, never above:

       core < ingest < parse < fields < cim < agg < spl < content < sink < act < detect < sched < cli

   A header in a sub-folder of a layer (src/parse/json/json.h) is private to that layer: only
   files of the same layer include it.
2. No function in src/ is longer than MAX_LINES lines (from its opening line to its closing
   brace); the longest ones are listed either way.

Exit 1 on any violation, with one line per violation. `--top N` lists N longest functions."""
import os
import re
import sys

ORDER = ["core", "ingest", "parse", "fields", "cim", "agg", "spl", "content", "sink", "act", "detect",
         "sched", "report", "cli"]
MAX_LINES = 150
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# A definition starts at column 0 with a type and ends its first line(s) with "{".
DEF_START = re.compile(r"^[A-Za-z_][\w \*,()\[\]]*\(")


def sources(root):
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def check_includes(root, path, problems):
    rel = os.path.relpath(path, root)
    layer = rel.split(os.sep)[0]
    if layer not in ORDER:
        problems.append("%s: folder %s is not in the layer order (tools/layers.py)" % (rel, layer))
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)
            parts = target.split("/")
            if len(parts) < 2 or parts[0] not in ORDER:
                continue
            if ORDER.index(parts[0]) > ORDER.index(layer):
                problems.append("%s:%d: %s includes %s, a layer above it" % (rel, n, layer, target))
            elif len(parts) > 2 and parts[0] != layer:
                problems.append("%s:%d: %s includes %s, private to %s/" %
                                (rel, n, layer, target, parts[0]))


def functions(path):
    """(name, first line, length) of every function definition in a clang-formatted file."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if DEF_START.match(line) and not line.startswith(("typedef", "struct", "enum", "union")):
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith(("{", ";")) and j - i < 8:
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith("{") and "=" not in lines[i]:
                k = j + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                name = re.search(r"(\w+)\s*\(", line)
                yield (name.group(1) if name else "?", i + 1, k - i + 1)
                i = k
        i += 1


def main():
    top = 10
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    root = os.path.normpath(root)
    problems = []
    funcs = []
    for path in sources(root):
        check_includes(root, path, problems)
        if path.endswith(".c"):
            rel = os.path.relpath(path, root)
            funcs += [(length, rel, line, name) for name, line, length in functions(path)]
    funcs.sort(reverse=True)
    for length, rel, line, name in funcs:
        if length > MAX_LINES:
            problems.append("%s:%d: %s is %d lines (at most %d)" % (rel, line, name, length,
                                                                     MAX_LINES))
    print("longest functions in src/:")
    for length, rel, line, name in funcs[:top]:
        print("  %4d  %s:%d %s" % (length, rel, line, name))
    for p in problems:
        print("layers: " + p)
    print("layers: %d files, %d functions, %d problems" %
          (sum(1 for _ in sources(root)), len(funcs), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
