#!/bin/sh
# /healthz: the states a load balancer sees, from real evidence. An origin never asked is
# probed once (HEAD of the base URL) and at most once a second, never once per check; an
# origin that stopped answering makes it 503 while nothing can be served, 200 (degraded) once
# something is stored; a restarted origin is seen again through the probe alone (no client
# traffic needed); a memcached server down (its circuit breaker) is degraded; the check is open
# to every client (addresses only for the allow list); its path is configurable.
. "$(dirname "$0")/lib.sh"
plan 35

health() { req GET "$PROXY${HEALTH_PATH:-/healthz}"; }
hj() { printf '%s' "$BODY" | jq -r "$1"; }
# wait_health JQ WANT: up to 10 s of /healthz checks (the probe runs meanwhile) until JQ = WANT
wait_health() {
  _i=0
  while :; do
    health
    [ "$(hj "$1")" = "$2" ] && return 0
    _i=$((_i + 1))
    [ "$_i" -lt 100 ] || return 1
    sleep 0.1
  done
}

start_origin
write_config "$WORK/p.ini" '[stats]' 'allow = 127.0.0.1/32'
start_proxy "$WORK/p.ini"

# --- origin up
health
is "$STATUS" 200 "origin never asked yet: 200"
is "$(hj .origin.state)" unknown "origin state unknown before any exchange"
is "$(hdr Cache-Control)" no-store "not cacheable"
wait_health .origin.state up
is "$(hj .origin.state):$(hj .status)" "up:ok" "the probe found the origin up: ok"
is "$STATUS" 200 "origin up: 200"
like "$(hj .origin.last_answer_age_s)" '^[0-9]+$' "last answer's age"
for i in $(seq 1 20); do health; done
is "$(origin_count /)" 1 "21 checks, one probe (HEAD of the base URL): no request storm"
is "$(origin_last / | head -n 1)" "HEAD /" "the probe is a HEAD"
is "$(stat .origin.requests)" 0 "probes are not origin.requests"
is "$(stat .requests.total)" 0 "health checks are not requests"

# --- origin down, nothing stored: 503
stop_pid "$ORIGIN_PID"
get /nothing-stored
is "$STATUS" 502 "origin gone: a miss gets 502"
health
is "$STATUS" 503 "origin down, nothing to serve: 503"
is "$(hj .status):$(hj .origin.state):$(hj .origin.last_error)" "unavailable:down:connect" "unavailable, origin down (connect)"
like "$(hj .origin.consecutive_failures)" '^[1-9][0-9]*$' "consecutive failures counted"

# --- the origin comes back on its port: seen through the probe alone
"$TEST_ORIGIN" -p "$ORIGIN_PORT" >"$WORK/origin2.out" 2>&1 &
ORIGIN_PID=$!
TC_PIDS="$TC_PIDS $ORIGIN_PID"
wait_health .origin.state up && ok "origin back: seen without client traffic" || not_ok "origin back: seen without client traffic"
is "$STATUS:$(hj .status):$(hj .origin.consecutive_failures)" "200:ok:0" "origin back: 200 ok"

# --- origin down with something stored: 200, degraded
get '/kept?cc=max-age%3D60'
is "$STATUS" 200 "a response is stored"
stop_pid "$ORIGIN_PID"
get /miss-while-down
is "$STATUS" 502 "origin gone again: 502"
health
is "$STATUS:$(hj .status):$(hj .origin.state)" "200:degraded:down" "origin down, local tier holds a response: 200 degraded"
is "$(hj .local.entries)" 1 "local entries reported"
get '/kept?cc=max-age%3D60'
is "$STATUS" 200 "and it is served"
req POST "$PROXY/healthz"
is "$STATUS" 405 "POST /healthz: 405"

# --- memcached: a server down is degraded (the circuit breaker), addresses for the allow list
start_origin
start_memcached MC
write_config "$WORK/mc.ini" '[memcached]' "servers = $MC_ADDR" 'timeout_ms = 100'
start_proxy "$WORK/mc.ini" mc
wait_health .status ok # the origin probed, memcached connected
is "$STATUS:$(hj .status):$(hj .memcached.servers_up)" "200:ok:1" "memcached up: ok"
is "$(hj '.memcached.servers[0].state'):$(hj '.memcached.servers[0].address')" "up:$MC_ADDR" "the server, with its address"
stop_memcached MC
wait_health '.memcached.servers[0].state' down && ok "memcached stopped: seen down" || not_ok "memcached stopped: seen down"
is "$STATUS:$(hj .status):$(hj .memcached.servers_down)" "200:degraded:1" "memcached down: 200 degraded"
stop_pid "$ORIGIN_PID"
get /after-both
wait_health .origin.state down
is "$STATUS:$(hj .status)" "503:unavailable" "origin and memcached down, nothing stored: 503"

# --- a memcached server that comes back is seen through /healthz alone: of two servers, the
# one that does not hold the namespace generation (which the generation watch reads) gets no
# traffic once it is down; /healthz probes it
start_origin
start_memcached MA
start_memcached MB
write_config "$WORK/two.ini" '[memcached]' "servers = $MA_ADDR, $MB_ADDR" 'timeout_ms = 200'
start_proxy "$WORK/two.ini" two
wait_health .status ok
if mc_cmd "$MA_PORT" 'get tc:gen\r\n' | grep -q '^VALUE'; then QUIET=MB; else QUIET=MA; fi
eval "QUIET_ADDR=\$${QUIET}_ADDR QUIET_PORT=\$${QUIET}_PORT"
path=""
for i in $(seq 1 200); do
  if [ "$(show_record "$WORK/two.ini" "127.0.0.1:$PROXY_PORT/q$i" .servers.server)" = "$QUIET_ADDR" ]; then
    path=/q$i
    break
  fi
done
like "$path" '^/q[0-9]+$' "a URL whose key is on the server without the generation"
stop_memcached "$QUIET"
get "$path"
qstate() { hj ".memcached.servers[] | select(.address == \"$QUIET_ADDR\") | .state"; }
health
is "$(qstate):$(hj .status)" "down:degraded" "its server stopped: seen down through that request"
start_memcached "$QUIET" "$QUIET_PORT"
wait_health ".memcached.servers[] | select(.address == \"$QUIET_ADDR\") | .state" up &&
  ok "restarted: seen up through /healthz's probe, without traffic to it" ||
  not_ok "restarted: seen up through /healthz's probe, without traffic to it"
is "$(hj .status)" ok "all up again: ok"

# --- open to every client, configurable path; addresses hidden outside the allow list
start_origin
start_memcached MC2
write_config "$WORK/open.ini" '[stats]' 'allow = 10.0.0.0/8' 'health_path = /-/health' \
  '[memcached]' "servers = $MC2_ADDR"
start_proxy "$WORK/open.ini" open
HEALTH_PATH=/-/health
wait_health '.memcached.servers[0].state' up # a slow first connection may have failed
is "$STATUS" 200 "health_path = /-/health: 200 outside the allow list"
is "$(hj '.memcached.servers[0] | has("address")'):$(hj '.memcached.servers[0].state')" "false:up" "outside the allow list: state without the address"
req GET "$PROXY/stats"
is "$STATUS" 403 "while /stats stays 403"
get /healthz
is "$STATUS:$(origin_count /healthz)" "200:1" "/healthz is then an ordinary URL, sent to the origin"
