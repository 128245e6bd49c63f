#!/bin/sh
# Signals. SIGHUP reloads the config: a good file takes effect for new requests (live keys),
# a file that does not check is rejected whole with every problem logged, keys that need a
# restart keep their running values and are named. SIGTERM/SIGINT: no new connections, the
# requests in flight (suspended, waiting for the origin) finish with their answer, exit 0;
# [server] shutdown_timeout bounds the wait.
. "$(dirname "$0")/lib.sh"
plan 32

# wait_log FILE PATTERN [N]: up to 10 s for FILE to have N (default 1) lines matching PATTERN.
wait_log() {
  _i=0
  while [ "$(grep -Ec -- "$2" "$1")" -lt "${3:-1}" ] && [ "$_i" -lt 200 ]; do
    _i=$((_i + 1))
    sleep 0.05
  done
}

# wait_exit PID: up to 20 s for PID to exit; sets EXIT to its exit status, or "running".
wait_exit() {
  _i=0
  while kill -0 "$1" 2>/dev/null && [ "$_i" -lt 400 ]; do
    _i=$((_i + 1))
    sleep 0.05
  done
  if kill -0 "$1" 2>/dev/null; then EXIT=running; return; fi
  wait "$1"
  EXIT=$?
  TC_PIDS=$(printf ' %s ' $TC_PIDS | sed "s/ $1 / /")
}

start_origin
LOG=$WORK/proxy.log

# ------------------------------------------------------------------ SIGHUP
write_config "$WORK/c.ini" "[stats]" "allow = 10.0.0.0/8"
start_proxy "$WORK/c.ini"
get /stats
is "$STATUS" 403 "before the reload: /stats is not allowed from 127.0.0.1"
get "/big?size=3000&cc=max-age%3D60"
get "/big?size=3000&cc=max-age%3D60"
like "$(hdr Cache-Status)" "hit" "a 3000-byte response is stored"

write_config "$WORK/c.ini" "[stats]" "allow = 127.0.0.1/32" "[local]" "max_object_bytes = 2K"
kill -HUP "$PROXY_PID"
wait_log "$LOG" "configuration applied"
like "$(cat "$LOG")" "reload: .*c\\.ini: configuration applied to new requests" "a good config is applied (logged)"
get /stats
is "$STATUS" 200 "after the reload: the new allow list lets 127.0.0.1 read /stats"
is "$(stat .config.reloads)" 1 "/stats config.reloads counts it"
get "/big2?size=3000&cc=max-age%3D60"
get "/big2?size=3000&cc=max-age%3D60"
like "$(hdr Cache-Status)" "fwd=uri-miss.*detail=too-large" "the new [local] max_object_bytes applies to new responses"
is "$(origin_count /big2)" 2 "... which are no longer stored"

# a file with several problems: rejected whole, every problem logged, the running one stays
cat >"$WORK/c.ini" <<EOF
[server]
listen = 127.0.0.1:0
threads = many
[origin]
url = $ORIGIN_URL
[stats]
allow = 10.0.0.0/8
path = stats
[cache]
EOF
kill -HUP "$PROXY_PID"
wait_log "$LOG" "configuration rejected"
errors=$(grep 'reload: ' "$LOG")
like "$errors" "c\\.ini:3: \\[server\\] threads: expected an integer" "a bad reload logs the first problem with its line"
like "$errors" "c\\.ini:8: \\[stats\\] path: expected a path" "... and the second"
like "$errors" "c\\.ini:9: .*cache" "... and the third"
like "$errors" "configuration rejected; the running configuration stays" "... and says the running config stays"
get /stats
is "$STATUS" 200 "the running config stays: its allow list still lets 127.0.0.1 in"
is "$(stat .config.reload_errors)" 1 "/stats config.reload_errors counts it"

# keys that need a restart: named, and their running values stay
write_config "$WORK/c.ini" "[local]" "policy = lru" "max_bytes = 128M" "[log]" "level = debug"
kill -HUP "$PROXY_PID"
wait_log "$LOG" "configuration applied" 2
like "$(grep 'need a restart' "$LOG")" "\\[local\\] policy, \\[local\\] max_bytes" "keys that need a restart are named in the log"
is "$(stat .local.policy)" tinylfu "... and keep their running values"
is "$(stat .local.max_bytes)" 67108864 "... [local] max_bytes too"
get /stats
is "$STATUS" 200 "the live keys of the same file apply (the default allow list)"
get "/after-debug?truncate=1" # an origin failure is logged at the debug level
wait_log "$LOG" " debug "
like "$(cat "$LOG")" " debug " "[log] level applies at once (debug lines appear)"

# reloads while requests are served: every request is answered, with one config or the other
get "/busy?cc=max-age%3D600"
(curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 "$PROXY/busy?cc=max-age%3D600&[1-400]" \
  -o /dev/null "$PROXY/stats?[1-200]" >"$WORK/busy") &
