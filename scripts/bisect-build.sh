#!/usr/bin/env bash
# Build the tree at every patch of the series (bisectability), in a
# worktree of build/linux with its own output directory. Prints one line
# per patch: "BISECT ok|FAIL <n> <subject>".
#
#   scripts/bisect-build.sh [tree] [--fixes]
#
# --fixes: only the patches up to the last one with "Cc: stable" (the
# fixes to the base, which come first and are backported one by one);
# ./kho test runs that, ./kho test --full every patch. The last patch is
# the series kernel, which ./kho test builds anyway.
. "$(dirname "$0")/lib.sh"
tree=${1:-$BUILD/linux}
scope=${2:-all}
wt=$BUILD/linux-bisect
need_pkgs build-essential flex bison bc libelf-dev libssl-dev ccache lz4
worktree_at "$tree" "$wt"
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache} CCACHE_BASEDIR=$wt \
	KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kho KBUILD_BUILD_HOST=kho
MK=(make -C "$wt" O=.kho-out CC="ccache gcc" HOSTCC=gcc -j"$(nproc)" -s)
n=0; fails=0
mkdir -p "$wt/.kho-out"
git -C "$wt" checkout -q --detach kho-base
"${MK[@]}" tinyconfig >/dev/null 2>&1
commits=$(git -C "$tree" rev-list --reverse kho-base..HEAD)
# Every patch: the series test kernel's configuration (kho.fragment and
# kunit.fragment). The fixes alone: the bare base kernel's (kho.fragment),
# the configuration they are backported to. ./kho test has built the base
# kernel with it by then, so the first fix compiles only what it changes
# (ccache) instead of a whole kernel on a cold cache.
frags=("$TOP/configs/kho.fragment" "$TOP/configs/kunit.fragment")
if [ "$scope" = --fixes ]; then
	frags=("$TOP/configs/kho.fragment")
	lastfix=$(git -C "$tree" log -1 --format=%H -i --grep='^Cc: stable@vger.kernel.org' kho-base..HEAD)
	[ -n "$lastfix" ] || die "no patch with Cc: stable"
	commits=$(git -C "$tree" rev-list --reverse "kho-base..$lastfix")
fi
last=$(git -C "$tree" rev-parse HEAD)
# A C file a patch changes that this configuration does not build (fix 5's
# mm/memtest.c needs CONFIG_MEMTEST, fix 6's arch/x86/kernel/check.c
# CONFIG_X86_CHECK_BIOS_CORRUPTION: options only the sanitizer kernel
# has) is compiled alone under the sanitizer kernel's configuration, in
# .kho-out-extra, configured at the first such file and again after a
# Kconfig change.
XMK=(make -C "$wt" O=.kho-out-extra CC="ccache gcc" HOSTCC=gcc -j"$(nproc)" -s)
xcfg=""
extra=""
extra_objs() { # extra_objs <commit>: compile its files the build left out; sets $extra
	local c=$1 f o done=()
	extra=""
	for f in $(git -C "$tree" diff --name-only --diff-filter=d "$c^" "$c" -- '*.c' | grep -v '^tools/'); do
		o=${f%.c}.o
		# built by this build (an object left from an earlier configuration
		# is older than the stamp)
		[ "$wt/.kho-out/$o" -nt "$wt/.kho-out/.bisect-stamp" ] && continue
		if [ "$xcfg" != "$c" ] && { [ -z "$xcfg" ] || git -C "$tree" diff --name-only "$xcfg" "$c" | grep -q Kconfig; }; then
			mkdir -p "$wt/.kho-out-extra"
			"${XMK[@]}" tinyconfig >/dev/null 2>&1
			cat "${frags[@]}" "$TOP/configs/kunit.fragment" "$TOP/configs/debug.fragment" \
				>> "$wt/.kho-out-extra/.config"
			"${XMK[@]}" olddefconfig >/dev/null 2>&1
			xcfg=$c
		fi
		rm -f "$wt/.kho-out-extra/$o"
		"${XMK[@]}" "$o" >>"$BUILD/bisect-$n.log" 2>&1 && [ -f "$wt/.kho-out-extra/$o" ] || return 1
		done+=("$o")
	done
	[ ${#done[@]} -eq 0 ] || extra="; under the sanitizer config: ${done[*]}"
}
for c in $commits; do
	n=$((n + 1))
	subj=$(git -C "$tree" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	# Options a patch has not introduced yet are dropped by olddefconfig,
	# so the fragments go in again at the first patch and at every patch
	# that touches a Kconfig file.
	if [ "$n" = 1 ] || git -C "$tree" diff --name-only "$c^" "$c" | grep -q 'Kconfig'; then
		cat "${frags[@]}" >> "$wt/.kho-out/.config"
		"${MK[@]}" olddefconfig >/dev/null 2>&1
	fi
	# vmlinux is every object and the final link; no patch touches
	# arch/x86/boot, whose xz-compressed bzImage costs 7 s per patch, so
	# only the last patch builds the bzImage too.
	target=vmlinux
	[ "$c" = "$last" ] && target=bzImage
	t0=$(date +%s)
	touch "$wt/.kho-out/.bisect-stamp"
	if "${MK[@]}" $target >"$BUILD/bisect-$n.log" 2>&1 && extra_objs "$c"; then
		echo "BISECT ok $n $subj ($target$extra, $(( $(date +%s) - t0 ))s)"
	else
		echo "BISECT FAIL $n $subj (see build/bisect-$n.log)"
		fails=$((fails + 1))
	fi
done
exit $fails
