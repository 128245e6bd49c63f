#!/bin/sh
# Every bad config fixture in tests/conf is rejected by `tiercache -t` with exit status 1 and
# each of its "; expect:" messages; every good fixture is accepted.
. "$(dirname "$0")/lib.sh"

dir="$TC_SRCDIR/tests/conf"
n=0
for f in "$dir"/*.ini; do
  n=$((n + 1 + $(grep -c '^; expect: ' "$f")))
done
plan "$n"

for f in "$dir"/*.ini; do
  name=$(basename "$f")
  out=$("$TIERCACHE" -t -c "$f" 2>&1)
  st=$?
  case "$name" in
    bad-*) want_st=1 ;;
    *) want_st=0 ;;
  esac
  if [ "$st" -eq "$want_st" ]; then
    echo "ok - $name: exit status $want_st"
  else
    echo "not ok - $name: exit status $st, expected $want_st"
    printf '%s\n' "$out" | sed 's/^/# got: /'
  fi
  grep '^; expect: ' "$f" | sed 's/^; expect: //' | while IFS= read -r want; do
    if printf '%s\n' "$out" | grep -Fq -- "$want"; then
      echo "ok - $name: $want"
    else
      echo "not ok - $name: $want"
      printf '%s\n' "$out" | sed 's/^/# got: /'
    fi
  done
done
