"""Helpers for the `escudo test` script tests: the paths they use, the tally of their checks, and
data roots laid out like splunk/attack_data (--data-root)."""
import os
import shutil
import sys

ESCUDO = os.path.abspath(os.environ.get("ESCUDO", "build/escudo"))
SRC = os.path.abspath(os.environ.get("ESC_SOURCE_DIR",
                                     os.path.join(os.path.dirname(__file__), "..", "..")))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
BUILD = os.environ.get("ESC_BUILD_DIR", "")
# where ESCU's attack_data URLs start: the rest of a URL is its file's path under a data root
ATTACK_DATA = "https://media.githubusercontent.com/media/splunk/attack_data/master/"
# the seed detection's replay dataset in the repository, and the URL ESCU names it by
SEED_DATASET = os.path.join(SRC, "tests", "data", "attack", "T1070.005", "windows-sysmon.log")
SEED_URL = ATTACK_DATA + "datasets/attack_techniques/T1070.005/atomic_red_team/windows-sysmon.log"


class Checks:
    """check(cond, what) counts a passed check or records a failure; finish() reports and exits
    1 when any check failed."""

    def __init__(self):
        self.failures, self.passed = [], 0

    def __call__(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)

    def finish(self, label, most=None):
        for f in self.failures[:most]:
            print("FAIL:", f)
        print("%s: %d passed, %d failed" % (label, self.passed, len(self.failures)))
        sys.exit(1 if self.failures else 0)


def sanitized():
    """Whether the build under test has the sanitizers (slower: time limits are wider)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt"), encoding="utf-8") as f:
            return "ESC_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def place(root, url, src=None, text=None):
    """The file an attack_data URL names under the data root root, its folders made: a copy of
    the file src, and/or text appended. Returns its path."""
    assert url.startswith(ATTACK_DATA), url
    dst = os.path.join(root, url[len(ATTACK_DATA):])
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if src is not None:
        shutil.copy(src, dst)
    if text is not None:
        with open(dst, "a", encoding="utf-8") as f:
            f.write(text)
    return dst
