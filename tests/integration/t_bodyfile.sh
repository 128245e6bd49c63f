#!/bin/sh
# Large bodies in memory files ([local] body_file_min_bytes, src/bodyfile.c): a stored body of
# at least the threshold lives in a sealed memfd and hits send it with sendfile. Checked here:
# misses and hits byte for byte (numbered bodies: any misplaced byte shows), HEAD, ranges,
# 304s, the small bodies that stay in memory, the threshold 0 (off, the default), the budget
# of files (bodies beyond it stay in memory, counted), eviction and PURGE closing the files
# (counted in /proc/PID/fd), and the memcached copy written from and read into a file.
. "$(dirname "$0")/lib.sh"
plan 40

# memfds PID: the body files PID holds open now (its descriptors that name a body memfd).
memfds() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'memfd:tiercache-body'; }

start_origin
curl -s -o "$WORK/ref" "$ORIGIN_URL/ref?size=100000&numbered=1"
is "$(wc -c <"$WORK/ref" | tr -d ' ')" 100000 "the reference body from the origin"

write_config "$WORK/a.ini" '[local]' 'body_file_min_bytes = 32K' 'max_body_files = 100'
start_proxy "$WORK/a.ini" a
A_PID=$PROXY_PID
u='/big?size=100000&numbered=1&cc=max-age%3D600&etag=b1'

get "$u"
is "$STATUS" 200 "a large miss: 200"
cmp -s "$WORK/b" "$WORK/ref" && ok "the miss is the origin's body, byte for byte" ||
  not_ok "the miss is the origin's body, byte for byte"
is "$(stat .local.body_files)" 1 "its body is in a memory file"
is "$(memfds "$A_PID")" 1 "one body memfd open in the process"
get "$u"
like "$(hdr Cache-Status)" '^tiercache; hit' "the second request is a hit"
cmp -s "$WORK/b" "$WORK/ref" && ok "the hit sent from the file is byte for byte the body" ||
  not_ok "the hit sent from the file is byte for byte the body"
is "$(hdr Content-Length)" 100000 "with its Content-Length"
is "$(stat .local.responses_from_files)" 2 "both answers were sent from the file"
get "$u"
cmp -s "$WORK/b" "$WORK/ref" && ok "a third request (response reused) is whole" ||
  not_ok "a third request (response reused) is whole"

req HEAD "$PROXY$u"
is "$STATUS/$(hdr Content-Length)" 200/100000 "HEAD: 200 with the body's length"

get "$u" -H 'Range: bytes=50000-50099'
is "$STATUS/$(hdr Content-Range)" '206/bytes 50000-50099/100000' "a range of the file: 206"
tail -c +50001 "$WORK/ref" | head -c 100 >"$WORK/part"
cmp -s "$WORK/b" "$WORK/part" && ok "the range's bytes are those of the body at that offset" ||
  not_ok "the range's bytes are those of the body at that offset"
get "$u" -H 'Range: bytes=-17'
tail -c 17 "$WORK/ref" >"$WORK/part"
cmp -s "$WORK/b" "$WORK/part" && ok "a suffix range: the last bytes" ||
  not_ok "a suffix range: the last bytes"

get "$u" -H 'If-None-Match: "b1"'
is "$STATUS/$BODY/$(hdr ETag)" '304//"b1"' "a matching If-None-Match: 304, no body"
is "$(origin_count /big)" 1 "all of it from one origin request"

get '/small?size=20000&cc=max-age%3D600'
get '/small?size=20000&cc=max-age%3D600'
is "$(stat .local.body_files)/$(wc -c <"$WORK/b" | tr -d ' ')" 1/20000 \
  "a body under the threshold stays in memory (and is served)"

# PURGE: the entry goes, and with it the file once no response holds it (the hits above keep
# a reused response per server thread until its slot is taken: count only what stays bounded)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PURGE "$PROXY$u")
is "$code" 200 "PURGE"
get "$u"
cmp -s "$WORK/b" "$WORK/ref" && ok "fetched again after the PURGE, whole" ||
  not_ok "fetched again after the PURGE, whole"
is "$(origin_count /big)" 2 "from the origin"

# Eviction closes the files: room for about three bodies, ten fetched once each.
write_config "$WORK/e.ini" '[local]' 'max_bytes = 350K' 'max_object_bytes = 120K' \
  'body_file_min_bytes = 32K'
start_proxy "$WORK/e.ini" e
E_PID=$PROXY_PID
get '/warm?size=10' # the origin connection is open from here on
before=$(ls "/proc/$E_PID/fd" | wc -l)
i=0
while [ $i -lt 10 ]; do
  get "/e$i?size=100000&numbered=1&cc=max-age%3D600"
  i=$((i + 1))
