# Common settings for the KHO series harness. Sourced, not executed.
# shellcheck shell=bash
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KHO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kho-series}
BUILD=${KHO_BUILD:-$TOP/build}
mkdir -p "$CACHE" "$BUILD"

log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Install Debian packages that are missing (we are root on CI and dev boxes).
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	# tests/run.py runs build-only scenarios in the background while
	# others run, and both may install: one apt at a time, the other
	# waits here instead of failing on apt's lock.
	(
		flock 9
		if [ ! -f "$CACHE/.apt-updated" ] || [ -n "$(find "$CACHE/.apt-updated" -mmin +720 2>/dev/null)" ]; then
			$sudo apt-get update -qq >&2 || true
			touch "$CACHE/.apt-updated"
		fi
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	) 9>"$CACHE/.apt.lock" || die "apt-get install failed for: ${missing[*]}"
}

# Versions are pinned in scripts/versions: "<pkg> <version> <suite> <sha256>".
pinned_versions() {
	awk -v p="$1" '$1 == p { print $2, $3, $4 }' "$TOP/scripts/versions"
}

# fetch_deb <pkg> <arch>: download the first version of <pkg> pinned in
# scripts/versions (for <arch>: all, amd64, arm64) whose .deb matches its
# checksum, through a private apt configuration (the machine's own sources
# stay untouched; the archive signature is not relied on, the pinned
# checksum is the anchor). Prints the path of the verified .deb.
fetch_deb() {
	local pkg=$1 arch=$2 apt_dir=$CACHE/apt ver suite sum deb got f tried=()
	[ -n "$(pinned_versions "$pkg:$arch")" ] || die "no pinned versions for $pkg:$arch in scripts/versions"
	need_pkgs ca-certificates xz-utils
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs"
	cat > "$apt_dir/sources.list" <<SRC
deb [trusted=yes check-valid-until=no] http://deb.debian.org/debian unstable main
deb [trusted=yes check-valid-until=no] http://deb.debian.org/debian trixie-backports main
deb [trusted=yes check-valid-until=no] http://deb.debian.org/debian trixie main
SRC
	local APT=(apt-get -q -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
		-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::archives="$apt_dir/archives"
		-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" -o APT::Get::List-Cleanup=0
		-o Acquire::Languages=none -o APT::Sandbox::User=root
		-o APT::Architectures::=amd64 -o APT::Architectures::=arm64)
	if [ -z "$(find "$apt_dir/lists" -name '*binary-arm64_Packages*' -mmin -720 2>/dev/null | head -1)" ]; then
		log "updating private apt lists (unstable, trixie, trixie-backports; amd64, arm64)"
		"${APT[@]}" update >&2 || log "apt-get update reported errors; trying what we have"
	fi
	while read -r ver suite sum; do
		deb=$apt_dir/debs/${pkg}_${ver}_${arch}.deb
		if [ ! -s "$deb" ]; then
			log "downloading $pkg:$arch=$ver ($suite)"
			local want="$pkg:$arch=$ver"
			[ "$arch" = all ] && want="$pkg=$ver"
			(cd "$apt_dir/debs" && "${APT[@]}" download "$want" >&2) || {
				tried+=("$ver ($suite): not available"); continue; }
			f=$(ls "$apt_dir/debs/${pkg}_"*"${ver#*:}"*_"$arch".deb 2>/dev/null | head -1)
			[ -n "$f" ] && [ "$f" != "$deb" ] && mv "$f" "$deb"
		fi
		got=$(sha256sum "$deb" | cut -d' ' -f1)
		if [ "$got" != "$sum" ]; then
			tried+=("$ver ($suite): checksum $got, expected $sum")
			rm -f "$deb"; continue
		fi
		log "verified $pkg:$arch $ver sha256 $sum"
		echo "$deb"; return 0
	done < <(pinned_versions "$pkg:$arch")
	printf 'ERROR: could not fetch %s:%s. Tried:\n' "$pkg" "$arch" >&2
	printf '  %s\n' "${tried[@]}" >&2
	return 1
}

# check_fragments <.config> <fragment...>: every line of the fragments holds
# in the config after olddefconfig ("=n": the option is off); where two
# fragments set one option, the later one counts, as in the config. Prints
# what does not hold; returns non-zero then.
check_fragments() {
	local cfg=$1 line opt bad=0; shift
	local -A last=()
	while IFS= read -r line; do
		case "$line" in ''|'#'*) continue;; esac
		last[${line%%=*}]=$line
	done < <(cat "$@")
	for opt in "${!last[@]}"; do
		line=${last[$opt]}
		if [ "${line#*=}" = n ]; then
			grep -qx "$opt=[ym]" "$cfg" && { echo "config: $opt should be off but is on" >&2; bad=1; }
		else
			grep -qxF "$line" "$cfg" || { echo "config: $line did not survive olddefconfig (got: $(grep "^$opt=\|# $opt is" "$cfg" || echo missing))" >&2; bad=1; }
		fi
	done
	return $bad
}

# worktree_at <tree> <dir>: <dir> as a detached worktree of <tree> at
# kho-base, made anew if it is missing or belongs to another repository.
worktree_at() {
	local tree=$1 wt=$2
	if ! git -C "$wt" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
	   [ "$(git -C "$wt" rev-parse --git-common-dir 2>/dev/null)" != "$(git -C "$tree" rev-parse --path-format=absolute --git-common-dir)" ]; then
		rm -rf "$wt"
		git -C "$tree" worktree prune
		git -C "$tree" worktree add -q --detach "$wt" kho-base
	fi
}
