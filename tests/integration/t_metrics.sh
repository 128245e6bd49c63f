#!/bin/sh
# /metrics: the Prometheus text exposition, checked by a real parser and linter (promtool from
# Debian's prometheus package: `promtool check metrics` parses the text format strictly and
# lints names, units and help); exact counter values for known traffic; the latency histograms
# against /stats's counts and quantiles; memcached servers as labels, up and down; the allow
# list.
. "$(dirname "$0")/lib.sh"
plan 36

if ! command -v promtool >/dev/null 2>&1; then
  not_ok "promtool is installed (sh contrib/install-deps.sh installs Debian's prometheus)"
  exit 1
fi

start_origin
start_memcached MC
start_memcached OLD
write_config "$WORK/p.ini" '[memcached]' "servers = $MC_ADDR" "fallback_servers = $OLD_ADDR" 'timeout_ms = 500'
start_proxy "$WORK/p.ini"

metrics() { curl -s --max-time 5 "$PROXY/metrics"; }
# sample NAME{LABELS}: the value of one sample (empty when absent)
sample() { metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# the checker is strict: it rejects a broken exposition (so its silence below means something)
printf '# HELP x_total x\n# TYPE x_total counter\nx_total{a="b} 1\n' | promtool check metrics >/dev/null 2>&1
[ $? -ne 0 ] && ok "promtool rejects a malformed exposition" || not_ok "promtool rejects a malformed exposition"
printf '# HELP x x\n# TYPE x counter\nx 1\n' | promtool check metrics >/dev/null 2>&1
[ $? -ne 0 ] && ok "promtool rejects a counter without _total" || not_ok "promtool rejects a counter without _total"

req GET "$PROXY/metrics"
is "$STATUS" 200 "GET /metrics: 200"
is "$(hdr Content-Type)" "text/plain; version=0.0.4; charset=utf-8" "Content-Type of the text format 0.0.4"
is "$(hdr Cache-Control)" "no-store" "not cacheable"
out=$(printf '%s\n' "$BODY" | promtool check metrics 2>&1)
rc=$?
is "$rc:$out" "0:" "an idle proxy's exposition passes promtool check metrics"

# known traffic: /a one miss then 3 hits and a HEAD hit; /r stored with no-cache, then
# revalidated (304); 2 POSTs
for i in 1 2 3 4; do get '/a?cc=max-age%3D60'; done
req HEAD "$PROXY/a?cc=max-age%3D60"
get '/r?cc=no-cache&etag=v1'
get '/r?cc=no-cache&etag=v1'
is "$(hdr Cache-Status)" "tiercache; fwd=stale; fwd-status=304; stored; ttl=0" "the second /r was revalidated"
req POST "$PROXY/p" --data x=1
req POST "$PROXY/p" --data x=2

wait_stat '.memcached.servers[0].state' up # (a slow first connection may have failed)
m=$(metrics)
out=$(printf '%s\n' "$m" | promtool check metrics 2>&1)
rc=$?
is "$rc:$out" "0:" "after traffic: the exposition passes promtool check metrics"
val() { printf '%s\n' "$m" | awk -v k="$1" '$1 == k { print $2 }'; }
is "$(val 'tiercache_requests_total{method="GET"}')" 6 "requests_total GET"
is "$(val 'tiercache_requests_total{method="HEAD"}')" 1 "requests_total HEAD"
is "$(val 'tiercache_requests_total{method="other"}')" 2 "requests_total other"
is "$(val 'tiercache_cache_hits_total{tier="local"}')" 4 "cache_hits_total local"
is "$(val 'tiercache_cache_misses_total{tier="local"}')" 3 "cache_misses_total local"
is "$(val 'tiercache_origin_requests_total')" 5 "origin_requests_total (2 misses, 1 revalidation, 2 POSTs)"
is "$(val 'tiercache_origin_revalidations_total')" 1 "origin_revalidations_total"
is "$(val 'tiercache_origin_not_modified_total')" 1 "origin_not_modified_total"
is "$(val 'tiercache_cache_entries{tier="local"}')" 2 "cache_entries local (gauge)"
is "$(val 'tiercache_local_policy_info{policy="tinylfu"}')" 1 "the policy as a label"
s=$(curl -s "$PROXY/stats")
is "$(val 'tiercache_cache_hits_total{tier="memcached"}'):$(val 'tiercache_cache_misses_total{tier="memcached"}')" \
   "$(printf '%s' "$s" | jq -r '"\(.memcached.hits):\(.memcached.misses)"')" "memcached hits and misses as /stats counts them"
is "$(val 'tiercache_origin_received_bytes_total')" "$(printf '%s' "$s" | jq -r .origin.bytes_in)" "origin_received_bytes_total equals origin.bytes_in"
is "$(val "tiercache_memcached_server_up{cluster=\"servers\",server=\"$MC_ADDR\"}")" 1 "memcached server labelled by address: up"
is "$(val "tiercache_memcached_server_up{cluster=\"fallback\",server=\"$OLD_ADDR\"}")" 1 "a fallback server, labelled by its cluster"
is "$(val 'tiercache_memcached_fallback_misses_total')" "$(printf '%s' "$s" | jq -r .memcached.fallback.misses)" "fallback misses as /stats counts them"

# the histograms: counts per path, cumulative buckets ending in +Inf = _count, as /stats
h='tiercache_request_duration_seconds'
is "$(val "${h}_count{path=\"hit\"}"):$(val "${h}_count{path=\"miss\"}"):$(val "${h}_count{path=\"revalidated\"}")" \
   "4:2:1" "histogram counts: 4 hits, 2 misses, 1 revalidation"
is "$(val "${h}_bucket{path=\"hit\",le=\"+Inf\"}")" 4 "the +Inf bucket holds every hit"
mono=$(printf '%s\n' "$m" | awk -F'[ ]' -v p="${h}_bucket{path=\"miss\"," 'index($1, p) == 1 { if ($2 + 0 < last) bad = 1; last = $2 + 0; n++ } END { print (bad ? "no" : "yes") ":" n }')
is "$mono" "yes:20" "miss buckets are cumulative (19 bounds and +Inf)"
like "$(val "${h}_sum{path=\"miss\"}")" '^0\.[0-9]+$|^[1-9]' "the sum of the misses, in seconds"
is "$(printf '%s' "$s" | jq -r '"\(.latency.hit.count):\(.latency.miss.count):\(.latency.revalidated.count)"')" "4:2:1" "/stats latency counts"
is "$(printf '%s' "$s" | jq -r '.latency.hit.p50_ms | type == "number" and . > 0')" true "/stats latency.hit.p50_ms is a positive number"
ordered=$(printf '%s' "$s" | jq -r '.latency.miss | (.p50_ms <= .p90_ms and .p90_ms <= .p99_ms)')
is "$ordered" true "p50 <= p90 <= p99"

# memcached goes away: its circuit breaker shows in the gauge
stop_memcached MC
get '/gone?cc=max-age%3D60'
wait_stat '.memcached.servers[0].state' down
is "$(sample "tiercache_memcached_server_up{cluster=\"servers\",server=\"$MC_ADDR\"}")" 0 "memcached server down: 0"
out=$(metrics | promtool check metrics 2>&1)
rc=$?
is "$rc:$out" "0:" "with a server down: still passes promtool"

# other methods, and the allow list
req POST "$PROXY/metrics"
is "$STATUS" 405 "POST /metrics: 405"
is "$(curl -s -o /dev/null -w '%{http_code}' -I "$PROXY/metrics")" 200 "HEAD /metrics: 200"
write_config "$WORK/deny.ini" '[stats]' 'allow = 10.0.0.0/8' 'metrics_path = /m'
start_proxy "$WORK/deny.ini" deny
req GET "$PROXY/m"
is "$STATUS" 403 "/metrics outside the allow list: 403"
unlike "$BODY" 'tiercache_' "no metric leaks in the 403"
