#!/usr/bin/env bash
# Every patch of the series under distribution and odd configs: at each
# patch, the C files that patch touches are compiled with W=1 and sparse
# (C=1); a warning in a touched file that the base does not have is a
# failure, and so is an error. Prints one line per config and patch:
# "MATRIX ok|FAIL <config> <n> <subject>: detail".
#
#   debian        Debian's amd64 config of the base (./kho fetch config) with
#                 the series on: configs/distro.fragment (KHO, its debugfs,
#                 LUO with memfd, the test-only options, and the benchmark
#                 knob); Debian's modules stay modules
#   kho-off       the same with KEXEC_HANDOVER=n
#   hugetlb-off   HUGETLBFS=n (so HUGETLB_PAGE=n)
#   numa-off      NUMA=n
#   cma-off       CMA=n; KHO selects CMA, so KHO is off too
#   deferred-off  DEFERRED_STRUCT_PAGE_INIT=n (Debian has it on)
#   arm64         arm64 defconfig with configs/distro.fragment, cross-built
#                 with Debian's gcc-aarch64-linux-gnu
#
#   scripts/config-matrix.sh [tree] [config...]      (default: all of them)
. "$(dirname "$0")/lib.sh"
tree=$(cd "${1:-$BUILD/linux}" && pwd); shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(debian kho-off hugetlb-off numa-off cma-off deferred-off arm64)
need_pkgs build-essential flex bison bc libelf-dev libssl-dev ccache gcc-aarch64-linux-gnu lz4
SPARSE=$("$TOP/scripts/get-sparse.sh" "$tree")
deb=$("$TOP/scripts/fetch-config.sh" amd64)
wt=$BUILD/linux-matrix
worktree_at "$tree" "$wt"
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G} CCACHE_BASEDIR=$wt \
	KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kho KBUILD_BUILD_HOST=kho
fails=0
say() { echo "MATRIX $*"; [ "$1" = ok ] || fails=$((fails + 1)); }

# The lines a config adds after configs/distro.fragment, and must keep.
variant() {
	case $1 in
	debian|arm64) ;;
	kho-off)      echo "CONFIG_KEXEC_HANDOVER=n";;
	hugetlb-off)  printf '%s\n' CONFIG_HUGETLBFS=n CONFIG_HUGETLB_PAGE=n;;
	numa-off)     echo "CONFIG_NUMA=n";;
	cma-off)      printf '%s\n' CONFIG_KEXEC_HANDOVER=n CONFIG_DMA_CMA=n CONFIG_CMA=n;;
	deferred-off) echo "CONFIG_DEFERRED_STRUCT_PAGE_INIT=n";;
	*)            die "unknown config $1";;
	esac
}
configure() { # configure <config> <out>: base config + fragments, olddefconfig
	local c=$1 o=$2
	if [ "$c" = arm64 ]; then "${MK[@]}" defconfig >/dev/null; else cp "$deb" "$o/.config"; fi
	# the benchmark knob too, the one test-only option the distro kernel lacks
	{ cat "$TOP/configs/distro.fragment"; echo CONFIG_KEXEC_HANDOVER_BENCH=y; variant "$c"; } >> "$o/.config"
	"${MK[@]}" olddefconfig >/dev/null 2>&1
}
held() { # held <config> <out>: the variant's own lines survived olddefconfig
	local line bad=""
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		grep -qx "${line%=n}=[ym]" "$2/.config" && bad="$bad ${line%=n}"
	done < <(variant "$1")
	echo "$bad"
}
norm() { grep -E '(warning|error):' | sed -E 's/^(\.\.\/)?//; s/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/' | sort -u; }
verdict() { # verdict <what> <detail if ok> <log> <files...>: a MATRIX line
	local what=$1 detail=$2 log=$3 new errs; shift 3
	new=$(norm < "$log" | comm -13 "$out/base-warnings" - | grep -F -f <(printf '%s:\n' "$@") || true)
	errs=$(grep -E 'error:|Error [0-9]' "$log" | head -2 || true)
	if [ -z "$new" ] && [ -z "$errs" ]; then
		say ok "$what: $detail"
	else
		say FAIL "$what: $(printf '%s\n' "$errs" "$new" | grep . | head -2 | tr '\n' ' ')(see ${log#"$BUILD"/})"
	fi
}
compile() { # compile <objs...>: W=1 C=1, output on stdout
	local o
	for o in "$@"; do rm -f "$out/$o"; done
	"${MK[@]}" W=1 C=1 CHECK="$SPARSE" "$@" 2>&1 || true
}

