#!/bin/sh
# The access log ([log] access_log): one Combined Log Format line per request plus the cache
# status and the milliseconds spent with the origin; tiercache-replay --access-log reads it
# back; SIGUSR1 reopens it after a rename; a reload moves it to another file; a log that
# cannot be written drops lines (counted) and never holds up serving.
. "$(dirname "$0")/lib.sh"
plan 27

REPLAY=$TC_BUILDDIR/src/tiercache-replay

# wait_lines FILE N: up to 10 s for FILE to hold N lines (the writer thread is asynchronous).
wait_lines() {
  _i=0
  while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ] && [ "$_i" -lt 200 ]; do
    _i=$((_i + 1))
    sleep 0.05
  done
}

# wait_match FILE PATTERN: up to 10 s for FILE to have a line matching PATTERN.
wait_match() {
  _i=0
  while ! grep -Eq -- "$2" "$1" 2>/dev/null && [ "$_i" -lt 200 ]; do
    _i=$((_i + 1))
    sleep 0.05
  done
}

# wait_log PATTERN: up to 10 s for the proxy's error log to have a line matching PATTERN.
wait_log() {
  _i=0
  while ! grep -Eq -- "$1" "$WORK/proxy.log" && [ "$_i" -lt 200 ]; do
    _i=$((_i + 1))
    sleep 0.05
  done
}

start_origin
write_config "$WORK/c.ini" "[log]" "access_log = $WORK/access.log"
start_proxy "$WORK/c.ini"

# --- one line per request, and the cache status of each
get "/a?cc=max-age%3D60" -A 'agent "quoted" \ back'
get "/a?cc=max-age%3D60" -e "http://ref.example/page"
req HEAD "$PROXY/a?cc=max-age%3D60"
get "/v?cc=max-age%3D0&etag=x1"
get "/v?cc=max-age%3D0&etag=x1"
req POST "$PROXY/p" -d hello
get "/stats"
wait_lines "$WORK/access.log" 7
is "$(wc -l <"$WORK/access.log" | tr -d ' ')" 7 "seven requests, seven lines"
cp "$WORK/access.log" "$WORK/first.log"
line() { sed -n "$1p" "$WORK/access.log"; }
date_re='\[[0-3][0-9]/[A-Z][a-z][a-z]/20[0-9][0-9]:[0-2][0-9]:[0-5][0-9]:[0-6][0-9] \+0000\]'
like "$(line 1)" "^127\\.0\\.0\\.1 - - $date_re \"GET /a\\?cc=max-age%3D60 HTTP/1\\.1\" 200 [0-9]+ \"-\" \"agent \\\\x22quoted\\\\x22 \\\\x5c back\" MISS [0-9]+\$" \
  "a miss: Combined Log Format, quotes and backslashes escaped, MISS and the origin's milliseconds"
like "$(line 2)" "\"GET /a\\?cc=max-age%3D60 HTTP/1\\.1\" 200 [0-9]+ \"http://ref\\.example/page\" \"curl/[^\"]*\" HIT -\$" \
  "a hit: the referer, HIT, and no origin time (-)"
like "$(line 3)" "\"HEAD /a\\?cc=max-age%3D60 HTTP/1\\.1\" 200 - \"-\" \"curl/[^\"]*\" HIT -\$" \
  "HEAD: no body bytes (-)"
like "$(line 4)" "\"GET /v\\?cc=max-age%3D0&etag=x1 HTTP/1\\.1\" 200 [0-9]+ .* MISS [0-9]+\$" \
  "a response stored stale (validator, max-age=0): MISS"
like "$(line 5)" "\"GET /v\\?cc=max-age%3D0&etag=x1 HTTP/1\\.1\" 200 [0-9]+ .* REVALIDATED [0-9]+\$" \
  "then revalidated by a 304: REVALIDATED, with the origin's milliseconds"
like "$(line 6)" "\"POST /p HTTP/1\\.1\" 200 [0-9]+ .* PASS [0-9]+\$" "a POST: PASS"
like "$(line 7)" "\"GET /stats HTTP/1\\.1\" 200 [0-9]+ .* - -\$" "/stats: answered by tiercache itself (-)"
is "$(stat .access_log.lines)" 7 "/stats access_log.lines counts every line (this /stats is counted after it answers)"
is "$(stat .access_log.dropped)" 0 "/stats access_log.dropped: none"

# --- the log is tiercache-replay's input: its GET and HEAD lines are the trace
out=$("$REPLAY" --policy lru --entries 100 --access-log "$WORK/first.log")
is "$out" "policy=lru entries=100 requests=6 hits=3 hit_ratio=50.00" \
  "tiercache-replay --access-log reads the log back (its GET and HEAD lines: 6 requests, 3 repeats)"

