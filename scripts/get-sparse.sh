#!/usr/bin/env bash
# Print the path of a sparse that the kernel's scripts/checker-valid.sh
# accepts. Bookworm's sparse (0.6.4) is too old for 7.2 (__typeof_unqual__):
# then build Debian unstable's sparse source package (about 5 s), cached.
#
#   scripts/get-sparse.sh <kernel tree>
. "$(dirname "$0")/lib.sh"
tree=${1:?kernel tree}
valid() { [ "$(sh "$tree/scripts/checker-valid.sh" "$1" -m64 2>/dev/null)" = 1 ]; }
need_pkgs sparse build-essential
if valid "$(command -v sparse)"; then command -v sparse; exit 0; fi
out=$CACHE/sparse/sparse
if [ -x "$out" ] && valid "$out"; then echo "$out"; exit 0; fi
A=$CACHE/apt
mkdir -p "$A/lists-src/partial" "$CACHE/sparse"
echo 'deb-src [trusted=yes check-valid-until=no] http://deb.debian.org/debian unstable main' > "$A/sources-src.list"
APT=(apt-get -q -o Dir::Etc::sourcelist="$A/sources-src.list" -o Dir::Etc::sourceparts=-
     -o Dir::State::Lists="$A/lists-src" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
     -o APT::Sandbox::User=root -o Acquire::Languages=none)
log "building sparse from Debian unstable's source package"
tmp=$(mktemp -d)
( cd "$tmp" && "${APT[@]}" update >/dev/null 2>&1 && "${APT[@]}" source --download-only sparse >/dev/null 2>&1 &&
  tar xf sparse_*.orig.tar.* && cd sparse-*/ && make -s -j"$(nproc)" sparse >/dev/null 2>&1 &&
  cp sparse "$out" ) || { rm -rf "$tmp"; die "could not build a recent sparse"; }
rm -rf "$tmp"
valid "$out" || die "built sparse is not accepted by checker-valid.sh"
echo "$out"
