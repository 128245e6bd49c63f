#!/bin/sh
# Hostile and malformed requests (issue 5): each gets the right status (or a closed
# connection), the process is unharmed (the next request is served), nothing that was refused
# reaches the origin, CR/LF can never be injected into the request sent to the origin, 100
# clients that never finish their headers are closed after connection_timeout while others are
# served, clients that vanish mid-response leave nothing behind (the sanitizer and valgrind
# runs check leaks; here the open descriptors are counted).
. "$(dirname "$0")/lib.sh"
plan 84

RAWCLIENT=$TC_BUILDDIR/tests/origin/rawclient

start_origin
write_config "$WORK/p.ini" "[local]" "max_object_bytes = 4M" "max_bytes = 64M"
sed -i 's/^threads = 2$/threads = 2\nconnection_timeout = 2\nmax_body_bytes = 1000/' "$WORK/p.ini"
start_proxy "$WORK/p.ini"

# raw [rawclient options] <FILE: sends FILE to the proxy as it is (not from a pipe: the
# function must run in this shell to set its variables); RAW_STATUS is the status code of
# the answer (empty when none), RAW_RC rawclient's exit status (0: the server closed).
raw() {
  "$RAWCLIENT" -T 3000 "$@" "$PROXY_PORT" >"$WORK/raw.out"
  RAW_RC=$?
  RAW_STATUS=$(head -n 1 "$WORK/raw.out" | tr -d '\r' | sed -n 's|^HTTP/1\.[01] \([0-9][0-9][0-9]\).*|\1|p')
}

# client_conns: TCP connections of the proxy's listening port that are still open (not
# LISTEN, not TIME_WAIT), from /proc/net/tcp.
client_conns() {
  awk -v p="$(printf ':%04X' "$PROXY_PORT")" \
    'substr($2, length($2) - 4) == p && $4 != "0A" && $4 != "06" { n++ } END { print n + 0 }' /proc/net/tcp
}

# refused NAME STATUS-REGEX FORMAT: printf FORMAT is the request; checks the status, then that
# the process still serves (a normal request right after).
n_alive=0
refused() {
  # shellcheck disable=SC2059 # the format is the request
  printf "$3" >"$WORK/req"
  raw <"$WORK/req"
  like "$RAW_STATUS" "^($2)\$" "$1: $2"
  n_alive=$((n_alive + 1))
  get "/alive?n=$n_alive"
  is "$STATUS" 200 "$1: the next request is served"
}

