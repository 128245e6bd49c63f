# tests/integration/lib.sh: shared helpers of the integration scenarios (sourced, not run).
# Every scenario starts its own processes on free loopback ports (port 0, read back from the
# process), in its own temporary directory, and stops them by PID on exit, so two runs of the
# suite can go side by side. Output is TAP (automake's tap-driver.sh reads it).

set -u

TC_BUILDDIR=${TC_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TC_SRCDIR=${TC_SRCDIR:-$TC_BUILDDIR}
TIERCACHE=$TC_BUILDDIR/src/tiercache
TEST_ORIGIN=$TC_BUILDDIR/tests/origin/test-origin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tiercache-test.XXXXXX")
TC_PIDS=""
TAP_N=0
TAP_FAILED=0
TC_PLANNED=0
TC_BAD_EXITS=""

# Sanitizer reports (a build configured with --enable-sanitizers) of every process a scenario
# starts go to $WORK/sanitizer.PID; so do valgrind's when TC_WRAPPER runs the proxy under it
# ($WORK/valgrind.PID). Any such report, or a started process that does not exit cleanly
# (status 0, or killed by our SIGTERM) when it is stopped, fails the scenario's last test.
ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$WORK/sanitizer${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$WORK/sanitizer${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS
# TC_WRAPPER: a command prefix start_proxy runs tiercache under (e.g. valgrind and its
# options, as make check-valgrind sets it); %W in it stands for the scenario's $WORK.
TC_WRAPPER=${TC_WRAPPER:-}

# tc_reap PID: waits for a started process and records it when it did not exit cleanly.
tc_reap() {
  wait "$1" 2>/dev/null
  _rc=$?
  case $_rc in
    0 | 143) ;;
    *) TC_BAD_EXITS="$TC_BAD_EXITS $1:$_rc" ;;
  esac
  TC_PIDS=$(printf ' %s ' $TC_PIDS | sed "s/ $1 / /")
}

# tc_check_processes: the last test of every scenario: no crash, no sanitizer/valgrind report.
tc_check_processes() {
  _reports=""
  for _f in "$WORK"/sanitizer.* "$WORK"/valgrind.*; do
    [ -s "$_f" ] && _reports="$_reports $_f"
  done
  # (no test number: some scenarios print their own unnumbered lines)
  if [ -z "$_reports" ] && [ -z "$TC_BAD_EXITS" ]; then
    echo "ok - every process exited cleanly, no sanitizer or valgrind report"
    return
  fi
  TAP_FAILED=$((TAP_FAILED + 1))
  echo "not ok - every process exited cleanly, no sanitizer or valgrind report"
  [ -z "$TC_BAD_EXITS" ] || diag "processes that did not exit cleanly (pid:status):$TC_BAD_EXITS"
  for _f in $_reports; do
    diag "--- $_f"
    head -n 80 "$_f" | sed 's/^/# /'
  done
}

tc_cleanup() {
  for pid in $TC_PIDS; do
    kill "$pid" 2>/dev/null
  done
  for pid in $TC_PIDS; do
    tc_reap "$pid"
  done
  [ "$TC_PLANNED" -eq 0 ] || tc_check_processes
  if [ "$TAP_FAILED" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "# logs kept in $WORK"
  fi
}
trap tc_cleanup EXIT
trap 'exit 1' INT TERM

# plan N: the TAP plan line for the scenario's N tests, plus the one tc_cleanup adds at the end
# (every process exited cleanly, no sanitizer or valgrind report).
plan() {
  TC_PLANNED=1
  echo "1..$(($1 + 1))"
}

# ok DESCRIPTION / not_ok DESCRIPTION
ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $1"; }

# diag TEXT: a TAP comment line per line of TEXT.
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# is GOT EXPECTED DESCRIPTION
is() {
  if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3"; diag "got:      '$1'" "expected: '$2'"; fi
}

# like GOT PATTERN DESCRIPTION (grep -E pattern)
like() {
  if printf '%s' "$1" | grep -Eq -- "$2"; then ok "$3"; else not_ok "$3"; diag "got:      '$1'" "expected: /$2/"; fi
}

# unlike GOT PATTERN DESCRIPTION
unlike() {
  if printf '%s' "$1" | grep -Eq -- "$2"; then not_ok "$3"; diag "got:      '$1'" "unexpected: /$2/"; else ok "$3"; fi
}

# wait_for_file FILE: up to 10 s for FILE to exist and be non-empty.
wait_for_file() {
  _i=0
  while [ ! -s "$1" ]; do
    _i=$((_i + 1))
    if [ "$_i" -gt 200 ]; then echo "# timed out waiting for $1" >&2; return 1; fi
    sleep 0.05
  done
}

# start_origin: starts the test origin; sets ORIGIN_PORT and ORIGIN_URL.
start_origin() {
  rm -f "$WORK/origin.port"
  "$TEST_ORIGIN" -p 0 -P "$WORK/origin.port" >"$WORK/origin.out" 2>&1 &
  ORIGIN_PID=$!
  TC_PIDS="$TC_PIDS $ORIGIN_PID"
  wait_for_file "$WORK/origin.port" || { cat "$WORK/origin.out" >&2; exit 1; }
  ORIGIN_PORT=$(cat "$WORK/origin.port")
  ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
}

# write_config FILE [LINES...]: a config with the test origin and port 0, then LINES
# (section headers and keys; a section given in LINES must not repeat [server] or [origin]).
write_config() {
  _f=$1
  shift
  {
    printf '[server]\nlisten = 127.0.0.1:0\nthreads = 2\n'
    printf '[origin]\nurl = %s\ntimeout_ms = 2000\nconnect_timeout_ms = 500\n' "$ORIGIN_URL"
    for _line in "$@"; do printf '%s\n' "$_line"; done
  } >"$_f"
}

# start_proxy CONFIG [NAME]: starts tiercache; sets PROXY_PID, PROXY_PORT and PROXY.
start_proxy() {
  _name=${2:-proxy}
  _log="$WORK/$_name.log"
  : >"$_log"
  # shellcheck disable=SC2086 # the wrapper is a command and its options
  $(printf '%s' "$TC_WRAPPER" | sed "s|%W|$WORK|g") "$TIERCACHE" -c "$1" 2>"$_log" &
  PROXY_PID=$!
  TC_PIDS="$TC_PIDS $PROXY_PID"
  _i=0
  _max=200
  [ -z "$TC_WRAPPER" ] || _max=1200 # valgrind starts slowly
  while ! grep -q 'listening on port' "$_log"; do
    _i=$((_i + 1))
    if [ "$_i" -gt "$_max" ] || ! kill -0 "$PROXY_PID" 2>/dev/null; then
      echo "# tiercache did not start:" >&2
      sed 's/^/# /' "$_log" >&2
      exit 1
    fi
    sleep 0.05
  done
  PROXY_PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$_log" | head -n 1)
  PROXY="http://127.0.0.1:$PROXY_PORT"
}

# stop_pid PID: stops one process (SIGTERM) and waits for it; it must exit cleanly.
stop_pid() {
  kill "$1" 2>/dev/null
  tc_reap "$1"
  return 0
}

# kill_pid PID SIGNAL: kills one process on purpose (e.g. KILL) and waits for it; its exit
# status is not checked (but any sanitizer report it wrote still is).
kill_pid() {
  kill -s "$2" "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  TC_PIDS=$(printf ' %s ' $TC_PIDS | sed "s/ $1 / /")
  return 0
}

# req METHOD URL [curl args...]: one request; sets STATUS, BODY and the headers file $WORK/h.
# (helpers use _-prefixed variable names so that they never overwrite a scenario's own)
req() {
  _m=$1
  _u=$2
  shift 2
  rm -f "$WORK/b" "$WORK/h"
  if [ "$_m" = HEAD ]; then
    STATUS=$(curl -s -I -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' --max-time 10 "$@" "$_u")
  else
    STATUS=$(curl -s -X "$_m" -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' --max-time 10 "$@" "$_u")
  fi
  BODY=$(cat "$WORK/b" 2>/dev/null)
}

# get PATH [curl args...]: GET through the proxy.
get() { _p=$1; shift; req GET "$PROXY$_p" "$@"; }

# hdr NAME: the value of header NAME in the last response (empty when absent).
hdr() {
  tr -d '\r' <"$WORK/h" | awk -v n="$1" 'BEGIN { n = tolower(n) }
    { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# hdr_count NAME: how many times header NAME appears in the last response.
hdr_count() {
  tr -d '\r' <"$WORK/h" | awk -v n="$1" 'BEGIN { n = tolower(n); c = 0 }
    { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) c++ } END { print c }'
}

# origin_count PATH: requests the test origin has seen for PATH.
origin_count() { curl -s --max-time 5 "$ORIGIN_URL/_count?path=$1"; }

# origin_last PATH: the last request the test origin saw for PATH (method line and headers).
origin_last() { curl -s --max-time 5 "$ORIGIN_URL/_last?path=$1"; }

# origin_release NAME / origin_hold NAME: lets the test origin's requests with hold=NAME go
# (they wait until then), or makes them wait again. A test releases an origin answer exactly
# when it has seen what must happen first (e.g. every collapsed waiter arrived), not after a
# delay that a loaded machine may overrun.
origin_release() { curl -s -o /dev/null --max-time 5 "$ORIGIN_URL/_release?hold=$1"; }
origin_hold() { curl -s -o /dev/null --max-time 5 "$ORIGIN_URL/_hold?hold=$1"; }

# stat JQ [PROXY_URL]: a field of the proxy's /stats (e.g. stat .local.hits).
stat() { curl -s --max-time 5 "${2:-$PROXY}/stats" | jq -r "$1"; }

# ------------------------------------------------------------------ memcached (shared tier)
# Real memcached processes, children of the scenario (so cleanup stops them), each on a free
# loopback port. memcached has no "port 0", so a random port is tried and a memcached that
# cannot bind (it exits) is retried on another; the one that answers is checked to be ours
# (its "stats" pid). Talking to memcached uses bash's /dev/tcp (bash is always there).

# start_memcached NAME [PORT]: starts memcached (on PORT, e.g. to restart it, or a free port);
# sets NAME_PID, NAME_PORT and NAME_ADDR (127.0.0.1:port), e.g. MC_PID, MC_PORT, MC_ADDR.
start_memcached() {
  _mcn=$1
  _mct=0
  while :; do
    _mct=$((_mct + 1))
    if [ "$_mct" -gt 20 ]; then echo "# memcached did not start" >&2; exit 1; fi
    if [ -n "${2:-}" ]; then
      _mcp=$2
    else
      _mcp=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
    fi
    memcached -l 127.0.0.1 -p "$_mcp" -U 0 -u nobody >"$WORK/memcached.$_mcn.log" 2>&1 &
    _mcpid=$!
    _i=0
    while [ "$_i" -lt 100 ]; do
      if ! kill -0 "$_mcpid" 2>/dev/null; then break; fi
      if mc_cmd "$_mcp" 'stats\r\n' 2>/dev/null | tr -d '\r' | grep -qx "STAT pid $_mcpid"; then
        TC_PIDS="$TC_PIDS $_mcpid"
        eval "${_mcn}_PID=$_mcpid ${_mcn}_PORT=$_mcp ${_mcn}_ADDR=127.0.0.1:$_mcp"
        return 0
      fi
      _i=$((_i + 1))
      sleep 0.05
    done
    kill -9 "$_mcpid" 2>/dev/null
    wait "$_mcpid" 2>/dev/null
    if [ -n "${2:-}" ]; then sleep 0.2; fi # the same port again: give it a moment
  done
}

# stop_memcached NAME [SIGNAL]: stops it (TERM, or e.g. KILL for a crash) and waits for it.
stop_memcached() {
  eval "_mcpid=\$${1}_PID"
  kill -s "${2:-TERM}" "$_mcpid" 2>/dev/null
  wait "$_mcpid" 2>/dev/null
  TC_PIDS=$(printf ' %s ' $TC_PIDS | sed "s/ $_mcpid / /")
  return 0
}

# mc_cmd PORT TEXT: sends TEXT (printf %b escapes, e.g. 'flush_all\r\n') to memcached on
# PORT, then quit; prints the answers.
mc_cmd() {
  bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "%b" "$2" >&3
    timeout 5 cat <&3' mc_cmd "$1" "$2quit\r\n"
}

# mc_get_raw PORT KEY FILE: the value of KEY, byte for byte, into FILE (empty when missing).
mc_get_raw() {
  bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "get %s\r\n" "$2" >&3
    IFS=" " read -r _v _k _f _len <&3
    : >"$3"
    case $_v in VALUE) head -c "${_len%$(printf "\r")}" <&3 >"$3" ;; esac' mc_get_raw "$@"
}

# mc_set_raw PORT KEY FILE [EXPTIME]: stores the bytes of FILE under KEY; prints STORED.
mc_set_raw() {
  {
    printf 'set %s 0 %s %s\r\n' "$2" "${4:-600}" "$(wc -c <"$3" | tr -d ' ')"
    cat "$3"
    printf '\r\nquit\r\n'
  } | bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    cat >&3
    timeout 5 cat <&3' mc_set_raw "$1" | tr -d '\r'
}

# mc_ttl PORT KEY: the seconds KEY has left in memcached (-1: no expiry; empty: missing).
mc_ttl() { mc_cmd "$1" "mg $2 t\r\n" | tr -d '\r' | sed -n 's/^HD.* t\(-\{0,1\}[0-9]*\).*/\1/p'; }

# show_record CONFIG HOST/PATH JQ: a field of `tiercache --show-record` (what memcached holds).
show_record() { "$TIERCACHE" -c "$1" --show-record "$2" 2>/dev/null | jq -r "$3"; }

# get_via PROXY_URL PATH [curl args...]: GET through the given proxy.
get_via() { _pu=$1; _p=$2; shift 2; req GET "$_pu$_p" "$@"; }

# wait_stat JQ WANT [PROXY_URL]: waits up to 10 s for a /stats field to equal WANT (for
# counters that background work updates); the caller then asserts on it.
wait_stat() {
  _i=0
  while [ "$(stat "$1" "${3:-$PROXY}")" != "$2" ] && [ "$_i" -lt 200 ]; do
    _i=$((_i + 1))
    sleep 0.05
  done
}
