#!/bin/bash
# contrib/bench/run.sh: tiercache's hit path side by side with nginx proxy_cache, Varnish and a
# bare libmicrohttpd server (the ceiling), plus the scenarios of issue 7 (slow misses beside
# hits, collapsed forwarding, shared tier, memory, revalidation). One command:
#
#   bash contrib/bench/run.sh [--quick] [--build DIR] [--rounds N] [--duration S] [--keep]
#
#   --quick       2 s runs, 3 rounds, shorter scenarios: about three minutes
#   (default)     8 s runs, 5 rounds: about 15 minutes
#   --build DIR   a configured build directory with src/tiercache (default: build one out of
#                 tree with CFLAGS='-O2 -g' in the work directory with build.sh: install-deps first;
#                 from a clean copy of the sources when they are configured in place)
#   --keep        keep the work directory (configs, logs, raw results) instead of removing it
#   --only LIST   run only these parts (comma-separated): hits (the side-by-side benchmark),
#                 slow, collapse, shared, memory, reval (the scenarios); default: all
#   --bodies LIST the body sizes of the hit benchmark (comma-separated: 1k, 64k; default both)
#   --baseline DIR another build of tiercache (a configured build directory), run as one more
#                 target, "baseline", beside the others: before/after figures from one run
#   --baseline-local KEYS  "key = value" lines added to the baseline's [local] section (e.g.
#                 'body_file_min_bytes = 0'): one binary, two settings, side by side
#
# Everything listens on 127.0.0.1 only, on free ports picked at start. Every wrk run and every
# request loop is bounded. Every process started here is stopped on exit (trap), by PID.
# Missing tools (nginx, varnish, wrk, memcached, curl, jq, gcc) are installed from Debian's
# packages (apt-get; sudo when not root).
#
# Results: printed, and written to contrib/bench/results/<UTC date>.txt (and latest.txt after
# a full run of every part). The raw per-run lines (one per wrk run) are kept beside them as <date>.raw.
#
# Method: each target is warmed until every one of the 1,100 paths is a hit, then wrk -t1
# (random paths, 50 and 200 connections, 1 KiB and 64 KiB bodies) runs against each target in
# turn, round by round (the order rotates each round), and the medians over the rounds are
# reported. Server CPU per request is the utime+stime delta (from /proc/PID/stat) of every
# process of the target (nginx master and workers, varnishd manager and child) over the run,
# divided by the requests wrk completed; client CPU per request is wrk's own (user + system,
# from bash's time): on a 2-CPU machine the client's CPU per request counts as much as the
# server's. The machine is shared: read ratios, not absolutes.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
HOST_HEADER=""
ROOT=$(cd "$HERE/../.." && pwd)
QUICK=0
BUILD=""
ROUNDS=""
DURATION=""
KEEP=0
ONLY=" hits slow collapse shared memory reval "
BODIES="1k 64k"
BASELINE=""
BASELINE_LOCAL=""
ARGS_GIVEN="$*"

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--build) BUILD=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--keep) KEEP=1 ;;
	--only) ONLY=" ${2//,/ } "; shift ;;
	--bodies) BODIES="${2//,/ }"; shift ;;
	--baseline) BASELINE=$2; shift ;;
	--baseline-local) BASELINE_LOCAL=$2; shift ;;
	-h | --help) sed -n '2,38p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ $QUICK -eq 1 ]; then
	ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-2}; SCEN_ROUNDS=3; SCEN_DURATION=2
else
	ROUNDS=${ROUNDS:-5}; DURATION=${DURATION:-8}; SCEN_ROUNDS=5; SCEN_DURATION=5
fi
SMALL_N=1000   # 1 KiB bodies: /s/0 .. /s/999
LARGE_N=100    # 64 KiB bodies: /l/0 .. /l/99

# want PART: true when PART (hits, slow, collapse, shared, memory, reval) is to be run.
want() { case $ONLY in *" $1 "*) return 0 ;; esac; return 1; }
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; KEEP=1; exit 1; } # the work directory is kept: its logs tell why

