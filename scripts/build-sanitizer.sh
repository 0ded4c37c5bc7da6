#!/usr/bin/env bash
# Build the sanitizer kernel (configs/debug.fragment) and its initrd, and
# write the exit status to <status file> once done: ./kho test runs this
# at nice 19 in the background while the VM scenarios run.
#
#   scripts/build-sanitizer.sh <tree> <status file>
. "$(dirname "$0")/lib.sh"
tree=$1 rcf=$2
out=$tree/.kho-out-debug
set +e
(
	set -e
	# One build at a time in $out: a run killed outright (SIGKILL: no
	# trap) may leave its build behind; the next one waits for it.
	mkdir -p "$out"
	exec 9>"$out/.build.lock"
	flock 9
	KHO_OUTDIR=.kho-out-debug nice -n 19 "$TOP/scripts/build-kernel.sh" "$tree" \
		"$TOP/configs/kunit.fragment" "$TOP/configs/debug.fragment"
	"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-debug.cpio.gz" "$out/arch/x86/boot/bzImage" \
		/selftests="$BUILD/selftests"
)
rc=$?
echo "$rc" > "$rcf.tmp" && mv "$rcf.tmp" "$rcf"
exit $rc
