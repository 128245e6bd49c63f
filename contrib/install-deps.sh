#!/bin/sh
# Installs every build, test and run dependency of tiercache from Debian 12's packages.
# Safe to run again: apt-get only installs what is missing. Needs root (or sudo).
#   sh contrib/install-deps.sh [--build-only]
# --build-only leaves out prometheus and chromium, which only the test suite uses (the demo
# and the benchmarks build and run without them).
# prometheus brings promtool, the strict checker of /metrics (t_metrics); chromium loads the
# HTML /stats page headless (t_stats_page). libssl-dev: libmemcached.pc lists libcrypto in
# Requires.private, so pkg-config does not find libmemcached without it, and Debian's
# libmemcached-dev does not depend on it.
set -eu

PACKAGES="
build-essential autoconf automake libtool pkg-config
libmicrohttpd-dev libcurl4-openssl-dev libmemcached-dev uthash-dev libinih-dev libxxhash-dev
libssl-dev
check
curl jq memcached
"
case "${1:-}" in
--build-only) ;;
"") PACKAGES="$PACKAGES prometheus chromium" ;;
*)
  echo "install-deps: unknown argument '$1' (only --build-only)" >&2
  exit 2
  ;;
esac

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi

missing=
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