# ---------------------------------------------------------------------------------------------
# Dependencies (Debian 12 packages)
# ---------------------------------------------------------------------------------------------
install_missing() {
	local need=() sudo=""
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
	command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ] || need+=(varnish)
	command -v wrk >/dev/null || need+=(wrk)
	command -v memcached >/dev/null || need+=(memcached)
	command -v curl >/dev/null || need+=(curl)
	command -v jq >/dev/null || need+=(jq)
	command -v gcc >/dev/null || need+=(gcc)
	command -v pkg-config >/dev/null || need+=(pkg-config)
	pkg-config --exists libmicrohttpd 2>/dev/null || need+=(libmicrohttpd-dev)
	# libssl-dev: libmemcached.pc requires libcrypto's .pc, and libmemcached-dev lacks the dependency
	pkg-config --exists libmemcached 2>/dev/null || need+=(libmemcached-dev libssl-dev)
	[ ${#need[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	log "installing from Debian's packages: ${need[*]}"
	$sudo apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
		"${need[@]}" >/dev/null
	# the packages may start their system services: this benchmark runs its own instances
	# on free ports and leaves those alone
}
install_missing
PATH=$PATH:/usr/sbin:/sbin
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# Work directory, processes, cleanup
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tiercache-bench.XXXXXX")
DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$HERE/results"
chmod 755 "$WORK" # nginx workers run as nobody and read the origin's files from here
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		local alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break
		sleep 0.3
	done
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${NGINX_CACHE:-}" ] && rm -rf "$NGINX_CACHE"
	if [ $KEEP -eq 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a TCP port nothing listens on at 127.0.0.1 (checked by connecting), below the
# kernel's ephemeral range, so that no client connection on the machine holds it meanwhile.
USED_PORTS=" "
PORT_TOP=$(awk '{ print ($1 > 12000 ? $1 - 1 : 32767) }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % (PORT_TOP - 10000)))
		case $USED_PORTS in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			USED_PORTS="$USED_PORTS$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# try_http PORT PATH [PID]: true once something answers HTTP there; false after 10 s or
# as soon as PID has exited.
try_http() {
	for _ in $(seq 1 100); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1$2" && return 0
		[ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# wait_http PORT [PATH [PID]]: until something answers HTTP there (10 s at most), or fails.
wait_http() { try_http "$1" "${2:-/}" "${3:-}" || die "nothing answers on 127.0.0.1:$1"; }

# tree_pids PID: PID and all its descendants (nginx workers, the varnishd child).
tree_pids() {
	local f line rest pid ppid
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		pid=${line%% *}
		rest=${line##*) }
		set -- $rest
		echo "$pid $2"
	done | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			print root; n = 1; q[1] = root; seen[root] = 1
			for (i = 1; i <= n; i++)
				for (p in parent)
					if (parent[p] == q[i] && !(p in seen)) { seen[p] = 1; q[++n] = p; print p }
		}'
}

# cpu_ticks PID...: utime+stime of those processes (all their threads), in clock ticks.
cpu_ticks() {
	local pid line rest total=0
	for pid in "$@"; do
		read -r line 2>/dev/null <"/proc/$pid/stat" || continue
		rest=${line##*) }
		set -- $rest
		total=$((total + ${12} + ${13}))
	done
	echo $total
}
CLK_TCK=$(getconf CLK_TCK)

# rss_kib PID: resident set size.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# stats_get PORT JQ: a field of tiercache's /stats.
stats_get() { curl -s --max-time 5 "http://127.0.0.1:$1/stats" | jq -r "$2"; }

# ---------------------------------------------------------------------------------------------
# Build: tiercache, the test origin, the ceiling server, the memcached get client
# ---------------------------------------------------------------------------------------------
if [ -z "$BUILD" ]; then
	BUILD=$WORK/build
	log "building tiercache (out of tree, CFLAGS='-O2 -g') in $BUILD"
	bash "$HERE/build.sh" "$ROOT" "$WORK" "$BUILD" || die "tiercache was not built (above)"
fi
BUILD=$(cd "$BUILD" && pwd)
TIERCACHE=$BUILD/src/tiercache
TEST_ORIGIN=$BUILD/tests/origin/test-origin
[ -x "$TIERCACHE" ] || die "$TIERCACHE not found: build tiercache first or drop --build"
if [ -n "$BASELINE" ]; then
	BASELINE_BIN=$(cd "$BASELINE" && pwd)/src/tiercache
	[ -x "$BASELINE_BIN" ] || die "$BASELINE_BIN not found (--baseline)"
fi
if [ ! -x "$TEST_ORIGIN" ]; then
	make -C "$BUILD" tests/origin/test-origin >"$WORK/build-origin.log" 2>&1 ||
		die "cannot build the test origin: see $WORK/build-origin.log"
fi
CEILING=$WORK/ceiling
MCGET=$WORK/mcget
gcc -std=c11 -D_GNU_SOURCE -O2 "$HERE/ceiling.c" $(pkg-config --cflags --libs libmicrohttpd) \
	-o "$CEILING"
gcc -std=c11 -D_GNU_SOURCE -O2 "$HERE/mcget.c" $(pkg-config --cflags --libs libmemcached) \
	-o "$MCGET"

# ---------------------------------------------------------------------------------------------
# Helpers shared by the hit benchmark and the scenarios
# ---------------------------------------------------------------------------------------------
# start_tiercache NAME ORIGIN_URL [EXTRA_SECTIONS [EXTRA_LOCAL_KEYS]]: writes $WORK/NAME.ini,
# starts tiercache, sets TC_PORT and TC_PID.
start_tiercache() {
	local name=$1 url=$2 extra=${3:-} local_extra=${4:-} try
	for try in 1 2 3; do # another port when this one was taken meanwhile
	TC_PORT=$(free_port)
	cat >"$WORK/$name.ini" <<EOF
[server]
listen = 127.0.0.1:$TC_PORT
; one libmicrohttpd epoll thread per core
threads = 0
max_connections = 4096
[origin]
url = $url
max_connections = 256
[local]
max_bytes = 512M
max_entries = 200000
$local_extra
[log]
level = warn
$extra
EOF
	"$TIERCACHE" -c "$WORK/$name.ini" 2>>"$WORK/$name.log" &
	TC_PID=$!
	PIDS+=($TC_PID)
	try_http "$TC_PORT" /stats "$TC_PID" && return 0
	kill "$TC_PID" 2>/dev/null || true
	log "tiercache ($name) did not start on port $TC_PORT (try $try): $(tail -n 2 "$WORK/$name.log")"
	done
	die "tiercache ($name) does not start: see $WORK/$name.log"
}

# wrk_run URL CONNS SECONDS ARGS...: runs wrk, prints its RESULT fields as "req us p50 p99 err".
# HOST_HEADER, when set, replaces the Host header (wrk_run and curl_all).
wrk_run() {
	local url=$1 conns=$2 secs=$3
	shift 3
	local TIMEFORMAT='%U %S' # wrk's user and system CPU seconds, in $WORK/wrk.time
	{ time wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s ${HOST_HEADER:+-H "Host: $HOST_HEADER"} \
		-s "$HERE/paths.lua" "$url" -- "$@" >"$WORK/wrk.out" 2>&1 || true; } 2>"$WORK/wrk.time"
	awk '/^RESULT/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["requests"], v["duration_us"], v["p50_us"], v["p99_us"], v["errors"] }' \
		"$WORK/wrk.out"
}

# curl_all PORT PATHFILE PARALLEL: requests every path of the file (bounded: one pass).
curl_all() {
	awk -v p="$1" '{ printf "url = \"http://127.0.0.1:%s%s\"\noutput = \"/dev/null\"\n", p, $0 }' \
		"$2" >"$WORK/curl.cfg"
	curl -s --no-progress-meter -Z --parallel-max "${3:-8}" --max-time 30 \
		${HOST_HEADER:+-H "Host: $HOST_HEADER"} -K "$WORK/curl.cfg" || true
}

# stop_pid PID: stops one process started here and waits for it.
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# median_of: the median of the numbers on stdin, one a line.
median_of() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }

RAW=$WORK/raw.tsv
: >"$RAW"
TC_ORIGIN_AFTER_WARM=-
TC_ORIGIN_AFTER_BENCH=-
TC_HITS=-
if want hits; then
# ---------------------------------------------------------------------------------------------
# The origin: nginx serving 1,000 bodies of 1 KiB and 100 of 64 KiB, with ETag and
# Cache-Control: max-age=3600
# ---------------------------------------------------------------------------------------------
log "generating the origin's bodies"
mkdir -p "$WORK/www/s" "$WORK/www/l"
head -c 49152 /dev/urandom | base64 -w 63 >"$WORK/b64" # 66,576 printable bytes in lines
head -c 1024 "$WORK/b64" >"$WORK/body1k"
head -c 65536 "$WORK/b64" >"$WORK/body64k"
for i in $(seq 0 $((SMALL_N - 1))); do
	{ printf '%08d\n' "$i"; tail -c +10 "$WORK/body1k"; } >"$WORK/www/s/$i"
done
for i in $(seq 0 $((LARGE_N - 1))); do
	{ printf '%08d\n' "$i"; tail -c +10 "$WORK/body64k"; } >"$WORK/www/l/$i"
done
chmod -R a+rX "$WORK/www"

NGINX_BIN=$(command -v nginx)
ORIGIN_PORT=$(free_port)
mkdir -p "$WORK/origin/tmp" && chmod 777 "$WORK/origin/tmp"
cat >"$WORK/origin/nginx.conf" <<EOF
# the origin: static files, not measured
daemon off;
worker_processes 1;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	default_type application/octet-stream;
	client_body_temp_path $WORK/origin/tmp/body;
	proxy_temp_path $WORK/origin/tmp/proxy;
	fastcgi_temp_path $WORK/origin/tmp/fastcgi;
	uwsgi_temp_path $WORK/origin/tmp/uwsgi;
	scgi_temp_path $WORK/origin/tmp/scgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$ORIGIN_PORT;
		root $WORK/www;
		etag on;
		add_header Cache-Control "max-age=3600";
	}
}
EOF
"$NGINX_BIN" -p "$WORK/origin" -c "$WORK/origin/nginx.conf" -e "$WORK/origin/error.log" &
PIDS+=($!)
wait_http "$ORIGIN_PORT" /s/0

# ---------------------------------------------------------------------------------------------
# tiercache
# ---------------------------------------------------------------------------------------------
start_tiercache tiercache "http://127.0.0.1:$ORIGIN_PORT"
TIERCACHE_PORT=$TC_PORT
TIERCACHE_PID=$TC_PID
BASE_TARGET=""
if [ -n "$BASELINE" ]; then # the same configuration, the other binary
	TC_MAIN=$TIERCACHE
	TIERCACHE=$BASELINE_BIN
	start_tiercache baseline "http://127.0.0.1:$ORIGIN_PORT" "" "$BASELINE_LOCAL"
	TIERCACHE=$TC_MAIN
	BASELINE_PORT=$TC_PORT
	BASELINE_PID=$TC_PID
	BASE_TARGET=baseline
fi

# ---------------------------------------------------------------------------------------------
# nginx proxy_cache, tuned as nginx's documentation recommends for a cache in front of an API:
# - worker_processes auto: one worker per core (core module docs, "worker_processes");
# - reuseport on listen: one listening socket per worker, the kernel spreads connections
#   (http core module docs "listen ... reuseport", the NGINX "Socket Sharding" article);
# - upstream keepalive with proxy_http_version 1.1 and an empty Connection header
#   (upstream module docs, "keepalive");
# - proxy_cache_path on tmpfs with use_temp_path=off (NGINX "A Guide to Caching with NGINX");
#   tmpfs so the cache is in memory like the other two (the page cache would hold it anyway);
# - open_file_cache: keeps the cache files' descriptors open between hits (http core docs);
# - sendfile and tcp_nodelay on, access_log off (NGINX "Tuning NGINX for Performance");
#   tcp_nopush is left off: with sendfile it held the end of every 64 KiB body on loopback
#   until the 40 ms delayed-ACK timer (measured: 25 req/s on one connection instead of 30k);
# - keepalive_requests high so wrk's
#   connections are not closed every 1,000 requests (the default) during a run;
# - proxy_cache_lock on: collapsed forwarding (proxy module docs).
# ---------------------------------------------------------------------------------------------
NGINX_PORT=$(free_port)
NGINX_CACHE_PARENT=/dev/shm
[ -d /dev/shm ] && [ -w /dev/shm ] || NGINX_CACHE_PARENT=$WORK
NGINX_CACHE=$(mktemp -d "$NGINX_CACHE_PARENT/tiercache-bench-nginx.XXXXXX")
chmod 777 "$NGINX_CACHE"
mkdir -p "$WORK/nginx/tmp" && chmod 777 "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
worker_rlimit_nofile 65536;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush off;
	tcp_nodelay on;
	keepalive_timeout 65;
	keepalive_requests 1000000;
	open_file_cache max=10000 inactive=60s;
	open_file_cache_valid 60s;
	open_file_cache_min_uses 1;
	open_file_cache_errors on;
	client_body_temp_path $WORK/nginx/tmp/body;
	proxy_temp_path $WORK/nginx/tmp/proxy;
	fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
	uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
	scgi_temp_path $WORK/nginx/tmp/scgi;
	proxy_cache_path $NGINX_CACHE levels=1:2 keys_zone=bench:32m max_size=1g inactive=1h
		use_temp_path=off;
	upstream origin {
		server 127.0.0.1:$ORIGIN_PORT;
		keepalive 32;
	}
	server {
		listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
		location / {
			proxy_pass http://origin;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_cache bench;
			proxy_cache_lock on;
			proxy_cache_revalidate on;
			add_header X-Cache-Status \$upstream_cache_status;
		}
	}
}
EOF
"$NGINX_BIN" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!
PIDS+=($NGINX_PID)
wait_http "$NGINX_PORT" /s/0

# ---------------------------------------------------------------------------------------------
# Varnish with malloc storage, tuned as Varnish's documentation recommends:
# - -s malloc: in-memory storage (users guide, "Storage backends");
# - thread_pools=2 (one per core, the default) and thread_pool_min raised so that worker
#   threads exist before the load arrives (users guide, "Performance: tuning threads");
# - the builtin VCL, which caches by the origin's Cache-Control; one header to tell hits.
# -j none: no privilege separation jail (we are a throwaway instance in a temp directory).
# ---------------------------------------------------------------------------------------------
VARNISH_PORT=$(free_port)
mkdir -p "$WORK/varnish"
cat >"$WORK/varnish/bench.vcl" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$ORIGIN_PORT"; }
sub vcl_deliver {
	if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
EOF
VARNISHD=$(command -v varnishd)
"$VARNISHD" -F -j none -n "$WORK/varnish/n" -a "127.0.0.1:$VARNISH_PORT" \
	-T "127.0.0.1:$(free_port)" -f "$WORK/varnish/bench.vcl" -s malloc,512m \
	-p thread_pools=2 -p thread_pool_min=200 -p thread_pool_max=2000 \
	>"$WORK/varnish/varnishd.log" 2>&1 &
VARNISH_PID=$!
PIDS+=($VARNISH_PID)
wait_http "$VARNISH_PORT" /s/0

# ---------------------------------------------------------------------------------------------
# The ceiling: a bare libmicrohttpd server answering from one fixed buffer (ceiling.c)
# ---------------------------------------------------------------------------------------------
CEILING_PORT=$(free_port)
"$CEILING" -p "$CEILING_PORT" -s 1024 -l 65536 >"$WORK/ceiling.log" 2>&1 &
CEILING_PID=$!
PIDS+=($CEILING_PID)
wait_http "$CEILING_PORT" /s/0

TARGETS="tiercache nginx varnish ceiling${BASE_TARGET:+ $BASE_TARGET}"
port_of() {
	case $1 in
	tiercache) echo "$TIERCACHE_PORT" ;; nginx) echo "$NGINX_PORT" ;;
	varnish) echo "$VARNISH_PORT" ;; ceiling) echo "$CEILING_PORT" ;;
	baseline) echo "$BASELINE_PORT" ;;
	esac
}
pid_of() {
	case $1 in
	tiercache) echo "$TIERCACHE_PID" ;; nginx) echo "$NGINX_PID" ;;
	varnish) echo "$VARNISH_PID" ;; ceiling) echo "$CEILING_PID" ;;
	baseline) echo "$BASELINE_PID" ;;
	esac
}

