#!/bin/sh
# The tinylfu policy in the proxy: popular entries survive a scan of one-time URLs that
# flushes LRU, both bounds hold, and /stats names the policy. Oracle: origin request counts.
. "$(dirname "$0")/lib.sh"
plan 12

start_origin
cc='cc=max-age%3D600'

# scan POLICY: 5 popular URLs read 3 times each, then 60 URLs read once, then the popular again
scan() {
  for k in 1 2 3 4 5; do for i in 1 2 3; do get "/$1-hot$k?$cc"; done; done
  i=0
  while [ $i -lt 60 ]; do get "/$1-scan$i?$cc"; i=$((i + 1)); done
  for k in 1 2 3 4 5; do get "/$1-hot$k?$cc"; done
}

write_config "$WORK/t.ini" '[local]' 'policy = tinylfu' 'max_entries = 20'
start_proxy "$WORK/t.ini" tinylfu
scan t
is "$(for k in 1 2 3 4 5; do origin_count /t-hot$k; done | tr -d '\n')" 11111 "tinylfu: popular entries survive a scan"
is "$(stat .local.policy)" tinylfu "stats: local.policy"
is "$(stat .local.entries)" 20 "tinylfu: max_entries holds"
is "$(stat .local.hits)" 15 "tinylfu: 10 hits before the scan, 5 after"
is "$(stat .local.evictions)" 45 "tinylfu: 80 stores into 20 entries, 45 evictions (65 distinct)"
is "$(stat '.local.tinylfu.window_entries + .local.tinylfu.probation_entries + .local.tinylfu.protected_entries')" 20 \
  "stats: window + probation + protected = entries"
[ "$(stat .local.tinylfu.admissions_rejected)" -gt 0 ] && ok "stats: the scan's entries were refused admission" \
  || not_ok "stats: the scan's entries were refused admission"
stop_pid "$PROXY_PID"

# the same traffic through lru loses the popular entries
write_config "$WORK/l.ini" '[local]' 'policy = lru' 'max_entries = 20'
start_proxy "$WORK/l.ini" lru
scan l
is "$(for k in 1 2 3 4 5; do origin_count /l-hot$k; done | tr -d '\n')" 22222 "lru: the scan flushed the popular entries"
is "$(stat .local.tinylfu)" null "stats: no tinylfu object for lru"
stop_pid "$PROXY_PID"

# byte limit: entries of 3000 bytes in 8K
write_config "$WORK/b.ini" '[local]' 'policy = tinylfu' 'max_bytes = 8K' 'max_object_bytes = 4K'
start_proxy "$WORK/b.ini" bytes
for k in ba bb bc bd ba bb; do get "/$k?$cc&size=3000"; done
is "$(stat .local.entries)" 2 "bytes: two 3000-byte entries in 8K"
[ "$(stat .local.bytes)" -le 8192 ] && ok "bytes: never above max_bytes" || not_ok "bytes: never above max_bytes"
[ "$(stat .local.evictions)" -ge 2 ] && ok "bytes: evictions counted" || not_ok "bytes: evictions counted"
