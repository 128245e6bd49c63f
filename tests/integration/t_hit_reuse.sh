#!/bin/sh
# Hits reuse the response built for the same entry within the same second (server.c): the
# reused answers are the stored ones, never an older entry's, and Age moves on with the clock.
# A response is kept for reuse from its entry's second hit on: entries hit once keep none.
. "$(dirname "$0")/lib.sh"
plan 16

start_origin
write_config "$WORK/p.ini"
start_proxy "$WORK/p.ini"

P='/r?cc=max-age%3D600'
get "$P"
first=$BODY
like "$first" '"n":1' "the miss carries the origin's first body"
i=0
while [ $i -lt 20 ]; do
	get "$P"
	[ "$BODY" = "$first" ] || break
	i=$((i + 1))
done
is "$i" 20 "20 hits in a row serve the stored body"
reused=$(stat .local.responses_reused)
like "$reused" '^[1-9][0-9]*$' "hits within one second reuse one response ($reused reused)"
is "$(origin_count /r)" 1 "one origin request"

# a replaced entry is never answered with the response of the old one (same second or not)
req PURGE "$PROXY$P"
is "$STATUS" 200 "PURGE removes the entry"
get "$P"
like "$BODY" '"n":2' "after PURGE the next answer is the origin's new body"
get "$P"
like "$BODY" '"n":2' "and the hit right after serves the new entry, not a kept response"
like "$(hdr Cache-Status)" '^tiercache; hit; ttl=' "a reused-path hit carries Cache-Status"

# Age and ttl follow the clock: a response kept from an earlier second is not sent again
get "$P"
age1=$(hdr Age)
sleep 2
get "$P"
age2=$(hdr Age)
like "$age1" '^[0-9]+$' "Age on a hit ($age1)"
ok_age=$([ "$age2" -ge $((age1 + 1)) ] && echo yes || echo no)
is "$ok_age" yes "two seconds later Age has grown ($age1 -> $age2)"
like "$(hdr Cache-Status)" "; ttl=$((600 - age2))\$" "the ttl matches the new Age"

# HEAD is never given a kept GET response's body
req HEAD "$PROXY$P"
unlike "$BODY" "\"path\"" "HEAD on a hit has no body"

# Only an entry's second hit keeps its response (one server thread, so every request meets
# the same table): 300 entries hit once each keep none; the next hits on one of them do.
stop_pid "$PROXY_PID"
write_config "$WORK/one.ini"
sed -i 's/^threads = 2$/threads = 1/' "$WORK/one.ini"
start_proxy "$WORK/one.ini" one
i=0
while [ $i -lt 300 ]; do
	echo "url = \"$PROXY/once/$i?cc=max-age%3D600\""
	echo "output = /dev/null"
	i=$((i + 1))
done >"$WORK/once.cfg"
curl -s -K "$WORK/once.cfg"
curl -s -K "$WORK/once.cfg"
is "$(stat .local.hits)/$(stat .origin.requests)" "300/300" "300 misses, then one hit on each"
is "$(stat .local.responses_kept)" 0 "entries hit once keep no response"
get '/once/7?cc=max-age%3D600'
get '/once/7?cc=max-age%3D600'
get '/once/7?cc=max-age%3D600'
like "$(stat .local.responses_kept)" '^[123]$' "the next hits on an entry keep its response"
like "$BODY" '"path":"/once/7"' "and answers that entry"
