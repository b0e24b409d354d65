#!/bin/sh
# Install the Debian packages escudo needs to build and test, only those that are missing.
# `tools/setup.sh --report-test` installs only what the HTML report's browser test needs
# (Debian's chromium), for that test alone (tests/report/t_report_browser.py).
set -e
if [ "$1" = "--report-test" ]; then
    PKGS="chromium"
else
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev python3 python3-yaml
libyaml-dev zlib1g-dev libzstd-dev zstd libdeflate-dev libsqlite3-dev libcurl4-openssl-dev libpcre2-dev libhyperscan-dev
libcmocka-dev libevtx-utils ripgrep valgrind time hyperfine librdkafka-dev kcat clang-format"
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
