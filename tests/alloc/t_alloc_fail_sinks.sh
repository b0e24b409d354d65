#!/bin/bash
# Allocation-failure run over the sinks: t_alloc_fail.sh with ESC_ALLOC_SET=sinks (a gzip input,
# notables and risk events into JSON lines and a SQLite store). About 5,100 allocations, so
# every N up to 6,000 is run: about 20 minutes under ASan, hence not in CI.
# ctest-label: heavy
export ESC_ALLOC_SET=sinks
export ESC_ALLOC_MAX=${ESC_ALLOC_MAX:-6000}
exec bash "$(dirname "$0")/t_alloc_fail.sh"
