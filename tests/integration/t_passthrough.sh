#!/bin/sh
# Methods other than GET and HEAD go to the origin unchanged (body, If-Match), and a
# successful one invalidates the stored response of its URL.
. "$(dirname "$0")/lib.sh"
plan 14

start_origin
write_config "$WORK/p.ini"
sed -i 's/^threads = 2$/threads = 2\nmax_body_bytes = 1K/' "$WORK/p.ini"
start_proxy "$WORK/p.ini"

u='/doc?stateful=1&cc=max-age%3D600'
get "$u"
like "$BODY" '"version":1' "GET stores version 1"
get "$u"
is "$(origin_count /doc)" 1 "second GET is a hit"

req PUT "$PROXY$u" -H 'If-Match: "v0"' --data-binary 'stale write'
is "$STATUS" 412 "PUT with a wrong If-Match: 412 from the origin"
like "$(hdr Cache-Status)" 'fwd=method' "Cache-Status says fwd=method"
get "$u"
is "$(origin_count /doc)" 2 "a failed PUT does not invalidate"

req PUT "$PROXY$u" -H 'If-Match: "v1"' -H 'Content-Type: application/json' --data-binary '{"name":"new"}'
is "$STATUS" 200 "PUT with the right If-Match: 200"
like "$BODY" '"received":14' "the request body reached the origin whole"
like "$(origin_last /doc | tr -d '\r')" 'Content-Type: application/json' "request headers reached the origin"
get "$u"
like "$BODY" '"version":2' "the stored response was invalidated: the new version is served"
is "$(origin_count /doc)" 4 "GET after PUT went to the origin"

req DELETE "$PROXY/d?x=1"
is "$(origin_last /d | head -n 1 | tr -d '\r')" "DELETE /d?x=1" "DELETE reaches the origin"
req FOO "$PROXY/u"
is "$(origin_last /u | head -n 1 | tr -d '\r')" "FOO /u" "an unknown method reaches the origin"

head -c 2000 /dev/zero | tr '\0' x >"$WORK/big"
req POST "$PROXY/p" --data-binary "@$WORK/big"
is "$STATUS" 413 "a body over max_body_bytes: 413"
is "$(origin_count /p)" 0 "the oversized body did not reach the origin"
