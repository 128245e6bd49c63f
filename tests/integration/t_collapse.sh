#!/bin/sh
# Collapsed forwarding: concurrent misses for one key wait for one origin request; an
# unstorable answer releases the waiters to the origin and marks the key hit-for-pass; origin
# failures are shared; a stale entry is revalidated once; Vary (the waiters of another variant
# collapse again among themselves), HEAD, requests that must not wait; no request is left
# suspended at shutdown.
. "$(dirname "$0")/lib.sh"
plan 34

start_origin
# (shutdown_timeout = 0: the stop at the end lets the waiters go at once; the graceful stop,
# where they get their answer, is t_lifecycle's)
write_config "$WORK/p.ini" '[local]' 'max_bytes = 1M' '[server]' 'shutdown_timeout = 0'
start_proxy "$WORK/p.ini"

# burst N PATH [curl args...]: N concurrent GETs of PATH; the status codes go to $WORK/codes,
# each response's body and headers to $WORK/burst.I.b and $WORK/burst.I.h.
burst() {
  _n=$1
  _p=$2
  shift 2
  rm -f "$WORK"/burst.*
  seq 1 "$_n" | xargs -P "$_n" -I{} sh -c \
    'f=$1; shift; curl -s -o "$f.{}.b" -D "$f.{}.h" -w "%{http_code}\n" --max-time 10 "$@"' \
    sh "$WORK/burst" "$@" "$PROXY$_p" >"$WORK/codes.tmp"
  mv "$WORK/codes.tmp" "$WORK/codes"
}
# codes CODE: how many answers of the last burst had status CODE.
codes() { grep -c "^$1\$" "$WORK/codes"; }
# bodies: distinct bodies in the last burst.
bodies() { cat "$WORK"/burst.*.b | sort -u | wc -l | tr -d ' '; }
# statuses PATTERN: answers of the last burst whose Cache-Status matches PATTERN (grep -E).
statuses() { cat "$WORK"/burst.*.h | tr -d '\r' | grep -i '^Cache-Status:' | grep -Ec -- "$1"; }

# The origin holds the leader's answer (hold=) until every other request of a burst waits
# for it (collapse.waiters), so no request can come late, however loaded the machine is.
# held_burst N PATH NAME WAITERS [curl args...]: burst N PATH in the background, wait until
# /stats collapse.waiters reaches WAITERS, release NAME at the origin, wait for the burst.
held_burst() {
  _hn=$1
  _hp=$2
  _hname=$3
  _hw=$4
  shift 4
  burst "$_hn" "$_hp" "$@" &
  _hbg=$!
  wait_stat .collapse.waiters "$_hw"
  origin_release "$_hname"
  wait "$_hbg"
}

# --- 50 concurrent misses, one origin request, one body
held_burst 50 '/one?hold=one&cc=max-age%3D60' one 49
is "$(codes 200)" 50 "50 concurrent GETs: all 200"
is "$(bodies)" 1 "... with the same body"
is "$(origin_count /one)" 1 "... from one origin request"
is "$(statuses '; stored; ttl=')" 1 "one answer is the stored miss"
is "$(statuses '^Cache-Status: tiercache; fwd=uri-miss; fwd-status=200; collapsed; ttl=[0-9]+$')" 49 \
  "the 49 others are collapsed into it (RFC 9211 collapsed)"
is "$(cat "$WORK"/burst.*.h | tr -d '\r' | grep -ic '^Age: [0-9]')" 50 "every answer from the cache carries Age"
is "$(stat .collapse.waiters)" 49 "/stats collapse.waiters counts them"
get '/one?hold=one&cc=max-age%3D60'
like "$(hdr Cache-Status)" '^tiercache; hit' "afterwards: a plain hit"

# --- not storable: waiters released to the origin, then the key is hit-for-pass
held_burst 20 '/ns?hold=ns&cc=no-store' ns 68
is "$(codes 200)" 20 "no-store burst: all 200"
is "$(origin_count /ns)" 20 "the waiters went to the origin each"
is "$(statuses 'collapsed=\?0')" 19 "their Cache-Status says collapsed=?0"
is "$(stat .collapse.hit_for_pass)" 0 "no hit-for-pass yet"
burst 10 '/ns?hold=ns&cc=no-store'
is "$(origin_count /ns)" 30 "a later burst goes to the origin: 10 more requests"
is "$(statuses 'collapsed')" 0 "... none of it collapsed"
is "$(stat .collapse.hit_for_pass)" 10 "/stats collapse.hit_for_pass counts them"
is "$(stat .collapse.waiters)" 68 "... and they did not wait (19 more waiters only)"

