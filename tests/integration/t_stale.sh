#!/bin/sh
# Serving stale responses: stale-while-revalidate (RFC 5861 section 3: served at once, one
# background revalidation per key, its answer stored), stale-if-error (section 4: on an origin
# failure or a 500/502/503/504, from the response, the request, or [local] stale_if_error),
# and what forbids both (must-revalidate, proxy-revalidate, s-maxage, no-cache). Responses
# arrive stale through the origin's Age; the origin fails on purpose with fail_after=.
. "$(dirname "$0")/lib.sh"
plan 43

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

# wait_origin PATH N: up to 10 s for the origin to have seen N requests for PATH.
wait_origin() {
  _w=0
  while [ "$(origin_count "$1")" != "$2" ] && [ "$_w" -lt 200 ]; do
    _w=$((_w + 1))
    sleep 0.05
  done
}

# --- stale-while-revalidate
SWR='/swr?cc=max-age%3D1,%20stale-while-revalidate%3D600&age=5'
get "$SWR"
like "$(hdr Cache-Status)" 'fwd=uri-miss; fwd-status=200; stored' "a response stale on arrival within its swr window is stored"
like "$BODY" '"n":1' "first answer"
get "$SWR"
is "$STATUS" 200 "within stale-while-revalidate: answered"
like "$BODY" '"n":1' "with the stored (stale) body"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=-[0-9]+; detail=stale-while-revalidate$' "Cache-Status: a stale hit, detail=stale-while-revalidate"
like "$(hdr Age)" '^[0-9]+$' "the stale answer carries Age"
wait_origin /swr 2
is "$(origin_count /swr)" 2 "a background revalidation reached the origin"
wait_stat .stale.background_revalidations 1
is "$(stat .stale.background_revalidations)" 1 "background revalidations counted"
_i=0
while [ "$_i" -lt 100 ]; do
  get "$SWR"
  case $BODY in *'"n":2'*) break ;; esac
  _i=$((_i + 1))
  sleep 0.05
done
like "$BODY" '"n":2' "the background answer was stored and is served next"

# one background revalidation per key at a time: the origin is slow, many stale hits
SLOW='/swrs?cc=max-age%3D1,%20stale-while-revalidate%3D600&age=5&delay_ms=1500'
get "$SLOW"
pids=""
for i in 1 2 3 4 5 6; do
  curl -s -o /dev/null --max-time 10 "$PROXY$SLOW" &
  pids="$pids $!"
done
for pid in $pids; do wait "$pid"; done
get "$SLOW"
like "$(hdr Cache-Status)" 'detail=stale-while-revalidate' "stale hits while the revalidation is in flight"
is "$(origin_count /swrs)" 2 "seven stale hits, one background revalidation"

get '/swrm?cc=max-age%3D1,%20stale-while-revalidate%3D600,%20must-revalidate&age=5'
get '/swrm?cc=max-age%3D1,%20stale-while-revalidate%3D600,%20must-revalidate&age=5'
like "$(hdr Cache-Status)" 'fwd=uri-miss' "must-revalidate forbids stale-while-revalidate"
is "$(origin_count /swrm)" 2 "so the request itself went to the origin"
get '/swrx?cc=max-age%3D1,%20stale-while-revalidate%3D3&age=10&etag=x'
get '/swrx?cc=max-age%3D1,%20stale-while-revalidate%3D3&age=10&etag=x'
like "$(hdr Cache-Status)" 'fwd=stale' "past the swr window: revalidated first"

# --- stale-if-error
SIE='/sie?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1'
get "$SIE"
first=$BODY
get "$SIE"
is "$STATUS" 200 "origin answers 503: the stale response is served instead"
is "$BODY" "$first" "with the stored body"
like "$(hdr Cache-Status)" '^tiercache; fwd=stale; fwd-status=503; detail=stale-if-error$' "Cache-Status: fwd=stale, fwd-status=503, detail=stale-if-error"
like "$(hdr Age)" '^[0-9]+$' "and Age"
get '/sie5?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=500'
get '/sie5?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=500'
is "$STATUS" 200 "also for a 500"
get '/sier?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=reset'
get '/sier?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=reset'
is "$STATUS" 200 "origin closes the connection unanswered: the stale response is served"
like "$(hdr Cache-Status)" '^tiercache; fwd=stale; detail=stale-if-error$' "Cache-Status without fwd-status"
get '/siet?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=slow'
get '/siet?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=slow'
is "$STATUS:$(hdr Cache-Status)" "200:tiercache; fwd=stale; detail=stale-if-error" "origin timeout: the stale response is served"
get '/sienv?cc=max-age%3D1,%20stale-if-error%3D600&age=5&fail_after=1'
get '/sienv?cc=max-age%3D1,%20stale-if-error%3D600&age=5&fail_after=1'
is "$STATUS" 200 "without validators too (kept for its stale-if-error window)"
get '/sie4?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=404'
get '/sie4?cc=max-age%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1&fail=404'
is "$STATUS" 404 "a 404 is an answer, not an error: passed on"
get '/sieo?cc=max-age%3D1,%20stale-if-error%3D3&age=10&etag=e1&fail_after=1'
get '/sieo?cc=max-age%3D1,%20stale-if-error%3D3&age=10&etag=e1&fail_after=1'
is "$STATUS" 503 "past the stale-if-error window: the 503 is passed on"
get '/sien?cc=max-age%3D1&age=5&etag=e1&fail_after=1'
get '/sien?cc=max-age%3D1&age=5&etag=e1&fail_after=1'
is "$STATUS" 503 "no stale-if-error and no default: the 503 is passed on"
get '/sieq?cc=max-age%3D1&age=5&etag=e1&fail_after=1'
get '/sieq?cc=max-age%3D1&age=5&etag=e1&fail_after=1' -H 'Cache-Control: stale-if-error=600'
is "$STATUS" 200 "the request's stale-if-error is honoured"
for d in must-revalidate proxy-revalidate no-cache; do
  get "/siem-$d?cc=max-age%3D1,%20stale-if-error%3D600,%20$d&age=5&etag=e1&fail_after=1"
  get "/siem-$d?cc=max-age%3D1,%20stale-if-error%3D600,%20$d&age=5&etag=e1&fail_after=1"
  is "$STATUS" 503 "$d forbids stale-if-error"
