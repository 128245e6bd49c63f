#!/bin/sh
# Targeted cache-control fields (RFC 9213): [http] targeted_cache_control (default
# Tiercache-Cache-Control), then CDN-Cache-Control, replace Cache-Control (and Expires) for
# this cache's own decisions when valid (RFC 8941 Dictionary syntax); neither is forwarded to
# clients, while Cache-Control is, unchanged.
. "$(dirname "$0")/lib.sh"
plan 19

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

get '/c1?cc=no-store&hdr=CDN-Cache-Control%3Amax-age%3D60'
like "$(hdr Cache-Status)" 'stored; ttl=(60|59)$' "CDN-Cache-Control max-age=60 overrides Cache-Control no-store"
is "$(hdr CDN-Cache-Control)" "" "CDN-Cache-Control is not forwarded to the client"
is "$(hdr Cache-Control)" "no-store" "Cache-Control is forwarded unchanged"
get '/c1?cc=no-store&hdr=CDN-Cache-Control%3Amax-age%3D60'
is "$(origin_count /c1)" 1 "and the response is reused"
is "$(hdr CDN-Cache-Control)" "" "a hit does not carry CDN-Cache-Control either"

get '/c2?cc=max-age%3D60&hdr=CDN-Cache-Control%3Ano-store'
get '/c2?cc=max-age%3D60&hdr=CDN-Cache-Control%3Ano-store'
is "$(origin_count /c2)" 2 "CDN-Cache-Control no-store overrides Cache-Control max-age"
get '/s1?cc=no-store&hdr=Surrogate-Control%3AMax-Age%3D60'
get '/s1?cc=no-store&hdr=Surrogate-Control%3AMax-Age%3D60'
is "$(origin_count /s1)" 1 "Surrogate-Control max-age overrides Cache-Control no-store"
get '/s2?cc=max-age%3D60&hdr=Surrogate-Control%3Ano-store'
get '/s2?cc=max-age%3D60&hdr=Surrogate-Control%3Ano-store'
is "$(origin_count /s2)" 2 "Surrogate-Control no-store overrides Cache-Control max-age"
like "$(hdr Cache-Status)" 'detail=no-store' "Cache-Status names no-store"

get '/c3?hdr=Tiercache-Cache-Control%3Ano-store&hdr=CDN-Cache-Control%3Amax-age%3D60'
get '/c3?hdr=Tiercache-Cache-Control%3Ano-store&hdr=CDN-Cache-Control%3Amax-age%3D60'
is "$(origin_count /c3)" 2 "Tiercache-Cache-Control is read before CDN-Cache-Control"
is "$(hdr Tiercache-Cache-Control)$(hdr CDN-Cache-Control)" "" "neither targeted field is forwarded"

get '/c4?cc=no-store&hdr=CDN-Cache-Control%3AMax-Age%3D60'
get '/c4?cc=no-store&hdr=CDN-Cache-Control%3AMax-Age%3D60'
is "$(origin_count /c4)" 2 "an invalid dictionary (upper-case key) is ignored: Cache-Control applies"

get '/c5?expires=60&hdr=CDN-Cache-Control%3Apublic'
get '/c5?expires=60&hdr=CDN-Cache-Control%3Apublic'
is "$(origin_count /c5)" 2 "with a valid targeted field, Expires is ignored"

get '/c6?cc=max-age%3D60&hdr=CDN-Cache-Control%3Amax-age%3D0'
get '/c6?cc=max-age%3D60&hdr=CDN-Cache-Control%3Amax-age%3D0'
is "$(origin_count /c6)" 2 "CDN-Cache-Control max-age=0 overrides a longer Cache-Control"

get '/c7?cc=max-age%3D1&age=5&etag=t&fail_after=1&hdr=CDN-Cache-Control%3Amax-age%3D1%2C%20stale-if-error%3D600'
get '/c7?cc=max-age%3D1&age=5&etag=t&fail_after=1&hdr=CDN-Cache-Control%3Amax-age%3D1%2C%20stale-if-error%3D600'
is "$STATUS" 200 "stale-if-error from CDN-Cache-Control applies"

# --- a configured field name
write_config "$WORK/q.ini" '[http]' 'targeted_cache_control = X-Edge-CC'
start_proxy "$WORK/q.ini" edge
get '/e1?cc=private&hdr=X-Edge-CC%3Amax-age%3D60'
get '/e1?cc=private&hdr=X-Edge-CC%3Amax-age%3D60'
is "$(origin_count /e1)" 1 "[http] targeted_cache_control names the field read first"
is "$(hdr X-Edge-CC)" "" "the configured field is not forwarded"
is "$(hdr Cache-Control)" "private" "Cache-Control still is"
get '/e2?cc=private&hdr=Tiercache-Cache-Control%3Amax-age%3D60'
get '/e2?cc=private&hdr=Tiercache-Cache-Control%3Amax-age%3D60'
is "$(origin_count /e2)$(hdr Tiercache-Cache-Control)" "2max-age=60" "with another name configured, Tiercache-Cache-Control is an ordinary field"
