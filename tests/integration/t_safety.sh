#!/bin/sh
# Cache safety: request fields that are not in the cache key yet can change the answer
# ([origin] strip_request_headers) never reach the origin unless configured; no Set-Cookie,
# private or Authorization answer is served to another client, from either tier, also when a
# 304 brings a Set-Cookie to a stored entry; administrative endpoints answer the allow list only.
. "$(dirname "$0")/lib.sh"
plan 39

start_origin
start_memcached MC
write_config "$WORK/p.ini" "[memcached]" "servers = $MC_ADDR"
start_proxy "$WORK/p.ini"
P1=$PROXY
# a second proxy of the fleet: what the first stored in memcached, it can serve
start_proxy "$WORK/p.ini" p2
P2=$PROXY
PROXY=$P1

# --- the default strip list
get '/fw?cc=max-age%3D60' -H 'X-Forwarded-Host: evil.example' -H 'X-Original-URL: /admin' \
  -H 'X-Rewrite-URL: /admin' -H 'X-HTTP-Method-Override: DELETE' -H 'X-Forwarded-Proto: https' \
  -H 'Forwarded: host=evil.example' -H 'X-Host: evil.example' -H 'X-Forwarded-Server: evil' \
  -H 'X-Forwarded-Scheme: https' -H 'X-Forwarded-For: 192.0.2.7' -H 'X-Custom: kept'
last=$(origin_last /fw | tr 'A-Z' 'a-z')
is "$STATUS" 200 "a request with X-Forwarded-Host, X-Original-URL and others: 200"
unlike "$last" 'x-forwarded-host|x-original-url|x-rewrite-url|method-override' "... none of them reached the origin"
unlike "$last" '^forwarded:|x-host|x-forwarded-server|x-forwarded-proto|x-forwarded-scheme' "... nor Forwarded, X-Host, X-Forwarded-Server/Proto/Scheme"
like "$last" 'x-custom: kept' "... other fields pass unchanged"
like "$last" 'x-forwarded-for: 192.0.2.7' "... X-Forwarded-For too (it is not in the default list)"
get '/fw-post' -X POST -d 'x' -H 'X-HTTP-Method-Override: DELETE'
unlike "$(origin_last /fw-post)" 'Override' "stripped from other methods too"
get '/fw-case' -H 'x-forwarded-HOST: evil.example'
unlike "$(origin_last /fw-case | tr 'A-Z' 'a-z')" 'forwarded-host' "names match in any case"

# --- configured: none strips nothing, a custom list strips only its names
printf '[server]\nlisten = 127.0.0.1:0\nthreads = 2\n[origin]\nurl = %s\nstrip_request_headers = none\n' "$ORIGIN_URL" >"$WORK/none.ini"
"$TIERCACHE" -t -c "$WORK/none.ini" >/dev/null 2>&1
is "$?" 0 "strip_request_headers = none is valid"
start_proxy "$WORK/none.ini" p3
get '/fw-none' -H 'X-Forwarded-Host: a.example'
like "$(origin_last /fw-none)" 'X-Forwarded-Host: a.example' "with none: X-Forwarded-Host is forwarded"
printf '[server]\nlisten = 127.0.0.1:0\nthreads = 2\n[origin]\nurl = %s\nstrip_request_headers = X-Secret,  X-Other\n' "$ORIGIN_URL" >"$WORK/custom.ini"
start_proxy "$WORK/custom.ini" p4
get '/fw-custom' -H 'X-Forwarded-Host: a.example' -H 'X-Secret: s' -H 'X-Other: o'
last=$(origin_last /fw-custom)
like "$last" 'X-Forwarded-Host: a.example' "a custom list replaces the default"
unlike "$last" 'X-Secret|X-Other' "... and strips its own names"
printf '[origin]\nurl = %s\nstrip_request_headers = X-Ok, bad/name\n' "$ORIGIN_URL" >"$WORK/bad.ini"
out=$("$TIERCACHE" -t -c "$WORK/bad.ini" 2>&1)
is "$?" 1 "a name that is not a token is refused (exit 1)"
like "$out" 'strip_request_headers: expected header field names separated by commas, or none' "... with a clear message"
PROXY=$P1

