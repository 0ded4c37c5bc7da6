#!/usr/bin/env bash
# Fetch Debian's linux-source tarball for the series base (7.2, default) or the
# upstream yardstick (7.3), verified against the pinned SHA256 in scripts/versions.
# Prints the path of the cached tarball on stdout.
#
#   scripts/fetch-base.sh [7.2|7.3]
. "$(dirname "$0")/lib.sh"

series=${1:-7.2}
pkg=linux-source-$series
out=$CACHE/linux-source-$series.tar.xz
if [ -s "$out" ] && [ -s "$out.version" ]; then
	log "cached: $out ($(cat "$out.version"))"
	echo "$out"; exit 0
fi
deb=$(fetch_deb "$pkg" all) || exit 1
log "extracting the tarball of $(basename "$deb")"
tmp=$(mktemp -d "$CACHE/x.XXXXXX")
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "./usr/src/linux-source-*.tar.xz"
mv "$tmp"/usr/src/linux-source-*.tar.xz "$out"
rm -rf "$tmp"
ver=${deb##*/}; ver=${ver#"${pkg}_"}; echo "${ver%_all.deb}" > "$out.version"
echo "$out"