commits=$(git -C "$tree" rev-list --reverse kho-base..HEAD)
for c in "${configs[@]}"; do
	out=$wt/.kho-matrix-$c
	mkdir -p "$out"
	cc=gcc arch=x86_64 cross=""
	[ "$c" = arm64 ] && cc=aarch64-linux-gnu-gcc arch=arm64 cross=aarch64-linux-gnu-
	MK=(make -C "$wt" O="$out" ARCH=$arch CROSS_COMPILE=$cross CC="ccache $cc" HOSTCC=gcc -j"$(nproc)" -s)
	t0=$(date +%s)
	git -C "$wt" checkout -q --detach kho-base
	configure "$c" "$out"
	bad=$(held "$c" "$out")
	if [ -n "$bad" ]; then say FAIL "$c 0 config: still on:$bad"; continue; fi
	"${MK[@]}" prepare >/dev/null 2>&1 || { say FAIL "$c 0 make prepare failed at the base"; continue; }
	# Warnings of the base in every file the series touches that exists there.
	files=$(git -C "$tree" diff --name-only --diff-filter=d kho-base..HEAD -- '*.c' | grep -v '^tools/' || true)
	# shellcheck disable=SC2046
	bobjs=$(python3 "$TOP/scripts/kbuild-built.py" "$wt" "$out/.config" \
		$(for f in $files; do [ -f "$wt/$f" ] && echo "${f%.c}.o"; done))
	# shellcheck disable=SC2086
	compile $bobjs | norm > "$out/base-warnings"
	n=0
	for commit in $commits; do
		n=$((n + 1))
		subj=$(git -C "$tree" log -1 --format=%s "$commit")
		git -C "$wt" checkout -q --detach "$commit"
		configure "$c" "$out"
		touched=$(git -C "$tree" diff-tree --no-commit-id --name-only -r --diff-filter=d "$commit" -- '*.c' |
			grep -v '^tools/' || true)
		# no C file: nothing to compile, no line (an n/a line says that
		# C files were there and none is built under this config)
		[ -n "$touched" ] || continue
		# only what this config builds (make dir/file.o would compile any file)
		objs=() skipped=()
		on=" $(python3 "$TOP/scripts/kbuild-built.py" "$wt" "$out/.config" \
			$(for f in $touched; do echo "${f%.c}.o"; done) | tr '\n' ' ') "
		for f in $touched; do
			case "$on" in *" ${f%.c}.o "*) objs+=("${f%.c}.o");; *) skipped+=("$f");; esac
		done
		if [ ${#objs[@]} -eq 0 ]; then
			# not a check: nothing was compiled, so nothing is claimed
			echo "MATRIX n/a $c $n $subj: nothing it touches is built here${skipped:+ (${skipped[*]})}"
			continue
		fi
		log=$out/patch-$n.log
		compile "${objs[@]}" > "$log"
		# shellcheck disable=SC2086
		verdict "$c $n $subj" "${#objs[@]} objects${skipped:+, not built here: ${skipped[*]}}" "$log" $touched
	done
	# At the last patch, every C file the series touches, not only the last
	# patch's: a file an earlier patch broke for this config stays broken.
	all=$(git -C "$tree" diff --name-only --diff-filter=d kho-base..HEAD -- '*.c' | grep -v '^tools/' || true)
	# shellcheck disable=SC2046
	objs=($(python3 "$TOP/scripts/kbuild-built.py" "$wt" "$out/.config" \
		$(for f in $all; do echo "${f%.c}.o"; done)))
	compile "${objs[@]}" > "$out/series.log"
	# shellcheck disable=SC2086
	verdict "$c series" "${#objs[@]} objects the series touches, at its last patch" "$out/series.log" $all
	log "config $c: $n patches in $(( $(date +%s) - t0 ))s"
done
git -C "$wt" checkout -q --detach kho-base
exit $fails
