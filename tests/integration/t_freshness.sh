#!/bin/sh
# Freshness and forwarding (RFC 9111 sections 3, 4.2, 5.2.1): heuristic freshness, strict
# directive parsing, Age, the request directives (max-age, min-fresh, max-stale,
# only-if-cached), and transparency of what passes through (request and response fields,
# Date, unknown status codes). Responses are made stale on arrival with the origin's Age, so
# nothing here waits for the clock.
. "$(dirname "$0")/lib.sh"
plan 60

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

# --- heuristic freshness (section 4.2.2): 10% of Date - Last-Modified, capped
get '/hl?lm=1000'
like "$(hdr Cache-Status)" '^tiercache; fwd=uri-miss; fwd-status=200; stored; ttl=(99|100|101)$' "Last-Modified 1000 s old: heuristic ttl of 100 s"
get '/hl?lm=1000'
is "$(origin_count /hl)" 1 "heuristic freshness: the second GET is a hit"
get '/h404?status=404&lm=1000'
get '/h404?status=404&lm=1000'
is "$(origin_count /h404)" 1 "a 404 with Last-Modified is heuristically fresh"
get '/h302?status=302&lm=1000'
get '/h302?status=302&lm=1000'
is "$(origin_count /h302)" 2 "a 302 is not heuristically cacheable"
get '/hcap?lm=100000000'
like "$(hdr Cache-Status)" 'stored; ttl=(86400|86399)$' "heuristic freshness capped at heuristic_max_seconds (86400)"
get '/hexp?lm=1000&cc=max-age%3D5'
like "$(hdr Cache-Status)" 'stored; ttl=[45]$' "explicit max-age beats the heuristic"

# --- any final status with explicit freshness is stored; unknown statuses pass through
get '/s299?status=299&cc=max-age%3D60'
is "$STATUS" 299 "an unknown 2xx status reaches the client"
get '/s299?status=299&cc=max-age%3D60'
is "$STATUS:$(origin_count /s299)" "299:1" "and is stored with explicit freshness"
get '/s599?status=599&hdr=X-Odd%3A%20a%20%20b%2C%2C%3B%22q'
is "$STATUS" 599 "status 599 is passed on, not 502"
is "$(hdr X-Odd)" 'a  b,,;"q' "an odd header value is passed on unchanged"
get '/s403?status=403&cc=max-age%3D60'
get '/s403?status=403&cc=max-age%3D60'
is "$(origin_count /s403)" 1 "a 403 with max-age is stored"

# --- what may be stored (section 3)
get '/mu?cc=must-understand,%20no-store,%20max-age%3D60'
get '/mu?cc=must-understand,%20no-store,%20max-age%3D60'
is "$(origin_count /mu)" 1 "must-understand with an understood status overrides no-store"
get '/mu2?status=299&cc=must-understand,%20no-store,%20max-age%3D60'
get '/mu2?status=299&cc=must-understand,%20no-store,%20max-age%3D60'
is "$(origin_count /mu2)" 2 "must-understand with a status not understood: not stored"
get '/as?cc=s-maxage%3D60' -H 'Authorization: Bearer a'
get '/as?cc=s-maxage%3D60' -H 'Authorization: Bearer b'
is "$(origin_count /as)" 1 "Authorization with s-maxage: stored and shared"
get '/amr?cc=max-age%3D60,%20must-revalidate' -H 'Authorization: Bearer a'
get '/amr?cc=max-age%3D60,%20must-revalidate' -H 'Authorization: Bearer b'
is "$(origin_count /amr)" 1 "Authorization with must-revalidate: stored and shared"
get '/apr?cc=max-age%3D60,%20proxy-revalidate' -H 'Authorization: Bearer a'
get '/apr?cc=max-age%3D60,%20proxy-revalidate' -H 'Authorization: Bearer b'
is "$(origin_count /apr)" 2 "Authorization with only proxy-revalidate: not stored"
get '/rnc?cc=no-cache,%20max-age%3D60&etag=n1'
first=$BODY
get '/rnc?cc=no-cache,%20max-age%3D60&etag=n1'
like "$(origin_last /rnc | tr -d '\r')" 'If-None-Match: "n1"' "response no-cache: stored, and revalidated before use"
is "$BODY" "$first" "the 304 serves the stored body"
like "$(hdr Cache-Status)" 'fwd=stale; fwd-status=304' "Cache-Status: revalidated"

