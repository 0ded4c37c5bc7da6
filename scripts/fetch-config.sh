#!/usr/bin/env bash
# Fetch Debian's kernel config for the base (package linux-config-7.2 at the
# version pinned in scripts/versions, checksum verified) for amd64 (default)
# or arm64. Prints the path of the cached, uncompressed config on stdout.
#
#   scripts/fetch-config.sh [amd64|arm64]
. "$(dirname "$0")/lib.sh"

arch=${1:-amd64}
case "$arch" in amd64|arm64) ;; *) die "usage: $0 [amd64|arm64]";; esac
pkg=linux-config-7.2
out=$CACHE/debian-config-7.2.$arch
if [ -s "$out" ] && [ -s "$out.version" ]; then
	log "cached: $out ($(cat "$out.version"))"
	echo "$out"; exit 0
fi
deb=$(fetch_deb "$pkg" "$arch") || exit 1
tmp=$(mktemp -d "$CACHE/x.XXXXXX")
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./usr/src/$pkg/config.${arch}_none_${arch}.xz"
xz -dc "$tmp/usr/src/$pkg/config.${arch}_none_${arch}.xz" > "$out.tmp"
rm -rf "$tmp"
grep -q '^CONFIG_64BIT=y' "$out.tmp" || die "$deb: no 64-bit config inside"
mv "$out.tmp" "$out"
ver=${deb##*/}; ver=${ver#"${pkg}_"}; echo "${ver%_"$arch".deb}" > "$out.version"
log "Debian's $arch config $(cat "$out.version"): $out"
echo "$out"