# ---------------------------------------------------------------------------------------------
# Warm-up: every path through every cache until it is a hit
# ---------------------------------------------------------------------------------------------
: >"$WORK/paths.txt"
for i in $(seq 0 $((SMALL_N - 1))); do echo "/s/$i"; done >>"$WORK/paths.txt"
for i in $(seq 0 $((LARGE_N - 1))); do echo "/l/$i"; done >>"$WORK/paths.txt"

log "warming every cache (1,100 paths each, twice)"
for t in tiercache nginx varnish $BASE_TARGET; do
	curl_all "$(port_of $t)" "$WORK/paths.txt" 8
	curl_all "$(port_of $t)" "$WORK/paths.txt" 8
done
# the proof that the runs below measure hits
hit_check() {
	local t=$1 path=$2 h
	h=$(curl -s -D - -o /dev/null "http://127.0.0.1:$(port_of $t)$path")
	case $t in
	tiercache | baseline) echo "$h" | grep -qi '^cache-status:.*; hit' ;;
	nginx) echo "$h" | grep -qi '^x-cache-status: HIT' ;;
	varnish) echo "$h" | grep -qi '^x-cache: HIT' ;;
	esac || die "$t does not answer $path from its cache after the warm-up"
}
for t in tiercache nginx varnish $BASE_TARGET; do
	hit_check $t /s/0; hit_check $t /s/$((SMALL_N - 1)); hit_check $t /l/0
	hit_check $t /l/$((LARGE_N - 1))
