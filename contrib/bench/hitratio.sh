#!/bin/sh
# hitratio.sh: the hit-ratio table of every local policy, by replaying traces through
# tiercache-replay at caches of 0.1%, 1% and 10% of each trace's distinct keys (each object
# counts as one entry).
#
#   contrib/bench/hitratio.sh [TIERCACHE_REPLAY]
#
# Traces: every *.keys.gz of $TRACES (default: ../shared/traces beside the repository; the
# cache2k traces by headissue GmbH, CC BY 4.0, see README.md there), plus two Zipf traces made
# here deterministically by contrib/bench/zipf.c (100,000 objects, 1,000,000 requests, alpha 0.8
# and 1.0, seed 1). Prints a Markdown table, then tinylfu's difference to lru on each row and
# its average and worst over all of them. Needs a C compiler (for zipf.c) and gzip.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
REPLAY=${1:-${REPLAY:-}}
if [ -z "$REPLAY" ]; then
  for c in "$top/src/tiercache-replay" "$(command -v tiercache-replay 2>/dev/null || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then REPLAY=$c; break; fi
  done
fi
[ -n "$REPLAY" ] && [ -x "$REPLAY" ] || { echo "hitratio.sh: tiercache-replay not found (give its path)" >&2; exit 2; }
TRACES=${TRACES:-$top/../shared/traces}
SEED=${SEED:-1}
POLICIES=${POLICIES:-lru,lfu,ttl,tinylfu}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hitratio.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -o "$tmp/zipf" "$here/zipf.c" -lm

# run NAME FILE: one table row per policy
run() {
  "$REPLAY" --seed "$SEED" --policy "$POLICIES" "$2" | awk -v t="$1" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      p = v["policy"]; if (!(p in n)) { order[++np] = p; n[p] = 0 }
      r[p, ++n[p]] = v["hit_ratio"]; e[n[p]] = v["entries"] }
    END { for (k = 1; k <= np; k++) { p = order[k]
            printf "| %s | %s | %s (%s) | %s (%s) | %s (%s) |\n", t, p, r[p,1], e[1], r[p,2], e[2], r[p,3], e[3] } }'
}

{
  for f in "$TRACES"/*.keys.gz; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .keys.gz)
    gzip -dc "$f" >"$tmp/$name"
    run "$name" "$tmp/$name"
  done
  "$tmp/zipf" 0.8 100000 1000000 1 >"$tmp/zipf-0.8"
  run "zipf-0.8" "$tmp/zipf-0.8"
  "$tmp/zipf" 1.0 100000 1000000 1 >"$tmp/zipf-1.0"
  run "zipf-1.0" "$tmp/zipf-1.0"
} >"$tmp/rows"

echo "| trace | policy | 0.1% (entries) | 1% (entries) | 10% (entries) |"
echo "|---|---|---|---|---|"
cat "$tmp/rows"
echo
awk -F'|' '
  { t = $2; p = $3; gsub(/ /, "", t); gsub(/ /, "", p)
    for (i = 4; i <= 6; i++) { x = $i; sub(/ *\(.*/, "", x); gsub(/ /, "", x); h[t, p, i] = x }
    if (!(t in seen)) { seen[t] = 1; traces[++nt] = t } }
  END {
    if (!((traces[1], "lru", 4) in h) || !((traces[1], "tinylfu", 4) in h)) exit
    for (k = 1; k <= nt; k++) {
      t = traces[k]; line = ""
      for (i = 4; i <= 6; i++) {
        d = h[t, "tinylfu", i] - h[t, "lru", i]; line = line sprintf(" %+.2f", d)
        s += d; n++; if (n == 1 || d < w) w = d
        if (t !~ /^zipf/) { sr += d; nr++; if (nr == 1 || d < wr) wr = d }
      }
      printf "tinylfu - lru, %s:%s\n", t, line
    }
    printf "tinylfu - lru: average %+.2f, worst %+.2f points over %d runs", s / n, w, n
    if (nr > 0) printf " (real traces only: average %+.2f, worst %+.2f)", sr / nr, wr
    printf "\n"
  }' "$tmp/rows"
