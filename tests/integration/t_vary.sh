#!/bin/sh
# Vary (RFC 9111 section 4.1): many variants per URL, in the local tier and in memcached;
# request header values normalized (whitespace, several field lines), Vary names normalized;
# "Vary: *" never served; PURGE and invalidations remove every variant; Cache-Status says
# uri-miss, vary-miss or request.
. "$(dirname "$0")/lib.sh"
plan 44

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
mc_stat() { mc_cmd "$MC_PORT" 'stats\r\n' | tr -d '\r' | sed -n "s/^STAT $1 //p"; }
n() { printf '%s' "$BODY" | sed -n 's/.*"n":\([0-9]*\).*/\1/p'; }

u='/v?cc=max-age%3D300&vary=Accept'
get_via "$A" "$u" -H "$H" -H 'Accept: text/a'
like "$(hdr Cache-Status)" '^tiercache; fwd=uri-miss; fwd-status=200; stored' "first variant: uri-miss, stored"
get_via "$A" "$u" -H "$H" -H 'Accept: text/b'
like "$(hdr Cache-Status)" '^tiercache; fwd=vary-miss; fwd-status=200; stored' "second variant: vary-miss, stored"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a'
is "$(n)/$(hdr Cache-Status | cut -d';' -f2)" "1/ hit" "the first variant is still served"
get_via "$A" "$u" -H "$H" -H 'Accept: text/b'
is "$(n)/$(hdr Cache-Status | cut -d';' -f2)" "2/ hit" "and the second"
get_via "$A" "$u" -H "$H" -H 'Accept:'
is "$(n)" 3 "no Accept at all is a variant of its own"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a, text/c'
is "$(n)" 4 "a list value: a fourth variant"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a' -H 'Accept: text/c'
is "$(n)" 4 "the same list on two field lines selects it"
get_via "$A" "$u" -H "$H" -H 'Accept:   text/a ,text/c  '
is "$(n)" 4 "whitespace around the elements does not matter"
get_via "$A" "$u" -H "$H" -H 'Accept:'
is "$(n)" 3 "the absent-header variant is served"
is "$(origin_count /v)" 4 "four variants, four origin requests"

# Vary names: case, duplicates, order, several Vary field lines all count.
w='/w?cc=max-age%3D300&vary=accept-language,%20ACCEPT,%20Accept-Language&vary=X-Tenant'
get_via "$A" "$w" -H "$H" -H 'Accept: a' -H 'Accept-Language: en' -H 'X-Tenant: 1'
get_via "$A" "$w" -H "$H" -H 'accept: a' -H 'ACCEPT-LANGUAGE: en' -H 'x-tenant: 1'
is "$(origin_count /w)" 1 "header names in any case select the same variant"
get_via "$A" "$w" -H "$H" -H 'Accept: a' -H 'Accept-Language: en' -H 'X-Tenant: 2'
is "$(origin_count /w)" 2 "a field named on the second Vary line selects too"
get_via "$A" "$w" -H "$H" -H 'Accept: a' -H 'Accept-Language: fr' -H 'X-Tenant: 1'
is "$(origin_count /w)" 3 "Accept-Language (named twice) selects"
get_via "$A" "$w" -H "$H" -H 'Accept: a' -H 'Accept-Language: en' -H 'X-Tenant: 1'
is "$(origin_count /w)/$(hdr Cache-Status | cut -d';' -f2)" "3/ hit" "the first variant is still there"

# Content negotiation fields: element order (and case but in Accept) carries no meaning.
l='/lang?cc=max-age%3D300&vary=Accept-Language'
get_via "$A" "$l" -H "$H" -H 'Accept-Language: en, de;q=0.5'
get_via "$A" "$l" -H "$H" -H 'Accept-Language: DE ; q=0.5,en'
is "$(origin_count /lang)" 1 "Accept-Language: order, case and spaces do not select another variant"
get_via "$A" "$l" -H "$H" -H 'Accept-Language: en;q=0.5, de'
is "$(origin_count /lang)" 2 "other qvalues do"

# Vary: * is never served from the cache.
get_via "$A" '/star?cc=max-age%3D300&vary=*' -H "$H"
like "$(hdr Cache-Status)" 'detail=vary-star' "Vary: * is not stored"
get_via "$A" '/star?cc=max-age%3D300&vary=*' -H "$H"
is "$(origin_count /star)" 2 "and never served from the cache"
get_via "$A" '/star2?cc=max-age%3D300&vary=Accept,%20*' -H "$H"
get_via "$A" '/star2?cc=max-age%3D300&vary=Accept,%20*' -H "$H"
is "$(origin_count /star2)" 2 "* among other names too"
get_via "$A" '/star3?cc=max-age%3D300&vary=Accept&vary=*' -H "$H"
get_via "$A" '/star3?cc=max-age%3D300&vary=Accept&vary=*' -H "$H"
is "$(origin_count /star3)" 2 "* on a second Vary line too"