done
TC_ORIGIN_AFTER_WARM=$(stats_get "$TIERCACHE_PORT" .origin.requests)

# ---------------------------------------------------------------------------------------------
# The hit benchmark
# ---------------------------------------------------------------------------------------------


# measure ROUND TARGET SIZE CONNS: one wrk run with CPU accounting; appends a line to $RAW.
measure() {
	local round=$1 t=$2 size=$3 conns=$4 prefix count pids c0 c1 res
	if [ "$size" = 1k ]; then prefix=/s/; count=$SMALL_N; else prefix=/l/; count=$LARGE_N; fi
	pids=$(tree_pids "$(pid_of "$t")")
	c0=$(cpu_ticks $pids)
	res=$(wrk_run "http://127.0.0.1:$(port_of "$t")/" "$conns" "$DURATION" random "$prefix" "$count")
	c1=$(cpu_ticks $pids)
	[ -n "$res" ] || die "wrk gave no result for $t: $(cat "$WORK/wrk.out")"
	set -- $res
	# round target size conns rps p50_us p99_us cpu_us_per_req errors client_cpu_us_per_req
	awk -v r="$round" -v t="$t" -v s="$size" -v c="$conns" -v n="$1" -v us="$2" -v p50="$3" \
		-v p99="$4" -v e="$5" -v dt="$((c1 - c0))" -v tck="$CLK_TCK" \
		-v wt="$(awk '{ print $1 + $2 }' "$WORK/wrk.time" 2>/dev/null)" 'BEGIN {
		printf "%s\t%s\t%s\t%s\t%.0f\t%d\t%d\t%.2f\t%d\t%.2f\n", r, t, s, c, n / (us / 1e6),
			p50, p99, (n > 0 ? dt / tck * 1e6 / n : 0), e, (n > 0 ? wt * 1e6 / n : 0) }' >>"$RAW"
	tail -n 1 "$RAW" | awk -F'\t' '{ printf "  round %s %-9s %-3s c=%-3s %8s req/s  p50 %5s us  p99 %6s us  cpu %6s us/req  errors %s  client %6s us/req\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' >&2
}

