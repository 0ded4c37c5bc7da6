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
	if [ ! -f "$CACHE/.apt-updated" ] || [ -n "$(find "$CACHE/.apt-updated" -mmin +720 2>/dev/null)" ]; then
		$sudo apt-get update -qq >&2 || true
		touch "$CACHE/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install failed for: ${missing[*]}"
}

# Versions are pinned in scripts/versions: "<pkg> <version> <suite> <sha256>".
pinned_versions() {
	awk -v p="$1" '$1 == p { print $2, $3, $4 }' "$TOP/scripts/versions"
}
