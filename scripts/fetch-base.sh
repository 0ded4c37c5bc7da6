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
[ -n "$(pinned_versions "$pkg")" ] || die "no pinned versions for $pkg in scripts/versions"
need_pkgs ca-certificates xz-utils

# A private apt configuration: the machine's own sources stay untouched. The
# archive signature is not relied on: the pinned .deb checksum is the anchor.
apt_dir=$CACHE/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs"
cat > "$apt_dir/sources.list" <<SRC
deb [trusted=yes check-valid-until=no] http://deb.debian.org/debian unstable main
deb [trusted=yes check-valid-until=no] http://deb.debian.org/debian trixie-backports main
SRC
APT=(apt-get -q -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
     -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::archives="$apt_dir/archives"
     -o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" -o APT::Get::List-Cleanup=0
     -o Acquire::Languages=none -o APT::Sandbox::User=root)
if [ -z "$(find "$apt_dir/lists" -name '*Packages*' -mmin -720 2>/dev/null | head -1)" ]; then
	log "updating private apt lists (unstable, trixie-backports)"
	"${APT[@]}" update >&2 || log "apt-get update reported errors; trying what we have"
fi

tried=()
while read -r ver suite sum; do
	deb=$apt_dir/debs/${pkg}_${ver}_all.deb
	if [ ! -s "$deb" ]; then
		log "downloading $pkg=$ver ($suite)"
		(cd "$apt_dir/debs" && "${APT[@]}" download "$pkg=$ver" >&2) || {
			tried+=("$ver ($suite): not available"); continue; }
		f=$(ls "$apt_dir/debs/${pkg}_"*"${ver#*:}"*_all.deb 2>/dev/null | head -1)
		[ -n "$f" ] && [ "$f" != "$deb" ] && mv "$f" "$deb"
	fi
	got=$(sha256sum "$deb" | cut -d' ' -f1)
	if [ "$got" != "$sum" ]; then
		tried+=("$ver ($suite): checksum $got, expected $sum")
		rm -f "$deb"; continue
	fi
	log "verified $pkg $ver sha256 $sum; extracting tarball"
	tmp=$(mktemp -d "$CACHE/x.XXXXXX")
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "./usr/src/linux-source-*.tar.xz"
	mv "$tmp"/usr/src/linux-source-*.tar.xz "$out"
	rm -rf "$tmp"
	echo "$ver" > "$out.version"
	echo "$out"; exit 0
done < <(pinned_versions "$pkg")

printf 'ERROR: could not fetch %s. Tried:\n' "$pkg" >&2
printf '  %s\n' "${tried[@]}" >&2
exit 1
