#!/bin/sh
# README's first command: installs the dependencies, builds tiercache, starts the bundled demo
# origin on 127.0.0.1:9000 and tiercache on 127.0.0.1:8080 with the shipped conf/tiercache.ini,
# and tells you what to try. Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/../.."

sh contrib/install-deps.sh --build-only
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)" src/tiercache contrib/demo/demo-origin

contrib/demo/demo-origin -p 9000 &
origin=$!
trap 'kill $origin 2>/dev/null' EXIT INT TERM

cat <<'MSG'

  tiercache is starting on http://127.0.0.1:8080 in front of the demo API on :9000.
  In another terminal, try:

    curl -si http://127.0.0.1:8080/api/products/1 | grep -i cache-status   # fwd=uri-miss: fetched
    curl -si http://127.0.0.1:8080/api/products/1 | grep -i cache-status   # hit: from the cache
    curl -s  http://127.0.0.1:8080/stats                                   # the counters

  After 10 s the entry is stale: the next request revalidates it (fwd=stale; fwd-status=304).
  Ctrl-C stops both.

MSG
src/tiercache -c conf/tiercache.ini
