#!/bin/sh
# Revalidation of stale entries with the origin: If-None-Match and If-Modified-Since sent,
# 304 keeps the stored body and refreshes the headers, 200 replaces the entry.
. "$(dirname "$0")/lib.sh"
plan 17

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

# Age 100 with max-age 10: stale as soon as it is stored, but it has an ETag, so it is kept.
u='/r?cc=max-age%3D10&age=100&etag=r1'
get "$u"
first=$BODY
get "$u"
is "$STATUS" 200 "revalidated answer is 200"
like "$(origin_last /r | tr -d '\r')" 'If-None-Match: "r1"' "the origin saw If-None-Match with the stored ETag"
is "$BODY" "$first" "after a 304 the stored body is served"
like "$(hdr Cache-Status)" '^tiercache; fwd=stale; fwd-status=304; stored; ttl=-?[0-9]+$' "Cache-Status says revalidated"
is "$(origin_count /r)" 2 "one revalidation request"
is "$(stat .origin.revalidations)" 1 "revalidations counted"
is "$(stat .origin.not_modified)" 1 "304s counted"

# Last-Modified only: If-Modified-Since is sent.
u='/m?cc=max-age%3D10&age=100&lm=3600'
get "$u"
first=$BODY
get "$u"
like "$(origin_last /m | tr -d '\r')" 'If-Modified-Since: [A-Z][a-z][a-z], ' "the origin saw If-Modified-Since"
is "$BODY" "$first" "If-Modified-Since 304: stored body served"

# A 304 refreshes freshness: max-age 60 from the 304 makes the entry fresh again.
u='/f?cc=max-age%3D60&etag=f1'
get "$u&age=100"     # stored stale (different query: different key), not used below
get "$u"
get "$u"
is "$(origin_count /f)" 2 "fresh after store: hit"

# A 200 on revalidation replaces the entry.
u='/st?stateful=1&cc=max-age%3D0'
get "$u"
like "$BODY" '"version":1' "version 1 stored"
curl -s -o /dev/null -X PUT -H 'If-Match: "v1"' "$ORIGIN_URL$u"   # changed behind the proxy
get "$u"
like "$BODY" '"version":2' "a 200 on revalidation brings the new version"
like "$(hdr Cache-Status)" 'fwd=stale; fwd-status=200; stored' "Cache-Status says stale, 200, stored"
get "$u"
like "$(origin_last /st | tr -d '\r')" 'If-None-Match: "v2"' "the replacement's ETag is used next"
like "$BODY" '"version":2' "and its body is served after the 304"

# A client conditional on a revalidated entry: 304 to the client.
u='/c?cc=max-age%3D10&age=100&etag=c1'
get "$u"
get "$u" -H 'If-None-Match: "c1"'
is "$STATUS" 304 "client's If-None-Match after a revalidation: 304"
like "$(origin_last /c | tr -d '\r')" 'If-None-Match: "c1"' "the proxy revalidated with its own validator"
