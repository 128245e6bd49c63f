#!/bin/sh
# CAS updates of shared records. A proxy whose own copy is older revalidates with the newer
# record it finds in memcached, and an older response never replaces a newer one; two proxies
# revalidating the same stale entry at the same moment (many times over) lose no update: the
# final record is the newest, and every write is either stored or knowingly dropped (counted).
. "$(dirname "$0")/lib.sh"
plan 13

start_origin
start_memcached MC
mc="[memcached]
servers = $MC_ADDR
timeout_ms = 1000"
write_config "$WORK/a.ini" "$mc"
start_proxy "$WORK/a.ini" a
A=$PROXY
write_config "$WORK/b.ini" "$mc"
start_proxy "$WORK/b.ini" b
B=$PROXY
H='Host: api.test'

# v1 stored by A (stale at once: max-age=0, ETag "v1")
u='/v?stateful=1&cc=max-age%3D0'
get_via "$A" "$u" -H "$H"
like "$BODY" '"version":1' "A stores version 1"
wait_stat .memcached.stores 1 "$A"
curl -s -o /dev/null -X PUT "$ORIGIN_URL$u"   # the origin moves to version 2
# B revalidates the shared v1, gets v2, and replaces the record (gets + cas)
get_via "$B" "$u" -H "$H"
like "$BODY" '"version":2' "B revalidates the shared record and gets version 2"
like "$(origin_last /v | tr -d '\r')" 'If-None-Match: "v1"' "B revalidated with the shared record's ETag"
wait_stat .memcached.stores 1 "$B"
like "$(show_record "$WORK/a.ini" "api.test$u" '.servers.headers[] | select(.[0] == "ETag") | .[1]')" '"v2"' "memcached holds version 2"
# A still holds v1 locally, but memcached's record is newer: A revalidates with that one
get_via "$A" "$u" -H "$H"
like "$(origin_last /v | tr -d '\r')" 'If-None-Match: "v2"' "A used the newer shared record, not its older own copy"
like "$BODY" '"version":2' "A serves version 2"
wait_stat .memcached.stores 2 "$A"
like "$(show_record "$WORK/a.ini" "api.test$u" '.servers.headers[] | select(.[0] == "ETag") | .[1]')" '"v2"' "the record is still version 2"

# Always stale (Age 100 > max-age 10), with an ETag: every request revalidates (304) and
# writes the refreshed record back. Rounds of 10 concurrent requests on each proxy (with
# request no-cache, so that each one revalidates itself instead of waiting for another's:
# collapsed forwarding would otherwise send one revalidation per proxy and round).
c='/c?cc=max-age%3D10&age=100&etag=c1'
get_via "$A" "$c" -H "$H"
wait_stat .memcached.stores 3 "$A"
n=0
last_start=0
for round in 1 2 3; do
  last_start=$(date +%s)
  pids=""
  for i in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "$H" -H 'Cache-Control: no-cache' "$A$c" >>"$WORK/codes" &
    pids="$pids $!"
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "$H" -H 'Cache-Control: no-cache' "$B$c" >>"$WORK/codes" &
    pids="$pids $!"
  done
  for pid in $pids; do wait "$pid"; done
  n=$((n + 20))
  sleep 1
done
is "$(grep -c '^200$' "$WORK/codes")" 60 "60 concurrent revalidations: all 200"
is "$(origin_count /c)" 61 "each one asked the origin (304)"
# every write is accounted for: stored, or not applied because a newer one was there (3
# writes before: v1, v2, A's refresh; then one per origin answer for /c)
writes() {
  echo $(( $(stat .memcached.stores "$A") + $(stat .memcached.cas_conflicts "$A") + \
           $(stat .memcached.stores "$B") + $(stat .memcached.cas_conflicts "$B") ))
}
_i=0
while [ "$(writes)" -lt $((3 + 61)) ] && [ "$_i" -lt 100 ]; do _i=$((_i + 1)); sleep 0.1; done
is "$(writes)" $((3 + 61)) "every write stored or knowingly dropped (stores + cas_conflicts)"
rt=$(show_record "$WORK/a.ini" "api.test$c" .servers.response_time)
if [ "${rt:-0}" -ge "$last_start" ]; then ok "the final record is from the last round ($rt >= $last_start)"; else not_ok "the final record is from the last round"; diag "response_time '$rt', last round started at $last_start"; fi
is "$(show_record "$WORK/a.ini" "api.test$c" .servers.decode)" ok "the final record is whole"
is "$(stat .memcached.errors "$A")$(stat .memcached.errors "$B")" 00 "no errors"
