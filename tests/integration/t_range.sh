#!/bin/sh
# Partial content (RFC 9110 section 14): one byte range of a stored 200 is answered 206 from
# the cache; an unsatisfiable one 416; If-Range gates it; several ranges go to the origin and
# nothing is stored from them; a miss with Range fetches and stores the full response.
. "$(dirname "$0")/lib.sh"
plan 24

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

u='/r?cc=max-age%3D60&etag=r1&lm=3600&body=0123456789'
get "$u"
is "$BODY" 0123456789 "stored"
get "$u" -H 'Range: bytes=2-5'
is "$STATUS" 206 "Range on a hit: 206"
is "$BODY" 2345 "the bytes asked for"
is "$(hdr Content-Range)" 'bytes 2-5/10' "Content-Range"
is "$(hdr Content-Length)" 4 "Content-Length of the part"
like "$(hdr Cache-Status)" '^tiercache; hit' "from the cache"
get "$u" -H 'Range: bytes=-3'
is "$BODY/$(hdr Content-Range)" '789/bytes 7-9/10' "suffix range"
get "$u" -H 'Range: bytes=8-'
is "$BODY/$(hdr Content-Range)" '89/bytes 8-9/10' "open range"
get "$u" -H 'Range: bytes=20-30'
is "$STATUS/$(hdr Content-Range)" '416/bytes */10' "unsatisfiable: 416 with bytes */len"
get "$u" -H 'Range: items=0-1'
is "$STATUS/$BODY" 200/0123456789 "another unit: the full response"
get "$u" -H 'Range: bytes=5-2'
is "$STATUS/$BODY" 200/0123456789 "an invalid range: the full response"
get "$u" -H 'Range: bytes=0-1' -H 'If-Range: "r1"'
is "$STATUS/$BODY" 206/01 "If-Range with the stored ETag: 206"
get "$u" -H 'Range: bytes=0-1' -H 'If-Range: "other"'
is "$STATUS/$BODY" 200/0123456789 "If-Range with another ETag: the full response"
get "$u" -H 'Range: bytes=0-1' -H 'If-Range: W/"r1"'
is "$STATUS" 200 "If-Range with a weak ETag: the full response"
lm=$(curl -s -D - -o /dev/null "$PROXY$u" | tr -d '\r' | sed -n 's/^Last-Modified: //p')
get "$u" -H 'Range: bytes=0-1' -H "If-Range: $lm"
is "$STATUS/$BODY" 206/01 "If-Range with the stored Last-Modified: 206"
is "$(origin_count /r)" 1 "all of it from one origin request"

# HEAD ignores Range.
req HEAD "$PROXY$u" -H 'Range: bytes=0-1'
is "$STATUS" 200 "HEAD with Range: 200"

# Several ranges: to the origin with the Range field, nothing stored.
get "$u" -H 'Range: bytes=0-1,4-5'
like "$(origin_last /r | tr -d '\r')" 'Range: bytes=0-1,4-5' "several ranges reach the origin"
like "$(hdr Cache-Status)" 'fwd=request; fwd-status=200; detail=multi-range' "Cache-Status says why"
is "$(origin_count /r)" 2 "one more origin request"

# A miss with Range: the full response is fetched (without Range) and stored, the range cut.
m='/m?cc=max-age%3D60&body=abcdefghij'
get "$m" -H 'Range: bytes=1-3'
is "$STATUS/$BODY" 206/bcd "a miss with Range: 206"
unlike "$(origin_last /m | tr -d '\r')" 'Range:' "the origin was asked for the full response"
get "$m"
is "$STATUS/$BODY/$(origin_count /m)" 200/abcdefghij/1 "and it was stored whole"

# An origin 206 is never stored as a full response.
get '/p?cc=max-age%3D60&status=206&hdr=Content-Range:bytes%200-1/10&body=ab'
get '/p?cc=max-age%3D60&status=206&hdr=Content-Range:bytes%200-1/10&body=ab'
is "$(origin_count /p)" 2 "a 206 from the origin is not stored"
