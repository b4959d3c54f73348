#!/bin/sh
# Fetches WasmEdge 0.14.1 from Debian trixie into a private folder (never installs into the system:
# trixie's libc is newer than bookworm's, so wasmedge runs with trixie's own dynamic loader and
# libraries from that folder). Idempotent: does nothing when the folder is already complete.
# Prints, as its only stdout line, the command prefix that runs wasmedge:
#   $L/ld-linux-x86-64.so.2 --library-path $L $D/root/usr/bin/wasmedge
# Usage: tools/wasmedge.sh [DIR]   (default DIR: <repo>/.cache/wasmedge; env WASMEDGE_DIR overrides)
# Needs apt-get and dpkg (Debian/Ubuntu) and network access to deb.debian.org; x86-64 only.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${1:-${WASMEDGE_DIR:-$ROOT/.cache/wasmedge}}
mkdir -p "$D"
D=$(cd "$D" && pwd)
L=$D/root/usr/lib/x86_64-linux-gnu
BIN=$D/root/usr/bin/wasmedge
RUN="$L/ld-linux-x86-64.so.2 --library-path $L $BIN"

if [ ! -f "$D/.complete" ] || ! $RUN --version >/dev/null 2>&1; then
  command -v apt-get >/dev/null || { echo "wasmedge.sh: apt-get not found (needs Debian/Ubuntu)" >&2; exit 1; }
  command -v dpkg >/dev/null || { echo "wasmedge.sh: dpkg not found" >&2; exit 1; }
  [ "$(uname -m)" = x86_64 ] || { echo "wasmedge.sh: x86-64 only (got $(uname -m))" >&2; exit 1; }
  rm -rf "$D/root" "$D/debs" "$D/.complete"
  mkdir -p "$D/apt/lists/partial" "$D/apt/cache/archives/partial" "$D/debs" "$D/root"
  echo "deb http://deb.debian.org/debian trixie main" > "$D/apt/trixie.list"
  : > "$D/apt/status"
  set -- -o "Dir::Etc::sourcelist=$D/apt/trixie.list" -o Dir::Etc::sourceparts=/dev/null \
    -o "Dir::State::Lists=$D/apt/lists" -o "Dir::Cache=$D/apt/cache" -o "Dir::State::status=$D/apt/status" \
    -o APT::Sandbox::User=root -o Acquire::Retries=3 -o APT::Architecture=amd64
  echo "wasmedge.sh: fetching WasmEdge from Debian trixie into $D" >&2
  apt-get -qq "$@" update >&2 || {
    echo "wasmedge.sh: apt-get update (trixie) failed: needs network access to deb.debian.org and trixie's" >&2
    echo "  signing keys in /etc/apt/trusted.gpg.d (bookworm's debian-archive-keyring >= 2023.3+deb12u1)" >&2
    exit 1; }
  (cd "$D/debs" && apt-get -qq "$@" download wasmedge libwasmedge0 libc6 libstdc++6 libgcc-s1 \
     libllvm19 libz3-4 libfmt10 libspdlog1.15 libzstd1 zlib1g libtinfo6 libxml2 libffi8 libedit2 libbsd0 \
     libmd0 libicu76 liblzma5) >&2 || { echo "wasmedge.sh: apt-get download failed" >&2; exit 1; }
  for f in "$D"/debs/*.deb; do dpkg -x "$f" "$D/root"; done
  rm -rf "$D/debs" "$D/apt/cache"
  $RUN --version >&2 || { echo "wasmedge.sh: unpacked wasmedge does not run" >&2; exit 1; }
  touch "$D/.complete"
fi
echo "$RUN"
