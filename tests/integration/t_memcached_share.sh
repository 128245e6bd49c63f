#!/bin/sh
# The shared tier: two tiercache processes on one memcached. A response fetched by one is
# served by the other without an origin request, promoted into its local tier, with its age
# still counting; the memcached expiry follows the response (freshness, revalidation grace,
# the ttl bound); a response over max_item_bytes stays out; /stats shows the memcached object
# (and "enabled": false without servers).
. "$(dirname "$0")/lib.sh"
plan 29

start_origin
start_memcached MC
mc="[memcached]
servers = $MC_ADDR
timeout_ms = 1000
ttl = 2000
max_item_bytes = 4K"
write_config "$WORK/a.ini" "$mc"
start_proxy "$WORK/a.ini" a
A=$PROXY
write_config "$WORK/b.ini" "$mc"
start_proxy "$WORK/b.ini" b
B=$PROXY
H='Host: api.test'

u='/s?cc=max-age%3D300&etag=s1'
get_via "$A" "$u" -H "$H"
first=$BODY
is "$STATUS" 200 "A: a miss is fetched"
like "$(hdr Cache-Status)" 'fwd=uri-miss; fwd-status=200; stored' "A: stored"
wait_stat .memcached.stores 1 "$A"
is "$(stat .memcached.stores "$A")" 1 "A: one record written to memcached"
get_via "$B" "$u" -H "$H"
is "$STATUS" 200 "B: 200"
is "$BODY" "$first" "B: the body A fetched"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=[0-9]+; detail=memcached$' "B: a memcached hit"
is "$(origin_count /s)" 1 "no second origin request"
is "$(stat .memcached.hits "$B")" 1 "B: memcached hit counted"
is "$(stat '.memcached.servers[0].hits' "$B")" 1 "B: per server too"
get_via "$B" "$u" -H "$H"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=[0-9]+$' "B: promoted into its local tier"
is "$(stat .local.hits "$B")" 1 "B: then a local hit"
is "$(stat .memcached.hits "$B")" 1 "B: no second memcached read"

# another Host is another resource
get_via "$B" "$u" -H 'Host: other.test'
like "$(hdr Cache-Status)" 'fwd=uri-miss' "another Host: a miss"

# the stored times travel with the record: the age keeps counting (Age 50 from the origin)
get_via "$A" '/age?cc=max-age%3D300&age=50' -H "$H"
wait_stat .memcached.stores 2 "$A"
sleep 1
get_via "$B" '/age?cc=max-age%3D300&age=50' -H "$H"
age=$(hdr Age)
if [ "${age:-0}" -ge 51 ]; then ok "B: Age counts from A's exchange ($age)"; else not_ok "B: Age counts from A's exchange"; diag "Age: '$age'"; fi
like "$(hdr Cache-Status)" 'detail=memcached' "B: served from memcached"

# expiry in memcached: the freshness left plus [local] max_stale_keep (60) without validators,
# plus the grace with them, at most ttl (2000 here); never 0 (forever)
get_via "$A" '/e1?cc=max-age%3D30' -H "$H"
get_via "$A" '/e2?cc=max-age%3D30&etag=e2' -H "$H"
wait_stat .memcached.stores 4 "$A"
k1=$(show_record "$WORK/a.ini" api.test/e1?cc=max-age%3D30 .servers.key)
k2=$(show_record "$WORK/a.ini" 'api.test/e2?cc=max-age%3D30&etag=e2' .servers.key)
t1=$(mc_ttl "$MC_PORT" "$k1")
t2=$(mc_ttl "$MC_PORT" "$k2")
if [ "${t1:-0}" -ge 85 ] && [ "${t1:-0}" -le 90 ]; then ok "expiry without validators: the freshness left plus max_stale_keep ($t1)"; else not_ok "expiry without validators: the freshness left plus max_stale_keep"; diag "ttl '$t1'"; fi
if [ "${t2:-0}" -ge 1990 ] && [ "${t2:-0}" -le 2000 ]; then ok "expiry with validators: grace, bounded by ttl ($t2)"; else not_ok "expiry with validators: grace, bounded by ttl"; diag "ttl '$t2'"; fi

# what --show-record tells about a record
is "$(show_record "$WORK/a.ini" 'api.test/e2?cc=max-age%3D30&etag=e2' .servers.decode)" ok "show-record: the record decodes"
like "$(show_record "$WORK/a.ini" 'api.test/e2?cc=max-age%3D30&etag=e2' '.servers.key')" '^tc:[0-9]+:[0-9a-f]{32}$' "show-record: the key is prefix, generation, hash"
is "$(show_record "$WORK/a.ini" api.test/never .servers.found)" false "show-record: nothing stored"

# too large for memcached (max_item_bytes 4K): counted, kept out, served from the origin
get_via "$A" '/big?size=6000&cc=max-age%3D300' -H "$H"
wait_stat .memcached.store_skipped_too_large 1 "$A"
is "$(stat .memcached.store_skipped_too_large "$A")" 1 "a response over max_item_bytes is counted"
get_via "$B" '/big?size=6000&cc=max-age%3D300' -H "$H"
is "$(origin_count /big)" 2 "and not shared"

# /stats: the memcached object
is "$(stat '.memcached | keys | join(",")' "$B")" "cas_conflicts,cas_retries,decode_rejected,enabled,errors,fallback,hits,misses,namespace_generation,servers,store_skipped_too_large,stores,timeouts" "stats: the memcached fields"
is "$(stat '.memcached.servers[0] | "\(.address) \(.state)"' "$B")" "$MC_ADDR up" "stats: the server, up"
is "$(stat '.memcached.fallback | "\(.servers | length) \(.hits) \(.warmed)"' "$B")" "0 0 0" "stats: no fallback servers"
gen=$(stat .memcached.namespace_generation "$A")
if [ "$gen" -gt 0 ] && [ "$gen" = "$(stat .memcached.namespace_generation "$B")" ]; then ok "stats: one namespace generation for both"; else not_ok "stats: one namespace generation for both"; fi
is "$(stat .memcached.errors "$A")$(stat .memcached.errors "$B")" 00 "no errors"

write_config "$WORK/c.ini"
start_proxy "$WORK/c.ini" c
is "$(stat '.memcached | "\(.enabled) \(.hits) \(.servers | length)"')" "false 0 0" "stats without servers: enabled false, zeros"
is "$(stat '.memcached.fallback.warmed')" 0 "stats without servers: the fallback object too"
