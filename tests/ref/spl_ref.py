#!/usr/bin/env python3
"""An independent reference for the SPL that ESCU's Windows detections use.

    python3 tests/ref/spl_ref.py --content DIR --detection ID|NAME FILE...

prints the detection's rows as `escudo hunt --format json` does (one JSON object a line,
keys in the order of the search's final columns). Input events come from
fields_ref.events_from (the field reference, when present in this directory) or else the
minimal stand-in spl_events.events_from: dicts in the `escudo dump --fields` shape.

Written from Splunk's documentation (Search Reference: search, tstats, stats, eval and its
functions, where, rex, rename, table, fields, dedup, fillnull, join, lookup, convert) and
SPEC.md sections 2, 4 and 8, not from escudo's C sources.

Semantics, with the documentation they come from:
- search (Search Reference "search", SPEC 4): field=value is case-insensitive on the whole
  value with `*` wildcards; a multivalue field matches when any value does; field names are
  case-sensitive; precedence NOT, then OR, then AND (implicit or explicit); `f!=v` needs f
  present ("Difference between NOT and !=": NOT f=v also keeps events without f); `<`, `>`
  compare numerically when both sides are numbers, else as strings; `IN (a, b)` is an OR of
  `=`; `index=` terms are always true (events carry no index); bare terms and TERM(x) match
  `_raw` as an indexed token (the term must start and end at a breaker: a character that is
  not a letter, digit or non-ASCII; a leading or trailing `*` lifts that edge); CASE(x)
  makes the term case-sensitive. `sourcetype=XmlWinEventLog:<Channel>` also matches an
  event of that channel (SPEC 8: the add-on's source-to-sourcetype rule). The matching
  events come newest _time first (Search Manual "About retrieving events": "Events are
  retrieved from the indexes in reverse time order"), events of one _time in input order;
  later commands (table, dedup, first/last, list) see them in that order.
- String literals: `\\` is one backslash, `\"` a quote, any other backslash is kept (SPEC 4).
- where/eval (Search Reference "eval", "where", "Evaluation functions"): precedence NOT, AND,
  OR; `=`/`==`/`!=` on strings are case-sensitive; a comparison with a null side is false;
  `like` uses `%` and `_`; match/replace/rex use PCRE (Python re with `(?<n>` rewritten);
  `+` adds numbers and concatenates strings, `.` concatenates.
- stats/tstats (Search Reference "stats", "tstats", "Statistical and charting functions"):
  BY fields then the aggregates; an event without a BY field is dropped (tstats
  fillnull_value fills it); a multivalue BY field makes one group per value (a repeated
  value feeds its group again: dedup_splitvals defaults to false); groups are
  ordered by their BY values, byte order (SPEC 4); values() distinct, byte-sorted, always an
  array; dc() case-sensitive; min/max numeric when the values are numbers, else string order;
  count(X) counts values of X; earliest/latest by _time.
- tstats from datamodel=M[.D]: the events whose `tag` holds every tag of the dataset's
  constraint (DATASETS below, from Splunk_SA_CIM's data models); each model field M.f is
  the event's field f, and a model field the event lacks is `unknown` (SPEC 8; for
  Endpoint.Processes only the fields SPEC 2 names). `by _time span=S` bins _time.
- join (Search Reference "join"): type=inner (default) or left, max=1 by default (0: all);
  the subsearch's matching rows' fields are added, overwrite=true by default.
- lookup over the content's CSV lookups: case-insensitive match unless the lookup says
  case_sensitive_match; OUTPUT overwrites, OUTPUTNEW fills only missing fields; several
  matching rows give multivalue outputs; fewer than the lookup's min_matches rows are made up
  with its default_match (transforms.conf).
- convert ctime(X): strftime in UTC, sub-seconds truncated (SPEC 4).
- A detection's `<name>_filter` macro missing from the content is `search *` (ESCU's build).

Anything else raises Unsupported("unsupported: ...") naming the construct."""

import argparse
import calendar
import csv
import json
import math
import os
import re
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Unsupported(Exception):
    def __init__(self, what):
        Exception.__init__(self, "unsupported: " + what)


class SplError(Exception):
    pass


def walk(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for n in sorted(names):
                    if n.lower().endswith((".evtx", ".xml", ".json", ".jsonl")):
                        yield os.path.join(root, n)
        else:
            yield p


def field_dict(ev):
    """A field reference's event in the shape the reference computes with: _time as epoch
    seconds (the dump writes ISO 8601), tag and eventtype as lists."""
    import spl_events
    ev = dict(ev)
    t = ev.get("_time")
    if isinstance(t, str):
        ev["_time"] = spl_events.parse_time(t) if not is_num(t) else float(t)
    for k in ("tag", "eventtype"):
        if k in ev and not isinstance(ev[k], list):
            ev[k] = [ev[k]]
    return ev


def events_from(paths):
    """Events as field dicts: from the field reference fields_ref.py when it is in this
    directory (events_from(paths), or events_of(path) + extract(event)), else from the
    stand-in spl_events.py. SPL_REF_FIELDS=stand-in forces the stand-in."""
    fr = None
    if os.environ.get("SPL_REF_FIELDS") != "stand-in":
        try:
            import fields_ref as fr
        except ImportError:
            fr = None
    if fr is not None and hasattr(fr, "events_from"):
        return (field_dict(e) for e in fr.events_from(paths))
    if fr is not None and hasattr(fr, "events_of") and hasattr(fr, "extract"):
        return (field_dict(fr.extract(e)) for p in walk(paths) for e in fr.events_of(p))
    import spl_events
    return spl_events.events_from(paths)


# ---------------------------------------------------------------- content

class Content:
    def __init__(self, roots):
        self.detections = []
        self.macros = {}
        self.lookups = {}
        # the CIM app's macros ESCU relies on (drop_dm_object_name) ship in content/base
        base = os.path.join(os.path.dirname(os.path.dirname(HERE)), "content", "base")
        for root in ([base] if os.path.isdir(base) else []) + list(roots):
            self.load(root)

    def load(self, root):
        for sub, fn in (("macros", self.add_macro), ("lookups", self.add_lookup)):
            d = os.path.join(root, sub)
            if os.path.isdir(d):
                for n in sorted(os.listdir(d)):
                    if n.endswith(".yml"):
                        fn(os.path.join(d, n))
        d = os.path.join(root, "detections")
        for dp, dirs, names in os.walk(d):
            dirs.sort()
            for n in sorted(names):
                if n.endswith(".yml"):
                    with open(os.path.join(dp, n), encoding="utf-8") as f:
                        y = yaml.safe_load(f)
                    if isinstance(y, dict) and "search" in y:
                        y["_file"] = os.path.join(dp, n)
                        self.detections.append(y)

    def add_macro(self, path):
        with open(path, encoding="utf-8") as f:
            y = yaml.safe_load(f)
        args = y.get("arguments") or []
        self.macros[(y["name"], len(args))] = (args, str(y.get("definition", "")))

    def add_lookup(self, path):
        with open(path, encoding="utf-8") as f:
            y = yaml.safe_load(f)
        if y and y.get("filename"):
            y["_path"] = os.path.join(os.path.dirname(path), y["filename"])
            self.lookups[y["name"]] = y

    def find(self, key):
        for d in self.detections:
            if key in (d.get("id"), d.get("name")):
                return d
        raise SplError("no detection %r" % key)


def split_top(s, sep, opens, closes):
    """s cut at each sep outside double quotes and outside the brackets opens/closes, each
    piece stripped."""
    out, depth, cur, q = [], 0, "", False
    i = 0
    while i < len(s):
        c = s[i]
        if q:
            cur += c
            if c == "\\" and i + 1 < len(s):
                cur += s[i + 1]
                i += 1
            elif c == '"':
                q = False
        elif c == '"':
            q = True
            cur += c
        elif c in opens:
            depth += 1
            cur += c
        elif c in closes:
            depth -= 1
            cur += c
        elif c == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur.strip())
    return out


