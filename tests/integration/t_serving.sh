#!/bin/sh
# How tiercache serves: waiting misses do not hold up hits on the same server thread, origin
# connections are persistent and reused, a HEAD miss keeps the origin's length.
. "$(dirname "$0")/lib.sh"
plan 12

start_origin
write_config "$WORK/p.ini"
sed -i 's/^threads = 2$/threads = 1/; s/^timeout_ms = 2000$/timeout_ms = 10000/' "$WORK/p.ini"
start_proxy "$WORK/p.ini"

# --- one server thread: a hit is answered while a slow miss waits for the origin
get '/hot?cc=max-age%3D600'
curl -s -o "$WORK/slow.body" -w '%{http_code}' --max-time 20 "$PROXY/slow?delay_ms=3000" >"$WORK/slow.status" &
slow=$!
sleep 0.3 # let the slow request reach the origin (it is what we wait beside, not a measure)
get '/hot?cc=max-age%3D600'
is "$STATUS" 200 "a hit is answered while a slow miss is in flight"
if [ -s "$WORK/slow.status" ]; then
  not_ok "the slow miss was still waiting when the hit was answered"
else
  ok "the slow miss was still waiting when the hit was answered"
fi
wait "$slow"
is "$(cat "$WORK/slow.status")" 200 "the slow miss completes afterwards"

# --- persistent connections to the origin: 20 misses in a row reuse one connection
c0=$(curl -s "$ORIGIN_URL/_connections")
for i in $(seq 1 20); do get "/seq$i"; done
c1=$(curl -s "$ORIGIN_URL/_connections")
used=$((c1 - c0 - 1)) # minus the connection of the second /_connections request itself
[ "$used" -le 2 ] && ok "20 origin requests used $used connection(s)" || not_ok "20 origin requests used $used connections"

# --- HEAD that misses: forwarded as HEAD, the origin's length is kept, nothing stored
req HEAD "$PROXY/hd?size=1234&cc=max-age%3D60"
is "$(hdr Content-Length)" 1234 "HEAD miss: Content-Length is the origin's"
is "$(hdr_count Content-Length)" 1 "HEAD miss: one Content-Length"
is "$(origin_last /hd | head -n 1 | cut -d' ' -f1)" HEAD "HEAD miss: HEAD reached the origin"

# --- [origin] max_connections bounds the connections to the origin; further requests queue
stop_pid "$PROXY_PID"
write_config "$WORK/few.ini"
sed -i 's/^timeout_ms = 2000$/timeout_ms = 10000\nmax_connections = 2/' "$WORK/few.ini"
start_proxy "$WORK/few.ini" few
c0=$(curl -s "$ORIGIN_URL/_connections")
seq 1 10 | awk '{ printf "%s/par%d?delay_ms=300\n", "'"$PROXY"'", $1 }' >"$WORK/par"
codes=$(xargs -P 10 -n 1 curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 <"$WORK/par" | sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' ')
c1=$(curl -s "$ORIGIN_URL/_connections")
is "$codes" "200:10 " "10 concurrent misses through 2 origin connections: all answered"
used=$((c1 - c0 - 1))
[ "$used" -le 2 ] && ok "at most max_connections origin connections ($used)" || not_ok "at most max_connections origin connections ($used)"

# --- [server] max_header_bytes bounds a request's header section (default 8K)
stop_pid "$PROXY_PID"
write_config "$WORK/hdr.ini"
start_proxy "$WORK/hdr.ini" hdr
big6k=$(head -c 6000 /dev/zero | tr '\0' a)
big10k=$(head -c 10000 /dev/zero | tr '\0' a)
get '/h6?cc=max-age%3D60' -H "X-Big: $big6k"
is "$STATUS" 200 "a 6 KB header field fits the default 8K"
get '/h10?cc=max-age%3D60' -H "X-Big: $big10k"
is "$STATUS" 431 "a 10 KB header field does not: 431"
stop_pid "$PROXY_PID"
write_config "$WORK/hdr32.ini"
sed -i 's/^threads = 2$/threads = 2\nmax_header_bytes = 32K/' "$WORK/hdr32.ini"
start_proxy "$WORK/hdr32.ini" hdr32
get '/h10?cc=max-age%3D60' -H "X-Big: $big10k"
is "$STATUS" 200 "with max_header_bytes = 32K it fits"
