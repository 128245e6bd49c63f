#!/bin/sh
# /stats for people: a browser (Accept prefers text/html) gets one self-contained HTML page,
# everything else JSON; the page, loaded in headless Chromium (Debian's chromium) while
# traffic flows through a proxy with memcached, polls the JSON and draws its charts: after
# drawing, <body> says how many points each series has, and the peak requests/s.
. "$(dirname "$0")/lib.sh"
plan 20

start_origin
start_memcached MC
write_config "$WORK/p.ini" '[memcached]' "servers = $MC_ADDR"
start_proxy "$WORK/p.ini"

# --- content negotiation
req GET "$PROXY/stats"
is "$(hdr Content-Type)" application/json "curl's */*: JSON"
printf '%s' "$BODY" | jq -e .latency >/dev/null && ok "the JSON has latency" || not_ok "the JSON has latency"
is "$(hdr Vary)" Accept "Vary: Accept"
BROWSER='text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8'
req GET "$PROXY/stats" -H "Accept: $BROWSER"
is "$STATUS:$(hdr Content-Type)" "200:text/html; charset=utf-8" "a browser's Accept: the HTML page"
is "$(hdr Cache-Control)" no-store "the page is not cacheable"
like "$BODY" '<canvas id="rps">' "the page has the requests/s chart"
# self-contained: no external script, style, font, image or URL of any kind
unlike "$BODY" '(src|href)=|@import|url\(|https?://' "no external resources"
req GET "$PROXY/stats?format=json" -H "Accept: $BROWSER"
is "$(hdr Content-Type)" application/json "?format=json wins over Accept (what the page polls)"
req GET "$PROXY/stats?format=html"
is "$(hdr Content-Type)" "text/html; charset=utf-8" "?format=html"
req GET "$PROXY/stats" -H 'Accept: application/json'
is "$(hdr Content-Type)" application/json "Accept: application/json"
req HEAD "$PROXY/stats" -H "Accept: $BROWSER"
is "$STATUS" 200 "HEAD of the page"

# --- headless Chromium, while traffic flows (hits, misses; memcached lookups on each miss)
if ! command -v chromium >/dev/null 2>&1; then
  not_ok "chromium is installed (sh contrib/install-deps.sh installs Debian's chromium)"
  exit 1
fi
(
  i=0
  while [ ! -e "$WORK/stop" ]; do
    i=$((i + 1))
    curl -s -o /dev/null "$PROXY/hot?cc=max-age%3D60"
    curl -s -o /dev/null "$PROXY/hot?cc=max-age%3D60"
    curl -s -o /dev/null "$PROXY/cold$i"
    sleep 0.02
  done
) &
TRAFFIC=$!
# virtual time: the page's timers run ten seconds' worth (about ten polls) as fast as the
# fetches allow; the traffic goes on in real time meanwhile
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --user-data-dir="$WORK/chromium" --virtual-time-budget=10000 --dump-dom \
  "$PROXY/stats" >"$WORK/dom.html" 2>"$WORK/chromium.log"
rc=$?
: >"$WORK/stop"
wait "$TRAFFIC"
is "$rc" 0 "chromium loaded the page"
body=$(grep -o '<body[^>]*>' "$WORK/dom.html" | head -n 1)
attr() { printf '%s' "$body" | sed -n "s/.* $1=\"\\([^\"]*\\)\".*/\\1/p"; }
samples=$(attr data-samples)
diag "$body"
[ "${samples:-0}" -ge 3 ] && ok "the page polled and kept at least 3 samples ($samples)" || not_ok "the page polled and kept at least 3 samples ($samples)"
is "$(attr data-rps-points)" "$samples" "the requests/s chart drew a point per sample"
[ "$(attr data-local-points)" -ge 1 ] 2>/dev/null && ok "the local hit ratio chart drew points" || not_ok "the local hit ratio chart drew points"
[ "$(attr data-memcached-points)" -ge 1 ] 2>/dev/null && ok "the memcached hit ratio chart drew points" || not_ok "the memcached hit ratio chart drew points"
awk -v v="$(attr data-rps-max)" 'BEGIN { exit !(v + 0 > 0) }' && ok "requests/s above zero while traffic flowed" || not_ok "requests/s above zero while traffic flowed"
[ "$(attr data-requests)" -gt 0 ] 2>/dev/null && ok "the counters arrived" || not_ok "the counters arrived"
like "$(grep -o '<span id="state"[^>]*>[^<]*' "$WORK/dom.html")" '>live, every 1 s$' "the page says it is live (no polling error)"

# --- the page obeys the allow list too
write_config "$WORK/deny.ini" '[stats]' 'allow = 10.0.0.0/8'
start_proxy "$WORK/deny.ini" deny
req GET "$PROXY/stats" -H "Accept: $BROWSER"
is "$STATUS" 403 "the page outside the allow list: 403"
