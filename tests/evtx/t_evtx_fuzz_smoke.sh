#!/bin/bash
# Fuzz smoke test: when the libFuzzer build exists ($ESC_BUILD_DIR/../build-fuzz/fuzz_evtx,
# made by `make fuzz`), run the EVTX chunk fuzzer for a fixed number of executions over seeds
# cut from the shared EVTX files. Without the fuzz build it prints a note and passes.
# FUZZ_RUNS (default 3000) sets the number of executions.
set -eu
fuzzer="${ESC_BUILD_DIR:-build}/../build-fuzz/fuzz_evtx"
if [ ! -x "$fuzzer" ]; then
    echo "t_evtx_fuzz_smoke: $fuzzer not built (make fuzz); skipped"
    exit 0
fi
shared="${ESC_SHARED_DATA:?ESC_SHARED_DATA not set}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/seeds"
# one seed per chunk of a few files: a flag byte (0..3) then the chunk
n=0
for f in "$shared"/evtx/Command_and_Control/bits_openvpn.evtx \
         "$shared"/evtx/Credential_Access/dc_applog_ntdsutil_dfir_325_326_327.evtx \
         "$shared"/evtx/Command_and_Control/DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx; do
    [ -f "$f" ] || continue
    size=$(stat -c %s "$f")
    chunks=$(( (size - 4096) / 65536 ))
    for ((c = 0; c < chunks && c < 4; c++)); do
        { printf "\\x0$((n % 4))"; dd if="$f" bs=65536 skip=0 iflag=skip_bytes,count_bytes \
            skip=$((4096 + c * 65536)) count=65536 status=none; } > "$work/seeds/s$n"
        n=$((n + 1))
    done
done
runs="${FUZZ_RUNS:-3000}"
"$fuzzer" -runs="$runs" -max_len=65537 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/" "$work/seeds" > "$work/log" 2>&1 || {
    tail -40 "$work/log"
    echo "t_evtx_fuzz_smoke: the fuzzer found a problem"
    exit 1
}
grep -E "^#[0-9]+.*DONE" "$work/log" || tail -3 "$work/log"
echo "t_evtx_fuzz_smoke: $runs runs, no findings"
