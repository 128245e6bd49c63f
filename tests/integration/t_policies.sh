#!/bin/sh
# The eviction order of each local policy, seen through the origin's request counts.
. "$(dirname "$0")/lib.sh"
plan 13

start_origin
cc='cc=max-age%3D600'

# fetch NAME [QUERY]: one GET of /NAME.
fetch() { get "/$1?${2:-$cc}"; }

# --- lru: A B C, touch A, D evicts B
write_config "$WORK/lru.ini" '[local]' 'policy = lru' 'max_entries = 3'
start_proxy "$WORK/lru.ini" lru
for k in la lb lc la ld; do fetch $k; done
fetch la; fetch lc; fetch ld
is "$(origin_count /la)$(origin_count /lc)$(origin_count /ld)" 111 "lru: recently used entries stay"
fetch lb
is "$(origin_count /lb)" 2 "lru: the least recently used entry was evicted"
is "$(stat .local.evictions)" 2 "lru: evictions counted (lb, then one for lb's return)"
stop_pid "$PROXY_PID"

# --- lfu: A x3, B x2, C, D: D evicts C (lowest count); tie broken by recency
write_config "$WORK/lfu.ini" '[local]' 'policy = lfu' 'max_entries = 3'
start_proxy "$WORK/lfu.ini" lfu
for k in fa fa fa fb fb fc fd; do fetch $k; done
fetch fa; fetch fb
is "$(origin_count /fa)$(origin_count /fb)" 11 "lfu: frequently used entries stay"
fetch fc
is "$(origin_count /fc)" 2 "lfu: the least frequently used entry was evicted"
stop_pid "$PROXY_PID"
# a tie: ga used twice, gb then gc once each; gd evicts gb, the less recent of the two
start_proxy "$WORK/lfu.ini" lfu2
for k in ga ga gb gc gd; do fetch $k; done
fetch gc
is "$(origin_count /gc)" 1 "lfu tie: the more recent count-1 entry stays"
fetch gb
is "$(origin_count /gb)" 2 "lfu tie: the less recent count-1 entry was evicted"
stop_pid "$PROXY_PID"

# --- ttl: the entry closest to the end of its freshness goes first
write_config "$WORK/ttl.ini" '[local]' 'policy = ttl' 'max_entries = 3'
start_proxy "$WORK/ttl.ini" ttl
fetch ta 'cc=max-age%3D100'
fetch tb 'cc=max-age%3D10'
fetch tc 'cc=max-age%3D1000'
fetch tb 'cc=max-age%3D10'
fetch td 'cc=max-age%3D500'
fetch ta 'cc=max-age%3D100'; fetch tc 'cc=max-age%3D1000'; fetch td 'cc=max-age%3D500'
is "$(origin_count /ta)$(origin_count /tc)$(origin_count /td)" 111 "ttl: longer-lived entries stay, even unused"
fetch tb 'cc=max-age%3D10'
is "$(origin_count /tb)" 2 "ttl: the entry closest to expiry was evicted, even though just used"
stop_pid "$PROXY_PID"

# --- byte limit: entries of 3000 bytes in 8K fit twice, the third evicts the oldest
write_config "$WORK/bytes.ini" '[local]' 'policy = lru' 'max_bytes = 8K' 'max_object_bytes = 4K'
start_proxy "$WORK/bytes.ini" bytes
fetch ba "$cc&size=3000"; fetch bb "$cc&size=3000"
is "$(stat .local.entries)" 2 "bytes: two entries fit"
fetch bc "$cc&size=3000"
is "$(stat .local.entries)" 2 "bytes: the third evicted one"
like "$(stat .local.bytes)" '^[0-9]+$' "bytes: accounted"
[ "$(stat .local.bytes)" -le 8192 ] && ok "bytes: never above max_bytes" || not_ok "bytes: never above max_bytes"