def split_args(s):
    out = split_top(s, ",", "([", ")]")
    return [a[1:-1] if len(a) >= 2 and a[0] == '"' and a[-1] == '"' and '"' not in a[1:-1]
            else a for a in out]


def strip_comments(text):
    """Splunk search comments: ```...``` (Search Manual, "Add comments to searches")."""
    return re.sub(r"```.*?```", " ", text, flags=re.S)


def expand(text, content, depth=0):
    if depth == 0:
        text = strip_comments(text)
    if depth > 100:
        raise SplError("macro nesting too deep")
    out, i, q = [], 0, False
    while i < len(text):
        c = text[i]
        if q and c == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        if c == '"':
            q = not q
        if c == "`" and not q:
            j = text.find("`", i + 1)
            if j < 0:
                raise SplError("unterminated macro call")
            call = text[i + 1:j].strip()
            m = re.match(r"^([\w.-]+)\s*(?:\((.*)\))?$", call, re.S)
            if not m:
                raise SplError("bad macro call %r" % call)
            name, argtext = m.group(1), m.group(2)
            args = split_args(argtext) if argtext is not None else []
            if (name, len(args)) in content.macros:
                params, body = content.macros[(name, len(args))]
                for p, a in zip(params, args):
                    body = body.replace("$%s$" % p, a)
                out.append(expand(strip_comments(body), content, depth + 1))
            elif name.endswith("_filter") and not args:
                out.append("search *")
            else:
                raise SplError("unknown macro '%s(%d)'" % (name, len(args)))
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def split_pipeline(text):
    return split_top(text, "|", "[", "]")


# ---------------------------------------------------------------- lexer

def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in '\\"':
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