done
get '/siesm?cc=s-maxage%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1'
get '/siesm?cc=s-maxage%3D1,%20stale-if-error%3D600&age=5&etag=e1&fail_after=1'
is "$STATUS" 503 "s-maxage forbids stale-if-error"
get '/mr504?cc=max-age%3D1,%20must-revalidate&age=5&etag=m&fail_after=1&fail=reset'
get '/mr504?cc=max-age%3D1,%20must-revalidate&age=5&etag=m&fail_after=1&fail=reset'
is "$STATUS" 504 "must-revalidate and the origin unreachable: 504 (RFC 9111 5.2.2.2)"
get '/nr502?cc=max-age%3D1&age=5&etag=m&fail_after=1&fail=reset'
get '/nr502?cc=max-age%3D1&age=5&etag=m&fail_after=1&fail=reset'
is "$STATUS" 502 "without it, an unreachable origin is a 502"
is "$(stat .stale.if_error)" 6 "stale-if-error answers counted"
like "$(stat .stale.served)" '^[0-9]+$' "stale answers counted"

# --- [local] stale_if_error: the default grace when the response says nothing
write_config "$WORK/g.ini" '[local]' 'stale_if_error = 600'
start_proxy "$WORK/g.ini" grace
get '/dg?cc=max-age%3D1&age=5&etag=g&fail_after=1'
get '/dg?cc=max-age%3D1&age=5&etag=g&fail_after=1'
is "$STATUS" 200 "[local] stale_if_error serves the stale response on a 503"
get '/dg0?cc=max-age%3D1,%20stale-if-error%3D0&age=5&etag=g&fail_after=1'
get '/dg0?cc=max-age%3D1,%20stale-if-error%3D0&age=5&etag=g&fail_after=1'
is "$STATUS" 503 "the response's own stale-if-error=0 wins over the default"
get '/dgm?cc=max-age%3D1,%20must-revalidate&age=5&etag=g&fail_after=1'
get '/dgm?cc=max-age%3D1,%20must-revalidate&age=5&etag=g&fail_after=1'
is "$STATUS" 503 "must-revalidate forbids the default grace too"

# --- through memcached: a stale record within its windows is kept there and used the same way
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
MSWR='/mswr?cc=max-age%3D1,%20stale-while-revalidate%3D600&age=5'
get_via "$A" "$MSWR" -H "Host: api.test"
wait_stat .memcached.stores 1 "$A"
get_via "$B" "$MSWR" -H "Host: api.test"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=-[0-9]+; detail=stale-while-revalidate$' "B: the stale record from memcached is served within stale-while-revalidate"
wait_stat .stale.background_revalidations 1 "$B"
is "$(stat .stale.background_revalidations "$B"):$(origin_count /mswr)" "1:2" "B: and revalidated in the background"
MSIE='/msie?cc=max-age%3D1,%20stale-if-error%3D600&age=5&fail_after=1'
get_via "$A" "$MSIE" -H "Host: api.test"
wait_stat .memcached.stores 2 "$A"
get_via "$B" "$MSIE" -H "Host: api.test"
is "$STATUS:$(hdr Cache-Status)" "200:tiercache; fwd=stale; fwd-status=503; detail=stale-if-error" "B: a stale record without validators answers for a 503 (stale-if-error)"
get_via "$A" '/moic?cc=max-age%3D60' -H "Host: api.test"
wait_stat .memcached.stores 3 "$A"
get_via "$B" '/moic?cc=max-age%3D60' -H "Host: api.test" -H 'Cache-Control: only-if-cached'
like "$STATUS:$(hdr Cache-Status)" '^200:tiercache; hit; ttl=(60|59); detail=memcached$' "B: only-if-cached is answered from memcached"
get_via "$B" '/moic2?cc=max-age%3D60' -H "Host: api.test" -H 'Cache-Control: only-if-cached'
is "$STATUS:$(origin_count /moic2)" "504:0" "B: only-if-cached with nothing in any tier: 504, the origin never asked"
