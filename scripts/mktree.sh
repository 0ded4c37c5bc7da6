#!/usr/bin/env bash
# Make a git tree of the base with the series applied: one commit for the
# base (tagged kho-base), then one commit per patch in patches/series (git am).
#
#   scripts/mktree.sh [--base-only] [--upto N] [dir]   (default dir: build/linux)
# A patch that does not apply fails loudly with its name.
. "$(dirname "$0")/lib.sh"

base_only=0; upto=
while [ $# -gt 0 ]; do
	case "$1" in
	--base-only) base_only=1; shift;;
	--upto) upto=$2; shift 2;;
	*) break;;
	esac
done
dir=${1:-$BUILD/linux}
need_pkgs git xz-utils
tarball=$("$TOP/scripts/fetch-base.sh" 7.2)
ver=$(cat "$tarball.version")

if [ ! -d "$dir/.git" ] || ! git -C "$dir" rev-parse -q --verify kho-base >/dev/null ||
   [ "$(git -C "$dir" config kho.baseversion)" != "$ver" ]; then
	log "unpacking linux-source-7.2 $ver into $dir"
	rm -rf "$dir"; mkdir -p "$dir"
	tar -xf "$tarball" -C "$dir" --strip-components=1
	git -C "$dir" init -q -b main
	git -C "$dir" config user.name "KHO series harness"
	git -C "$dir" config user.email "kho-harness@localhost"
	git -C "$dir" config kho.baseversion "$ver"
	git -C "$dir" config gc.auto 0
	# Debian's .gitignore ignores the whole top level: add by force (a clean
	# source tarball has no build products).
	log "committing base tree (this takes a minute)"
	git -C "$dir" add -A -f .
	# Fixed identity and dates: the base commit has the same hash everywhere,
	# so base-commit: in the cover letter means the same thing to everyone.
	GIT_AUTHOR_NAME=Debian GIT_AUTHOR_EMAIL=debian-kernel@lists.debian.org \
	GIT_COMMITTER_NAME=Debian GIT_COMMITTER_EMAIL=debian-kernel@lists.debian.org \
	GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
		git -C "$dir" commit -q -m "Debian linux-source-7.2 $ver"
	git -C "$dir" tag kho-base
else
	log "resetting $dir to kho-base"
	git -C "$dir" am --abort >/dev/null 2>&1 || true
	git -C "$dir" checkout -q -f main
	git -C "$dir" reset -q --hard kho-base
	git -C "$dir" clean -q -fdx -e '/.kho-out*/'
fi
[ $base_only -eq 1 ] && { echo "$dir"; exit 0; }

n=0
while read -r p; do
	case "$p" in ''|'#'*) continue;; esac
	n=$((n + 1))
	[ -n "$upto" ] && [ $n -gt "$upto" ] && break
	[ -f "$TOP/patches/$p" ] || die "patches/series names $p, which does not exist"
	if ! git -C "$dir" am -q --whitespace=nowarn "$TOP/patches/$p" >&2; then
		git -C "$dir" am --abort >/dev/null 2>&1 || true
		die "patch $p does not apply to linux-source-7.2 $ver"
	fi
done < "$TOP/patches/series"
log "applied $n patches on kho-base in $dir"
echo "$dir"
