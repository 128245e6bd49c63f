#!/bin/sh
# Documentation stays true to the option table: every key that `tiercache --sample-config`
# prints has its row in README.md's configuration table with the same default, and the man
# page of the configuration names it.
. "$(dirname "$0")/lib.sh"

"$TIERCACHE" --sample-config | awk '
  /^\[/ { gsub(/[][]/, ""); section = $0; next }
  /^[a-z_]+ = / { key = $1; sub(/^[^=]*= ?/, ""); print section " " key " " $0 }' >"$WORK/keys"
plan $(($(wc -l <"$WORK/keys") * 2))

while read -r section key default; do
  row=$(grep -F "| $section | \`$key\` |" "$TC_SRCDIR/README.md")
  if [ -z "$row" ]; then
    not_ok "README documents [$section] $key"
  elif [ -n "$default" ] && ! printf '%s' "$row" | grep -Fq -e "\`$default\`" -e "(required)"; then
    not_ok "README documents [$section] $key with its default '$default'"
    diag "$row"
  else
    ok "README documents [$section] $key"
  fi
  if grep -Eq "^\\.B[IR]? $key\$|^\\.TP$" "$TC_SRCDIR/man/tiercache.ini.5" && grep -Fq "$key" "$TC_SRCDIR/man/tiercache.ini.5"; then
    ok "tiercache.ini(5) documents [$section] $key"
  else
    not_ok "tiercache.ini(5) documents [$section] $key"
  fi
done <"$WORK/keys"
