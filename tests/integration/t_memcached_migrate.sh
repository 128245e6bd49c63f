#!/bin/sh
# Migrating to a new memcached cluster: a proxy with servers = new and fallback_servers = old
# serves what the old cluster holds without the origin, and copies it into the new cluster
# (warm_from_fallback), so that a proxy with only servers = new serves it too; its new writes
# go to the new cluster only; purges go to both; the old cluster failing is counted and
# otherwise ignored.
. "$(dirname "$0")/lib.sh"
plan 22

start_origin
start_memcached OLD
start_memcached NEW
H='Host: api.test'
write_config "$WORK/old.ini" "[memcached]
servers = $OLD_ADDR
timeout_ms = 1000"
write_config "$WORK/mig.ini" "[memcached]
servers = $NEW_ADDR
fallback_servers = $OLD_ADDR
timeout_ms = 1000"
write_config "$WORK/new.ini" "[memcached]
servers = $NEW_ADDR
timeout_ms = 1000"

# before: the fleet runs on the old cluster
start_proxy "$WORK/old.ini" p0
P0=$PROXY
get_via "$P0" '/m1?cc=max-age%3D300' -H "$H"
get_via "$P0" '/m2?cc=max-age%3D300&etag=m2' -H "$H"
wait_stat .memcached.stores 2 "$P0"
is "$(stat .memcached.stores "$P0")" 2 "old cluster filled"

# during: servers = new, fallback_servers = old
start_proxy "$WORK/mig.ini" p1
P1=$PROXY
get_via "$P1" '/m1?cc=max-age%3D300' -H "$H"
is "$STATUS" 200 "fallback: 200"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=[0-9]+; detail=memcached-fallback$' "fallback: served from the old cluster"
is "$(origin_count /m1)" 1 "fallback: no origin request"
is "$(stat .memcached.fallback.hits "$P1")" 1 "fallback hit counted"
is "$(stat .memcached.misses "$P1")" 0 "not a miss of the tier"
wait_stat .memcached.fallback.warmed 1 "$P1"
is "$(stat .memcached.fallback.warmed "$P1")" 1 "warm-up: copied into the new cluster"
is "$(show_record "$WORK/new.ini" 'api.test/m1?cc=max-age%3D300' .servers.decode)" ok "the new cluster holds the record"

# a proxy already moved to the new cluster alone serves it too
start_proxy "$WORK/new.ini" p2
P2=$PROXY
get_via "$P2" '/m1?cc=max-age%3D300' -H "$H"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=[0-9]+; detail=memcached$' "new cluster only: served from memcached"
is "$(origin_count /m1)" 1 "new cluster only: no origin request"

# new writes go to the new cluster only
get_via "$P1" '/m3?cc=max-age%3D300' -H "$H"
is "$(origin_count /m3)" 1 "a new URL is fetched"
wait_stat .memcached.stores 1 "$P1"
is "$(show_record "$WORK/new.ini" 'api.test/m3?cc=max-age%3D300' .servers.found)" true "written to the new cluster"
is "$(show_record "$WORK/old.ini" 'api.test/m3?cc=max-age%3D300' .servers.found)" false "not to the old one"
is "$(show_record "$WORK/mig.ini" 'api.test/m3?cc=max-age%3D300' .fallback_servers.found)" false "show-record sees both clusters"

# purges go to both clusters (m2 is only in the old one)
req PURGE "$P1/m2?cc=max-age%3D300&etag=m2" -H "$H"
is "$STATUS" 200 "PURGE during the migration: 200 (found in the old cluster)"
is "$(show_record "$WORK/old.ini" 'api.test/m2?cc=max-age%3D300&etag=m2' .servers.found)" false "purged from the old cluster"
req PURGE "$P1/m1?cc=max-age%3D300" -H "$H"
is "$(show_record "$WORK/old.ini" 'api.test/m1?cc=max-age%3D300' .servers.found)$(show_record "$WORK/new.ini" 'api.test/m1?cc=max-age%3D300' .servers.found)" falsefalse "purged from both clusters"

# the old cluster fails: counted, ignored
stop_memcached OLD KILL
get_via "$P1" '/m4?cc=max-age%3D300' -H "$H"
is "$STATUS" 200 "old cluster down: requests go on"
like "$(stat .memcached.fallback.errors "$P1")" '^[1-9]' "fallback errors counted"
is "$(stat '.memcached.fallback.servers[0].state' "$P1")" down "the old server is marked down"
is "$(stat '.memcached.servers[0].state' "$P1")" up "the new one is not"

# after: delete the fallback_servers line (p2's config): nothing else changes
get_via "$P2" '/m3?cc=max-age%3D300' -H "$H"
is "$(origin_count /m3)" 1 "after the migration the new cluster serves what was written during it"