# --- errors: the origin's own 5xx is released like any unstorable answer; a timeout is shared
burst 10 '/e5?delay_ms=300&status=503'
is "$(codes 503)" 10 "origin 503: every client gets the origin's 503"
is "$(origin_count /e5)" 10 "... each from its own origin request"
burst 10 '/slow?delay_ms=2500&cc=max-age%3D60'
is "$(codes 504)" 10 "origin timeout: every waiter gets the same 504"
is "$(statuses 'detail=origin-timeout; collapsed')" 9 "... marked collapsed"
burst 5 '/slow?delay_ms=100&cc=max-age%3D60'
is "$(codes 200)" 5 "a timeout does not mark the key: the next burst collapses"
is "$(origin_count /slow)" 2 "... one origin request per burst"

# --- a stale entry revalidated by a burst: one conditional request
origin_release rv
get '/rv?cc=max-age%3D1&etag=r1&hold=rv'
sleep 2
origin_hold rv
w0=$(stat .collapse.waiters)
held_burst 20 '/rv?cc=max-age%3D1&etag=r1&hold=rv' rv $((w0 + 19))
is "$(codes 200)" 20 "stale burst: all 200"
is "$(origin_count /rv)" 2 "one revalidation for the burst"
like "$(origin_last /rv)" 'If-None-Match: "r1"' "... conditional"
is "$(statuses 'fwd=stale; fwd-status=304; collapsed')" 19 "waiters: fwd=stale, collapsed"

# --- Vary: a waiter whose headers select another variant goes to the origin itself
w0=$(stat .collapse.waiters)
burst 6 '/v?vary=X-Lang&cc=max-age%3D60&hold=v' -H 'X-Lang: en' &
bg=$!
wait_stat .collapse.waiters $((w0 + 5))
req GET "$PROXY/v?vary=X-Lang&cc=max-age%3D60&hold=v" -H 'X-Lang: fr' &
fr=$!
wait_stat .collapse.waiters $((w0 + 6))
origin_release v
wait "$bg" "$fr"
like "$(hdr Cache-Status)" 'collapsed=\?0' "a waiter of another variant is released"
is "$(origin_count /v)" 2 "one origin request per variant"

# --- Vary: the released waiters of one other variant collapse among themselves
w0=$(stat .collapse.waiters)
burst 6 '/v2?vary=X-Lang&cc=max-age%3D60&hold=v2' -H 'X-Lang: en' &
bg=$!
wait_stat .collapse.waiters $((w0 + 5))
fr=""
for i in 1 2 3 4 5; do
  curl -s -o /dev/null -D "$WORK/fr.$i.h" --max-time 10 -H 'X-Lang: fr' \
    "$PROXY/v2?vary=X-Lang&cc=max-age%3D60&hold=v2" &
  fr="$fr $!"
done
wait_stat .collapse.waiters $((w0 + 10))
origin_release v2
# shellcheck disable=SC2086 # the pids
wait "$bg" $fr
is "$(origin_count /v2)" 2 "waiters of another variant: one origin request for them all"
is "$(cat "$WORK"/fr.*.h | tr -d '\r' | grep -Eic '^Cache-Status: .*; collapsed; ttl=')" 4 \
  "four of them answered from the first one's"

# --- HEAD joins a GET in flight; no-cache and Authorization do not wait
curl -s -o /dev/null --max-time 10 "$PROXY/h?cc=max-age%3D60&hold=h" &
bg=$!
w0=$(stat .collapse.waiters)
i=0
while [ "$(origin_count /h)" != 1 ] && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
req HEAD "$PROXY/h?cc=max-age%3D60&hold=h" &
hd=$!
wait_stat .collapse.waiters $((w0 + 1))
origin_release h
wait "$bg" "$hd"
like "$(hdr Cache-Status)" 'collapsed; ttl' "HEAD waits for the GET in flight"
is "$(origin_count /h)" 1 "... and does not reach the origin"
curl -s -o /dev/null --max-time 10 "$PROXY/nc?cc=max-age%3D60&delay_ms=600" &
bg=$!
sleep 0.2
curl -s -o /dev/null --max-time 10 -H 'Authorization: Bearer x' "$PROXY/nc?cc=max-age%3D60&delay_ms=600" &
bg2=$!
get '/nc?cc=max-age%3D60&delay_ms=600' -H 'Cache-Control: no-cache'
wait "$bg" "$bg2"
is "$(origin_count /nc)" 3 "no-cache and Authorization requests go to the origin themselves"

# --- shutdown: the leader and its waiters are completed (502) and resumed, never left
# suspended: the proxy exits cleanly (checked last) and no client waits for the origin's 3 s.
# (Replies resumed just before the daemon stops may be cut off with the connection: that is
# the server's shutdown, the same for requests that were not collapsed.)
w0=$(stat .collapse.waiters)
t0=$(date +%s)
burst 10 '/down?delay_ms=3000&cc=max-age%3D60' &
bg=$!
wait_stat .collapse.waiters $((w0 + 9)) # every request has arrived
stop_pid "$PROXY_PID"
wait "$bg"
is "$(( $(date +%s) - t0 < 3 ))$(codes 200)" 10 "stopping: every client is let go at once, none served"