log "short warm-up runs (1 s per target and size)"
for t in $TARGETS; do
	case " $BODIES " in *" 1k "*) wrk_run "http://127.0.0.1:$(port_of $t)/" 50 1 random /s/ $SMALL_N >/dev/null ;; esac
	case " $BODIES " in *" 64k "*) wrk_run "http://127.0.0.1:$(port_of $t)/" 50 1 random /l/ $LARGE_N >/dev/null ;; esac
done

log "hit benchmark: $ROUNDS rounds x $(echo $TARGETS | wc -w) targets x {${BODIES// /,}} x {50,200} connections, ${DURATION}s each"
order=($TARGETS)
for round in $(seq 1 "$ROUNDS"); do
	for size in $BODIES; do
		for conns in 50 200; do
			for t in "${order[@]}"; do measure "$round" "$t" "$size" "$conns"; done
		done
	done
	order=("${order[@]:1}" "${order[0]}") # rotate: no target always runs first
done
cp "$RAW" "$HERE/results/$DATE.raw" # kept even if a scenario fails below
TC_ORIGIN_AFTER_BENCH=$(stats_get "$TIERCACHE_PORT" .origin.requests)
TC_HITS=$(stats_get "$TIERCACHE_PORT" .local.hits)

# the proxies in front of the nginx origin are not needed any more: quiet machine
for pid in $NGINX_PID $VARNISH_PID $CEILING_PID ${BASELINE_PID:-}; do kill "$pid" 2>/dev/null || true; done

fi # hits

SCEN=$WORK/scenarios.txt
: >"$SCEN"
scen() { echo "$*" | tee -a "$SCEN" >&2; }

# ---------------------------------------------------------------------------------------------
# The test origin (tests/origin/test-origin): delays, validators, counts per path
# ---------------------------------------------------------------------------------------------
if want slow || want collapse || want shared || want memory || want reval; then
"$TEST_ORIGIN" -P "$WORK/test-origin.port" >"$WORK/test-origin.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/test-origin.port" ] && break; sleep 0.1; done
TO_PORT=$(cat "$WORK/test-origin.port")
TO_URL="http://127.0.0.1:$TO_PORT"
RUN_ID=$(date +%s)$$
CC_HOUR='cc=max-age%3D3600'
for i in $(seq 0 999); do echo "/h/$i?size=1024&$CC_HOUR"; done >"$WORK/hpaths.txt"
fi # test origin

# ---------------------------------------------------------------------------------------------
# Scenario: slow misses beside hits
# ---------------------------------------------------------------------------------------------
if want slow || want collapse || want shared; then
	start_tiercache slow "$TO_URL"
	SLOW_PORT=$TC_PORT
	SLOW_PID=$TC_PID
