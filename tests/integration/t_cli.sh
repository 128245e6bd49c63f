#!/bin/sh
# The command line: --version, --help, -t, the shipped config, the sample config, exit codes.
. "$(dirname "$0")/lib.sh"
plan 11

out=$("$TIERCACHE" --version)
like "$out" '^tiercache [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"
out=$("$TIERCACHE" --help)
like "$out" 'Usage: tiercache' "--help prints usage"
"$TIERCACHE" >/dev/null 2>&1
is "$?" 2 "no -c: exit 2"
"$TIERCACHE" --bogus >/dev/null 2>&1
is "$?" 2 "unknown option: exit 2"
out=$("$TIERCACHE" -t -c "$TC_SRCDIR/conf/tiercache.ini" 2>&1)
is "$?" 0 "the shipped config checks"
like "$out" 'configuration OK' "-t says OK"
"$TIERCACHE" --sample-config >"$WORK/sample.ini"
if cmp -s "$WORK/sample.ini" "$TC_SRCDIR/conf/tiercache.ini"; then
  ok "conf/tiercache.ini is exactly the generated sample"
else
  not_ok "conf/tiercache.ini is exactly the generated sample"
  diff "$WORK/sample.ini" "$TC_SRCDIR/conf/tiercache.ini" | sed 's/^/# /'
fi
out=$("$TIERCACHE" -t -c "$WORK/missing.ini" 2>&1)
is "$?" 1 "a missing file: exit 1"
like "$out" 'missing.ini: cannot read' "a missing file is named"

# the daemon stops cleanly on SIGTERM
start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
is "$?" 0 "SIGTERM: exit 0"
like "$(cat "$WORK/proxy.log")" 'stopping' "the stop is logged"
