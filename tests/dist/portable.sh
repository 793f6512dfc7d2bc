#!/usr/bin/env bash
# portable.sh — does dist/ run on a stock glibc x86-64 Linux without our -dev
# packages? Builds (once, cached outside the repo) a minimal Debian bookworm
# root with debootstrap --variant=minbase from the mirror apt uses here, copies
# dist/ into it and, via chroot, checks that every non-glibc library resolves
# from dist/lib and that the binary completes the go-plugin handshake
# (one stdout line 1|2|unix|<path>|grpc) and exits cleanly on SIGTERM.
#
# /proc is mounted inside a private mount namespace (unshare -m): the loader
# needs /proc/self/exe to expand $ORIGIN for the main executable, as on any
# real host; the mount disappears with the namespace.
#
# Env: GPX_DIST (default dist), GPX_ROOTFS (default /var/cache/gpx-debootstrap/bookworm-minbase).
# Prints `portable: N passed, N failed`. Needs root (chroot, unshare).
set -uo pipefail
cd "$(dirname "$0")/../.."
DIST=$(cd "${GPX_DIST:-dist}" 2>/dev/null && pwd) || DIST=""
R=${GPX_ROOTFS:-/var/cache/gpx-debootstrap/bookworm-minbase}
P=0; F=0
ok()   { P=$((P + 1)); echo "ok   $1"; }
fail() { F=$((F + 1)); echo "FAIL $1${2:+: $2}"; }
finish() { echo "portable: $P passed, $F failed"; [ "$F" -eq 0 ]; exit $?; }

[ "$(id -u)" -eq 0 ] || { fail "needs root (chroot/unshare)"; finish; }
[ -n "$DIST" ] || { fail "dist/ exists" "run make build"; finish; }
EXE=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["executable"])' "$DIST/plugin.json")_linux_amd64
[ -x "$DIST/$EXE" ] || { fail "binary $EXE in dist/"; finish; }

# --- the Debian root (cached; a lock keeps concurrent runs from racing) ------
mirror() { # the Debian mirror apt uses here (deb822 or one-line sources), else the default
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | grep '/debian/\?$' | head -1)
  [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '$3 ~ /^bookworm$/ {print $2}' | grep '/debian/\?$' | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}
mkdir -p "$(dirname "$R")"
exec 9>"$(dirname "$R")/.lock"
flock 9
if [ ! -f "$R/.gpx-complete" ]; then
  command -v debootstrap >/dev/null || { fail "debootstrap installed (tools/apt-packages.txt)"; finish; }
  t0=$(date +%s)
  rm -rf "$R.tmp"
  if debootstrap --variant=minbase bookworm "$R.tmp" "$(mirror)" >"$(dirname "$R")/debootstrap.log" 2>&1; then
    rm -rf "$R" && mv "$R.tmp" "$R" && touch "$R/.gpx-complete"
    echo "     debootstrap bookworm minbase from $(mirror): $(( $(date +%s) - t0 )) s"
  else
    tail -5 "$(dirname "$R")/debootstrap.log"; fail "debootstrap bookworm minbase"; finish
  fi
fi
ok "Debian bookworm minbase root at $R"

# The root must not have what dist/lib is supposed to bring.
ours=$(chroot "$R" dpkg-query -W -f='${Package}\n' 2>/dev/null | grep -E '^(libgrpc|libgpr|libpq|libjansson|libprotobuf|libabsl|libssl3|libcares|libre2|libkrb5|libldap)|-dev$' | tr '\n' ' ')
[ -z "$ours" ] && ok "root has none of our libraries or -dev packages" || fail "root is clean" "$ours"

# --- copy dist/ in, fresh each run ---------------------------------------------
D=/opt/gpx-plugin
rm -rf "${R:?}$D" && mkdir -p "$R$D" && cp -a "$DIST/." "$R$D/"
in_root() { # run a command in the root with /proc mounted in a private namespace
  # exec: when run with &, $! is then the plugin itself (unshare, sh, chroot exec in turn)
  exec unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" "$@"
}

# --- libraries resolve from dist/lib --------------------------------------------
lddout=$(in_root /usr/bin/ldd "$D/$EXE" 2>&1)
nf=$(grep -c 'not found' <<<"$lddout")
[ "$nf" -eq 0 ] && ok "ldd in the root: nothing missing" || fail "ldd in the root" "$(grep 'not found' <<<"$lddout" | tr -s ' \t' ' ' | head -5)"
outside=$(awk '$2 == "=>" {print $1, $3}' <<<"$lddout" | grep -vE "^(libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|libmvec)\.so" | grep -v " $D/lib/" | tr '\n' ' ')
[ -z "$outside" ] && ok "every non-glibc library comes from dist/lib ($(ls "$DIST/lib" 2>/dev/null | wc -l) bundled)" || fail "libraries from dist/lib" "$outside"

# --- handshake -----------------------------------------------------------------
out=$(mktemp); err=$(mktemp)
in_root /usr/bin/env -i PATH=/usr/bin:/bin grafana_plugin_type=datasource PLUGIN_PROTOCOL_VERSIONS=2 \
  "$D/$EXE" >"$out" 2>"$err" &
pid=$!   # unshare, sh and chroot exec into each other: this is the plugin's pid
line=""
for _ in $(seq 1 100); do
  line=$(head -1 "$out")
  [ -n "$line" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [[ "$line" =~ ^1\|2\|unix\|(/[^|]+)\|grpc$ ]]; then
  ok "handshake line: $line"
  sock=${BASH_REMATCH[1]}
  [ -S "$R$sock" ] && ok "unix socket $sock exists" || fail "unix socket $sock exists"
else
  fail "handshake line 1|2|unix|<path>|grpc" "got '${line}'; stderr: $(head -c 400 "$err")"
fi
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"; wait "$pid" 2>/dev/null; fail "exits within 5 s of SIGTERM"
  else
    wait "$pid"; rc=$?
    [ "$rc" -eq 0 ] && ok "exits 0 after SIGTERM" || fail "exits 0 after SIGTERM" "status $rc"
  fi
else
  wait "$pid" 2>/dev/null; fail "still running after the handshake" "exited early; stderr: $(head -c 400 "$err")"
fi
n=$(grep -c '' "$out")
[ "$n" -eq 1 ] && ok "stdout holds only the handshake line" || fail "stdout holds only the handshake line" "$n lines"
cp "$err" tests/artifacts/portable-plugin-stderr.log 2>/dev/null || true
rm -f "$out" "$err"
rm -rf "${R:?}$D"
finish
