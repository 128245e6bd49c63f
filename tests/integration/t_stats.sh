#!/bin/sh
# /stats: counters equal to what was sent (also under concurrency), JSON shape, allow list.
. "$(dirname "$0")/lib.sh"
plan 24

start_origin
write_config "$WORK/p.ini" '[local]' 'policy = lfu' 'max_entries = 1000'
start_proxy "$WORK/p.ini"

s=$(curl -s "$PROXY/stats")
printf '%s' "$s" | jq -e . >/dev/null && ok "/stats is valid JSON" || not_ok "/stats is valid JSON"
is "$(printf '%s' "$s" | jq -r .local.policy)" lfu "local.policy"
is "$(printf '%s' "$s" | jq -r .local.max_entries)" 1000 "local.max_entries"
is "$(printf '%s' "$s" | jq -r .requests.total)" 0 "no request counted yet (stats reads are not requests)"
like "$(printf '%s' "$s" | jq -r .version)" '^[0-9]+\.[0-9]+\.[0-9]+' "version"
like "$(printf '%s' "$s" | jq -r .uptime_s)" '^[0-9]+$' "uptime_s"

# 5 GETs of one URL (1 miss + 4 hits), 2 HEADs (hits), 3 POSTs
for i in 1 2 3 4 5; do get '/x?cc=max-age%3D60'; done
for i in 1 2; do req HEAD "$PROXY/x?cc=max-age%3D60"; done
for i in 1 2 3; do req POST "$PROXY/y" --data 'a=1'; done
is "$(stat .requests.total)" 10 "requests.total"
is "$(stat .requests.get)" 5 "requests.get"
is "$(stat .requests.head)" 2 "requests.head"
is "$(stat .requests.other)" 3 "requests.other"
is "$(stat .local.hits)" 6 "local.hits"
is "$(stat .local.misses)" 1 "local.misses"
is "$(stat .local.entries)" 1 "local.entries"
is "$(stat .origin.requests)" 4 "origin.requests (1 miss, 3 POSTs)"
[ "$(stat .origin.bytes_in)" -gt 0 ] && ok "origin.bytes_in grows" || not_ok "origin.bytes_in grows"
is "$(stat .local.hit_ratio)" 0.8571 "local.hit_ratio"

# 200 concurrent requests over 20 URLs: exact counts
seq 1 200 | awk '{ printf "%s/c%d?cc=max-age%%3D60\n", "'"$PROXY"'", $1 % 20 }' >"$WORK/urls"
xargs -P 16 -n 1 curl -s -o /dev/null <"$WORK/urls"
is "$(stat .requests.get)" 205 "concurrent: every GET counted"
is "$(( $(stat .local.hits) + $(stat .local.misses) ))" 207 "concurrent: hits + misses = GETs + HEADs"
total=0
for i in $(seq 0 19); do total=$((total + $(origin_count /c$i))); done
is "$(( $(stat .local.misses) - 1 ))" "$total" "concurrent: misses equal the origin's requests"

# 1000 concurrent misses on distinct URLs: every one answered, each fetched once
seq 1 1000 | awk '{ printf "%s/m%d\n", "'"$PROXY"'", $1 }' >"$WORK/murls"
codes=$(xargs -P 50 -n 1 curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 <"$WORK/murls" | sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' ')
is "$codes" "200:1000 " "concurrent misses: all 1000 answered 200"
is "$(curl -s "$ORIGIN_URL/_count")" "$(( total + 1004 ))" "concurrent misses: one origin request each"

# other methods on /stats
req POST "$PROXY/stats"
is "$STATUS" 405 "POST /stats: 405"

# the allow list: a proxy that allows only 10.0.0.0/8 refuses loopback
write_config "$WORK/deny.ini" '[stats]' 'allow = 10.0.0.0/8'
start_proxy "$WORK/deny.ini" deny
req GET "$PROXY/stats"
is "$STATUS" 403 "/stats outside the allow list: 403"
unlike "$BODY" 'requests' "no counters leak in the 403"
