#!/bin/sh
# memcached down, slow, restarted or flushed never fails a client request nor holds it up past
# timeout_ms per operation: the request goes on to the origin, errors and timeouts are
# counted, the server is marked down and retried with a capped backoff, and the tier resumes
# by itself when the server is back. A flush (or a restart) gives a new namespace generation,
# and every proxy empties its local tier.
. "$(dirname "$0")/lib.sh"
plan 23

start_origin
start_memcached MC
write_config "$WORK/a.ini" "[memcached]
servers = $MC_ADDR
timeout_ms = 100"
start_proxy "$WORK/a.ini" a
A=$PROXY
H='Host: api.test'

get_via "$A" '/f0?cc=max-age%3D300' -H "$H"
wait_stat .memcached.stores 1 "$A"
is "$(stat .memcached.stores "$A")" 1 "memcached works"

# killed mid-run
stop_memcached MC KILL
fails=0
slow=0
for i in 1 2 3 4 5 6; do
  t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 -H "$H" "$A/f$i?cc=max-age%3D300")
  case $t in 200\ *) ;; *) fails=$((fails + 1)) ;; esac
  # far below any connect timeout: a refused server costs nothing
  [ "$(echo "$t" | awk '{ print ($2 < 1.0) }')" = 1 ] || slow=$((slow + 1))
done
is "$fails" 0 "memcached killed: every request succeeds"
is "$slow" 0 "memcached killed: no request is held up"
is "$(origin_count /f3)" 1 "memcached killed: the origin answers"
like "$(stat .memcached.errors "$A")" '^[1-9]' "errors are counted"
is "$(stat '.memcached.servers[0].state' "$A")" down "the server is marked down"
like "$(stat '.memcached.servers[0].errors' "$A")" '^[1-9]' "per server too"
# 20 requests (40 memcached operations: lookups and writes) while it is down: only the
# retries of the backoff (and of the generation watch) try it
errs=$(stat .memcached.errors "$A")
for i in $(seq 1 20); do get_via "$A" "/g$i?cc=max-age%3D300" -H "$H"; done
tried=$(($(stat .memcached.errors "$A") - errs))
if [ "$tried" -le 5 ]; then ok "while it is down, only the backoff's retries try it ($tried)"; else not_ok "while it is down, only the backoff's retries try it"; diag "$tried more errors for 40 operations"; fi
get_via "$A" '/f0?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" '^tiercache; hit' "the local tier serves on"

# restarted on the same port: the tier resumes by itself (backoff is capped at a few seconds)
start_memcached MC "$MC_PORT"
stores=$(stat .memcached.stores "$A")
_i=0
while [ "$(stat '.memcached.servers[0].state' "$A")" != up ] && [ "$_i" -lt 200 ]; do
  _i=$((_i + 1))
  get_via "$A" "/r$_i?cc=max-age%3D300" -H "$H"
  sleep 0.05
done
is "$(stat '.memcached.servers[0].state' "$A")" up "restarted: the server is up again"
# A write is queued after the reply; on a loaded machine one can still meet a timeout and
# the backoff that follows, so try a few URLs: the point is that writes resume by themselves.
back=""
for _k in 1 2 3 4 5 6 7 8 9 10; do
  get_via "$A" "/back$_k?cc=max-age%3D300" -H "$H"
  _j=0
  while [ "$(show_record "$WORK/a.ini" "api.test/back$_k?cc=max-age%3D300" .servers.decode)" != ok ] &&
    [ "$_j" -lt 20 ]; do
    _j=$((_j + 1))
    sleep 0.1
  done
  if [ "$_j" -lt 20 ]; then back="/back$_k"; break; fi
done
[ "$(stat .memcached.stores "$A")" -gt "$stores" ] && [ -n "$back" ] &&
  ok "restarted: writes resume ($back)" || not_ok "restarted: writes resume"
write_config "$WORK/b.ini" "[memcached]
servers = $MC_ADDR
timeout_ms = 100"
start_proxy "$WORK/b.ini" b
B=$PROXY
get_via "$B" "${back:-/back1}?cc=max-age%3D300" -H "$H"
like "$(hdr Cache-Status)" 'detail=memcached' "restarted: another proxy reads from it"

# slow: memcached stopped (SIGSTOP), connections accepted but never answered. D waits up to
# 3 s per operation: while 4 of its requests wait on memcached (more than its 2 server
# threads), a local hit is answered at once: no libmicrohttpd thread waits on memcached.
write_config "$WORK/d.ini" "[memcached]
servers = $MC_ADDR
timeout_ms = 3000"
start_proxy "$WORK/d.ini" d
D=$PROXY
get_via "$D" '/dhit?cc=max-age%3D300' -H "$H"
kill -STOP "$MC_PID"
_i=0
while [ "$(awk '{ print $3 }' "/proc/$MC_PID/stat")" != T ] && [ "$_i" -lt 100 ]; do _i=$((_i + 1)); sleep 0.01; done
pids=""
for i in 1 2 3 4; do
  curl -s -o /dev/null --max-time 10 -H "$H" "$D/dslow$i?cc=max-age%3D300" &
  pids="$pids $!"
done
t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 -H "$H" "$B/slow?cc=max-age%3D300")
d=$(curl -s -o "$WORK/b" -D "$WORK/h" -w '%{time_total}' --max-time 10 -H "$H" "$D/dhit?cc=max-age%3D300")
dslow=$(origin_count /dslow1)
state=$(stat '.memcached.servers[0].state' "$B") # before the server answers again
kill -CONT "$MC_PID"
for pid in $pids; do wait "$pid"; done
like "$t" '^200 ' "memcached hanging: the request succeeds"
is "$(echo "$t" | awk '{ print ($2 < 1.0) }')" 1 "memcached hanging: answered within the timeout (timeout_ms 100; took ${t#* } s)"
is "$dslow" 0 "memcached hanging: D's requests were still waiting on it"
like "$(hdr Cache-Status)" '^tiercache; hit' "memcached hanging: D's local hit ..."
is "$(echo "$d" | awk '{ print ($1 < 0.5) }')" 1 "... is not held up by the requests waiting on memcached (took $d s)"
like "$(stat .memcached.timeouts "$B")" '^[1-9]' "timeouts are counted"
is "$state" down "a hanging server is marked down"

# flushed: a new namespace generation; every proxy empties its local tier within a second
gen=$(stat .memcached.namespace_generation "$A")
get_via "$A" '/fl?cc=max-age%3D300' -H "$H"
get_via "$A" '/fl?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" '^tiercache; hit' "before the flush: a local hit"
mc_cmd "$MC_PORT" 'flush_all\r\n' >/dev/null
_i=0
while [ "$(stat .memcached.namespace_generation "$A")" = "$gen" ] && [ "$_i" -lt 40 ]; do _i=$((_i + 1)); sleep 0.05; done
if [ "$(stat .memcached.namespace_generation "$A")" != "$gen" ]; then ok "flushed: a new namespace generation within 2 s"; else not_ok "flushed: a new namespace generation"; fi
get_via "$A" '/fl?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" 'fwd=uri-miss' "flushed: the local tier was emptied too"
is "$(origin_count /fl)" 2 "flushed: fetched again"