done
cmp -s "$WORK/b" "$WORK/ref" && ok "eviction: the last miss is whole" ||
  not_ok "eviction: the last miss is whole"
entries=$(stat .local.entries)
like "$(stat .local.evictions)" '^[1-9]' "bodies were evicted"
is "$(stat .local.body_files)" "$entries" "one body file per stored entry, no more"
is "$(memfds "$E_PID")" "$entries" "the evicted bodies' memfds are closed"
after=$(ls "/proc/$E_PID/fd" | wc -l)
is "$((after - before))" "$entries" "open descriptors grew by the stored bodies only"
i=0
while [ $i -lt 10 ]; do
  curl -s -o /dev/null -X PURGE "$PROXY/e$i?size=100000&numbered=1&cc=max-age%3D600"
  i=$((i + 1))
done
is "$(stat .local.entries)/$(stat .local.body_files)/$(memfds "$E_PID")" 0/0/0 \
  "PURGE of every one: no entry, no body file, no memfd"
is "$(ls "/proc/$E_PID/fd" | wc -l)" "$before" "as many descriptors as before"

# The budget: two files at most; the third body stays in memory, counted, served whole.
write_config "$WORK/f.ini" '[local]' 'body_file_min_bytes = 32K' 'max_body_files = 2'
start_proxy "$WORK/f.ini" f
for n in 1 2 3; do get "/f$n?size=100000&numbered=1&cc=max-age%3D600"; done
is "$(stat .local.body_files)/$(stat .local.body_files_refused)" 2/1 \
  "budget of 2: two files, one body refused a file"
get "/f3?size=100000&numbered=1&cc=max-age%3D600"
like "$(hdr Cache-Status)" '^tiercache; hit' "the refused one is a hit all the same"
cmp -s "$WORK/b" "$WORK/ref" && ok "sent from memory, whole" || not_ok "sent from memory, whole"
is "$(origin_count /f3)" 1 "one origin request"

# Off: threshold 0, and the default (off: README, "Large bodies in memory files").
write_config "$WORK/o.ini" '[local]' 'body_file_min_bytes = 0'
start_proxy "$WORK/o.ini" o
get "/o?size=100000&numbered=1&cc=max-age%3D600"
get "/o?size=100000&numbered=1&cc=max-age%3D600"
cmp -s "$WORK/b" "$WORK/ref" && ok "threshold 0: the hit is whole" || not_ok "threshold 0: the hit is whole"
is "$(stat .local.body_files)/$(stat .local.responses_from_files)" 0/0 "and no file is used"
write_config "$WORK/d.ini" '[local]' 'max_bytes = 64M'
start_proxy "$WORK/d.ini" d
get "/d?size=65536&cc=max-age%3D600"
get "/d?size=65536&cc=max-age%3D600"
like "$(hdr Cache-Status)" '^tiercache; hit' "default threshold: a 64 KiB body is a hit"
is "$(stat .local.body_files)/$(stat .local.responses_from_files)/$(memfds "$PROXY_PID")" 0/0/0 \
  "sent from ordinary memory: no memory file by default"

# memcached: the record is written from the file's mapping; a second proxy reads it into a file.
start_memcached MC
mc="[memcached]
servers = $MC_ADDR
timeout_ms = 1000"
write_config "$WORK/m1.ini" '[local]' 'body_file_min_bytes = 32K' "$mc"
start_proxy "$WORK/m1.ini" m1
M1=$PROXY
write_config "$WORK/m2.ini" '[local]' 'body_file_min_bytes = 32K' "$mc"
start_proxy "$WORK/m2.ini" m2
M2=$PROXY
M2_PID=$PROXY_PID
m='/mc?size=100000&numbered=1&cc=max-age%3D600'
get_via "$M1" "$m" -H 'Host: api.test'
wait_stat .memcached.stores 1 "$M1"
is "$(stat .memcached.stores "$M1")" 1 "the large response was written to memcached"
get_via "$M2" "$m" -H 'Host: api.test'
is "$(stat .memcached.hits "$M2")/$(origin_count /mc)" 1/1 "the second proxy got it from memcached"
cmp -s "$WORK/b" "$WORK/ref" && ok "byte for byte the origin's body" ||
  not_ok "byte for byte the origin's body"
get_via "$M2" "$m" -H 'Host: api.test'
cmp -s "$WORK/b" "$WORK/ref" && ok "and its local hit, sent from its own file, too" ||
  not_ok "and its local hit, sent from its own file, too"
is "$(stat .local.body_files "$M2")/$(memfds "$M2_PID" | awk '{ print ($1 >= 1) }')" 1/1 \
  "the second proxy keeps the body in a memory file"
