#!/bin/sh
# PURGE of one URL (all its variants) from the local tier and memcached: 200, then 404; only
# from [stats] allow addresses (403 otherwise). "Tiercache-Purge: all" bumps the namespace
# generation in memcached: a second proxy sees it within a second and empties its local tier.
# A successful unsafe method invalidates the URL in memcached too.
. "$(dirname "$0")/lib.sh"
plan 27

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

# one URL, with two variants (Vary: Accept) stored one after the other
u='/p1?cc=max-age%3D300&vary=Accept'
get_via "$A" "$u" -H "$H" -H 'Accept: text/a'
get_via "$A" "$u" -H "$H" -H 'Accept: text/b'
wait_stat .memcached.stores 2 "$A"
req PURGE "$A$u" -H "$H"
is "$STATUS" 200 "PURGE: 200"
like "$BODY" 'purged' "PURGE: says so"
is "$(show_record "$WORK/a.ini" "api.test$u" .servers.found)" false "PURGE: gone from memcached"
get_via "$B" "$u" -H "$H" -H 'Accept: text/b'
like "$(hdr Cache-Status)" 'fwd=uri-miss' "PURGE: another proxy misses"
wait_stat .memcached.stores 1 "$B"
get_via "$A" "$u" -H "$H" -H 'Accept: text/b'
like "$(hdr Cache-Status)" 'detail=memcached' "PURGE: gone from A's local tier (B's new copy comes from memcached)"
is "$(origin_count /p1)" 3 "refetched once"
req PURGE "$A$u" -H "$H"
is "$STATUS" 200 "PURGE of what another proxy stored in memcached: 200"
req PURGE "$A$u" -H "$H"
is "$STATUS" 404 "PURGE when nothing is stored: 404"
req PURGE "$A/never-stored" -H "$H"
is "$STATUS" 404 "PURGE of an unknown URL: 404"
req PURGE "$A/p1" -H "$H" -H 'Tiercache-Purge: some'
is "$STATUS" 400 "Tiercache-Purge takes only 'all'"

# not from this address
write_config "$WORK/c.ini" "[stats]
allow = 10.0.0.0/8
$mc"
start_proxy "$WORK/c.ini" c
C=$PROXY
get_via "$C" '/p2?cc=max-age%3D300' -H "$H"
req PURGE "$C/p2?cc=max-age%3D300" -H "$H"
is "$STATUS" 403 "PURGE from an address outside [stats] allow: 403"
req PURGE "$C/p2?cc=max-age%3D300" -H "$H" -H 'Tiercache-Purge: all'
is "$STATUS" 403 "purge-all too"
get_via "$C" '/p2?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" '^tiercache; hit' "nothing was purged"

# purge everything: both proxies hold /p3 in their local tier
get_via "$A" '/p3?cc=max-age%3D300' -H "$H"
wait_stat .memcached.stores 2 "$A"
get_via "$B" '/p3?cc=max-age%3D300' -H "$H"
get_via "$B" '/p3?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=[0-9]+$' "B: /p3 in its local tier"
gen=$(stat .memcached.namespace_generation "$A")
req PURGE "$A/" -H "$H" -H 'Tiercache-Purge: all'
is "$STATUS" 200 "purge-all: 200"
like "$BODY" "namespace generation $((gen + 1))" "purge-all: the generation is bumped"
is "$(stat .memcached.namespace_generation "$A")" $((gen + 1)) "purge-all: A's generation"
sleep 1
is "$(stat .memcached.namespace_generation "$B")" $((gen + 1)) "B sees the new generation within a second"
get_via "$B" '/p3?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" 'fwd=uri-miss' "B's local tier was emptied"
get_via "$A" '/p3?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" 'fwd=uri-miss|detail=memcached' "A's too (and the old records are out of reach)"
is "$(origin_count /p3)" 2 "one refetch, shared"

# a response fetched across a purge of everything is not stored (it may predate the purge)
curl -s -o /dev/null -D "$WORK/slow.h" --max-time 10 -H "$H" "$A/race?cc=max-age%3D300&delay_ms=1000" &
slow=$!
sleep 0.3
req PURGE "$A/" -H "$H" -H 'Tiercache-Purge: all'
wait "$slow"
like "$(tr -d '\r' <"$WORK/slow.h" | grep -i '^Cache-Status:')" 'fwd=uri-miss; fwd-status=200; detail=purged' "fetched across a purge-all: not stored"
get_via "$B" '/race?cc=max-age%3D300&delay_ms=1000' -H "$H"
is "$(origin_count /race)" 2 "not in memcached either"

# a successful unsafe method invalidates memcached too: the next reader anywhere misses
get_via "$A" '/inv?cc=max-age%3D300' -H "$H"
wait_stat .memcached.stores 4 "$A"
req POST "$B/inv?cc=max-age%3D300" -H "$H" -d x
is "$STATUS" 200 "POST passes through"
is "$(show_record "$WORK/a.ini" 'api.test/inv?cc=max-age%3D300' .servers.found)" false "the POST removed the record from memcached"
get_via "$C" '/inv?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" 'fwd=uri-miss' "a third proxy misses after the POST"
is "$(stat .local.invalidations "$B")" 1 "counted as an invalidation"
