#!/bin/sh
# Client conditionals evaluated against the stored response (RFC 9110 section 13.2.2):
# If-Match / If-Unmodified-Since that fail are 412, If-None-Match uses weak comparison and
# "*", If-Modified-Since only counts without If-None-Match; on hits and on fills alike.
. "$(dirname "$0")/lib.sh"
plan 33

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

u='/c?cc=max-age%3D60&etag=c1&lm=3600'
get "$u"
lm=$(hdr Last-Modified)
get "$u" -H 'If-Match: "c1"'
is "$STATUS" 200 "If-Match with the stored ETag: 200"
get "$u" -H 'If-Match: "c2"'
is "$STATUS" 412 "If-Match with another ETag: 412"
is "$(hdr ETag)" '"c1"' "the 412 names the current ETag"
like "$(hdr Cache-Status)" '^tiercache; hit' "the 412 came from the cache"
get "$u" -H 'If-Match: W/"c1"'
is "$STATUS" 412 "If-Match compares strongly: a weak tag fails"
get "$u" -H 'If-Match: *'
is "$STATUS" 200 "If-Match: * with a stored response: 200"
get "$u" -H 'If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT'
is "$STATUS" 412 "If-Unmodified-Since before Last-Modified: 412"
get "$u" -H "If-Unmodified-Since: $lm"
is "$STATUS" 200 "If-Unmodified-Since at Last-Modified: 200"
get "$u" -H 'If-None-Match: W/"c1"'
is "$STATUS" 304 "If-None-Match compares weakly"
get "$u" -H 'If-None-Match: *'
is "$STATUS" 304 "If-None-Match: *"
get "$u" -H 'If-None-Match: "zz"' -H "If-Modified-Since: $lm"
is "$STATUS" 200 "If-Modified-Since is ignored when If-None-Match is there"
is "$(origin_count /c)" 1 "every answer from the stored response"

# Without Last-Modified, If-Modified-Since is compared with the stored Date (RFC 9111 4.3.2).
u='/nolm?cc=max-age%3D60'
get "$u"
get "$u" -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT'
is "$STATUS" 304 "no Last-Modified: If-Modified-Since after the stored Date: 304"
get "$u" -H 'If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT'
is "$STATUS/$(origin_count /nolm)" 200/1 "... before it (an RFC 850 date): 200, from the cache"

# On a miss: the precondition is evaluated against the fetched response, not sent on.
get '/m?cc=max-age%3D60&etag=m1' -H 'If-Match: "other"'
is "$STATUS" 412 "a miss with a failing If-Match: 412"
unlike "$(origin_last /m | tr -d '\r')" 'If-Match' "the origin was asked for the response itself"
get '/m?cc=max-age%3D60&etag=m1'
is "$STATUS/$(origin_count /m)" 200/1 "and the response was stored"

# A 304 naming another ETag than the stored one selects nothing: asked again unconditionally.
u='/x?cc=max-age%3D10&age=100&etag=m1&etag304=zz'
get "$u"
get "$u"
is "$STATUS" 200 "a 304 that selects nothing: 200"
like "$BODY" '"n":3' "the body of a new, unconditional request"
is "$(origin_count /x)" 3 "two requests for that revalidation"
unlike "$(origin_last /x | tr -d '\r')" 'If-None-Match' "the second one without validators"
like "$(hdr Cache-Status)" 'fwd=stale; fwd-status=200; stored' "and its answer replaced the stored one"

# A vary-miss sends the ETags of the other variants; a 304 naming one selects that one.
v='/v?cc=max-age%3D300&vary=Accept&etag=same'
get "$v" -H 'Accept: text/a'
get "$v" -H 'Accept: text/b'
like "$(origin_last /v | tr -d '\r')" 'If-None-Match: "same"' "vary-miss: If-None-Match with the stored variant's ETag"
like "$(hdr Cache-Status)" '^tiercache; fwd=vary-miss; fwd-status=304' "the origin answered 304"
like "$BODY" '"n":1' "the stored variant it named is served"
is "$(stat .origin.not_modified)" 1 "one 304 counted"

# HEAD: the stored GET (no validators) is refreshed with the HEAD answer's fields.
h='/h?cc=max-age%3D300&hdr_n=X-N'
get "$h"
is "$(hdr X-N)" 1 "stored with X-N: 1"
req HEAD "$PROXY$h" -H 'Cache-Control: no-cache'
is "$(hdr X-N)/$(origin_count /h)" 2/2 "a HEAD went to the origin (X-N: 2)"
get "$h"
is "$(hdr X-N)" 2 "the stored response now has the HEAD's fields"
like "$BODY" '"n":1' "and its own body"
is "$(origin_count /h)" 2 "served from the cache"

# HEAD: a HEAD answer whose validators differ from the stored GET's removes it.
d='/hd?cc=max-age%3D300&hdr_from=X-Add'
get "$d"
req HEAD "$PROXY$d" -H 'Cache-Control: no-cache' -H 'X-Add: ETag: "other"'
is "$(origin_count /hd)" 2 "a HEAD with another ETag went to the origin"
get "$d"
is "$(origin_count /hd)/$(hdr Cache-Status | cut -d';' -f2)" "3/ fwd=uri-miss" "the stored GET was removed"
