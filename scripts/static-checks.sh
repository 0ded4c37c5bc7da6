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

# checkpatch, patch by patch. Its exit status counts: non-zero with no
# report line left after the exceptions is a failure too (checkpatch did
# not run, or reported in a form not parsed here). Prints the verdict.
allow=$TOP/tests/checkpatch-allow
checkpatch_verdict() { # checkpatch_verdict <label> <patch file>
	local label=$1 f=$2 out rc=0 left accepted l entry pat msg hit
	out=$(perl "$tree/scripts/checkpatch.pl" --strict --no-tree -q --showfile "$f" 2>&1) || rc=$?
	left="" accepted=""
	while IFS= read -r l; do
		hit=""
		while IFS= read -r entry; do
			# <patch regex>|<message>: the message is what follows the last "|"
			pat=${entry%|*} msg=${entry##*|}
			if [ -n "$pat" ] && [[ "$label" =~ $pat ]] && [[ "$l" == *"$msg"* ]]; then hit=$msg; break; fi
		done < <(grep -v '^#' "$allow")
		if [ -n "$hit" ]; then accepted="$accepted; $hit"; else left="$left$l"$'\n'; fi
	done < <(printf '%s\n' "$out" | grep -E '(^|: )(ERROR|WARNING|CHECK):' || true)
	if [ -n "$left" ]; then
		say FAIL "checkpatch --strict $label: exit $rc: $(printf '%s' "$left" | head -3 | tr '\n' ' ')"
		return 1
	elif [ $rc -ne 0 ] && [ -z "$accepted" ]; then
		say FAIL "checkpatch --strict $label: exit $rc with no report line: $(printf '%s' "$out" | tail -2 | tr '\n' ' ')"
		return 1
	fi
	say ok "checkpatch --strict $label${accepted:+ (exit $rc; accepted, see tests/checkpatch-allow:${accepted#;})}"
}
while read -r p; do
	case "$p" in ''|'#'*) continue;; esac
	checkpatch_verdict "$p" "$TOP/patches/$p" || fails=$((fails + 1))
done < "$TOP/patches/series"
# Control: the same verdict on a copy of the first patch with a line of
# trailing white space added must be a FAIL, or the checks above prove
# nothing.
# (no pipe into head: head may close it before the writer has written,
# and with pipefail the writer's SIGPIPE, exit 141, ends the script)
first=$(awk '!/^#/ && NF { print; exit }' "$TOP/patches/series")
ctl=$(mktemp --suffix=.patch)
awk '!done && /^\+[^+]/ { print $0 "  "; done = 1; next } { print }' "$TOP/patches/$first" > "$ctl"
if (checkpatch_verdict "control-$first" "$ctl" >/dev/null); then
	say FAIL "checkpatch control: a patch with trailing white space passed"; fails=$((fails + 1))
else
	say ok "checkpatch control: a copy of $first with trailing white space fails"
fi
rm -f "$ctl"

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
# The builds go to a copy of the test configuration, .kho-out-static:
# tests/run.py runs these checks in the background next to the VM
# scenarios, some of which run make in .kho-out (headers_install).
wlog() { # wlog <tree> <out>
	local t=$1 o=$2 obj ok=()
	for obj in "${built[@]}"; do [ -f "$t/${obj%.o}.c" ] && ok+=("$obj"); done
	mkdir -p "$t/.kho-out-static"
	cmp -s "$t/.kho-out/.config" "$t/.kho-out-static/.config" ||
		cp "$t/.kho-out/.config" "$t/.kho-out-static/.config"
	make -C "$t" O=.kho-out-static -s CC=gcc HOSTCC=gcc olddefconfig > /dev/null 2>&1 || true
	make -C "$t" O=.kho-out-static -s -j"$(nproc)" CC=gcc HOSTCC=gcc W=1 C=1 CHECK="$SPARSE" \
		"${ok[@]}" > "$o" 2>&1 || true
}
for t in "$tree" "$base"; do [ -f "$t/.kho-out/.config" ] || die "$t is not configured (build it first)"; done
allfiles=$files
files=$(for f in $files; do case " ${other[*]} " in *" ${f%.c}.o "*) ;; *) echo "$f";; esac; done)
# C=1 checks only what gets compiled: touch the objects so they are rebuilt.
for t in "$tree" "$base"; do for o in "${built[@]}"; do rm -f "$t/.kho-out-static/$o"; done; done
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
# Objects only the sanitizer kernel's config builds, in its output
# directory: ./kho test builds that kernel in the background while this
# runs (KHO_DEBUG_READY: the file its build writes its exit status to;
# KHO_DEBUG_PID: the build's process), so wait for it to end first
# (scripts/wait-sanitizer.sh, as tests/run.py does).
if [ ${#other[@]} -gt 0 ] && ! why=$("$TOP/scripts/wait-sanitizer.sh"); then
	for obj in "${other[@]}"; do
		say FAIL "W=1 C=1 ${obj%.o}.c: the sanitizer kernel is not built: $why"; fails=$((fails + 1))
	done
	other=()
fi
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
exit $fails