fi
if want slow; then
log "scenario: slow misses beside hits"
curl_all "$SLOW_PORT" "$WORK/hpaths.txt" 8
curl_all "$SLOW_PORT" "$WORK/hpaths.txt" 8
: >"$WORK/slow.tsv"
for round in $(seq 1 $SCEN_ROUNDS); do
	set -- $(wrk_run "http://127.0.0.1:$SLOW_PORT/" 50 "$SCEN_DURATION" random /h/ 1000 \
		"?size=1024&$CC_HOUR")
	alone=$(awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
	# 100 connections of distinct misses, each answered by the origin after 1 s
	wrk -t1 -c100 -d"$((SCEN_DURATION + 3))s" --timeout 5s -s "$HERE/paths.lua" \
		"http://127.0.0.1:$SLOW_PORT/" -- unique "/m/$RUN_ID-$round-" \
		"?delay_ms=1000&size=1024" >"$WORK/misses.out" 2>&1 &
	MISS_WRK=$!
	sleep 1.5 # the first 100 misses are in flight
	set -- $(wrk_run "http://127.0.0.1:$SLOW_PORT/" 50 "$SCEN_DURATION" random /h/ 1000 \
		"?size=1024&$CC_HOUR")
	beside=$(awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
	wait $MISS_WRK || true
	misses=$(awk '/^RESULT/ { split($2, kv, "="); print kv[2] }' "$WORK/misses.out")
	printf '%s\t%s\t%s\t%s\n' "$round" "$alone" "$beside" "${misses:-0}" >>"$WORK/slow.tsv"
	log "  round $round: hits alone $alone req/s, beside slow misses $beside req/s (${misses:-0} misses done)"
done
SLOW_ALONE=$(cut -f2 "$WORK/slow.tsv" | median_of)
SLOW_BESIDE=$(cut -f3 "$WORK/slow.tsv" | median_of)
SLOW_MISSES=$(cut -f4 "$WORK/slow.tsv" | median_of)
# the ratio of each round (alone and beside ran back to back), then their median: steadier on
# a shared machine than the ratio of the two medians
SLOW_RATIO=$(awk -F'\t' '$2 > 0 { printf "%.3f\n", $3 / $2 }' "$WORK/slow.tsv" | median_of)
scen "slow misses beside hits: hits alone $SLOW_ALONE req/s, beside 100 connections of 1 s misses $SLOW_BESIDE req/s (medians); median of the per-round ratios $SLOW_RATIO (target >= 0.90); misses completed per run: $SLOW_MISSES ($SCEN_ROUNDS rounds, ${SCEN_DURATION}s, 1 KiB hits, 50 connections)"
fi # slow

# ---------------------------------------------------------------------------------------------
# Scenario: collapsed forwarding
# ---------------------------------------------------------------------------------------------
if want collapse; then
log "scenario: collapsed forwarding (1,000 concurrent requests for one cold URL)"
CPATH="/c/$RUN_ID"
wrk -t1 -c1000 -d2s --timeout 5s "http://127.0.0.1:$SLOW_PORT$CPATH?delay_ms=500&size=1024&$CC_HOUR" \
	>"$WORK/collapse.out" 2>&1 || true
COLLAPSE=$(curl -s "$TO_URL/_count?path=$CPATH")
scen "collapsed forwarding: 1,000 concurrent requests for one cold URL (origin answers in 0.5 s) -> $COLLAPSE origin requests (target: 1)"
fi # collapse

# ---------------------------------------------------------------------------------------------
# Scenario: shared tier (memcached). Runs when tiercache has the memcached tier (its /stats has
# a "memcached" object that is enabled); otherwise prints that it was skipped.
# A fills memcached; B shares that memcached and has a local tier that stores nothing
# (max_object_bytes = 1: a memcached hit is only promoted when the body fits), so every hit of
# B is served from memcached. Beside it, a plain memcached get of the same size (mcget.c).
# ---------------------------------------------------------------------------------------------
if want shared; then
log "scenario: shared tier"
printf '[origin]\nurl = %s\n[memcached]\nservers = 127.0.0.1:11211\n' "$TO_URL" >"$WORK/probe.ini"
if ! "$TIERCACHE" -t -c "$WORK/probe.ini" >/dev/null 2>&1; then
	scen "shared tier: skipped: memcached tier not available"
else
	MC_PORT=$(free_port)
	memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 256 -u nobody >"$WORK/memcached.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT") 2>/dev/null && break
		sleep 0.1
	done
	SH_CEIL_PORT=$(free_port)
	"$CEILING" -p "$SH_CEIL_PORT" -s 1024 -l 65536 >"$WORK/ceiling-shared.log" 2>&1 &
	SH_CEIL_PID=$!
	PIDS+=($SH_CEIL_PID)
	wait_http "$SH_CEIL_PORT" /s/0
	start_tiercache shared-a "$TO_URL" "[memcached]
servers = 127.0.0.1:$MC_PORT"
	SA_PORT=$TC_PORT
	SA_PID=$TC_PID
	curl_all "$SA_PORT" "$WORK/hpaths.txt" 8
	for _ in $(seq 1 50); do # memcached is written after the reply
		[ "$(stats_get "$SA_PORT" .memcached.stores)" -ge 1000 ] && break
		sleep 0.1
	done
	start_tiercache shared-b "$TO_URL" "[memcached]
servers = 127.0.0.1:$MC_PORT" "max_object_bytes = 1"
	SB_PORT=$TC_PORT
	if [ "$(stats_get "$SB_PORT" '.memcached.enabled // false')" != true ]; then
		scen "shared tier: skipped: memcached tier not available"
	else
		# the cache key holds the Host: B is asked with A's, so both use the same keys
		HOST_HEADER=127.0.0.1:$SA_PORT
		o0=$(curl -s "$TO_URL/_count")
		curl_all "$SB_PORT" "$WORK/hpaths.txt" 8
		: >"$WORK/shared.tsv"
		for round in $(seq 1 $SCEN_ROUNDS); do
			one=($(wrk_run "http://127.0.0.1:$SB_PORT/" 1 "$SCEN_DURATION" random /h/ 1000 \
				"?size=1024&$CC_HOUR") 0 0 0 0 0)
			fifty=($(wrk_run "http://127.0.0.1:$SB_PORT/" 50 "$SCEN_DURATION" random /h/ \
				1000 "?size=1024&$CC_HOUR") 0 0 0 0 0)
			mc=($("$MCGET" -p "$MC_PORT" -s 1024 -n 20000) - - - - - -)
			# for scale: a local-tier hit on A, same requests, 1 connection
			loc=($(wrk_run "http://127.0.0.1:$SA_PORT/" 1 "$SCEN_DURATION" random /h/ 1000 \
				"?size=1024&$CC_HOUR") 0 0 0 0 0)
			# the floor of HTTP at 1 connection: the bare libmicrohttpd server
			ceil=($(wrk_run "http://127.0.0.1:$SH_CEIL_PORT/" 1 "$SCEN_DURATION" random /s/ \
				1000) 0 0 0 0 0)
			# req/s, p50, p99 on 1 connection; the same on 50; memcached get p50, p99
			awk -v n1="${one[0]}" -v us1="${one[1]}" -v n50="${fifty[0]}" -v us50="${fifty[1]}" \
				'BEGIN { printf "%.0f\t%.0f\t", (us1 > 0 ? n1 / (us1 / 1e6) : 0),
					(us50 > 0 ? n50 / (us50 / 1e6) : 0) }' >>"$WORK/shared.tsv"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${one[2]}" "${one[3]}" \
				"${fifty[2]}" "${fifty[3]}" "${mc[3]#p50_us=}" "${mc[4]#p99_us=}" "${loc[2]}" \
				"${loc[3]}" "${ceil[2]}" "${ceil[3]}" >>"$WORK/shared.tsv"
			log "  round $round: shared hit p50 ${one[2]} us, local hit ${loc[2]} us, bare libmicrohttpd ${ceil[2]} us, memcached get ${mc[3]#p50_us=} us (1 connection)"
		done
		o1=$(curl -s "$TO_URL/_count")
		col() { cut -f"$1" "$WORK/shared.tsv" | median_of; }
		SH_P50=$(col 3); MC_P50=$(col 7); LOC_P50=$(col 9); CEIL_P50=$(col 11)
		# the decomposition: what a shared hit adds over a local hit, in memcached round
		# trips (one is the least it can add), and the floor of HTTP at 1 connection
		SH_ADDED=$(awk -v a="$SH_P50" -v l="$LOC_P50" -v m="$MC_P50" 'BEGIN {
			printf "%d us = %.1f memcached round trips", a - l, (m > 0 ? (a - l) / m : 0) }')
		SH_FLOOR=$(awk -v c="$CEIL_P50" -v m="$MC_P50" 'BEGIN {
			printf "%d us = %.2f x the get", c + m, (m > 0 ? (c + m) / m : 0) }')
		scen "shared tier (local tier empty, every hit from memcached; medians of $SCEN_ROUNDS rounds): 1 connection: $(col 1) req/s, p50 $SH_P50 us, p99 $(col 4) us; 50 connections: $(col 2) req/s, p50 $(col 5) us, p99 $(col 6) us; plain memcached get (libmemcached, 1 KiB, 1 connection): p50 $MC_P50 us, p99 $(col 8) us; p50 ratio (1 connection) $(awk -v a="$SH_P50" -v b="$MC_P50" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') (target <= 2); for scale, a local-tier hit (1 connection): p50 $(col 9) us, p99 $(col 10) us; memcached hits of B: $(stats_get "$SB_PORT" .memcached.hits), origin requests during B's runs: $((o1 - o0)); floor of HTTP at 1 connection (bare libmicrohttpd, 1 KiB): p50 $CEIL_P50 us, p99 $(col 12) us; a shared hit adds over a local hit: $SH_ADDED; the least a shared hit can take (HTTP floor + one get): $SH_FLOOR"
		HOST_HEADER=""
	fi
	stop_pid "$SH_CEIL_PID"