# --- strict parsing of the response's freshness
get '/mx?cc=max-age%3D60&expires=-10'
get '/mx?cc=max-age%3D60&expires=-10'
is "$(origin_count /mx)" 1 "max-age beats an Expires in the past"
get '/bad?cc=max-age%3Dabc'
get '/bad?cc=max-age%3Dabc'
is "$(origin_count /bad)" 2 "a malformed max-age means stale"
get '/sp?cc=max-age%20%3D100'
get '/sp?cc=max-age%20%3D100'
get '/sp?cc=max-age%3D%20100'
is "$(origin_count /sp)" 3 "whitespace around = makes max-age malformed: stale"
get '/xc?hdr=Expires%3ATHU%2C%2018%20AUG%202050%2002%3A01%3A18%20gMT'
get '/xc?hdr=Expires%3ATHU%2C%2018%20AUG%202050%2002%3A01%3A18%20gMT'
is "$(origin_count /xc)" 1 "Expires in odd case is a valid date (RFC 9111 4.2): fresh"
get '/dup?cc=max-age%3D60&cc=max-age%3D30'
get '/dup?cc=max-age%3D60&cc=max-age%3D30'
is "$(origin_count /dup)" 2 "two different max-age values mean stale"
get '/case?cc=MAX-AGE%3D60'
get '/case?cc=MAX-AGE%3D60'
is "$(origin_count /case)" 1 "directive names are case-insensitive"
get '/quo?cc=max-age%3D%2260%22'
get '/quo?cc=max-age%3D%2260%22'
is "$(origin_count /quo)" 1 "a quoted max-age value is accepted"
get '/bexp?expires_raw=soon'
get '/bexp?expires_raw=soon'
is "$(origin_count /bexp)" 2 "an invalid Expires means already stale"
get '/huge?cc=max-age%3D99999999999'
get '/huge?cc=max-age%3D99999999999'
is "$(origin_count /huge)" 1 "a huge max-age saturates (fresh), it does not overflow"
like "$(hdr Cache-Status)" 'hit; ttl=214748364[0-9]$' "ttl saturated at 2^31"
get '/hage?cc=max-age%3D60&age=99999999999'
get '/hage?cc=max-age%3D60&age=99999999999'
is "$(origin_count /hage)" 2 "a huge Age saturates and makes the response stale"

# --- Age (section 4.2.3) on every response from the cache
get '/age?cc=max-age%3D100&age=30'
like "$(hdr Age)" '^3[0-9]$' "a stored miss carries Age from the origin's Age"
get '/age?cc=max-age%3D100&age=30'
like "$(hdr Age)" '^3[0-9]$' "a hit carries the corrected Age"
like "$(hdr Cache-Status)" 'hit; ttl=(70|69|68)$' "ttl is lifetime minus age"
get '/agedate?cc=max-age%3D100&date=-20'
like "$(hdr Age)" '^(19|2[0-9])$' "apparent age (now - Date) counts when there is no Age"

