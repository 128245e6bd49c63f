#!/usr/bin/env bash
# contrib/soak.sh: a bounded soak test of tiercache (loopback only; not part of make check).
#
#   contrib/soak.sh [-d SECONDS] [-b BUILDDIR]
#
# Starts the test origin, one memcached and tiercache (from BUILDDIR, default: the current
# directory or $TC_BUILDDIR), all on free 127.0.0.1 ports, with [local] max_bytes = 16M, and
# drives it with wrk (2 threads, 32 connections) for SECONDS (default 180) over a key space of
# ten times max_bytes (10,500 keys of 16,000 bytes), after a 10 s warm-up of the same load.
# contrib/soak/soak.lua picks a random key per request; 1.5% of the requests are faults on
# purpose: an origin slower than [origin] timeout_ms (504), a body cut short by the origin
# (502), the origin's own 503. Halfway, memcached is killed (SIGKILL) and started again 3 s
# later on the same port.
#
# It reports the requests served, the errors by cause, the proxy's RSS and open descriptors
# at the start (after the warm-up, idle) and at the end (idle again), and exits non-zero when
# a bound is broken:
#   - an answer other than 200 that no injected fault explains (a 504 beyond the slow
#     requests sent, a 502 beyond the truncated ones, a 503 beyond the origin's own, any other
#     status), or a socket error seen by wrk;
#   - RSS (at the end, and the largest sampled every 2 s) above max_bytes + SOAK_OVERHEAD_MB
#     (default 64 MiB: 48 for the binary and its libraries, thread stacks and pools, memcached
#     workers, libcurl's connection cache and malloc's free lists, plus 8 per server thread
#     for the responses each keeps for hit reuse (server.c SERVER_HIT_MAX_BYTES), which may
#     hold entries the local tier has already evicted);
#   - open descriptors at the end different from the start, once the pooled connections to
#     the origin and to memcached (at most [origin] max_connections and one per memcached
#     worker) are set aside; or any client connection still open after the idle pause.
set -u

DURATION=180
BUILD=${TC_BUILDDIR:-.}
while getopts d:b: opt; do
	case $opt in
	d) DURATION=$OPTARG ;;
	b) BUILD=$OPTARG ;;
	*) echo "usage: $0 [-d SECONDS] [-b BUILDDIR]" >&2; exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
TIERCACHE=$BUILD/src/tiercache
ORIGIN=$BUILD/tests/origin/test-origin
for t in wrk memcached curl jq ss; do
	command -v "$t" >/dev/null || { echo "soak: $t is missing (apt-get install it)" >&2; exit 2; }
done
for b in "$TIERCACHE" "$ORIGIN"; do
	[ -x "$b" ] || { echo "soak: $b not built (make check builds the test origin)" >&2; exit 2; }
done

MAX_BYTES_MB=16
SIZE=16000
KEYS=$((10 * MAX_BYTES_MB * 1024 * 1024 / SIZE))
ORIGIN_CONNS=32
THREADS=2
OVERHEAD_MB=${SOAK_OVERHEAD_MB:-$((48 + 8 * THREADS))}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tiercache-soak.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

wait_file() {
	local i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && return 1; sleep 0.05
	done
}

"$ORIGIN" -p 0 -P "$WORK/origin.port" >"$WORK/origin.log" 2>&1 &
PIDS+=($!)
wait_file "$WORK/origin.port" || { echo "soak: the origin did not start" >&2; exit 1; }
OP=$(cat "$WORK/origin.port")

MC_USER=()
[ "$(id -u)" -eq 0 ] && MC_USER=(-u nobody)
start_mc() {
	memcached -l 127.0.0.1 -p "$MP" -U 0 -m 64 "${MC_USER[@]}" >>"$WORK/memcached.log" 2>&1 &
	MC_PID=$!
	PIDS+=($MC_PID)
	local i=0
	until printf 'version\r\n' | timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MP; cat >&3; head -c 7 <&3" 2>/dev/null | grep -q VERSION; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.05
	done
}
for _ in 1 2 3 4 5; do
	MP=$((20000 + RANDOM % 30000))
	start_mc && break
	kill "$MC_PID" 2>/dev/null