fi
fi # shared
if want slow || want collapse || want shared; then stop_pid "$SLOW_PID"; fi

# ---------------------------------------------------------------------------------------------
# Scenario: memory with 100,000 entries of 1 KiB
# ---------------------------------------------------------------------------------------------
if want memory; then
log "scenario: memory (100,000 entries of 1 KiB)"
start_tiercache mem "$TO_URL"
MEM_PORT=$TC_PORT
MEM_PID=$TC_PID
rss0=$(rss_kib "$MEM_PID")
for _ in $(seq 1 24); do # at most 24 x 5 s
	n=$(stats_get "$MEM_PORT" .local.entries)
	[ "$n" -ge 100000 ] && break
	wrk_run "http://127.0.0.1:$MEM_PORT/" 32 5 seq "/mem/$RUN_ID/" 100000 "?size=1024&$CC_HOUR" >/dev/null
done
MEM_ENTRIES=$(stats_get "$MEM_PORT" .local.entries)
MEM_BYTES=$(stats_get "$MEM_PORT" .local.bytes)
rss1=$(rss_kib "$MEM_PID")
awk -v n="$MEM_ENTRIES" -v r0="$rss0" -v r1="$rss1" -v lb="$MEM_BYTES" 'BEGIN {
	payload = n * 1024 / 1048576; rss = r1 / 1024; bound = 1.25 * payload + 30
	printf "memory: %d entries of 1 KiB (payload %.1f MiB): RSS %.1f MiB (%.1f MiB at start), local.bytes %.1f MiB; RSS / payload %.2f; target RSS <= 1.25 x payload + 30 MiB = %.1f MiB: %s\n",
		n, payload, rss, r0 / 1024, lb / 1048576, (payload > 0 ? rss / payload : 0), bound,
		(rss <= bound ? "met" : "MISSED") }' | tee -a "$SCEN" >&2