# --- request directives (section 5.2.1)
get '/rma?cc=max-age%3D100&age=30'
get '/rma?cc=max-age%3D100&age=30' -H 'Cache-Control: max-age=40'
is "$(origin_count /rma)" 1 "request max-age above the age: hit"
get '/rma?cc=max-age%3D100&age=30' -H 'Cache-Control: max-age=10'
is "$(origin_count /rma)" 2 "request max-age below the age: to the origin"
like "$(hdr Cache-Status)" 'fwd=request; fwd-status=200' "and Cache-Status says the request's directive forwarded it (RFC 9211 fwd=request)"
get '/rmf?cc=max-age%3D100&age=30'
get '/rmf?cc=max-age%3D100&age=30' -H 'Cache-Control: min-fresh=50'
is "$(origin_count /rmf)" 1 "min-fresh within the remaining freshness: hit"
get '/rmf?cc=max-age%3D100&age=30' -H 'Cache-Control: min-fresh=90'
is "$(origin_count /rmf)" 2 "min-fresh beyond it: to the origin"
get '/rms?cc=max-age%3D10&age=30&etag=s1&no304=1'
get '/rms?cc=max-age%3D10&age=30&etag=s1&no304=1' -H 'Cache-Control: max-stale=60'
is "$(origin_count /rms)" 1 "max-stale=60 with 20 s of staleness: served stale"
like "$(hdr Cache-Status)" 'hit; ttl=-[0-9]+; detail=max-stale' "Cache-Status: a hit with a negative ttl"
is "$(hdr Age)" 30 "the stale answer carries its Age"
get '/rms?cc=max-age%3D10&age=30&etag=s1&no304=1' -H 'Cache-Control: max-stale'
is "$(origin_count /rms)" 1 "max-stale without a value: any staleness"
get '/rms?cc=max-age%3D10&age=30&etag=s1&no304=1' -H 'Cache-Control: max-stale=5'
is "$(origin_count /rms)" 2 "max-stale=5 with 20 s of staleness: to the origin"
get '/rmsn?cc=max-age%3D10&age=30'
like "$(hdr Cache-Status)" 'stored' "a response without validators, stale on arrival, is kept ([local] max_stale_keep)"
get '/rmsn?cc=max-age%3D10&age=30' -H 'Cache-Control: max-stale=100'
is "$(origin_count /rmsn)" 1 "and served to a request with max-stale"
get '/rmsn?cc=max-age%3D10&age=30'
is "$(origin_count /rmsn)" 2 "but not to one without"
get '/rmr?cc=max-age%3D10,%20must-revalidate&age=30&etag=m1&no304=1'
get '/rmr?cc=max-age%3D10,%20must-revalidate&age=30&etag=m1&no304=1' -H 'Cache-Control: max-stale'
is "$(origin_count /rmr)" 2 "must-revalidate forbids max-stale"
get '/rmp?cc=max-age%3D10,%20proxy-revalidate&age=30&etag=p1&no304=1'
get '/rmp?cc=max-age%3D10,%20proxy-revalidate&age=30&etag=p1&no304=1' -H 'Cache-Control: max-stale'
is "$(origin_count /rmp)" 2 "proxy-revalidate forbids max-stale"
get '/rmsm?cc=s-maxage%3D10&age=30&etag=q1&no304=1'
get '/rmsm?cc=s-maxage%3D10&age=30&etag=q1&no304=1' -H 'Cache-Control: max-stale'
is "$(origin_count /rmsm)" 2 "s-maxage forbids max-stale"

get '/oic?cc=max-age%3D60' -H 'Cache-Control: only-if-cached'
is "$STATUS" 504 "only-if-cached with nothing stored: 504"
is "$(origin_count /oic)" 0 "only-if-cached never reaches the origin"
like "$(hdr Cache-Status)" 'detail=only-if-cached' "Cache-Status says why"
get '/oic?cc=max-age%3D60'
get '/oic?cc=max-age%3D60' -H 'Cache-Control: only-if-cached'
is "$STATUS:$(origin_count /oic)" "200:1" "only-if-cached with a fresh stored response: served"
get '/oics?cc=max-age%3D10&age=30&etag=o1'
get '/oics?cc=max-age%3D10&age=30&etag=o1' -H 'Cache-Control: only-if-cached'
is "$STATUS:$(origin_count /oics)" "504:1" "only-if-cached with only a stale response: 504, no revalidation"
is "$(stat .stale.only_if_cached_misses)" 2 "only-if-cached misses counted"

# --- transparency toward the origin and back
get '/auth?cc=no-store' -H 'Authorization: Bearer abc.def' -H 'X-Custom: 1, 2'
last=$(origin_last /auth | tr -d '\r')
like "$last" 'Authorization: Bearer abc\.def' "Authorization reaches the origin unchanged"
like "$last" 'X-Custom: 1, 2' "an unknown request field reaches the origin unchanged"
get '/date?cc=max-age%3D600&date=-100'
sent=$(date -u -d "$(hdr Date)" +%s)
now=$(date -u +%s)
like "$((now - sent))" '^(9[0-9]|10[0-9])$' "the origin's Date is passed on, not rewritten"
get '/date?cc=max-age%3D600&date=-100'
is "$(date -u -d "$(hdr Date)" +%s)" "$sent" "a hit carries the stored Date"