# memcached: the other proxy finds every variant.
wait_stat .memcached.stores 18 "$A"
get_via "$B" "$u" -H "$H" -H 'Accept: text/b'
is "$(n)/$(hdr Cache-Status)" "2/tiercache; hit; ttl=$(hdr Cache-Status | sed 's/.*ttl=\([0-9]*\).*/\1/'); detail=memcached" "B: the second variant from memcached"
get_via "$B" "$u" -H "$H" -H 'Accept: text/a'
is "$(n)" 1 "B: the first variant from memcached"
get_via "$B" "$u" -H "$H" -H 'Accept: text/e'
like "$(hdr Cache-Status)" 'fwd=vary-miss; fwd-status=200; stored' "B: a new variant"
wait_stat .memcached.stores 2 "$B"
get_via "$A" "$u" -H "$H" -H 'Accept: text/e'
is "$(n)/$(hdr Cache-Status | sed 's/.*detail=//')" "5/memcached" "A finds B's new variant in memcached"
is "$(origin_count /v)" 5 "one origin request per variant over both proxies"

# PURGE removes every variant of the URL from the local tier and memcached.
before=$(stat .local.entries "$A")
req PURGE "$A$u" -H "$H"
is "$STATUS" 200 "PURGE: 200"
is "$(stat .local.entries "$A")" "$((before - 6))" "the spec and its five variants left A's local tier"
is "$(show_record "$WORK/a.ini" "api.test$u" .servers.found)" false "the spec left memcached"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a'
like "$(hdr Cache-Status)" 'fwd=uri-miss' "after PURGE: uri-miss"
get_via "$A" "$u" -H "$H" -H 'Accept: text/b'
like "$(hdr Cache-Status)" 'fwd=vary-miss' "another variant is gone too"
is "$(origin_count /v)" 7 "both fetched again"

# A successful unsafe method invalidates every variant.
wait_stat .memcached.stores 22 "$A"
req POST "$A$u" -H "$H" -d x
get_via "$A" "$u" -H "$H" -H 'Accept: text/b'
like "$(hdr Cache-Status)" 'fwd=uri-miss' "after POST: the URL is gone"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a'
like "$(hdr Cache-Status)" 'fwd=vary-miss' "every variant with it"

# fwd=request: a usable response was stored, the request asked for validation.
get_via "$A" "$u" -H "$H" -H 'Accept: text/a' -H 'Cache-Control: no-cache'
like "$(hdr Cache-Status)" '^tiercache; fwd=request; fwd-status=200; stored' "request no-cache: fwd=request"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a' -H 'Pragma: no-cache'
like "$(hdr Cache-Status)" '^tiercache; fwd=request' "Pragma: no-cache: fwd=request"
get_via "$A" "$u" -H "$H" -H 'Accept: text/a'
like "$(hdr Cache-Status)" '^tiercache; hit' "and the answer was stored"

# The origin changes what it varies on: the old variants leave the local tier at once.
c='/chg?cc=max-age%3D300&vary_req=X-Vary'
get_via "$A" "$c" -H "$H" -H 'X-Vary: Accept' -H 'Accept: a'
get_via "$A" "$c" -H "$H" -H 'X-Vary: Accept' -H 'Accept: b'
before=$(stat .local.entries "$A")
wait_stat .memcached.stores 34 "$A"
dels=$(mc_stat delete_hits)
get_via "$A" "$c" -H "$H" -H 'X-Vary: Accept-Language' -H 'Accept: c' -H 'Accept-Language: en'
is "$(stat .local.entries "$A")" "$((before - 1))" "another Vary: a new spec and variant replace the old spec and its two variants"
_i=0
while [ "$(mc_stat delete_hits)" != "$((dels + 2))" ] && [ "$_i" -lt 200 ]; do _i=$((_i + 1)); sleep 0.05; done
is "$(mc_stat delete_hits)" "$((dels + 2))" "the two old variants are deleted from memcached too"
get_via "$A" "$c" -H "$H" -H 'Accept: zzz' -H 'Accept-Language: en'
is "$(origin_count /chg)/$(hdr Cache-Status | cut -d';' -f2)" "3/ hit" "the new variant is selected by the new names"
get_via "$A" "$c" -H "$H" -H 'Accept-Language: fr'
is "$(stat .local.entries "$A")" "$((before - 2))" "a response without Vary replaces the spec and its variant"
get_via "$A" "$c" -H "$H" -H 'Accept: a' -H 'Accept-Language: de'
is "$(origin_count /chg)/$(hdr Cache-Status | cut -d';' -f2)" "4/ hit" "and is served to every request"

# A stale variant is revalidated as itself: the 304 refreshes it, the other variant stays
# (etag_from: each variant has its own ETag, the value of Accept).
s='/stl?cc=max-age%3D10&age=100&vary=Accept&etag_from=Accept'
get_via "$A" "$s" -H "$H" -H 'Accept: a'
get_via "$A" "$s" -H "$H" -H 'Accept: b'
get_via "$A" "$s" -H "$H" -H 'Accept: a'
is "$(n)/$(hdr Cache-Status | cut -d';' -f2-3)" "1/ fwd=stale; fwd-status=304" "a stale variant: revalidated, its own body served"
like "$(origin_last /stl | tr -d '\r')" 'If-None-Match: "a", "b"' "with its ETag first, then the other variant's"
get_via "$A" "$s" -H "$H" -H 'Accept: b'
is "$(n)/$(hdr ETag)/$(origin_count /stl)" '2/"b"/4' "the other variant keeps its own body"
