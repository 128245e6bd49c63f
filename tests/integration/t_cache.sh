#!/bin/sh
# Caching through the real binary: miss then hit, freshness sources, what is not shared,
# client conditionals, Vary, size limits, HEAD, header forwarding.
. "$(dirname "$0")/lib.sh"
plan 56

start_origin
write_config "$WORK/p.ini" '[local]' 'max_object_bytes = 4K' 'max_bytes = 1M'
start_proxy "$WORK/p.ini"

# --- miss then hit, exactly one origin request
get '/a?cc=max-age%3D60&etag=a1'
is "$STATUS" 200 "first GET answered"
first=$BODY
like "$(hdr Cache-Status)" '^tiercache; fwd=uri-miss; fwd-status=200; stored; ttl=(60|59)$' "first GET is a stored miss"
get '/a?cc=max-age%3D60&etag=a1'
is "$BODY" "$first" "second GET serves the stored body"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=(60|59|58)$' "second GET is a hit with its ttl"
like "$(hdr Age)" '^[0-9]+$' "a hit carries Age"
is "$(origin_count /a)" 1 "miss then hit: one origin request"
is "$(hdr ETag)" '"a1"' "stored ETag is sent"
like "$(hdr Via)" '1\.1 tiercache' "Via names the proxy"

# --- HEAD is served from the stored GET response, with its length and no body
req HEAD "$PROXY/a?cc=max-age%3D60&etag=a1"
is "$STATUS" 200 "HEAD on a stored response"
is "$(hdr Content-Length)" "${#first}" "HEAD carries the stored body's length"
like "$(hdr Cache-Status)" 'hit' "HEAD is a hit"
is "$(origin_count /a)" 1 "HEAD did not reach the origin"

# --- a client's own conditional on a fresh entry gets 304 from the proxy
get '/a?cc=max-age%3D60&etag=a1' -H 'If-None-Match: "a1"'
is "$STATUS" 304 "If-None-Match matching a fresh entry: 304"
is "$BODY" "" "304 has no body"
is "$(hdr ETag)" '"a1"' "304 carries the ETag"
is "$(hdr Content-Type)" "" "304 carries no other representation metadata (RFC 9110 15.4.5)"
get '/a?cc=max-age%3D60&etag=a1' -H 'If-None-Match: "other"'
is "$STATUS" 200 "If-None-Match not matching: 200"
get '/lm?cc=max-age%3D60&lm=3600'
get '/lm?cc=max-age%3D60&lm=3600' -H "If-Modified-Since: $(date -u -R | sed 's/+0000/GMT/')"
is "$STATUS" 304 "If-Modified-Since after Last-Modified: 304"
is "$(origin_count /a)$(origin_count /lm)" 11 "client conditionals did not reach the origin"

# --- freshness: s-maxage over max-age, Expires - Date, stale on arrival
get '/s?cc=max-age%3D0%2C%20s-maxage%3D60'
get '/s?cc=max-age%3D0%2C%20s-maxage%3D60'
is "$(origin_count /s)" 1 "s-maxage wins over max-age=0"
get '/e?expires=60'
get '/e?expires=60'
is "$(origin_count /e)" 1 "Expires in the future: fresh"
get '/ep?expires=-10'
get '/ep?expires=-10'
is "$(origin_count /ep)" 2 "Expires in the past: not fresh"
get '/old?cc=max-age%3D60&age=100'
get '/old?cc=max-age%3D60&age=100'
is "$(origin_count /old)" 2 "Age beyond max-age: stale on arrival, fetched again"
get '/nofresh'
get '/nofresh'
is "$(origin_count /nofresh)" 2 "no freshness information and default_ttl 0: not reused"