stop_pid "$MEM_PID"
fi # memory

# ---------------------------------------------------------------------------------------------
# Scenario: revalidation, 10,000 URLs with max-age=1, with ETags and without
# ---------------------------------------------------------------------------------------------
if want reval; then
log "scenario: revalidation (10,000 URLs, max-age=1, with and without ETag)"
start_tiercache reval "$TO_URL"
RV_PORT=$TC_PORT
for kind in etag none; do
	: >"$WORK/rv-$kind.txt"
	for i in $(seq 0 9999); do
		if [ $kind = etag ]; then
			echo "/rv-$kind/$i?size=1024&cc=max-age%3D1&etag=v$i"
		else
			echo "/rv-$kind/$i?size=1024&cc=max-age%3D1"
		fi
	done >"$WORK/rv-$kind.txt"
	r0=$(stats_get "$RV_PORT" .origin.requests); b0=$(stats_get "$RV_PORT" .origin.bytes_in)
	curl_all "$RV_PORT" "$WORK/rv-$kind.txt" 16 # fill
	r1=$(stats_get "$RV_PORT" .origin.requests); b1=$(stats_get "$RV_PORT" .origin.bytes_in)
	sleep 2.2 # every entry is stale now
	curl_all "$RV_PORT" "$WORK/rv-$kind.txt" 16 # second pass: revalidate or fetch again
	r2=$(stats_get "$RV_PORT" .origin.requests); b2=$(stats_get "$RV_PORT" .origin.bytes_in)
	nm=$(stats_get "$RV_PORT" .origin.not_modified)
	eval "RV_${kind}_fill_req=$((r1 - r0)) RV_${kind}_fill_bytes=$((b1 - b0))"
	eval "RV_${kind}_req=$((r2 - r1)) RV_${kind}_bytes=$((b2 - b1)) RV_${kind}_nm=$nm"
done
scen "revalidation: 10,000 URLs (1 KiB, max-age=1), second pass after they went stale: with ETag $RV_etag_req origin requests, $RV_etag_bytes bytes in ($RV_etag_nm answered 304 so far); without validators $RV_none_req origin requests, $RV_none_bytes bytes in; bytes ratio $(awk -v a="$RV_etag_bytes" -v b="$RV_none_bytes" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }') (first pass: $RV_etag_fill_req / $RV_none_fill_req requests, $RV_etag_fill_bytes / $RV_none_fill_bytes bytes)"
fi # reval

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
OUT=$HERE/results/$DATE.txt
{
	echo "tiercache benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "command: bash contrib/bench/run.sh${ARGS_GIVEN:+ $ARGS_GIVEN}"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	[ -z "$BASELINE" ] || echo "baseline: $BASELINE_BIN (binary built $(date -u -r "$BASELINE_BIN" '+%Y-%m-%d %H:%M UTC')), same configuration as tiercache${BASELINE_LOCAL:+ plus [local] $BASELINE_LOCAL}"
	echo "versions: $("$TIERCACHE" --version 2>&1 | head -n 1) (binary built $(date -u -r "$TIERCACHE" '+%Y-%m-%d %H:%M UTC'); repository HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'), $("$VARNISHD" -V 2>&1 | head -n 1 | sed 's/ revision.*//; s/^varnishd (//'), libmicrohttpd $(pkg-config --modversion libmicrohttpd), $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'), memcached $(memcached -V | awk '{ print $2 }'), curl $(curl -V | awk 'NR == 1 { print $2 }')"
	echo "method: wrk -t1, random paths over 1,000 x 1 KiB (/s/) or 100 x 64 KiB (/l/), ${DURATION}s per run, $ROUNDS interleaved rounds, medians; every cache warmed until each path is a hit; cpu = utime+stime of all the server's processes per request; client = wrk's own per request"
	echo "tiercache origin requests: $TC_ORIGIN_AFTER_WARM after the warm-up, $TC_ORIGIN_AFTER_BENCH after the runs (equal: every measured request was a hit; local.hits $TC_HITS)"
	echo
	sort -t$'\t' -k2,2 -k3,3 -k4,4n "$RAW" | awk -f "$HERE/report.awk"
	echo
	echo "Scenarios"
	sed 's/^/- /' "$SCEN"
} >"$OUT"
cp "$RAW" "$HERE/results/$DATE.raw"
# latest.txt (committed) is the last full run of everything
if [ "$ONLY" = " hits slow collapse shared memory reval " ] && [ $QUICK -eq 0 ] &&
	[ "$BODIES" = "1k 64k" ] && [ -z "$BASELINE" ]; then
	cp "$OUT" "$HERE/results/latest.txt"
fi
echo
cat "$OUT"
echo
log "results written to $OUT"
