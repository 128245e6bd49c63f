#!/bin/bash
# contrib/bench/build.sh: builds tiercache out of tree with CFLAGS='-O2 -g', for run.sh and
# profile.sh (one way to build, shared by both).
#
#   bash contrib/bench/build.sh ROOT WORK BUILD [MAKE TARGET...]
#
# ROOT is the source tree, WORK a scratch directory for the logs (and the clean copy), BUILD
# the build directory to make. Installs the build dependencies first (install-deps.sh
# --build-only). When ROOT is configured in place (the demo, the test suite's ./configure),
# configure refuses to build out of it, so the build is made from a copy of ROOT in WORK/src
# (without .git and CI's build-asan and build-fuzz trees), cleaned by make distclean. Any failure: a message
# naming its log on stderr, and exit 1.
set -euo pipefail

[ $# -ge 3 ] || { echo "build.sh: usage: build.sh ROOT WORK BUILD [TARGET...]" >&2; exit 2; }
ROOT=$1 WORK=$2 BUILD=$3
shift 3

fail() { echo "build.sh: $*" >&2; exit 1; }

sh "$ROOT/contrib/install-deps.sh" --build-only >/dev/null
SRC=$ROOT
if [ -f "$ROOT/config.status" ]; then
	echo "build.sh: the source tree is configured in place: building from a clean copy in $WORK/src" >&2
	SRC=$WORK/src
	mkdir -p "$SRC"
	tar -C "$ROOT" --exclude=./.git --exclude=./build-asan --exclude=./build-fuzz -cf - . | tar -C "$SRC" -xf -
	make -C "$SRC" distclean >"$WORK/distclean.log" 2>&1 ||
		fail "make distclean failed in the copy: see $WORK/distclean.log"
fi
if [ ! -x "$SRC/configure" ]; then
	(cd "$SRC" && autoreconf -fi) >"$WORK/autoreconf.log" 2>&1 ||
		fail "autoreconf failed: see $WORK/autoreconf.log"
fi
mkdir -p "$BUILD"
(cd "$BUILD" && "$SRC/configure" CFLAGS='-O2 -g' -q >/dev/null &&
	make -j"$(nproc)" "$@" >"$WORK/build.log" 2>&1) || fail "build failed: see $WORK/build.log"