BUSY=$!
n0=$(grep -c "configuration applied" "$LOG")
for i in 1 2 3 4 5 6 7 8 9 10; do
  if [ $((i % 2)) = 1 ]; then allow="10.0.0.0/8"; else allow="127.0.0.1/32"; fi
  write_config "$WORK/c.ini" "[stats]" "allow = $allow"
  kill -HUP "$PROXY_PID"
  wait_log "$LOG" "configuration applied" $((n0 + i))
done
wait "$BUSY"
is "$(grep -c . "$WORK/busy")" 600 "600 requests while the config is reloaded 10 times: all answered"
is "$(grep -Evc '^(200|403)$' "$WORK/busy")" 0 "... each with 200, or 403 for /stats while 10.0.0.0/8 was the allow list"
stop_pid "$PROXY_PID"

# ------------------------------------------------------------------ SIGTERM
cat >"$WORK/t.ini" <<EOF
[server]
listen = 127.0.0.1:0
threads = 2
shutdown_timeout = 10
[origin]
url = $ORIGIN_URL
EOF
start_proxy "$WORK/t.ini"
: >"$WORK/codes"
CURLS=""
for n in 1 2 3; do
  (curl -s -o /dev/null -w "%{http_code}\n" --max-time 20 "$PROXY/slow$n?delay_ms=2000" >>"$WORK/codes") &
  CURLS="$CURLS $!"
done
i=0
while [ "$(curl -s "$ORIGIN_URL/_count")" != 3 ] && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
kill -TERM "$PROXY_PID"
wait_log "$LOG" "stopping: no new connections"
curl -s -o /dev/null --max-time 5 "$PROXY/new"
is "$?" 7 "after SIGTERM a new connection is refused"
wait_exit "$PROXY_PID"
is "$EXIT" 0 "tiercache exits 0 once the requests in flight are done"
for c in $CURLS; do wait "$c"; done
is "$(sort "$WORK/codes" | tr '\n' ' ')" "200 200 200 " "the three slow requests in flight all completed with 200"
is "$(curl -s "$ORIGIN_URL/_count?path=/new")" 0 "the refused request never reached the origin"

# SIGINT, and a request slower than shutdown_timeout: the exit happens anyway
cat >"$WORK/t2.ini" <<EOF
[server]
listen = 127.0.0.1:0
threads = 2
shutdown_timeout = 1
[origin]
url = $ORIGIN_URL
timeout_ms = 60000
EOF
start_proxy "$WORK/t2.ini"
(curl -s -o /dev/null -w "%{http_code}\n" --max-time 60 "$PROXY/slower?delay_ms=30000" >"$WORK/code2") &
CURL=$!
i=0
while [ "$(origin_count /slower)" != 1 ] && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
kill -INT "$PROXY_PID"
wait_exit "$PROXY_PID"
is "$EXIT" 0 "SIGINT with a request slower than shutdown_timeout: tiercache still exits 0"
wait "$CURL"
is "$(cat "$WORK/code2")" 502 "the request cut by the shutdown gets a 502 (not a cut connection)"
like "$(cat "$LOG")" "1 requests still in flight after \\[server\\] shutdown_timeout \\(1 s\\)" "the log says what was cut"

# SIGTERM with the memcached tier: a request that went through the memcached lookup (on a
# worker) and then waits for the origin still completes
start_memcached MC
cat >"$WORK/t3.ini" <<EOF2
[server]
listen = 127.0.0.1:0
threads = 2
[origin]
url = $ORIGIN_URL
[memcached]
servers = $MC_ADDR
EOF2
start_proxy "$WORK/t3.ini"
(curl -s -o /dev/null -w "%{http_code}\n" --max-time 20 "$PROXY/viamc?delay_ms=1500&cc=max-age%3D60" >"$WORK/code3") &
CURL=$!
i=0
while [ "$(origin_count /viamc)" != 1 ] && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
is "$(stat .memcached.misses)" 1 "with memcached: the request asked memcached first (a miss), then the origin"
kill -TERM "$PROXY_PID"
wait_exit "$PROXY_PID"
is "$EXIT" 0 "with memcached: tiercache exits 0 after the request in flight is done"
wait "$CURL"
is "$(cat "$WORK/code3")" 200 "... which completed with 200"

# SIGTERM with collapsed requests: five concurrent misses of one key wait for one origin
# request; after SIGTERM they all get its answer
start_proxy "$WORK/t.ini"
: >"$WORK/codes4"
CURLS=""
for n in 1 2 3 4 5; do
  (curl -s -o /dev/null -w "%{http_code}\n" --max-time 20 "$PROXY/together?delay_ms=1500&cc=max-age%3D60" >>"$WORK/codes4") &
  CURLS="$CURLS $!"
done
i=0
while [ "$(stat .collapse.waiters)" != 4 ] && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
kill -TERM "$PROXY_PID"
wait_exit "$PROXY_PID"
for c in $CURLS; do wait "$c"; done
is "$(sort "$WORK/codes4" | tr '\n' ' ')" "200 200 200 200 200 " "SIGTERM with collapsed waiters: all five get the answer"
is "$(origin_count /together)" 1 "... of one origin request"