# --- sizes (libmicrohttpd's limits: [server] max_header_bytes of memory per connection, 8K)
{ printf 'GET /'; head -c 40000 /dev/zero | tr '\0' a; printf ' HTTP/1.1\r\nHost: x\r\n\r\n'; } >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 414 "a request line too long: 414"
{ printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 40000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 431 "a header field too large: 431"
{ printf 'GET / HTTP/1.1\r\nHost: x\r\n'; for i in $(seq 1 3000); do printf 'X-%d: v\r\n' "$i"; done; printf '\r\n'; } >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 431 "too many header fields: 431"
get /alive
is "$STATUS" 200 "the next request is served"

# --- framing: the connection is closed after the answer, so nothing smuggled behind it runs
printf 'POST /te HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 400 "Content-Length with Transfer-Encoding: 400"
is "$RAW_RC" 0 "... and the connection is closed"
like "$(cat "$WORK/raw.out")" "Content-Length and Transfer-Encoding" "... the body says why"
is "$(grep -c '^HTTP/1' "$WORK/raw.out")" 1 "... one answer only"
printf 'POST /cl2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 39\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 400 "two different Content-Lengths: 400"
is "$RAW_RC" 0 "... and the connection is closed"
is "$(origin_count /te)$(origin_count /cl2)$(origin_count /smuggled)" 000 "none of them reached the origin"
printf 'POST /cl-same HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello' >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 200 "two equal Content-Lengths are one (RFC 9110 8.6)"
refused "a negative Content-Length" 400 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'
refused "a Content-Length that is not a number" 400 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n'
# libmicrohttpd answers these two itself, with 413
refused "a Content-Length beyond 64 bits" '400|413' 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n'
refused "a chunk size beyond 64 bits" '400|413' 'POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n'
refused "a negative chunk size" 400 'POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n'
refused "a transfer coding other than chunked" 400 'POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
refused "Transfer-Encoding: identity" 400 'POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n'
refused "a body larger than max_body_bytes" 413 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n'
{ printf 'POST /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n'; for i in 1 2 3; do printf '190\r\n'; head -c 400 /dev/zero | tr '\0' b; printf '\r\n'; done; printf '0\r\n\r\n'; } >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 413 "a chunked body larger than max_body_bytes: 413 (once it is read)"
{ printf 'POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n900000\r\n'; head -c 9437184 /dev/zero; printf '\r\n0\r\n\r\n'; } >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS:$RAW_RC" ":0" "a chunked body 9 MB too large: the connection is closed"

# --- field syntax
refused "a bare CR in a header value" 400 'GET /bcr HTTP/1.1\r\nHost: x\r\nX-A: a\rX-Injected: b\r\n\r\n'
refused "a bare CR in a header name" 400 'GET /bcr HTTP/1.1\r\nHost: x\r\nX\rA: a\r\n\r\n'
refused "a NUL in a header name" 400 'GET /bcr HTTP/1.1\r\nHost: x\r\nX\000A: a\r\n\r\n'
refused "a blank before the colon" 400 'GET /bcr HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n'
refused "a blank inside a field name" 400 'GET /bcr HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n'
refused "an HTTP/1.1 request without Host" 400 'GET /bcr HTTP/1.1\r\n\r\n'
refused "two Host fields" 400 'GET /bcr HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
is "$(origin_count /bcr)" 0 "none of the refused requests reached the origin"
# libmicrohttpd 0.9.75 ends a value at a NUL: the rest of the line is dropped, never forwarded
printf 'GET /nul HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: a\000\r\nX-Injected: b\r\n\r\n' >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 200 "a NUL in a header value: the value ends there"
is "$(origin_last /nul | grep -c '^X-Injected')$(origin_last /nul | grep -c '^X-A: a$')" 11 "... the fields reach the origin as parsed, nothing more"

# --- request line
refused "binary garbage" 400 '\001\002\003\377\376 garbage\r\n\r\n'
refused "HTTP/2.0" 505 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'
refused "HTTP/3.0" 505 'GET / HTTP/3.0\r\nHost: x\r\n\r\n'
refused "an unknown protocol" 400 'GET / FOO/1.1\r\nHost: x\r\n\r\n'
refused "HTTP/0.9 (no version)" 400 'GET /\r\n\r\n'
refused "a blank in the target" 400 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'
refused "a TAB in the target" 400 'GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n'
refused "a control byte in the target" 400 'GET /a\001b HTTP/1.1\r\nHost: x\r\n\r\n'
refused "a bare CR in the target" 400 'GET /a\rX-Injected: b HTTP/1.1\r\nHost: x\r\n\r\n'
refused "a LF in the target" 400 'GET /a\nX-Injected: b HTTP/1.1\r\nHost: x\r\n\r\n'
printf 'GET /ver HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n' >"$WORK/req"
raw <"$WORK/req"
is "$RAW_STATUS" 200 "HTTP/1.2 is served as HTTP/1.1 (RFC 9110 2.5)"

# --- what reaches the origin: the target as received, no injected line
get '/a%0d%0aX-Injected:%20b?q=%0D%0A'
is "$STATUS" 200 "an encoded CR LF in the target is forwarded"
is "$(origin_last '/a%0d%0aX-Injected:%20b' | head -n 1)" "GET /a%0d%0aX-Injected:%20b?q=%0D%0A" "... as received, still encoded"
is "$(origin_last '/a%0d%0aX-Injected:%20b' | grep -c '^X-Injected')" 0 "no injected header reached the origin"
get '/b/../c/./d//e?x=%41&y=a+b' --path-as-is
is "$(origin_last '/b/../c/./d//e' | head -n 1)" "GET /b/../c/./d//e?x=%41&y=a+b" "the path is forwarded as received (no normalization)"

# --- a malformed Cache-Control line of the origin does not hide the next one
get '/priv?cc=max-age%3D60&cc=x%3D%22&cc=private'
get '/priv?cc=max-age%3D60&cc=x%3D%22&cc=private'
is "$(origin_count /priv)" 2 "a private line after an unterminated quote is seen: not stored"

# --- 100 clients that never finish their headers, while others are served
printf 'GET /slow HTTP/1.1\r\nHost: x\r\nX-Never: end' | "$RAWCLIENT" -s 100 -H 20 "$PROXY_PORT" >"$WORK/slow.out" &
slow=$!
wait_for_file "$WORK/slow.out"
is "$(head -n 1 "$WORK/slow.out")" "ready 100" "100 slow clients connected"
ok_n=0
for i in $(seq 1 20); do
  get "/beside?i=$i&cc=max-age%3D60"
  [ "$STATUS" = 200 ] && ok_n=$((ok_n + 1))
done
is "$ok_n" 20 "20 requests served beside them"
wait "$slow"
is "$(tail -n 1 "$WORK/slow.out")" "closed 100 of 100" "every slow client was closed by connection_timeout"
like "$(stat .requests.total)" '^[0-9]+$' "/stats still answers"

# --- clients that go away in the middle of a response
get '/big?size=3000000&cc=max-age%3D60'
is "$STATUS" 200 "a 3 MB response is stored"
for i in $(seq 1 10); do
  printf 'GET /big?size=3000000&cc=max-age%%3D60 HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' "$PROXY_PORT" | "$RAWCLIENT" -c 70000 -r "$PROXY_PORT" >/dev/null
  printf 'GET /huge?size=8000000 HTTP/1.1\r\nHost: x\r\n\r\n' | "$RAWCLIENT" -c 70000 "$PROXY_PORT" >/dev/null
done
ok "20 clients closed (10 with a reset) in the middle of a hit and of a miss"
# the client leaves while its request waits for the origin
for i in $(seq 1 5); do
  printf 'GET /wait?i=%s&delay_ms=600 HTTP/1.1\r\nHost: x\r\n\r\n' "$i" | "$RAWCLIENT" -T 100 -r "$PROXY_PORT" >/dev/null
done
sleep 1 # the origin answers the five abandoned requests
is "$(origin_count /wait)" 5 "5 clients left while their request waited for the origin"
get '/big?size=3000000&cc=max-age%3D60'
is "$STATUS $(wc -c <"$WORK/b")" "200 3000000" "the stored response is still served whole"
like "$(stat .local.entries)" '^[0-9]+$' "/stats answers"
get /alive
is "$STATUS" 200 "the process serves after all of it"
i=0 # connection_timeout closes whatever the vanished clients left
while [ "$(client_conns)" -gt 0 ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
is "$(client_conns)" 0 "no client connection is left open at the proxy"