done

cat >"$WORK/soak.ini" <<INI
[server]
listen = 127.0.0.1:0
threads = $THREADS
[origin]
url = http://127.0.0.1:$OP
timeout_ms = 1000
max_connections = $ORIGIN_CONNS
[local]
max_bytes = ${MAX_BYTES_MB}M
max_object_bytes = 64K
[memcached]
servers = 127.0.0.1:$MP
INI
: >"$WORK/tiercache.log"
"$TIERCACHE" -c "$WORK/soak.ini" 2>"$WORK/tiercache.log" &
TC_PID=$!
PIDS+=($TC_PID)
i=0
until grep -q 'listening on port' "$WORK/tiercache.log"; do
	i=$((i + 1)); [ $i -gt 200 ] && { echo "soak: tiercache did not start" >&2; cat "$WORK/tiercache.log" >&2; exit 1; }
	sleep 0.05
done
PP=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$WORK/tiercache.log" | head -n 1)
URL=http://127.0.0.1:$PP

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$TC_PID/status"; }
# the proxy's connections to PORT (its side: destination PORT), in any state that holds a
# descriptor (a pooled connection whose peer closed waits in CLOSE-WAIT until its next use)
conns_to() { ss -Htanp "( dport = :$1 )" | grep -c "pid=$TC_PID,"; }
# the proxy's open descriptors, and those that are pooled connections to the origin/memcached
fds() { ls "/proc/$TC_PID/fd" | wc -l; }
stat() { curl -s --max-time 5 "$URL/stats" | jq -r "$1"; }

echo "soak: $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION} s, $KEYS keys of $SIZE bytes (10 x max_bytes ${MAX_BYTES_MB}M), wrk -t2 -c32"
rss_boot=$(rss_kb)
wrk -t2 -c32 -d10s --timeout 5s -s "$HERE/soak/soak.lua" "$URL" -- "$KEYS" "$SIZE" >"$WORK/warm.out" 2>&1
sleep 2
rss0=$(rss_kb)
fd0=$(fds)
pool0=$(($(conns_to "$OP") + $(conns_to "$MP")))
t0=$(stat .origin.timeouts)
e0=$(stat .origin.errors)
m0=$(stat .memcached.errors)
mt0=$(stat .memcached.timeouts)

