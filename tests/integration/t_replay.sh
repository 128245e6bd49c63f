#!/bin/sh
# tiercache-replay on the small committed traces of tests/data, whose hit counts are worked out
# by hand (tests/data/README), its input forms (file, stdin, access log) and its usage errors.
. "$(dirname "$0")/lib.sh"
plan 14

REPLAY=$TC_BUILDDIR/src/tiercache-replay
DATA=$TC_SRCDIR/tests/data

out=$("$REPLAY" --policy lru,lfu,ttl --entries 2,3 "$DATA/small.keys")
is "$out" "policy=lru entries=2 requests=10 hits=0 hit_ratio=0.00
policy=lru entries=3 requests=10 hits=4 hit_ratio=40.00
policy=lfu entries=2 requests=10 hits=0 hit_ratio=0.00
policy=lfu entries=3 requests=10 hits=5 hit_ratio=50.00
policy=ttl entries=2 requests=10 hits=0 hit_ratio=0.00
policy=ttl entries=3 requests=10 hits=3 hit_ratio=30.00" "hit counts of lru, lfu and ttl as worked out by hand"

out=$("$REPLAY" --seed 1 --policy tinylfu --entries 5 - <"$DATA/small.keys")
is "$out" "policy=tinylfu entries=5 requests=10 hits=5 hit_ratio=50.00" "stdin; tinylfu with room for every key"

out=$("$REPLAY" "$DATA/small.keys")
is "$(printf '%s\n' "$out" | wc -l | tr -d ' ')" 12 "default: every policy at three sizes"
is "$(printf '%s\n' "$out" | cut -d' ' -f1 | uniq | tr '\n' ' ')" "policy=lru policy=lfu policy=ttl policy=tinylfu " "default: every policy, in the table's order"
like "$out" "policy=lru entries=1 requests=10 hits=0 hit_ratio=0.00" "default sizes: 0.1% of 5 keys is at least one entry"

out=$("$REPLAY" --policy lru --access-log --entries 2 "$DATA/small-access.txt")
is "$out" "policy=lru entries=2 requests=5 hits=3 hit_ratio=60.00" "access log: GET and HEAD requests by URL"
out=$("$REPLAY" --policy lru --access-log --bytes 100K,200K "$DATA/small-access.txt")
is "$out" "policy=lru bytes=102400 requests=5 hits=1 hit_ratio=20.00
policy=lru bytes=204800 requests=5 hits=3 hit_ratio=60.00" "access log with --bytes: response sizes count"

out=$("$REPLAY" --policy lfu --entries 3 "$DATA/small.keys" "$DATA/small.keys" 2>&1); rc=$?
is "$rc" 2 "two files: usage error"
out=$("$REPLAY" --policy fifo "$DATA/small.keys" 2>&1); rc=$?
is "$rc" 2 "unknown policy: exit 2"
like "$out" "unknown policy 'fifo'" "unknown policy: named"
out=$("$REPLAY" --entries 0 "$DATA/small.keys" 2>&1); rc=$?
is "$rc" 2 "zero entries: exit 2"
out=$("$REPLAY" "$WORK/missing" 2>&1); rc=$?
is "$rc" 1 "missing file: exit 1"
like "$("$REPLAY" --help)" "^usage: tiercache-replay" "--help"
like "$("$REPLAY" --version)" "^tiercache-replay [0-9]" "--version"
