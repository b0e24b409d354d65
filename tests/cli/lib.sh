# Shared by the tests/cli scripts (sourced, not a test itself): the escudo under test, the shared
# data, a temporary folder $T removed on exit, and ok/bad, which print a check's outcome (bad
# also sets $fail, the script's exit status).
set -u
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