TOK_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:\\.|[^"\\])*")
  | (?P<sq>'(?:[^'])*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[=<>(),+\-*/%.!\[\]])
  | (?P<word>[^\s"'=<>(),!\[\]|]+)
""", re.X | re.S)


def lex(text, eval_mode=False):
    """Tokens (kind, text). In search mode words may hold '.', '*', '-', '/', '+' and '%'."""
    toks, i = [], 0
    while i < len(text):
        m = TOK_RE.match(text, i)
        if not m:
            raise SplError("cannot read %r" % text[i:i + 20])
        kind = m.lastgroup
        val = m.group(kind)
        i = m.end()
        if kind == "ws":
            continue
        if eval_mode and kind == "word":
            # split arithmetic out of words, '.' too: a.b concatenates a and b (Search
            # Reference, "eval": names with non-alphanumeric characters are single-quoted);
            # numbers like 1.5 stay whole.
            for part in re.findall(r"\d+\.\d+|[A-Za-z_0-9:@${}&#;?~^`\\]+|[*/%+\-.]", val):
                toks.append(("op" if part in "*/%+-." else "word", part))
            continue
        if not eval_mode and kind == "op" and val in "+-*/%.":
            # in search mode these belong to words; glue to the neighbour word
            if toks and toks[-1][0] == "word" and text[i - len(val) - 1:i - len(val)].strip():
                toks[-1] = ("word", toks[-1][1] + val)
            else:
                toks.append(("word", val))
            continue
        if not eval_mode and kind == "word" and toks and toks[-1][0] == "word" and \
                text[i - len(val) - 1:i - len(val)] and \
                not text[i - len(val) - 1:i - len(val)].isspace() and \
                toks[-1][1][-1:] in "+-*/%.":
            toks[-1] = ("word", toks[-1][1] + val)
            continue
        toks.append((kind, val))
    return toks


# ---------------------------------------------------------------- values

def mv(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def is_num(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    try:
        float(str(v).strip())
        return str(v).strip().lower() not in ("nan", "inf", "-inf", "infinity", "+inf") and \
            str(v).strip() != ""
    except ValueError:
        return False


def num(v):
    if isinstance(v, (int, float)):
        return v
    f = float(str(v).strip())
    return int(f) if f.is_integer() and re.fullmatch(r"[+-]?\d+", str(v).strip()) else f


def to_str(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v))
    return str(v)


def wildcard_re(pat, case=False):
    parts = [".*" if p == "*" else re.escape(p) for p in re.split(r"(\*)", pat)]
    return re.compile("".join(parts) + r"\Z", re.S | (0 if case else re.I))


def pcre(pattern):
    p = re.sub(r"\\x\{([0-9A-Fa-f]{1,4})\}", lambda m: "\\u%04x" % int(m.group(1), 16), pattern)
    p = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", p)
    p = re.sub(r"\(\?P?<([A-Za-z_]\w*)>", r"(?P<\1>", p)
    try:
        return re.compile(p)
    except re.error as e:
        raise Unsupported("regular expression %r (%s)" % (pattern, e))


# ---------------------------------------------------------------- search expressions

class Tokens:
    """A token list read front to back: peek at the k-th next, take the next."""

    def __init__(self, toks):
        self.t = toks
        self.i = 0

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok


class SearchParser(Tokens):
    """search / tstats-where grammar: and := or ([AND] or)*; or := not (OR not)*;
    not := NOT not | primary."""

    def __init__(self, text):
        super().__init__(lex(text))

    def parse(self):
        if not self.t:
            return ("true",)
        e = self.p_and()
        if self.i != len(self.t):
            raise SplError("unexpected %r in search" % (self.peek()[1],))
        return e

    def p_and(self):
        items = [self.p_or()]
        while True:
            k, v = self.peek()
            if k is None or v == ")":
                break
            if k == "word" and v == "AND":
                self.take()
            items.append(self.p_or())
        return items[0] if len(items) == 1 else ("and", items)

    def p_or(self):
        items = [self.p_not()]
        while self.peek() == ("word", "OR"):
            self.take()
            items.append(self.p_not())
        return items[0] if len(items) == 1 else ("or", items)

    def p_not(self):
        if self.peek() == ("word", "NOT"):
            self.take()
            return ("not", self.p_not())
        return self.primary()

    def value(self):
        k, v = self.take()
        if k == "str":
            return unescape(v[1:-1])
        if k == "word":
            return unescape(v)
        raise SplError("expected a value, got %r" % (v,))

    def primary(self):
        k, v = self.take()
        if (k, v) == ("op", "("):
            e = self.p_and()
            if self.take() != ("op", ")"):
                raise SplError("missing )")
            return e
        if k == "word" and v.upper() in ("TERM", "CASE") and self.peek() == ("op", "("):
            self.take()
            inner = self.value()
            if self.take() != ("op", ")"):
                raise SplError("missing ) after %s(" % v)
            return ("term", inner, v.upper() == "CASE")
        if k == "str" and self.peek()[0] == "op" and self.peek()[1] in \
                ("=", "!=", "<", ">", "<=", ">=", "=="):
            k, v = "word", v[1:-1]
        if k == "word" and self.peek()[0] == "op" and self.peek()[1] in \
                ("=", "!=", "<", ">", "<=", ">=", "=="):
            op = self.take()[1]
            if op == "==":
                op = "="
            return ("cmp", v, op, self.value())
        if k == "word" and self.peek() == ("word", "IN") and self.peek(1) == ("op", "("):
            self.take()
            self.take()
            vals = []
            while self.peek() != ("op", ")"):
                if self.peek() == ("op", ","):
                    self.take()
                    continue
                if self.peek()[0] is None:
                    raise SplError("missing ) in IN list")
                vals.append(self.value())
            self.take()
            return ("or", [("cmp", v, "=", x) for x in vals]) if vals else ("false",)
        if k in ("word", "str"):
            if k == "word" and v.startswith("[") or v == "[":
                raise Unsupported("subsearch in search")
            return ("term", unescape(v[1:-1]) if k == "str" else unescape(v), False)
        raise SplError("unexpected %r in search" % (v,))


def term_re(term, case):
    t = term
    lead, trail = t.startswith("*"), t.endswith("*")
    core = [".*?" if p == "*" else re.escape(p) for p in re.split(r"(\*)", t.strip("*"))]
    body = "".join(core)
    pre = "" if lead else r"(?<![A-Za-z0-9\u0080-\uffff])"
    post = "" if trail else r"(?![A-Za-z0-9\u0080-\uffff])"
    return re.compile(pre + body + post, re.S | (0 if case else re.I))


def field_values(row, name):
    if name == "sourcetype":
        vals = mv(row.get("sourcetype"))
        ch = row.get("Channel")
        if ch and any(str(x).lower() == "xmlwineventlog" for x in vals):
            vals = vals + ["XmlWinEventLog:" + str(ch)]
        return vals
    return mv(row.get(name))


def search_eval(e, row, cache):
    kind = e[0]
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "and":
        return all(search_eval(x, row, cache) for x in e[1])
    if kind == "or":
        return any(search_eval(x, row, cache) for x in e[1])
    if kind == "not":
        return not search_eval(e[1], row, cache)
    if kind == "term":
        if e[1] == "*":
            return True
        raw = row.get("_raw")
        if raw is None:
            # a row of a results table: Splunk matches a bare term against any field value
            vals = [str(x) for k, v in row.items() for x in mv(v)]
            return any(term_re(e[1], e[2]).search(x) for x in vals)
        key = ("t", e[1], e[2])
        if key not in cache:
            cache[key] = term_re(e[1], e[2])
        return cache[key].search(raw) is not None
    if kind == "cmp":
        _, f, op, val = e
        if f == "index":
            return True
        if "*" in f:
            raise Unsupported("wildcard field name %r in search" % f)
        vals = field_values(row, f)
        if op == "=":
            if val == "*":
                return bool(vals)
            rx = wildcard_re(val)
            return any(rx.match(to_str(x)) for x in vals)
        if op == "!=":
            if not vals:
                return False
            rx = wildcard_re(val)
            return not any(rx.match(to_str(x)) for x in vals)
        for x in vals:
            if is_num(x) and is_num(val):
                a, b = num(x), num(val)
            else:
                a, b = to_str(x), val
            if {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]:
                return True
        return False
    raise SplError("bad search node %r" % (e,))


# ---------------------------------------------------------------- eval expressions

class EvalParser(Tokens):
    def __init__(self, text):
        super().__init__(lex(text, eval_mode=True))

    def expect(self, v):
        tok = self.take()
        if tok[1] != v:
            raise SplError("expected %r, got %r" % (v, tok[1]))

    def parse(self):
        e = self.p_or()
        if self.i != len(self.t):
            raise SplError("unexpected %r in expression" % (self.peek()[1],))
        return e

    def p_or(self):
        e = self.p_and()
        while self.peek()[1] in ("OR", "||") or self.peek() == ("word", "or"):
            self.take()
            e = ("or", e, self.p_and())
        return e

    def p_and(self):
        e = self.p_not()
        while self.peek()[1] in ("AND", "&&") or self.peek() == ("word", "and"):
            self.take()
            e = ("and", e, self.p_not())
        return e

    def p_not(self):
        if self.peek()[1] in ("NOT", "!") or self.peek() == ("word", "not"):
            self.take()
            return ("not", self.p_not())
        return self.p_cmp()

    def p_cmp(self):
        e = self.p_add()
        k, v = self.peek()
        if v in ("=", "==", "!=", "<", ">", "<=", ">="):
            self.take()
            return ("cmp", "=" if v == "==" else v, e, self.p_add())
        if k == "word" and v.upper() == "LIKE":
            self.take()
            return ("call", "like", [e, self.p_add()])
        if k == "word" and v.upper() == "IN" and self.peek(1) == ("op", "("):
            self.take()
            return ("call", "in", [e] + self.args())
        return e

    def p_add(self):
        e = self.p_mul()
        while self.peek()[1] in ("+", "-", "."):
            op = self.take()[1]
            e = ("arith", op, e, self.p_mul())
        return e

    def p_mul(self):
        e = self.p_unary()
        while self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            e = ("arith", op, e, self.p_unary())
        return e

    def p_unary(self):
        if self.peek()[1] == "-":
            self.take()
            return ("arith", "-", ("lit", 0), self.p_unary())
        return self.primary()

    def args(self):
        self.expect("(")
        out = []
        if self.peek()[1] == ")":
            self.take()
            return out
        while True:
            out.append(self.p_or())
            k, v = self.take()
            if v == ")":
                return out
            if v != ",":
                raise SplError("expected , or ) in call, got %r" % (v,))

    def primary(self):
        k, v = self.take()
        if v == "(":
            e = self.p_or()
            self.expect(")")
            return e
        if k == "str":
            return ("lit", unescape(v[1:-1]))
        if k == "sq":
            return ("field", v[1:-1])
        if k == "word":
            if re.fullmatch(r"\d+(\.\d+)?", v):
                return ("lit", num(v))
            if self.peek() == ("op", "("):
                return ("call", v.lower(), self.args())
            if v in ("true", "TRUE"):
                return ("lit", True)
            if v in ("false", "FALSE"):
                return ("lit", False)
            return ("field", v)
        raise SplError("unexpected %r in expression" % (v,))


def truth(v):
    if isinstance(v, list):
        v = v[0] if v else None
    return v is True


def eval_cmp(op, a, b):
    if a is None or b is None:
        return None
    if isinstance(a, list) or isinstance(b, list):
        return any(eval_cmp(op, x, y) for x in mv(a) for y in mv(b))
    if isinstance(a, bool) or isinstance(b, bool):
        a, b = to_str(a), to_str(b)
    if is_num(a) and is_num(b):
        a, b = num(a), num(b)
    else:
        a, b = to_str(a), to_str(b)
    return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def like_re(pat):
    out = []
    for c in pat:
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
    return re.compile("".join(out) + r"\Z", re.S)


def first_val(v):
    if isinstance(v, list):
        return v[0] if v else None
    return v


def ev(e, row):
    kind = e[0]
    if kind == "lit":
        return e[1]
    if kind == "field":
        v = row.get(e[1])
        return v
    if kind == "and":
        a = ev(e[1], row)
        return truth(a) and truth(ev(e[2], row))
    if kind == "or":
        return truth(ev(e[1], row)) or truth(ev(e[2], row))
    if kind == "not":
        a = ev(e[1], row)
        return None if a is None else not truth(a)
    if kind == "cmp":
        return eval_cmp(e[1], ev(e[2], row), ev(e[3], row))
    if kind == "arith":
        a, b = first_val(ev(e[2], row)), first_val(ev(e[3], row))
        if a is None or b is None:
            return None
        op = e[1]
        if op == ".":
            return to_str(a) + to_str(b)
        if op == "+" and not (is_num(a) and is_num(b)):
            return to_str(a) + to_str(b)
        if not (is_num(a) and is_num(b)):
            return None
        a, b = num(a), num(b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return None
        if op == "/":
            r = a / b
            return int(r) if isinstance(r, float) and r.is_integer() else r
        return a % b
    if kind == "call":
        return call(e[1], e[2], row)
    raise SplError("bad expression node %r" % (e,))


def mapv(v, fn):
    if v is None:
        return None
    if isinstance(v, list):
        return [fn(to_str(x)) for x in v]
    return fn(to_str(v))


def call(name, args, row):
    a = lambda i: ev(args[i], row)  # noqa: E731
    n = len(args)
    if name == "if":
        return a(1) if truth(a(0)) else a(2)
    if name == "case":
        for i in range(0, n - 1, 2):
            if truth(a(i)):
                return a(i + 1)
        return None
    if name == "coalesce":
        for i in range(n):
            v = a(i)
            if v is not None and v != "":
                return v
        return None
    if name in ("isnull", "isnotnull"):
        v = a(0)
        r = v is None or v == []
        return r if name == "isnull" else not r
    if name == "null":
        return None
    if name == "true":
        return True
    if name == "false":
        return False
    if name in ("lower", "upper"):
        return mapv(a(0), str.lower if name == "lower" else str.upper)
    if name in ("trim", "ltrim", "rtrim"):
        chars = to_str(a(1)) if n > 1 else None
        fn = {"trim": str.strip, "ltrim": str.lstrip, "rtrim": str.rstrip}[name]
        return mapv(a(0), lambda s: fn(s, chars) if chars is not None else fn(s, " \t"))
    if name == "len":
        v = first_val(a(0))
        return None if v is None else len(to_str(v))
    if name in ("match", "like"):
        v, p = a(0), to_str(a(1))
        if v is None or p is None:
            return None
        if name == "match":
            rx = pcre(p)
            return any(rx.search(to_str(x)) for x in mv(v))
        rx = like_re(p)
        return any(rx.match(to_str(x)) for x in mv(v))
    if name == "replace":
        v, p, r = a(0), to_str(a(1)), to_str(a(2))
        if v is None:
            return None
        rx = pcre(p)
        rep = re.sub(r"\\(\d)", r"\\g<\1>", r)
        return mapv(v, lambda s: rx.sub(rep, s))
    if name == "substr":
        v = first_val(a(0))
        if v is None:
            return None
        s, start = to_str(v), int(num(a(1)))
        ln = int(num(a(2))) if n > 2 else None
        i = start - 1 if start > 0 else (len(s) + start if start < 0 else 0)
        i = max(i, 0)
        return s[i:] if ln is None else s[i:i + ln]
    if name == "split":
        v, d = first_val(a(0)), to_str(a(1))
        if v is None:
            return None
        return to_str(v).split(d) if d else list(to_str(v))
    if name == "mvjoin":
        v = a(0)
        return None if v is None else to_str(a(1)).join(to_str(x) for x in mv(v))
    if name == "mvcount":
        v = a(0)
        return None if v is None else len(mv(v))
    if name == "mvindex":
        vals = mv(a(0))
        if not vals:
            return None
        s = int(num(a(1)))
        e2 = int(num(a(2))) if n > 2 else None
        ln = len(vals)
        s = s + ln if s < 0 else s
        if e2 is None:
            return vals[s] if 0 <= s < ln else None
        e2 = e2 + ln if e2 < 0 else e2
        out = vals[s:e2 + 1]
        return out if len(out) != 1 else out[0]
    if name == "mvappend":
        out = []
        for i in range(n):
            out += mv(a(i))
        return out if len(out) != 1 else out[0]
    if name == "mvdedup":
        out = []
        for x in mv(a(0)):
            if x not in out:
                out.append(x)
        return out or None
    if name == "tonumber":
        v = first_val(a(0))
        if n > 1:
            try:
                return int(to_str(v), int(num(a(1))))
            except (ValueError, TypeError):
                return None
        return num(v) if v is not None and is_num(v) else None
    if name == "tostring":
        v = a(0)
        return mapv(v, lambda s: s)
    if name in ("abs", "round", "floor", "ceil", "ceiling"):
        v = first_val(a(0))
        if v is None or not is_num(v):
            return None
        x = num(v)
        if name == "abs":
            return abs(x)
        if name == "round":
            d = int(num(a(1))) if n > 1 else 0
            r = math.floor(x * 10 ** d + 0.5) / 10 ** d
            return int(r) if d == 0 else r
        return int(math.floor(x) if name == "floor" else math.ceil(x))
    if name in ("max", "min"):
        vals = [first_val(a(i)) for i in range(n)]
        vals = [x for x in vals if x is not None]
        if not vals:
            return None
        if all(is_num(x) for x in vals):
            return (max if name == "max" else min)(num(x) for x in vals)
        return (max if name == "max" else min)(to_str(x) for x in vals)
    if name == "in":
        v = a(0)
        if v is None:
            return None
        opts = [to_str(a(i)) for i in range(1, n)]
        return any(to_str(x) in opts for x in mv(v))
    if name == "urldecode":
        from urllib.parse import unquote
        return mapv(a(0), unquote)
    if name == "strftime":
        v, fmt = first_val(a(0)), to_str(a(1))
        if v is None or not is_num(v):
            return None
        return time.strftime(fmt, time.gmtime(math.floor(float(num(v)))))
    raise Unsupported("eval function %s()" % name)


# ---------------------------------------------------------------- data models

# Splunk_SA_CIM: dataset -> (constraint tags, fields). Child datasets add their parent's tags.
DATASETS = {
    "Endpoint.Processes": (("process", "report"), (
        "action", "dest", "original_file_name", "parent_process", "parent_process_exec",
        "parent_process_guid", "parent_process_id", "parent_process_name",
        "parent_process_path", "process", "process_current_directory", "process_exec",
        "process_guid", "process_hash", "process_id", "process_integrity_level",
        "process_name", "process_path", "user", "user_id", "vendor_product")),
    "Endpoint.Registry": (("endpoint", "registry"), (
        "action", "dest", "process_guid", "process_id", "registry_hive", "registry_key_name",
        "registry_path", "registry_value_data", "registry_value_name", "registry_value_text",
        "registry_value_type", "status", "user", "vendor_product")),
    "Endpoint.Filesystem": (("endpoint", "filesystem"), (
        "action", "dest", "file_access_time", "file_acl", "file_create_time", "file_hash",
        "file_modify_time", "file_name", "file_path", "file_size", "process_guid",
        "process_id", "user", "vendor_product")),
    "Endpoint.Services": (("service", "report"), (
        "dest", "process_guid", "service", "service_dll", "service_exec", "service_id",
        "service_name",
        "service_path", "start_mode", "status", "user", "vendor_product")),
    "Network_Traffic.All_Traffic": (("network", "communicate"), (
        "action", "app", "bytes", "bytes_in", "bytes_out", "dest", "dest_ip", "dest_port",
        "direction", "dvc", "process_id", "process_guid", "protocol", "src", "src_ip",
        "src_port", "transport", "user", "vendor_product")),
}
ALIAS = {"Network_Traffic": "Network_Traffic.All_Traffic"}
# The model fields whose CIM calculation is `if(isnull(f) OR f="","unknown",f)` (CIM 8.5
# reference, help.splunk.com .../common-information-model/8.5/data-models/endpoint and
# .../network-traffic: the "Expression:" of each field). Endpoint.Processes keeps SPEC 2's
# list (it adds original_file_name). Other missing model fields stay missing, so tstats
# fillnull_value fills them when they are BY fields. vendor_product falls back to
# sourcetype (its CIM expression's isnotnull(sourcetype) branch) in the Endpoint datasets.
UNKNOWN = {
    "Endpoint.Processes": ("dest", "user", "process", "process_name", "parent_process",
                           "parent_process_name", "original_file_name"),
    "Endpoint.Registry": ("action", "dest", "registry_path", "registry_key_name",
                          "registry_value_data", "registry_value_name", "registry_value_type",
                          "user"),
    "Endpoint.Filesystem": ("action", "dest", "file_hash", "file_name", "file_path",
                            "file_acl", "user"),
    "Endpoint.Services": ("dest", "service", "service_id", "service_name", "start_mode",
                          "user"),
    "Network_Traffic.All_Traffic": (),
}


def model_records(events, dm):
    dm = ALIAS.get(dm, dm)
    if dm not in DATASETS:
        raise Unsupported("data model %s" % dm)
    tags, fields = DATASETS[dm]
    obj = dm.split(".")[-1]
    unknown = UNKNOWN[dm]
    for e in events:
        etags = mv(e.get("tag"))
        if not all(t in etags for t in tags):
            continue
        r = {"_time": e.get("_time")}
        for f in fields:
            v = e.get(f)
            if v is None or v == "" or v == []:
                if f in unknown:
                    r[obj + "." + f] = "unknown"
                elif f == "vendor_product" and dm.startswith("Endpoint.") and \
                        e.get("sourcetype") is not None:
                    r[obj + "." + f] = e.get("sourcetype")
            elif f == "file_size" and not all(is_num(x) for x in mv(v)):
                continue  # if(isnum(file_size),file_size,null())
            else:
                r[obj + "." + f] = v
        yield r


# ---------------------------------------------------------------- commands

def words(text):
    return [w for w in re.split(r"[\s,]+", text.strip()) if w]


def unquote_name(w):
    if len(w) >= 2 and w[0] == w[-1] == '"':
        return w[1:-1]
    return w


def parse_aggs(text):
    """'count min(_time) as firstTime values(X) ...' -> [(func, arg, alias)]."""
    out = []
    rx = re.compile(r'\s*,?\s*(\w+)(?:\(([^)]*)\))?(?:\s+(?:as|AS|As)\s+("[^"]*"|[^\s,]+))?')
    i = 0
    while i < len(text.strip()):
        m = rx.match(text, i)
        if not m or m.end() == i:
            raise SplError("cannot read aggregates at %r" % text[i:])
        func, arg, alias = m.group(1), m.group(2), m.group(3)
        i = m.end()
        if not text[i:].strip():
            out.append((func.lower(), arg, alias))
            break
        out.append((func.lower(), arg, alias))
    res = []
    for func, arg, alias in out:
        if func == "distinct_count":
            func = "dc"
        if func == "c":
            func = "count"
        name = unquote_name(alias) if alias else (func if arg is None else "%s(%s)" % (func, arg))
        res.append((func, arg.strip() if arg else None, name))
    return res


def agg_value(func, arg, rows):
    if func == "count" and not arg:
        return len(rows)
    vals = []
    for r in rows:
        vals += [x for x in mv(r.get(arg)) if x is not None]
    if func == "count":
        return len(vals)
    if func == "dc":
        return len(set(to_str(x) for x in vals))
    if func == "values":
        return sorted(set(to_str(x) for x in vals), key=lambda s: s.encode("utf-8"))
    if func == "list":
        return [to_str(x) for x in vals][:100]
    if not vals:
        return None
    if func in ("min", "max"):
        nums = [num(x) for x in vals if is_num(x)]
        if nums:
            return (min if func == "min" else max)(nums)
        strs = [to_str(x) for x in vals]
        return (min if func == "min" else max)(strs)
    if func in ("stdev", "stdevp", "var", "varp"):
        nums = [float(num(x)) for x in vals if is_num(x)]
        samp = func in ("stdev", "var")
        if not nums or (samp and len(nums) < 2):
            return None
        mean = sum(nums) / len(nums)
        var = sum((x - mean) ** 2 for x in nums) / (len(nums) - 1 if samp else len(nums))
        return math.sqrt(var) if func.startswith("stdev") else var
    if func in ("sum", "avg", "range"):
        nums = [num(x) for x in vals if is_num(x)]
        if not nums:
            return None
        if func == "sum":
            return sum(nums)
        if func == "range":
            return max(nums) - min(nums)
        return sum(nums) / len(nums)
    if func in ("earliest", "latest", "first", "last"):
        withv = [(r.get("_time"), i, r.get(arg)) for i, r in enumerate(rows)
                 if r.get(arg) is not None]
        if not withv:
            return None
        if func in ("first", "last"):
            return withv[0][2] if func == "first" else withv[-1][2]
        key = lambda t: (t[0] if t[0] is not None else 0, t[1])  # noqa: E731
        pick = min(withv, key=key) if func == "earliest" else max(withv, key=key)
        return pick[2]
    raise Unsupported("stats function %s()" % func)


def group_rows(rows, by, fillnull=None, span=None):
    groups = {}
    for r in rows:
        keys = [[]]
        for f in by:
            vals = mv(r.get(f))
            if f == "_time" and span and vals and is_num(vals[0]):
                # `by _time span=S`: the group key is the bin; aggregates still see the
                # event's own _time (min(_time) is the first event's time, not the bin's)
                vals = [int(math.floor(float(vals[0]) / span) * span)]
            if not vals:
                if fillnull is None:
                    keys = []
                    break
                vals = [fillnull]
            # one group per value; dedup_splitvals (default false) would drop repeated values,
            # so a value given twice feeds its group twice (Search Reference "stats")
            keys = [k + [to_str(v)] for k in keys for v in vals]
        for k in keys:
            groups.setdefault(tuple(k), []).append(r)
    return groups


def sort_key_for(by):
    """Groups sort by their BY values in byte order (SPEC 4); _time bins by number."""
    def key(k):
        return tuple((float(x), b"") if f == "_time" and is_num(x) else (0.0, x.encode("utf-8"))
                     for f, x in zip(by, k))
    return key


def do_stats(rows, aggs, by, fillnull=None, span=None):
    groups = group_rows(rows, by, fillnull, span)
    out = []
    for k in sorted(groups, key=sort_key_for(by)):
        row = dict(zip(by, k))
        if "_time" in row and is_num(row["_time"]):
            row["_time"] = num(row["_time"])
        for func, arg, name in aggs:
            v = agg_value(func, arg, groups[k])
            if v is not None or func in ("values", "list"):
                row[name] = v
        out.append(row)
    return out


def span_seconds(s):
    m = re.fullmatch(r"(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|"
                     r"hour|hours|d|day|days|w|week|weeks)?", s)
    if not m:
        raise Unsupported("span=%s" % s)
    unit = (m.group(2) or "s")[0]
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]


def bin_time(rows, span, field="_time"):
    for r in rows:
        t = r.get(field)
        if t is not None and is_num(t):
            r[field] = int(math.floor(float(t) / span) * span)


class Runner:
    def __init__(self, content, events):
        self.content = content
        self.events = events

    def run(self, text):
        stages = split_pipeline(text)
        rows = None
        for i, st in enumerate(stages):
            if i == 0 and st == "":
                continue
            m = re.match(r"(\w+)\b\s*(.*)", st, re.S)
            cmd = m.group(1) if m else ""
            rest = m.group(2) if m else st
            if rows is None:
                if cmd == "tstats":
                    rows = self.tstats(rest)
                    continue
                if cmd == "search":
                    st = rest
                if i == 0 and text.lstrip().startswith("|"):
                    raise Unsupported("generating command %r" % cmd)
                expr = SearchParser(st).parse()
                cache = {}
                rows = [dict(e) for e in self.events if search_eval(expr, e, cache)]
                rows.sort(key=newest_key)  # stable: one _time keeps input order
                continue
            fn = getattr(self, "c_" + cmd, None)
            if fn is None:
                raise Unsupported("command %r" % cmd)
            rows = fn(rows, rest)
        return rows or []

    # -- generating
    def tstats(self, rest):
        m = re.match(r"(.*?)\bfrom\s+datamodel\s*=\s*([\w.]+)(.*)$", rest, re.S | re.I)
        if not m:
            raise Unsupported("tstats without from datamodel=")
        head, dm, tail = m.groups()
        opts = dict(re.findall(r"(\w+)=(\S+)", head))
        aggtext = re.sub(r"\b\w+=\S+", "", head)
        fill = opts.get("fillnull_value")
        if fill is not None:
            fill = unquote_name(fill)
        where, by = "", ""
        mb = re.search(r"\b(?:by|BY|By|groupby)\b(.*)$", tail, re.S)
        if mb:
            by = mb.group(1)
            tail = tail[:mb.start()]
        mw = re.match(r"\s*(?:where|WHERE|Where)\b(.*)$", tail, re.S)
        if mw:
            where = mw.group(1)
        elif tail.strip():
            raise Unsupported("tstats clause %r" % tail.strip()[:40])
        recs = list(model_records(self.events, dm))
        expr = SearchParser(where).parse()
        if "nodename" in where:
            raise Unsupported("tstats where nodename=")
        cache = {}
        recs = [r for r in recs if search_eval(expr, r, cache)]
        byf, span = [], None
        toks = words(by)
        for w in toks:
            if w.startswith("span="):
                span = span_seconds(w[5:])
            else:
                byf.append(w)
        return do_stats(recs, parse_aggs(aggtext), byf, fill, span)

    # -- streaming / transforming
    def c_search(self, rows, rest):
        expr = SearchParser(rest).parse()
        cache = {}
        return [r for r in rows if search_eval(expr, r, cache)]

    def c_where(self, rows, rest):
        e = EvalParser(rest).parse()
        return [r for r in rows if truth(ev(e, r))]

    def c_eval(self, rows, rest):
        assigns = []
        for part in split_args(rest):
            m = re.match(r'\s*("[^"]+"|[\w.:{}@-]+)\s*=(?!=)\s*(.*)$', part, re.S)
            if not m:
                raise SplError("cannot read eval %r" % part)
            assigns.append((unquote_name(m.group(1)), EvalParser(m.group(2)).parse()))
        for r in rows:
            for name, e in assigns:
                v = ev(e, r)
                if v is None or v == []:
                    r.pop(name, None)
                else:
                    if isinstance(v, bool):
                        # Search Reference "eval": "Fields cannot be assigned a boolean result"
                        raise SplError("eval %s: a boolean result cannot be assigned" % name)
                    r[name] = v
        return rows

    def c_stats(self, rows, rest):
        aggtext, by = rest, []
        mb = re.search(r"\b(?:by|BY|By)\b(.*)$", rest, re.S)
        if mb:
            aggtext, by = rest[:mb.start()], [unquote_name(w) for w in words(mb.group(1))]
        return do_stats(rows, parse_aggs(aggtext), by)

    def c_eventstats(self, rows, rest):
        aggtext, by = rest, []
        mb = re.search(r"\b(?:by|BY|By)\b(.*)$", rest, re.S)
        if mb:
            aggtext, by = rest[:mb.start()], words(mb.group(1))
        aggs = parse_aggs(aggtext)
        groups = group_rows(rows, by)
        for k, grp in groups.items():
            vals = [(name, agg_value(f, a, grp)) for f, a, name in aggs]
            for r in grp:
                for name, v in vals:
                    if v is not None:
                        r[name] = v
        return rows

    def c_rename(self, rows, rest):
        """Search Reference "rename": wildcards carry the matched text; when the new name
        already exists, the renamed field replaces it (the old field of that name goes)."""
        pairs = re.findall(r'("[^"]*"|[^\s,]+)\s+(?:as|AS|As)\s+("[^"]*"|[^\s,]+)', rest)
        if not pairs:
            raise SplError("cannot read rename %r" % rest)
        for a, b in pairs:
            a, b = unquote_name(a), unquote_name(b)
            rx = re.compile("^" + "(.*)".join(re.escape(p) for p in a.split("*")) + "$")
            for r in rows:
                renamed = []
                for k in r:
                    mm = rx.match(k)
                    if mm:
                        nk = b
                        for g in mm.groups():
                            nk = nk.replace("*", g, 1)
                        renamed.append((k, nk))
                if not renamed:
                    continue
                src = {k: nk for k, nk in renamed}
                targets = set(src.values())
                items = list(r.items())
                r.clear()
                for k, v in items:
                    if k in src:
                        r[src[k]] = v
                    elif k not in targets:
                        r[k] = v
        return rows

    def select(self, rows, names):
        out = []
        for r in rows:
            nr = {}
            for n in names:
                if "*" in n:
                    rx = wildcard_re(n, case=True)
                    for k, v in r.items():
                        if rx.match(k) and k not in nr:
                            nr[k] = v
                elif n in r:
                    nr[n] = r[n]
            out.append(nr)
        return out

    def c_table(self, rows, rest):
        return self.select(rows, [unquote_name(w) for w in words(rest)])

    def c_fields(self, rows, rest):
        ws = words(rest)
        if ws and ws[0] == "-":
            drop = ws[1:]
            return [{k: v for k, v in r.items()
                     if not any(wildcard_re(d, True).match(k) for d in drop)} for r in rows]
        if ws and ws[0] == "+":
            ws = ws[1:]
        return self.select(rows, ws)

    def c_dedup(self, rows, rest):
        ws = words(rest)
        if any(w.startswith(("keepevents", "consecutive", "sortby", "keepempty")) for w in ws):
            raise Unsupported("dedup option")
        if ws and ws[0].isdigit():
            raise Unsupported("dedup N")
        seen, out = set(), []
        for r in rows:
            if any(r.get(f) is None for f in ws):
                continue
            k = tuple(json.dumps(r.get(f)) for f in ws)
            if k not in seen:
                seen.add(k)
                out.append(r)
        return out

    def c_fillnull(self, rows, rest):
        m = re.match(r'\s*value\s*=\s*("[^"]*"|\S+)\s*(.*)$', rest, re.S)
        val, flds = "0", rest
        if m:
            val, flds = unquote_name(m.group(1)), m.group(2)
        names = words(flds)
        if not names:
            allk = []
            for r in rows:
                for k in r:
                    if k not in allk:
                        allk.append(k)
            names = allk
        for r in rows:
            for f in names:
                if r.get(f) is None or r.get(f) == "":
                    r[f] = val
        return rows

    def c_convert(self, rows, rest):
        fmt = "%m/%d/%Y %H:%M:%S"
        m = re.match(r'\s*timeformat\s*=\s*("[^"]*"|\S+)\s*(.*)$', rest, re.S)
        if m:
            fmt, rest = unquote_name(m.group(1)), m.group(2)
        for func, f, alias in re.findall(r"(\w+)\(([^)]*)\)(?:\s+as\s+(\S+))?", rest):
            if func != "ctime":
                raise Unsupported("convert %s()" % func)
            for r in rows:
                for k in [k for k in r if wildcard_re(f, True).match(k)]:
                    v = r[k]
                    if v is not None and is_num(first_val(v)):
                        r[alias or k] = time.strftime(
                            fmt, time.gmtime(math.floor(float(num(first_val(v))))))
        return rows

    def c_rex(self, rows, rest):
        m = re.match(r'\s*((?:\w+=\S+\s+)*)"((?:\\.|[^"\\])*)"\s*$', rest, re.S)
        if not m:
            raise SplError("cannot read rex %r" % rest)
        opts = dict(re.findall(r"(\w+)=(\S+)", m.group(1)))
        if "mode" in opts:
            raise Unsupported("rex mode=%s" % opts["mode"])
        maxm = int(opts.get("max_match", "1"))
        rx = pcre(unescape(m.group(2)))
        field = unquote_name(opts.get("field", "_raw"))  # field="file_name" names file_name
        for r in rows:
            v = first_val(r.get(field))
            if v is None:
                continue
            if maxm != 1:
                # max_match=N (0: unlimited): each group collects its values over the matches
                got = {}
                for i, mm in enumerate(rx.finditer(to_str(v))):
                    if maxm and i >= maxm:
                        break
                    for g, val in mm.groupdict().items():
                        if val is not None:
                            got.setdefault(g, []).append(val)
                for g, vals in got.items():
                    r[g] = vals[0] if len(vals) == 1 else vals
                continue
            mm = rx.search(to_str(v))
            if mm:
                for g, val in mm.groupdict().items():
                    if val is not None:
                        r[g] = val
        return rows

    def c_regex(self, rows, rest):
        m = re.match(r'\s*(\w+)\s*(!?=)\s*"((?:\\.|[^"\\])*)"\s*$', rest, re.S)
        if not m:
            raise Unsupported("regex %r" % rest[:40])
        f, op, p = m.groups()
        rx = pcre(unescape(p))
        keep = op == "="
        return [r for r in rows
                if any(rx.search(to_str(x)) for x in mv(r.get(f))) == keep]

    def c_join(self, rows, rest):
        m = re.match(r"(.*?)\[(.*)\]\s*$", rest, re.S)
        if not m:
            raise Unsupported("join without a subsearch")
        head, sub = m.groups()
        opts = dict(re.findall(r"(\w+)=(\S+)", head))
        flds = words(re.sub(r"\w+=\S+", "", head))
        typ = opts.get("type", "inner")
        if typ not in ("inner", "left", "outer"):
            raise Unsupported("join type=%s" % typ)
        maxn = int(opts.get("max", "1"))
        over = opts.get("overwrite", "true").lower() in ("true", "1", "t")
        subrows = Runner(self.content, self.events).run(sub.strip())
        out = []
        for r in rows:
            hits = [s for s in subrows
                    if all(f in r and f in s and to_str(r[f]) == to_str(s[f]) for f in flds)]
            if maxn:
                hits = hits[:maxn]
            if not hits:
                if typ in ("left", "outer"):
                    out.append(r)
                continue
            for s in hits:
                nr = dict(r)
                for k, v in s.items():
                    if over or k not in nr:
                        nr[k] = v
                out.append(nr)
        return out

    def c_lookup(self, rows, rest):
        m = re.match(r"\s*(?:local=\S+\s+|update=\S+\s+)*(\S+)\s+(.*)$", rest, re.S)
        name, spec = m.group(1), m.group(2)
        lk = self.content.lookups.get(name)
        if not lk or not os.path.exists(lk["_path"]):
            raise Unsupported("lookup %s" % name)
        wild = set()
        for mt in re.split(r"\s*,\s*", str(lk.get("match_type") or "").strip()):
            if not mt:
                continue
            mw = re.fullmatch(r"WILDCARD\((\w+)\)", mt)
            if not mw:
                raise Unsupported("lookup %s match_type %s" % (name, mt))
            wild.add(mw.group(1))
        mo = re.search(r"\b(OUTPUTNEW|OUTPUT)\b(.*)$", spec, re.S)
        inp = spec[:mo.start()] if mo else spec
        pairs = lambda t: [(a, b or a) for a, b in re.findall(  # noqa: E731
            r"([^\s,]+)(?:\s+(?:as|AS)\s+([^\s,]+))?", t)]
        ins = pairs(inp)
        with open(lk["_path"], encoding="utf-8", newline="") as f:
            table = list(csv.DictReader(f))
        cols = list(table[0].keys()) if table else []
        outs = pairs(mo.group(2)) if mo else [(c, c) for c in cols if c not in [a for a, _ in ins]]
        new = mo and mo.group(1) == "OUTPUTNEW"
        cs = str(lk.get("case_sensitive_match", "")).lower() == "true"
        norm = (lambda s: s) if cs else (lambda s: s.lower())
        def cell_match(lk_f, cell, x):
            if lk_f in wild:
                return wildcard_re(cell or "", case=cs).match(to_str(x)) is not None
            return norm(to_str(x)) == norm(cell or "")

        # transforms.conf: with min_matches > 0, an input of fewer matches gets default_match
        # (default empty) until min_matches is reached
        min_matches = int(lk.get("min_matches") or 0)
        default = str(lk.get("default_match") or "")
        for r in rows:
            hits = [t for t in table
                    if all(r.get(ev_f) is not None and any(
                        cell_match(lk_f, t.get(lk_f, ""), x) for x in mv(r.get(ev_f)))
                        for lk_f, ev_f in ins)]
            fill = max(0, min_matches - len(hits)) if default else 0
            if not hits and not fill:
                continue
            for lk_f, ev_f in outs:
                vals = [t.get(lk_f) for t in hits if t.get(lk_f) not in (None, "")]
                vals += [default] * fill
                if not vals:
                    continue
                if new and r.get(ev_f) is not None:
                    continue
                r[ev_f] = vals[0] if len(vals) == 1 else vals
        return rows

    def c_bin(self, rows, rest):
        m = re.match(r"\s*(?:span=(\S+)\s+)?(\S+)(?:\s+span=(\S+))?\s*$", rest)
        if not m or not (m.group(1) or m.group(3)) or m.group(2) != "_time":
            raise Unsupported("bin %r" % rest)
        bin_time(rows, span_seconds(m.group(1) or m.group(3)))
        return rows

    c_bucket = c_bin

    def c_mvexpand(self, rows, rest):
        f = words(rest)[0]
        out = []
        for r in rows:
            for v in mv(r.get(f)):
                nr = dict(r)
                nr[f] = v
                out.append(nr)
        return out


def newest_key(r):
    """Sort key putting the newest _time first; rows without a numeric _time last."""
    t = r.get("_time")
    return -float(t) if is_num(t) else float("inf")


def output_value(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def rows_json(rows):
    out = []
    for r in rows:
        o = {k: output_value(v) for k, v in r.items() if not k.startswith("_")
             or k == "_time"}
        out.append(json.dumps(o, ensure_ascii=False))
    return out


def run_detection(content, det, events):
    text = expand(det["search"], content)
    return Runner(content, events).run(text.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--content", action="append", required=True)
    ap.add_argument("--detection", required=True)
    ap.add_argument("--expand", action="store_true", help="print the expanded search only")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args(argv)
    content = Content(a.content)
    det = content.find(a.detection)
    if a.expand:
        print(expand(det["search"], content))
        return 0
    events = list(events_from(a.files))
    try:
        rows = run_detection(content, det, events)
    except Unsupported as e:
        print(str(e), file=sys.stderr)
        return 4
    for line in rows_json(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
