#!/bin/bash
# ctest-label: heavy (`make heavy`): the crash-safety test with 50 kills of hunt and 50 of run
# (t_crash_sinks.py runs 10 of each in every plain build). ESC_CRASH_SEED picks another plan.
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ESC_CRASH_KILLS=${ESC_CRASH_KILLS:-50} exec python3 "$SRC/tests/act/t_crash_sinks.py"
