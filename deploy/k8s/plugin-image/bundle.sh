#!/bin/sh
# bundle.sh SRC_DIST OUT_DIR — make the plugin folder self-contained for any Grafana image.
#
# The backend is a C binary linked against Debian 12's shared libraries (libgrpc 1.51,
# abseil, protobuf-c, jansson, libpq, glibc). The official Grafana image is Alpine
# (musl) and the -ubuntu variant lacks libgrpc, so the plugin folder carries its own
# glibc loader and libraries: the real binary moves to lib/<exe>.bin and <exe> becomes
# a /bin/sh launcher that runs it through lib/ld-linux-x86-64.so.2 with
# --inhibit-cache --library-path lib (the host's ld.so.cache and multiarch dirs are
# ignored, so only bundled libraries are used). Grafana executes <exe> as usual.
# Used by the repo's Dockerfile and checked by tests/monitoring/run.sh.
# Not: a static build, nor a fix for code that inspects /proc/self/exe.
set -eu
src=$1
out=$2
exe=gpx_algotrading_pnl_linux_amd64
[ -x "$src/$exe" ] || { echo "bundle.sh: $src/$exe missing or not executable" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/lib"
cp -R "$src"/. "$out"/
mv "$out/$exe" "$out/lib/$exe.bin"
# "libfoo.so => /path (addr)" lines plus the loader line "/lib64/ld-linux-x86-64.so.2 (addr)"
ldd "$src/$exe" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' |
while read -r so; do cp -L "$so" "$out/lib/"; done
[ -f "$out/lib/ld-linux-x86-64.so.2" ] || { echo "bundle.sh: loader not found by ldd" >&2; exit 1; }
cat > "$out/$exe" <<'LAUNCH'
#!/bin/sh
# Launcher written by deploy/k8s/plugin-image/bundle.sh: run the bundled binary with the bundled glibc.
d=$(cd "$(dirname "$0")" && pwd)
exec "$d/lib/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$d/lib" "$d/lib/gpx_algotrading_pnl_linux_amd64.bin" "$@"
LAUNCH
chmod 0755 "$out/$exe" "$out/lib/$exe.bin" "$out/lib/ld-linux-x86-64.so.2"
echo "bundle.sh: $out ($(ls "$out/lib" | wc -l) files in lib/)"