# --- what a shared cache must not store
get '/ns?cc=no-store'
get '/ns?cc=no-store'
is "$(origin_count /ns)" 2 "no-store is not stored"
like "$(hdr Cache-Status)" 'fwd=uri-miss; fwd-status=200; detail=no-store' "Cache-Status names no-store"
get '/pv?cc=private%2C%20max-age%3D60'
get '/pv?cc=private%2C%20max-age%3D60'
is "$(origin_count /pv)" 2 "private is not stored"
get '/au?cc=max-age%3D60' -H 'Authorization: Bearer alice'
get '/au?cc=max-age%3D60' -H 'Authorization: Bearer bob'
is "$(origin_count /au)" 2 "a response to Authorization is not shared"
get '/aup?cc=public%2C%20max-age%3D60' -H 'Authorization: Bearer alice'
get '/aup?cc=public%2C%20max-age%3D60'
is "$(origin_count /aup)" 1 "Authorization with public: stored"
get '/rq?cc=max-age%3D60' -H 'Cache-Control: no-store'
get '/rq?cc=max-age%3D60'
is "$(origin_count /rq)" 2 "request no-store: not stored"
get '/ck?cc=max-age%3D60&hdr=Set-Cookie%3Asid%3D1&hdr=Set-Cookie%3Alang%3Den'
is "$(hdr_count Set-Cookie)" 2 "a fresh response with Set-Cookie: its client gets the cookies"
like "$(hdr Cache-Status)" 'fwd=uri-miss; fwd-status=200; stored' "... and it is stored"
get '/ck?cc=max-age%3D60&hdr=Set-Cookie%3Asid%3D1&hdr=Set-Cookie%3Alang%3Den'
is "$(origin_count /ck) $(hdr_count Set-Cookie)" "1 0" "... and reused, without the cookies"
like "$(hdr Cache-Status)" '^tiercache; hit' "... as a hit"
# qualified no-cache / private (RFC 9111 5.2.2.4, 5.2.2.7): only the listed fields are not stored
u='/qnc?cc=no-cache%3D%22X-A%22%2C%20max-age%3D60&hdr=X-A%3A1&hdr=X-B%3A2'
get "$u"
is "$(hdr X-A)" 1 'no-cache="X-A": the client of the fetch gets X-A'
get "$u"
is "$(origin_count /qnc) $(hdr_count X-A) $(hdr X-B)" "1 0 2" "... the response is reused (not revalidated) without X-A"
u='/qpv?cc=private%3D%22x-a%2C%20X-C%22%2C%20max-age%3D60&hdr=X-A%3A1&hdr=X-B%3A2&hdr=X-C%3A3'
get "$u"
get "$u"
is "$(origin_count /qpv) $(hdr_count X-A) $(hdr_count X-C) $(hdr X-B)" "1 0 0 2" 'private="x-a, X-C": reused without those fields'
many=$(seq 1 40 | sed 's/^/X-/' | paste -sd, - | sed 's/,/%2C/g')
get "/qmany?cc=private%3D%22$many%22%2C%20max-age%3D60"
like "$(hdr Cache-Status)" 'detail=private' "private= naming more fields than can be left out: not stored"
get '/nc?cc=max-age%3D60'
get '/nc?cc=max-age%3D60' -H 'Cache-Control: no-cache'
is "$(origin_count /nc)" 2 "request no-cache goes to the origin"
get '/nc?cc=max-age%3D60' -H 'Pragma: no-cache'
is "$(origin_count /nc)" 3 "Pragma: no-cache without Cache-Control goes to the origin"

# --- size limits: larger than max_object_bytes is passed through, not stored
get '/big?cc=max-age%3D60&size=5000'
is "${#BODY}" 5000 "a large body passes through whole"
get '/big?cc=max-age%3D60&size=5000'
is "$(origin_count /big)" 2 "an object over max_object_bytes is not stored"
like "$(hdr Cache-Status)" 'detail=too-large' "Cache-Status says too-large"
get '/small?cc=max-age%3D60&size=4000'
get '/small?cc=max-age%3D60&size=4000'
is "$(origin_count /small)" 1 "an object under max_object_bytes is stored"

# --- Vary: a stored variant is only served to a matching request
get '/v?cc=max-age%3D60&vary=Accept' -H 'Accept: text/plain'
get '/v?cc=max-age%3D60&vary=Accept' -H 'Accept: text/plain'
is "$(origin_count /v)" 1 "same Vary header value: hit"
get '/v?cc=max-age%3D60&vary=Accept' -H 'Accept: application/json'
is "$(origin_count /v)" 2 "other Vary header value: miss"
get '/vs?cc=max-age%3D60&vary=*'
get '/vs?cc=max-age%3D60&vary=*'
is "$(origin_count /vs)" 2 "Vary: * is never served from the cache"

# --- the key includes Host
get '/h?cc=max-age%3D60' -H 'Host: one.example'
get '/h?cc=max-age%3D60' -H 'Host: two.example'
is "$(origin_count /h)" 2 "one host's response is not served for another"
is "$(origin_last /h | grep -i '^Host:' | tr -d '\r')" "Host: two.example" "Host reaches the origin unchanged"

# --- header forwarding: hop-by-hop dropped both ways, others unchanged, Via added
get '/fw?cc=no-store&hdr=X-Unknown-Resp%3Ayes&hdr=Connection%3AX-Hop-Resp&hdr=X-Hop-Resp%3A1&hdr=Keep-Alive%3Atimeout%3D5' \
  -H 'X-Unknown-Req: hello' -H 'Connection: X-Hop-Req' -H 'X-Hop-Req: 1' -H 'TE: trailers' \
  -H 'Proxy-Authorization: Basic abc'
last=$(origin_last /fw | tr -d '\r')
like "$last" 'X-Unknown-Req: hello' "unknown request header reaches the origin"
unlike "$last" 'X-Hop-Req|TE: trailers|Proxy-Authorization' "hop-by-hop request headers are not forwarded"
like "$last" 'Via: 1\.1 tiercache' "Via is added toward the origin"
is "$(hdr X-Unknown-Resp)" yes "unknown response header reaches the client"
is "$(hdr X-Hop-Resp)$(hdr Keep-Alive)" "" "hop-by-hop response headers are not forwarded"
# Trailer and Proxy-Authenticate are not among the fields a proxy removes (RFC 9110 7.6.1)
u='/e2e?cc=max-age%3D60&hdr=Trailer%3AX-Sum&hdr=Proxy-Authenticate%3ABasic%20realm%3D%22o%22'
get "$u"
get "$u"
is "$(origin_count /e2e) $(hdr Trailer) $(hdr Proxy-Authenticate)" '1 X-Sum Basic realm="o"' \
	"Trailer and Proxy-Authenticate are passed on and stored"
is "$(hdr_count Date)" 1 "exactly one Date header"
