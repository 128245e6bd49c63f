#!/bin/sh
# Invalidation (RFC 9111 section 4.4): a 2xx or 3xx answer to an unsafe method (POST, PUT,
# DELETE, PATCH, unknown ones) removes the target URI and the same-origin URIs of Location and
# Content-Location (relative or absolute) from both tiers; other origins, failed answers and
# safe methods (OPTIONS) invalidate nothing. A POST answered with explicit freshness and its own
# URL as Content-Location is stored for GETs of that URL (RFC 9110 9.3.3).
. "$(dirname "$0")/lib.sh"
plan 18

start_origin
start_memcached MC
mc="[memcached]
servers = $MC_ADDR
timeout_ms = 1000"
write_config "$WORK/a.ini" "$mc"
start_proxy "$WORK/a.ini" a
A=$PROXY
H='Host: api.test'
c='?cc=max-age%3D300'
l='%3Fcc%3Dmax-age%253D300' # $c inside a header value given in the query

# stored: x, y/z (through A, so in memcached too)
fill() { for _p in "$@"; do get_via "$A" "$_p$c" -H "$H"; done; }
fill /x /d/y /d/z /w
wait_stat .memcached.stores 4 "$A"

# served from the cache (A has everything in its local tier and memcached: a miss through A
# means both copies are gone): count origin requests per path
hit() { _before=$(origin_count "$1"); get_via "$2" "$1$c" -H "$H"; [ "$(origin_count "$1")" = "$_before" ] && echo hit || echo miss; }
is "$(hit /x "$A")" hit "x stored"

# POST answered 201 with Location: /x (absolute path) and Content-Location: y (relative)
req POST "$A/d/post?status=201&hdr=Location:/x$l&hdr=Content-Location:y$l" -H "$H" -d data
is "$STATUS" 201 "POST passes through"
is "$(hit /x "$A")" miss "Location (absolute path) invalidated, in memcached too"
is "$(hit /d/y "$A")" miss "Content-Location (relative) invalidated"
is "$(hit /d/z "$A")" hit "another URL stays"

# an absolute http URI on the same host; then one on another host
fill /d/z
req PUT "$A/put?hdr=Location:http://api.test/d/z$l" -H "$H" -d data
is "$(hit /d/z "$A")" miss "absolute URI on the same host invalidated"
req DELETE "$A/del?hdr=Location:http://elsewhere.test/w$l" -H "$H"
is "$(hit /w "$A")" hit "a URI on another host is not invalidated"

# an unknown method invalidates; a failed answer does not; OPTIONS is safe
fill /x
req PATCH "$A/x$c" -H "$H" -d data
is "$(hit /x "$A")" miss "PATCH invalidates its target"
req FROB "$A/x$c" -H "$H"
is "$(hit /x "$A")" miss "an unknown method invalidates its target"
req POST "$A/post?status=500&hdr=Location:/x$l" -H "$H" -d data
is "$(hit /x "$A")" hit "a 500 does not invalidate Location"
req OPTIONS "$A/x$c" -H "$H"
is "$(hit /x "$A")" hit "OPTIONS does not invalidate"
req POST "$A/post?status=303&hdr=Location:/x$l" -H "$H" -d data
is "$STATUS" 303 "303 passed through"
is "$(hit /x "$A")" miss "a 3xx invalidates Location"

# A POST whose Content-Location names its own URL, with explicit freshness: stored for GETs
# (hdr_from: the origin copies the X-Add request header into its answer).
before=$(stat .memcached.stores "$A")
pc="/pc$c&hdr_from=X-Add"
req POST "$A$pc" -H "$H" -H "X-Add: Content-Location: $pc" -d data
like "$(hdr Cache-Status)" '^tiercache; fwd=method; fwd-status=200; stored; ttl=' "POST answer stored"
get_via "$A" "$pc" -H "$H"
like "$BODY" '"method":"POST"' "a GET of the URL gets the POST's answer"
is "$(origin_count /pc)" 1 "from the cache"
wait_stat .memcached.stores "$((before + 1))" "$A"
is "$(show_record "$WORK/a.ini" "api.test$pc" .servers.found)" true "and from memcached"
req POST "$A$pc" -H "$H" -H "X-Add: Content-Location: /elsewhere" -d data
get_via "$A" "$pc" -H "$H"
is "$(origin_count /pc)" 3 "with Content-Location naming another URL: not stored for GETs (and invalidated)"
