#!/bin/bash
# contrib/bench/profile.sh: instruction counts per cache hit (callgrind), for tiercache and for
# the bare libmicrohttpd server (ceiling.c), on the same requests. Instruction counts do not
# depend on how busy the machine is, so this is the profile to compare changes with.
#
#   bash contrib/bench/profile.sh [--build DIR] [--requests N] [--paths P]
#
# Without --build it builds tiercache out of tree with CFLAGS='-O2 -g' (build.sh: install-deps first;
# from a clean copy of the sources when they are configured in place), as run.sh does.
# tiercache runs under valgrind --tool=callgrind with one server thread, in front of the
# ceiling server (which answers like an API: 1 KiB, ETag, Cache-Control: max-age=3600); the
# 1,000 paths (or P) are requested twice (stored, then hits), the counters are zeroed, then N
# hits (default 10,000) are sent over one keep-alive connection (curl) and the counters dumped.
# Under callgrind a path of 1,000 comes back every few seconds, so each hit builds its
# response; with --paths 10 a path comes back within the second, and most hits reuse the
# response of the one before (server.c): the two figures bound the hit path's cost.
# The ceiling runs under callgrind the same way with its memory limit at 32 KiB (tiercache's
# setting) and at 8 KiB. Printed: instructions per request, the share of memset (libmicrohttpd
# clears the connection's memory pool after every request; callgrind counts "rep stosb" once
# per byte), and tiercache's costliest functions per request. Output also goes to
# contrib/bench/results/profile-latest.txt. Loopback only; every process is stopped on exit.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=""
N=10000
P=1000
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift ;;
	--requests) N=$2; shift ;;
	--paths) P=$2; shift ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "profile.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v curl >/dev/null || need+=(curl)
command -v gcc >/dev/null || need+=(gcc)
pkg-config --exists libmicrohttpd 2>/dev/null || need+=(libmicrohttpd-dev)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
		"${need[@]}" >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tiercache-profile.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$BUILD" ]; then
	BUILD=$WORK/build
	echo "building tiercache (CFLAGS='-O2 -g') in $BUILD" >&2
	if ! bash "$HERE/build.sh" "$ROOT" "$WORK" "$BUILD" src/tiercache; then
		[ ! -f "$WORK/build.log" ] || tail -n 30 "$WORK/build.log" >&2
		exit 1
	fi
fi
TIERCACHE=$(cd "$BUILD" && pwd)/src/tiercache
[ -x "$TIERCACHE" ] || { echo "profile.sh: $TIERCACHE not found" >&2; exit 1; }
gcc -std=c11 -D_GNU_SOURCE -O2 -g "$HERE/ceiling.c" $(pkg-config --cflags --libs libmicrohttpd) \
	-o "$WORK/ceiling"

USED=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		case $USED in *" $p "*) continue ;; esac
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		USED="$USED$p "; echo "$p"; return
	done
}
wait_http() {
	for _ in $(seq 1 300); do
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1$2" && return 0
		sleep 0.1
	done
	echo "profile.sh: nothing answers on port $1" >&2; exit 1
}
# urls PORT ROUNDS: a curl config requesting the P paths ROUNDS times, order shuffled
urls() {
	awk -v p="$1" -v r="$2" -v np="$P" 'BEGIN { for (k = 0; k < r; k++) for (i = 0; i < np; i++)
		printf "url = \"http://127.0.0.1:%s/s/%d\"\noutput = \"/dev/null\"\n", p, (i * 7 + k) % np }'
}

# callgrind_run NAME PORT CMD...: starts CMD under callgrind, warms, zeroes, sends N requests,
# dumps; leaves the profile in $WORK/NAME.cg
callgrind_run() {
	local name=$1 port=$2 pid
	shift 2
	valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.out" "$@" \
		>"$WORK/$name.log" 2>&1 &
	pid=$!
	PIDS+=($pid)
	wait_http "$port" /s/0
	urls "$port" 2 >"$WORK/warm.cfg"
	curl -s -K "$WORK/warm.cfg"
	urls "$port" $(((N + P - 1) / P)) | head -n $((2 * N)) >"$WORK/run.cfg"
	callgrind_control -z "$pid" >/dev/null
	curl -s -K "$WORK/run.cfg"
	callgrind_control -d "$pid" >/dev/null
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	mv "$WORK/$name.out.1" "$WORK/$name.cg" 2>/dev/null || mv "$WORK/$name.out" "$WORK/$name.cg"
}

