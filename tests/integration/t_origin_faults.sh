#!/bin/sh
# Origin failures: refused connection gives 502, a timeout 504, a truncated body 502 and is
# never stored; each is counted in /stats.
. "$(dirname "$0")/lib.sh"
plan 12

start_origin
write_config "$WORK/p.ini"
sed -i 's/^timeout_ms = 2000$/timeout_ms = 300/' "$WORK/p.ini"
start_proxy "$WORK/p.ini"

get '/slow?delay_ms=1500&cc=max-age%3D60'
is "$STATUS" 504 "an origin slower than timeout_ms: 504"
like "$BODY" 'timeout' "the 504 body says why"
is "$(stat .origin.timeouts)" 1 "timeouts counted"

get '/t?truncate=1&size=10000&cc=max-age%3D60'
is "$STATUS" 502 "a truncated body: 502"
get '/t?truncate=1&size=10000&cc=max-age%3D60'
is "$STATUS" 502 "a truncated body is not stored (second request fails too)"
is "$(origin_count /t)" 2 "both requests went to the origin"
is "$(stat .local.entries)" 0 "nothing was stored"

get '/ok?cc=max-age%3D60&status=299'
is "$STATUS" 299 "an unusual status code passes through"

# the origin goes away: connection refused
stop_pid "$ORIGIN_PID"
get '/gone'
is "$STATUS" 502 "origin down: 502"
like "$BODY" 'connect' "the 502 body says why"
is "$(stat .origin.errors)" 3 "errors counted (two truncations, one refused)"
get '/ok?cc=max-age%3D60&status=299'
is "$STATUS" 299 "a stored response is still served while the origin is down"
