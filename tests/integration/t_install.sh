#!/bin/sh
# make install: tiercache in $(sbindir), tiercache-replay in $(bindir), the three man pages, the
# sample config in $(sysconfdir)/tiercache/ (never overwritten by a reinstall); make
# uninstall removes what it installed and keeps a config that was changed. Everything is
# installed under a DESTDIR in the scenario's directory. Also: the generated systemd unit
# names the configured paths, and systemd-analyze verifies it when it is there.
. "$(dirname "$0")/lib.sh"
plan 15

DEST=$WORK/dest
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$TC_BUILDDIR" "$@" DESTDIR="$DEST" >>"$WORK/make.log" 2>&1; }
# the configured directories, as make sees them
dirs=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$TC_BUILDDIR" -f Makefile -f - print-dirs <<'MK' 2>/dev/null
print-dirs:
	@echo "$(sbindir) $(bindir) $(mandir) $(sysconfdir)"
MK
)
set -- $dirs
SBIN=$DEST$1 BIN=$DEST$2 MAN=$DEST$3 ETC=$DEST$4/tiercache

mk install
is "$?" 0 "make install DESTDIR=... succeeds"
[ -x "$SBIN/tiercache" ] && ok "tiercache is in \$(sbindir)" || not_ok "tiercache is in \$(sbindir) ($SBIN)"
[ -x "$BIN/tiercache-replay" ] && ok "tiercache-replay is in \$(bindir)" || not_ok "tiercache-replay is in \$(bindir) ($BIN)"
like "$("$SBIN/tiercache" --version)" "^tiercache [0-9]" "the installed tiercache runs"
n=0
for m in man8/tiercache.8 man5/tiercache.ini.5 man1/tiercache-replay.1; do [ -f "$MAN/$m" ] && n=$((n + 1)); done
is "$n" 3 "the man pages tiercache(8), tiercache.ini(5), tiercache-replay(1)"
cmp -s "$ETC/tiercache.ini" "$TC_SRCDIR/conf/tiercache.ini" && ok "the sample config is \$(sysconfdir)/tiercache/tiercache.ini" || not_ok "the sample config is installed ($ETC)"
"$SBIN/tiercache" -t -c "$ETC/tiercache.ini" >/dev/null 2>&1
is "$?" 0 "the installed config checks"

# a reinstall keeps the operator's file, and puts the new sample beside it
printf '[origin]\nurl = http://mine:1\n' >"$ETC/tiercache.ini"
mk install
is "$(cat "$ETC/tiercache.ini")" "$(printf '[origin]\nurl = http://mine:1')" "a reinstall does not overwrite an existing config"
cmp -s "$ETC/tiercache.ini.sample" "$TC_SRCDIR/conf/tiercache.ini" && ok "... the new sample goes beside it (tiercache.ini.sample)" || not_ok "... the new sample goes beside it"

mk uninstall
[ ! -e "$SBIN/tiercache" ] && [ ! -e "$BIN/tiercache-replay" ] && [ ! -e "$MAN/man8/tiercache.8" ] && ok "make uninstall removes the programs and man pages" || not_ok "make uninstall removes the programs and man pages"
[ -f "$ETC/tiercache.ini" ] && ok "... and keeps a config that was changed" || not_ok "... and keeps a config that was changed"
[ ! -e "$ETC/tiercache.ini.sample" ] && ok "... and removes the sample" || not_ok "... and removes the sample"
rm -f "$ETC/tiercache.ini"
mk install && mk uninstall
is "$(find "$DEST" -type f | wc -l | tr -d ' ')" 0 "install then uninstall leaves no file"

# the systemd unit, with this build's paths
unit=$TC_BUILDDIR/contrib/tiercache.service
like "$(grep '^ExecStart=' "$unit")" "^ExecStart=$1/tiercache -c $4/tiercache/tiercache\\.ini\$" "contrib/tiercache.service names the configured paths"
if command -v systemd-analyze >/dev/null 2>&1; then
  mk install
  sed "s|$1/|$SBIN/|g; s|$4/|$DEST$4/|g; /^Documentation=/d" "$unit" >"$WORK/tiercache.service"
  out=$(systemd-analyze verify "$WORK/tiercache.service" 2>&1)
  is "$out" "" "systemd-analyze verify finds nothing to say about the unit"
else
  ok "# SKIP systemd-analyze is not installed"
fi