# --- Set-Cookie, private, Authorization: never served to another client, in either tier
# A response with Set-Cookie is stored without it: the client that caused the fetch gets its
# cookie, every other client (of this proxy or of another one, through memcached) gets none.
# (the cache key holds Host: the same one through both proxies, whose ports differ)
HOST='Host: shared.example'
wait_stat .memcached.stores 1
st0=$(stat .memcached.stores)
get '/sc?cc=max-age%3D60&hdr=Set-Cookie%3Asid%3Dalice' -H "$HOST"
is "$(hdr Set-Cookie)" 'sid=alice' "Set-Cookie: the client whose request was forwarded gets its cookie"
like "$(hdr Cache-Status)" 'fwd=uri-miss; fwd-status=200; stored' "... the response is stored"
get '/sc?cc=max-age%3D60&hdr=Set-Cookie%3Asid%3Dalice' -H "$HOST"
is "$(origin_count /sc) $(hdr_count Set-Cookie)" "1 0" "... the next client gets it from the local tier without the cookie"
wait_stat .memcached.stores $((st0 + 1))
PROXY=$P2
get '/sc?cc=max-age%3D60&hdr=Set-Cookie%3Asid%3Dalice' -H "$HOST"
is "$(origin_count /sc) $(hdr_count Set-Cookie)" "1 0" "... and another proxy gets it from memcached without the cookie"
like "$(hdr Cache-Status)" 'detail=memcached' "... (a memcached hit)"
PROXY=$P1
st0=$(stat .memcached.stores)
st2=$(stat .memcached.stores "$P2")
get '/pv?cc=private%2C%20max-age%3D60' -H "$HOST"
PROXY=$P2
get '/pv?cc=private%2C%20max-age%3D60' -H "$HOST"
is "$(origin_count /pv)" 2 "private: not shared through memcached"
get '/au?cc=max-age%3D60' -H 'Authorization: Bearer alice' -H "$HOST"
PROXY=$P1
get '/au?cc=max-age%3D60' -H "$HOST"
is "$(origin_count /au)" 2 "an answer to Authorization: not served to a request without it"
like "$BODY" '"n":2' "... the second client got its own answer"
wait_stat .memcached.stores $((st0 + 1)) # the answer to the request without Authorization
is "$(stat .memcached.stores) $(stat .memcached.stores "$P2")" "$((st0 + 1)) $st2" \
	"nothing else of this was written to memcached"
st0=$((st0 + 1))

# a stored entry whose revalidation 304 brings a Set-Cookie: the cookie goes to the client
# that revalidated only; the refreshed entry is stored without it in both tiers
u='/rc?cc=max-age%3D60&etag=e1&hdr304=Set-Cookie%3Asid%3Dbob'
get "$u" -H "$HOST"
like "$(hdr Cache-Status)" 'stored' "an entry with a validator is stored"
is "$(hdr_count Set-Cookie)" 0 "... without a Set-Cookie"
wait_stat .memcached.stores $((st0 + 1))
is "$(stat .memcached.stores)" $((st0 + 1)) "... in memcached too"
get "$u" -H "$HOST" -H 'Cache-Control: no-cache'
like "$(hdr Cache-Status)" 'fwd=request; fwd-status=304; stored' "revalidated, the 304 carries Set-Cookie: the refreshed entry is stored"
is "$(hdr Set-Cookie) $(origin_count /rc)" 'sid=bob 2' "... the client that revalidated gets its cookie"
get "$u" -H "$HOST"
is "$(hdr_count Set-Cookie) $(origin_count /rc)" "0 2" "the next client gets the refreshed entry without the cookie"
wait_stat .memcached.stores $((st0 + 2))
PROXY=$P2
get "$u" -H "$HOST"
is "$(hdr_count Set-Cookie) $(origin_count /rc)" "0 2" "another proxy finds the record without the cookie"
like "$(hdr Cache-Status)" 'detail=memcached' "... (a memcached hit)"
PROXY=$P1

# a POST whose answer is too large to store (streamed) still removes the URL from memcached
# before its client hears back
u='/minv?cc=max-age%3D60&size=100&grow=3000000'
st1=$(stat .memcached.stores)
get "$u"
wait_stat .memcached.stores $((st1 + 1))
req POST "$PROXY$u" -d 'x=1'
is "$STATUS $(wc -c <"$WORK/b" | tr -d ' ')" "200 3000000" "a POST answered with 3 MB (streamed)"
PROXY=$P2
get "$u"
is "$(origin_count /minv)" 3 "... another proxy finds nothing in memcached for that URL"
PROXY=$P1

# --- administrative endpoints answer the allow list only
printf '[server]\nlisten = 127.0.0.1:0\nthreads = 2\n[origin]\nurl = %s\n[stats]\nallow = 10.0.0.0/8, 192.0.2.1\n' "$ORIGIN_URL" >"$WORK/deny.ini"
start_proxy "$WORK/deny.ini" p5
get '/ad?cc=max-age%3D60'
get /stats
is "$STATUS" 403 "/stats from an address outside [stats] allow: 403"
unlike "$BODY" 'requests' "... no counters in the answer"
req PURGE "$PROXY/ad?cc=max-age%3D60"
is "$STATUS" 403 "PURGE from outside the allow list: 403"
req PURGE "$PROXY/ad?cc=max-age%3D60" -H 'Tiercache-Purge: all'
is "$STATUS" 403 "PURGE of everything from outside: 403"
get '/ad?cc=max-age%3D60'
like "$(hdr Cache-Status)" 'hit' "... and nothing was purged"
get /metrics
is "$STATUS" 403 "/metrics from outside the allow list: 403"
unlike "$BODY" 'tiercache_' "... no counters in the answer"
