#!/usr/bin/env bash
# Kernel review checks on the series. Prints "CHECK ok|FAIL <what>: detail".
#  - checkpatch.pl --strict on every patch (exceptions: tests/checkpatch-allow)
#  - W=1 and C=1 (sparse) builds of the objects the series touches, series
#    against base: no new warnings in touched files
#  - scripts/kernel-doc -none on touched files: no new warnings
#
#   scripts/static-checks.sh <series tree> <base tree>
. "$(dirname "$0")/lib.sh"
tree=${1:?tree}; base=${2:?base tree}
need_pkgs perl
SPARSE=$("$TOP/scripts/get-sparse.sh" "$tree")
say() { echo "CHECK $*"; }
fails=0

# checkpatch, patch by patch
allow=$TOP/tests/checkpatch-allow
while read -r p; do
	case "$p" in ''|'#'*) continue;; esac
	out=$(perl "$tree/scripts/checkpatch.pl" --strict --no-tree -q --showfile "$TOP/patches/$p" 2>&1 |
		grep -E '(^|: )(ERROR|WARNING|CHECK):' || true)
	left=$(while IFS= read -r l; do
		[ -z "$l" ] && continue
		# <patch regex>|<message>: the message is what follows the last "|"
		grep -v '^#' "$allow" | while IFS= read -r entry; do
			pat=${entry%|*} msg=${entry##*|}
			if [ -n "$pat" ] && [[ "$p" =~ $pat ]] && [[ "$l" == *"$msg"* ]]; then
				echo allowed
			fi
		done | grep allowed > /dev/null || echo "$l"
	done <<< "$out")
	if [ -z "$left" ]; then say ok "checkpatch --strict $p"
	else say FAIL "checkpatch --strict $p: $(echo "$left" | head -3 | tr '\n' ' ')"; fails=$((fails + 1)); fi
done < "$TOP/patches/series"

# Files the series touches
files=$(git -C "$tree" diff --name-only --diff-filter=d kho-base..HEAD -- '*.c' '*.h' | grep -v '^tools/' || true)
objs=$(echo "$files" | grep '\.c$' | sed 's/\.c$/.o/' | tr '\n' ' ')

# W=1 C=1 builds of the touched objects, series and base, with the same config
# Only objects the test config builds (an object whose option is off, such
# as mm/memtest.o, does not compile there); those go through the sanitizer
# kernel's config below, if it builds them.
built=() other=()
for obj in $objs; do
	if [ -f "$tree/.kho-out/$obj" ]; then built+=("$obj"); else other+=("$obj"); fi
done
wlog() { # wlog <tree> <out>
	local t=$1 o=$2 obj ok=()
	for obj in "${built[@]}"; do [ -f "$t/${obj%.o}.c" ] && ok+=("$obj"); done
	mkdir -p "$t/.kho-out"
	make -C "$t" O=.kho-out -s -j"$(nproc)" CC=gcc HOSTCC=gcc W=1 C=1 CHECK="$SPARSE" \
		"${ok[@]}" > "$o" 2>&1 || true
}
for t in "$tree" "$base"; do [ -f "$t/.kho-out/.config" ] || die "$t is not configured (build it first)"; done
for obj in "${other[@]}"; do
	f=${obj%.o}.c
	if [ ! -f "$tree/.kho-out-debug/$obj" ]; then
		say FAIL "W=1 C=1 $f: built by neither the test nor the sanitizer config"; fails=$((fails + 1))
		continue
	fi
	rm -f "$tree/.kho-out-debug/$obj"
	out=$(make -C "$tree" O=.kho-out-debug -s CC=gcc HOSTCC=gcc W=1 C=1 CHECK="$SPARSE" "$obj" 2>&1 |
		grep -E "(warning|error):" | grep -F "$f:" || true)
	if [ -z "$out" ]; then say ok "W=1 C=1 $f (sanitizer config, no warning at all)"
	else say FAIL "W=1 C=1 $f (sanitizer config): $(echo "$out" | head -2 | tr '\n' ' ')"; fails=$((fails + 1)); fi
done
allfiles=$files
files=$(for f in $files; do case " ${other[*]} " in *" ${f%.c}.o "*) ;; *) echo "$f";; esac; done)
# C=1 checks only what gets compiled: touch the objects so they are rebuilt.
for t in "$tree" "$base"; do for o in "${built[@]}"; do rm -f "$t/.kho-out/$o"; done; done
wlog "$tree" "$BUILD/w1-series.log"; wlog "$base" "$BUILD/w1-base.log"
norm() { grep -E '(warning|error):' "$1" | sed -E 's/^(\.\.\/)?//; s/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/' | sort | uniq -c | sort; }
for f in $files; do
	new=$(diff <(norm "$BUILD/w1-base.log" | grep -F " $f:" || true) \
		   <(norm "$BUILD/w1-series.log" | grep -F " $f:" || true) | grep '^>' || true)
	if [ -z "$new" ]; then say ok "W=1 C=1 $f"
	else say FAIL "W=1 C=1 $f: $(echo "$new" | head -2 | tr '\n' ' ')"; fails=$((fails + 1)); fi
done
grep -q 'error:' "$BUILD/w1-series.log" && { say FAIL "W=1 C=1 build: errors (build/w1-series.log)"; fails=$((fails + 1)); }
if grep -q 'not available or not up to date' "$BUILD/w1-series.log"; then
	say FAIL "C=1: sparse did not run"; fails=$((fails + 1))
else
	say ok "C=1: sparse ran ($("$SPARSE" --version 2>&1))"
fi

# kernel-doc
for f in $allfiles; do
	s=$(cd "$tree" && perl scripts/kernel-doc -none -Wall "$f" 2>&1 | sed -E 's/:[0-9]+( |:)/:\1/' | sort || true)
	b=""
	[ -f "$base/$f" ] && b=$(cd "$base" && perl scripts/kernel-doc -none -Wall "$f" 2>&1 | sed -E 's/:[0-9]+( |:)/:\1/' | sort || true)
	new=$(diff <(echo "$b") <(echo "$s") | grep '^>' | grep -v '^> $' || true)
	if [ -z "$new" ]; then say ok "kernel-doc $f"
	else say FAIL "kernel-doc $f: $(echo "$new" | head -2 | tr '\n' ' ')"; fails=$((fails + 1)); fi
done
exit $fails