ORIGIN_PORT=$(free_port)
"$WORK/ceiling" -p "$ORIGIN_PORT" -t 1 >/dev/null 2>&1 &
PIDS+=($!)
wait_http "$ORIGIN_PORT" /s/0

TC_PORT=$(free_port)
cat >"$WORK/tc.ini" <<EOF
[server]
listen = 127.0.0.1:$TC_PORT
threads = 1
[origin]
url = http://127.0.0.1:$ORIGIN_PORT
[log]
level = warn
EOF
echo "profiling tiercache ($N hits under callgrind)" >&2
callgrind_run tiercache "$TC_PORT" "$TIERCACHE" -c "$WORK/tc.ini"
C32_PORT=$(free_port)
echo "profiling the ceiling (memory limit 32 KiB)" >&2
callgrind_run ceiling32 "$C32_PORT" "$WORK/ceiling" -p "$C32_PORT" -t 1 -m 32768
C8_PORT=$(free_port)
echo "profiling the ceiling (memory limit 8 KiB)" >&2
callgrind_run ceiling8 "$C8_PORT" "$WORK/ceiling" -p "$C8_PORT" -t 1 -m 8192

# total NAME / memset NAME: instructions in the profile, and in memset
total() { callgrind_annotate "$WORK/$1.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
memset_ir() {
	callgrind_annotate --threshold=100 "$WORK/$1.cg" 2>/dev/null |
		awk '/memset/ && !/=>/ { gsub(",", "", $1); s += $1 } END { print s + 0 }'
}

mkdir -p "$HERE/results"
OUT=$HERE/results/profile-latest.txt
[ "$P" -eq 1000 ] || OUT=$HERE/results/profile-latest-$P-paths.txt
{
	echo "tiercache hit-path profile, $(date -u '+%Y-%m-%d %H:%M UTC'), $N requests of 1 KiB over $P paths (curl: Host, User-Agent, Accept), callgrind"
	echo "versions: $("$TIERCACHE" --version | head -n 1) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), libmicrohttpd $(pkg-config --modversion libmicrohttpd), valgrind $(valgrind --version | sed 's/valgrind-//')"
	echo
	printf '%-22s %14s %16s %16s\n' "server" "Ir/request" "memset Ir/req" "other Ir/req"
	for name in tiercache ceiling32 ceiling8; do
		t=$(total $name); m=$(memset_ir $name)
		printf '%-22s %14.0f %16.0f %16.0f\n' "$name" "$((t / N))" "$((m / N))" "$(((t - m) / N))"
	done
	echo
	echo "tiercache: costliest functions, inclusive instructions per request"
	callgrind_annotate --inclusive=yes --threshold=100 "$WORK/tiercache.cg" 2>/dev/null |
		awk -v n="$N" '/^ *[0-9,]+ +\(/ && /(tiercache|libmicrohttpd)[^\/]*\]$/ && !/\?\?\?:0x/ {
			v = $1; gsub(",", "", v); sub(/^[^)]*\) +/, ""); sub(/ \[.*/, ""); if (++k > 30) next
			printf "%10.0f  %s\n", v / n, $0 }'
	echo
	echo "tiercache: costliest functions, self instructions per request (libc included)"
	callgrind_annotate --threshold=100 "$WORK/tiercache.cg" 2>/dev/null |
		awk -v n="$N" '/^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS|clone|start_thread/ {
			v = $1; gsub(",", "", v); sub(/^[^)]*\) +/, ""); sub(/ \[.*/, ""); if (++k > 25) next
			printf "%10.0f  %s\n", v / n, $0 }'
	echo
	echo "tiercache: calls per request of allocation and string functions"
	callgrind_annotate --tree=caller --threshold=100 "$WORK/tiercache.cg" 2>/dev/null |
		awk -v n="$N" '
			/^$/ { calls = 0; next }
			/ < / { if (match($0, /\(([0-9,]+)x\)/)) { c = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", c); calls += c } next }
			/\* / { if ($0 ~ /malloc\.c:(malloc|calloc|realloc|free) |:__strcasecmp|strdup\.c:strdup |vfprintf-internal\.c:__vfprintf_internal /) {
					f = $0; sub(/.*:/, "", f); sub(/ .*/, "", f); tot[f] += calls }
				calls = 0 }
			END { for (f in tot) if (f != "") printf "%10.1f  %s\n", tot[f] / n, f }' | sort -rn
} | tee "$OUT"
echo "written to $OUT" >&2