# --- SIGUSR1 reopens the file (logrotate renames it first)
mv "$WORK/access.log" "$WORK/access.log.1"
get "/after-rename"
wait_match "$WORK/access.log.1" "after-rename"
like "$(tail -n 1 "$WORK/access.log.1")" "GET /after-rename " "after the rename and before SIGUSR1: lines still go to the renamed file"
kill -USR1 "$PROXY_PID"
wait_log "access log reopened"
get "/after-reopen"
wait_match "$WORK/access.log" "after-reopen"
is "$(wc -l <"$WORK/access.log" 2>/dev/null | tr -d ' ')" 1 "after SIGUSR1 a new file is created"
like "$(cat "$WORK/access.log")" "GET /after-reopen " "... and new lines go to it"
is "$(grep -c after-reopen "$WORK/access.log.1")" 0 "... and not to the renamed file"

# --- a reload can move the log to another file, or turn it off
write_config "$WORK/c.ini" "[log]" "access_log = $WORK/other.log"
kill -HUP "$PROXY_PID"
wait_log "configuration applied"
get "/to-other"
wait_match "$WORK/other.log" "to-other"
like "$(cat "$WORK/other.log" 2>/dev/null)" "GET /to-other " "a reload with another access_log: new lines go to the new file"
is "$(grep -c to-other "$WORK/access.log")" 0 "... and not to the old one"

write_config "$WORK/c.ini" "[log]" "access_log = $WORK/no-such-dir/x.log"
kill -HUP "$PROXY_PID"
wait_log "configuration rejected"
like "$(grep 'reload: ' "$WORK/proxy.log")" "access_log: access log .*/no-such-dir/x\\.log: cannot open: No such file or directory" \
  "a reload to a file that cannot be opened is rejected, with the reason"
get "/still-other"
wait_match "$WORK/other.log" "still-other"
like "$(tail -n 1 "$WORK/other.log")" "GET /still-other " "... and the log stays where it was"
stop_pid "$PROXY_PID"

# --- a log file that is not read: lines are dropped and counted, serving goes on
mkfifo "$WORK/fifo.log"
sleep 300 <"$WORK/fifo.log" & # the reader: it opens the FIFO and never reads
READER=$!
write_config "$WORK/c2.ini" "[log]" "access_log = $WORK/fifo.log"
start_proxy "$WORK/c2.ini"
get "/stuck?cc=max-age%3D60"
pad=$(head -c 1500 /dev/zero | tr '\0' 'p')
codes=$(curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -A "$pad" "$PROXY/stuck?cc=max-age%3D60&n=[1-1500]" | sort | uniq -c | tr -s ' ')
is "$codes" " 1500 200" "1500 requests answered while the access log cannot be written"
dropped=$(stat .access_log.dropped)
if [ "${dropped:-0}" -gt 0 ]; then ok "lines that found the ring full are dropped and counted ($dropped)"; else not_ok "lines dropped are counted"; diag "dropped: $dropped"; fi
is "$(stat '.access_log.lines + .access_log.dropped')" 1502 "lines queued + dropped = requests"
kill_pid "$READER" TERM # the reader goes away: the writer's write fails, it gives up on the file
stop_pid "$PROXY_PID"
like "$(cat "$WORK/proxy.log")" "access log: write failed" "a write error is logged"
like "$(tail -n 1 "$WORK/proxy.log")" "stopped" "... and tiercache still stops cleanly"

# --- an access log that cannot be opened at startup is an error
write_config "$WORK/c3.ini" "[log]" "access_log = $WORK/no-such-dir/a.log"
"$TIERCACHE" -c "$WORK/c3.ini" 2>"$WORK/c3.err"
is "$?" 1 "an access log that cannot be opened at startup: exit 1"
like "$(cat "$WORK/c3.err")" "access log .*/no-such-dir/a\\.log: cannot open: No such file or directory" "... with the reason"

# --- - is stdout
write_config "$WORK/c4.ini" "[log]" "access_log = -"
"$TIERCACHE" -c "$WORK/c4.ini" >"$WORK/stdout.log" 2>"$WORK/proxy4.log" &
P4=$!
TC_PIDS="$TC_PIDS $P4"
wait_for_file "$WORK/proxy4.log"
i=0
while ! grep -q 'listening on port' "$WORK/proxy4.log" && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
P4_PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$WORK/proxy4.log")
req GET "http://127.0.0.1:$P4_PORT/to-stdout"
stop_pid "$P4"
like "$(cat "$WORK/stdout.log")" "\"GET /to-stdout HTTP/1\\.1\" 200 " "access_log = -: lines go to stdout"
