#!/bin/sh
# Origin faults from a raw origin that breaks HTTP on purpose (tests/origin/fault-origin.c):
# resets in the middle of the headers or the body, a body shorter than its Content-Length,
# bytes that are not HTTP, a status line alone, a bad status code, conflicting lengths, broken
# chunking, a huge header, no answer at all. Each gives 502 (504 for no answer), is counted in
# /stats, and nothing is stored: every answer says max-age=60, yet a second request goes to
# the origin again. The proxy serves a good answer from the same origin after each fault.
. "$(dirname "$0")/lib.sh"
plan 87

FAULT_ORIGIN=$TC_BUILDDIR/tests/origin/fault-origin
"$FAULT_ORIGIN" -P "$WORK/fault.port" >"$WORK/fault.out" 2>&1 &
TC_PIDS="$TC_PIDS $!"
wait_for_file "$WORK/fault.port" || exit 1
ORIGIN_URL="http://127.0.0.1:$(cat "$WORK/fault.port")"
write_config "$WORK/p.ini"
sed -i 's/^timeout_ms = 2000$/timeout_ms = 1000/' "$WORK/p.ini"
start_proxy "$WORK/p.ini"

# seen PATH: requests the fault origin received for PATH.
seen() { grep -c "^GET $1\$" "$WORK/fault.out"; }

errors=0
timeouts=0
# fault PATH STATUS DETAIL WHAT: two requests, both STATUS with Cache-Status detail DETAIL,
# both reached the origin, the error counters moved, nothing stored, a good answer after.
fault() {
  e0=$(stat .local.entries)
  get "$1"
  is "$STATUS" "$2" "$4: $2"
  like "$(hdr Cache-Status)" "detail=$3" "$4: Cache-Status says $3"
  get "$1?again"
  is "$STATUS" "$2" "$4: $2 again (nothing was stored)"
  is "$(seen "$1")" 2 "$4: both requests went to the origin"
  if [ "$2" = 504 ]; then timeouts=$((timeouts + 2)); else errors=$((errors + 2)); fi
  is "$(stat .origin.errors) $(stat .origin.timeouts)" "$errors $timeouts" "$4: counted in /stats"
  is "$(stat .local.entries)" "$e0" "$4: nothing stored"
  get "/ok?after=$1"
  is "$STATUS $BODY" "200 ok" "$4: the next good answer is served"
}

fault /close 502 origin-unreachable "the origin closes without answering"
fault /reset-headers 502 origin-invalid "a reset in the middle of the headers"
fault /reset-body 502 origin-truncated "a reset in the middle of the body"
fault /short-body 502 origin-truncated "a body shorter than its Content-Length"
fault /garbage 502 origin-invalid "bytes that are not HTTP"
fault /status-only 502 origin-invalid "a status line and no headers"
fault /bad-status 502 origin-invalid "a status code that is not three digits"
fault /two-lengths 502 origin-invalid "two different Content-Lengths"
fault /bad-chunk 502 origin-truncated "a chunk size that is not hexadecimal"
fault /short-chunked 502 origin-truncated "a chunked body cut short"
fault /huge-header 502 origin-invalid "a 300 KB header line"
fault /never 504 origin-timeout "no answer within timeout_ms"

get /ok
is "$STATUS $BODY" "200 ok" "a good answer is stored"
get /ok
like "$(hdr Cache-Status)" 'hit' "... and served from the cache"
is "$(seen /ok)" 13 "... so the origin saw it once more than the faults"