wrk -t2 -c32 -d"${DURATION}s" --timeout 5s -s "$HERE/soak/soak.lua" "$URL" -- "$KEYS" "$SIZE" >"$WORK/run.out" 2>&1 &
WRK_PID=$!
PIDS+=($WRK_PID)
rss_max=0
half=$((DURATION / 2))
start=$(date +%s)
restarted=0
while kill -0 "$WRK_PID" 2>/dev/null; do
	r=$(rss_kb)
	[ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
	now=$(date +%s)
	if [ $restarted -eq 0 ] && [ $((now - start)) -ge "$half" ]; then
		echo "soak: $((now - start)) s: memcached killed, started again in 3 s"
		kill -9 "$MC_PID"
		wait "$MC_PID" 2>/dev/null
		sleep 3
		start_mc || echo "soak: memcached did not start again" >&2
		restarted=1
	fi
	sleep 2
done
wait "$WRK_PID"
sleep 3
rss1=$(rss_kb)
fd1=$(fds)
pool1=$(($(conns_to "$OP") + $(conns_to "$MP")))
clients=$(ss -Htn state established "( sport = :$PP )" | wc -l)
workers=$((2 * $(nproc)))
[ $workers -lt 4 ] && workers=4
[ $workers -gt 64 ] && workers=64

# the answers, by cause
sent() { sed -n "s/.*SENT.* $1=\([0-9]*\).*/\1/p" "$WORK/run.out"; }
status() { v=$(grep '^STATUS' "$WORK/run.out" | tr ' ' '\n' | sed -n "s/^status_$1=//p"); echo "${v:-0}"; }
sock() { sed -n "s/.*SOCKET.* $1=\([0-9]*\).*/\1/p" "$WORK/run.out"; }
ok=$(status 200)
s502=$(status 502)
s503=$(status 503)
s504=$(status 504)
others=$(grep '^STATUS' "$WORK/run.out" | tr ' ' '\n' | grep '^status_' |
	grep -v '^status_\(200\|502\|503\|504\)=' | cut -d= -f2 | paste -sd+ | bc 2>/dev/null)
others=${others:-0}
socket_errors=$(($(sock connect) + $(sock read) + $(sock write) + $(sock timeout)))
over() { [ "$1" -gt "$2" ] && echo $(($1 - $2)) || echo 0; }
unexplained=$((others + socket_errors + $(over "$s504" "$(sent slow)") + $(over "$s502" "$(sent trunc)") + $(over "$s503" "$(sent err)")))

bound_kb=$(((MAX_BYTES_MB + OVERHEAD_MB) * 1024))
fail=0
echo "requests served: $((ok + s502 + s503 + s504 + others)) ($ok 200s), $(grep '^RESULT' "$WORK/run.out" | cut -d' ' -f3-)"
echo "sent:            $(grep '^SENT' "$WORK/run.out" | cut -d' ' -f2-)"
echo "errors by cause: origin timeout (injected /slow) 504 x $s504; origin body cut (injected /trunc) 502 x $s502;"
echo "                 origin's own 503 (injected /err) x $s503; unexplained: $unexplained (other statuses $others, socket errors $socket_errors)"
echo "/stats:          origin.timeouts +$(($(stat .origin.timeouts) - t0)), origin.errors +$(($(stat .origin.errors) - e0)), memcached.errors +$(($(stat .memcached.errors) - m0)) and timeouts +$(($(stat .memcached.timeouts) - mt0)) (the restart), local.bytes $(stat .local.bytes) of $(stat .local.max_bytes), evictions $(stat .local.evictions)"
echo "RSS:             $((rss_boot / 1024)) MiB at boot, $((rss0 / 1024)) MiB at the start, $((rss1 / 1024)) MiB at the end, $((rss_max / 1024)) MiB at most (bound: max_bytes + ${OVERHEAD_MB} MiB = $((bound_kb / 1024)) MiB)"
echo "descriptors:     $fd0 at the start ($pool0 pooled connections), $fd1 at the end ($pool1 pooled), client connections left: $clients"
if [ "$unexplained" -ne 0 ]; then echo "soak: FAIL: $unexplained errors no injected fault explains"; fail=1; fi
if [ "$ok" -eq 0 ]; then echo "soak: FAIL: nothing was served"; fail=1; fi
if [ "$rss1" -gt "$bound_kb" ] || [ "$rss_max" -gt "$bound_kb" ]; then echo "soak: FAIL: RSS above the bound"; fail=1; fi
if [ $((fd1 - pool1)) -ne $((fd0 - pool0)) ]; then
	echo "soak: FAIL: descriptors other than pooled connections changed ($((fd0 - pool0)) -> $((fd1 - pool1)))"
	ls -l "/proc/$TC_PID/fd" | sed 's/^/  /'
	ss -Htanp | grep "pid=$TC_PID," | sed 's/^/  /'
	fail=1
fi
if [ "$pool1" -gt $((ORIGIN_CONNS + workers)) ]; then echo "soak: FAIL: $pool1 pooled connections (at most $((ORIGIN_CONNS + workers)))"; fail=1; fi
if [ "$clients" -ne 0 ]; then echo "soak: FAIL: $clients client connections still open"; fail=1; fi
if ! kill -0 "$TC_PID" 2>/dev/null; then echo "soak: FAIL: tiercache died"; fail=1; fi
[ $fail -eq 0 ] && echo "soak: PASS"
exit $fail
