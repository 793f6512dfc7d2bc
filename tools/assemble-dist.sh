#!/usr/bin/env bash
# assemble-dist.sh — lay out dist/ as the self-contained folder Grafana loads.
#
# The backend binary is already written into dist/ by CMake (RUNPATH $ORIGIN/lib).
# This script adds the frontend (module.js + map from frontend/dist), plugin.json,
# img/, the bundled dashboards, README/CHANGELOG/LICENSE, and copies every
# shared library the binary needs that is not part of glibc / the dynamic
# loader into dist/lib, so the plugin runs on a stock glibc x86-64 Linux host
# without our -dev packages (tests/dist/portable.sh proves it in a debootstrap
# root). Each bundled library gets RUNPATH $ORIGIN: the executable's RUNPATH
# only applies to its own direct dependencies, not to theirs (ld.so(8)).
#
# Env: GPX_DIST (default dist), GPX_BUNDLE_LIBS=0 to skip the library bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${GPX_DIST:-dist}
EXE=$(python3 -c 'import json;print(json.load(open("plugin.json"))["executable"])')_linux_amd64
mkdir -p "$DIST"
cp plugin.json "$DIST/plugin.json"
for f in README.md CHANGELOG.md LICENSE; do
  if [ -f "$f" ]; then cp "$f" "$DIST/"; else echo "assemble-dist: warning: $f missing" >&2; fi
done
[ -d img ] && rm -rf "$DIST/img" && mkdir -p "$DIST/img" && cp -r img/. "$DIST/img/"
if [ -d dashboards ] && ls dashboards/*.json >/dev/null 2>&1; then
  rm -rf "$DIST/dashboards" && mkdir -p "$DIST/dashboards" && cp dashboards/*.json "$DIST/dashboards/"
fi

# Frontend: `make frontend` builds frontend/dist/module.js (webpack, AMD).
if [ -f frontend/dist/module.js ]; then
  cp frontend/dist/module.js "$DIST/module.js"
  [ -f frontend/dist/module.js.map ] && cp frontend/dist/module.js.map "$DIST/module.js.map"
else
  echo "assemble-dist: warning: frontend/dist/module.js missing (run make frontend); Grafana's UI cannot load the plugin without it" >&2
fi

BIN="$DIST/$EXE"
if [ ! -f "$BIN" ]; then
  echo "assemble-dist: warning: $BIN missing (run make backend)" >&2
  exit 0
fi
chmod 0755 "$BIN"
[ "${GPX_BUNDLE_LIBS:-1}" = 0 ] && exit 0

# --- shared libraries --------------------------------------------------------
# glibc's own libraries and the loader stay the host's: they must match the
# host kernel/loader, and every glibc system has them.
is_glibc() {
  case "$1" in
    linux-vdso.so.*|ld-linux-x86-64.so.*|libc.so.*|libm.so.*|libmvec.so.*|libpthread.so.*|libdl.so.*|\
    librt.so.*|libresolv.so.*|libutil.so.*|libanl.so.*|libnsl.so.*|libnss_*|libBrokenLocale.so.*|\
    libthread_db.so.*|libc_malloc_debug.so.*|libmemusage.so|libpcprofile.so) return 0 ;;
  esac
  return 1
}
rm -rf "$DIST/lib"
mkdir -p "$DIST/lib"
# ldd from a clean environment resolves against the system, i.e. the files we must copy.
n=0
while read -r soname path; do
  is_glibc "$soname" && continue
  [ -f "$path" ] || { echo "assemble-dist: cannot resolve $soname" >&2; exit 1; }
  cp -L "$path" "$DIST/lib/$soname"
  chmod 0644 "$DIST/lib/$soname"
  n=$((n + 1))
done < <(env -u LD_LIBRARY_PATH ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $2 == "=>" && $3 == "not" {print $1, "NOTFOUND"}')

if command -v patchelf >/dev/null; then
  for l in "$DIST"/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$l"; done
  # The binary must look in lib/ first (CMake's BUILD_RPATH does this; keep it if a build did not).
  readelf -d "$BIN" | grep -q 'R.*PATH.*\$ORIGIN/lib' || patchelf --set-rpath '$ORIGIN/lib' "$BIN"
else
  echo "assemble-dist: warning: patchelf missing; transitive libraries resolve from the host only" >&2
fi

# Verify: every non-glibc library now resolves from dist/lib.
bad=$(env -u LD_LIBRARY_PATH ldd "$BIN" | awk '$2 == "=>" {print $1, $3}' | while read -r s p; do
  is_glibc "$s" && continue
  case "$p" in "$(cd "$DIST" && pwd)/lib/"*) ;; *) echo "$s=>$p" ;; esac
done)
if [ -n "$bad" ]; then
  echo "assemble-dist: libraries not resolved from $DIST/lib: $bad" >&2
  exit 1
fi
echo "assemble-dist: $DIST ready ($n bundled libraries, $(du -sh "$DIST" | cut -f1))"
