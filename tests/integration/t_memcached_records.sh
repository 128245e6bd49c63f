#!/bin/sh
# Records in memcached are untrusted input. Garbage, a record of another cache key, a record of
# another format version, a truncated record and a record with one changed byte, each planted
# under the memcached key of a URL: a miss (the origin answers), counted as decode_rejected,
# never a crash and never a wrong response; the proxy's own write then replaces it.
. "$(dirname "$0")/lib.sh"
plan 16

start_origin
start_memcached MC
write_config "$WORK/a.ini" "[memcached]
servers = $MC_ADDR
timeout_ms = 1000"
start_proxy "$WORK/a.ini" a
A=$PROXY
H='Host: api.test'

# a genuine record to take apart: /donor
get_via "$A" '/donor?cc=max-age%3D300' -H "$H"
wait_stat .memcached.stores 1 "$A"
dkey=$(show_record "$WORK/a.ini" 'api.test/donor?cc=max-age%3D300' .servers.key)
mc_get_raw "$MC_PORT" "$dkey" "$WORK/donor.rec"
like "$(head -c 4 "$WORK/donor.rec")" '^TCRE$' "a record starts with its magic"

n=0
# plant NAME FILE: stores FILE under the key of /NAME, then GETs /NAME through the proxy
plant() {
  _k=$(show_record "$WORK/a.ini" "api.test/$1?cc=max-age%3D300" .servers.key)
  mc_set_raw "$MC_PORT" "$_k" "$2" >/dev/null
  get_via "$A" "/$1?cc=max-age%3D300" -H "$H"
  n=$((n + 1))
}

printf 'garbage, not a record' >"$WORK/garbage"
plant garbage "$WORK/garbage"
is "$STATUS" 200 "garbage: 200"
like "$BODY" '"path":"/garbage"' "garbage: the right response, from the origin"
is "$(origin_count /garbage)" 1 "garbage: a miss"

# a valid record of another key (a hash collision, or another writer's data)
plant foreign "$WORK/donor.rec"
like "$BODY" '"path":"/foreign"' "another key's record: not served"
is "$(origin_count /foreign)" 1 "another key's record: a miss"

# another format version (byte 5)
cp "$WORK/donor.rec" "$WORK/version.rec"
printf '\002' | dd of="$WORK/version.rec" bs=1 seek=4 conv=notrunc 2>/dev/null
plant version "$WORK/version.rec"
is "$(origin_count /version)" 1 "another version: a miss"

# truncated
head -c 40 "$WORK/donor.rec" >"$WORK/short.rec"
plant short "$WORK/short.rec"
is "$(origin_count /short)" 1 "truncated: a miss"

# one byte of the body changed (the checksum catches it)
cp "$WORK/donor.rec" "$WORK/flip.rec"
size=$(wc -c <"$WORK/flip.rec" | tr -d ' ')
printf 'X' | dd of="$WORK/flip.rec" bs=1 seek=$((size - 12)) conv=notrunc 2>/dev/null
plant flip "$WORK/flip.rec"
is "$(origin_count /flip)" 1 "a changed byte: a miss"

# empty value
: >"$WORK/empty.rec"
plant empty "$WORK/empty.rec"
is "$(origin_count /empty)" 1 "an empty value: a miss"

is "$(stat .memcached.decode_rejected "$A")" "$n" "every rejected record is counted"
is "$(stat .memcached.misses "$A")" $((n + 1)) "and is a miss"
is "$(stat .memcached.hits "$A")" 0 "no hit"
kill -0 "$PROXY_PID" && ok "the proxy is alive" || not_ok "the proxy is alive"

# the proxy's own write replaced the planted bytes
wait_stat .memcached.stores $((n + 1)) "$A"
is "$(show_record "$WORK/a.ini" 'api.test/foreign?cc=max-age%3D300' .servers.decode)" ok "the planted record was replaced by a valid one"
write_config "$WORK/b.ini" "[memcached]
servers = $MC_ADDR
timeout_ms = 1000"
start_proxy "$WORK/b.ini" b
get_via "$PROXY" '/foreign?cc=max-age%3D300' -H "$H"
like "$BODY" '"path":"/foreign"' "another proxy reads the replacement"
