#!/usr/bin/env bash
# Every test: build the series and the bare base, run KUnit and the VM scenarios.
# Ends with "N passed, N failed"; exits non-zero on any failure.
. "$(dirname "$0")/lib.sh"
# --full: also the scenarios kept out of the default run for time
# (tests/scenarios.py FULL_ONLY: among them those on the distribution-
# flavoured kernel and on arm64, both built only then), and every
# sanitizer scenario.
scope=default
[ "${1:-}" = --full ] && { scope=full; KHO_DEBUG=all; }
t0=$(date +%s)
need_pkgs qemu-system-x86 python3 busybox-static kexec-tools liburcu-dev

. "$TOP/scripts/build-kernels.sh"
# The sanitizer kernel is built at nice 19 while the VM scenarios run (a
# TCG guest keeps about one of the two cores busy): on an empty cache it
# is the longest build (17 minutes alone), and CI went over the hour
# (3713 s on 2026-12-06) with it in the foreground. The debug-* scenarios
# come last and wait for it, and so does the part of the static checks
# that compiles in its output directory (KHO_DEBUG_READY: the file its
# exit status goes to, one per run; KHO_DEBUG_PID: its process, in a
# session of its own, which a run that ends early takes with it).
log "step 4d/5: the sanitizer kernel (KASAN, UBSAN, lockdep: configs/debug.fragment), built in the background at nice 19 (log: $BUILD/debug-build.log)"
dbg=$tree/.kho-out-debug/arch/x86/boot/bzImage
rm -f "$BUILD"/debug-build*.rc "$BUILD"/debug-build*.rc.tmp
dbgrc=$BUILD/debug-build.$$.rc
setsid "$TOP/scripts/build-sanitizer.sh" "$tree" "$dbgrc" > "$BUILD/debug-build.log" 2>&1 &
dbgpid=$!
trap 'kill -TERM -- -"$dbgpid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
export KHO_DEBUG_READY=$dbgrc KHO_DEBUG_PID=$dbgpid
full=()
if [ "$scope" = full ]; then
	log "step 4e/5 (--full): the distribution-flavoured kernel (Debian's config: configs/distro.fragment)"
	"$TOP/scripts/build-distro.sh" "$tree"
	dk=$tree/.kho-out-distro
	"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-distro.cpio.gz" "$dk/arch/x86/boot/bzImage" \
		/selftests="$BUILD/selftests" /modules="$dk/modules"
	full=(--distro-kernel "$dk/arch/x86/boot/bzImage" --distro-initrd "$BUILD/initrd-distro.cpio.gz")
	log "step 4f/5 (--full): the series for arm64 (configs/arm64.fragment), cross-built"
	KHO_ARCH=arm64 "$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment"
	ak=$tree/.kho-out-arm64/arch/arm64/boot/Image
	KHO_ARCH=arm64 "$TOP/scripts/build-selftests.sh" "$tree" "$tree/.kho-out-arm64" "$BUILD/selftests-arm64"
	KHO_ARCH=arm64 "$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-arm64.cpio.gz" "$ak" \
		/selftests="$BUILD/selftests-arm64"
	full+=(--arm64-kernel "$ak" --arm64-initrd "$BUILD/initrd-arm64.cpio.gz")
	need_pkgs qemu-system-arm qemu-efi-aarch64
fi
log "step 5/5: KUnit and VM scenarios (QEMU ${KHO_ACCEL:-tcg})"
t5=$(date +%s)
rc=0
python3 "$TOP/tests/run.py" --kernel "$tree/.kho-out/arch/x86/boot/bzImage" --initrd "$BUILD/initrd.cpio.gz" \
	--base-kernel "$base/.kho-out/arch/x86/boot/bzImage" --base-initrd "$BUILD/initrd-base.cpio.gz" \
	--tree "$tree" --base-tree "$base" --upstream-kernel "$up" \
	--selftest-initrd "$BUILD/initrd-st.cpio.gz" --debug-kernel "$dbg" --debug-initrd "$BUILD/initrd-debug.cpio.gz" \
	--debug-ready "$dbgrc" --debug-pid "$dbgpid" \
	"${full[@]}" --debug-scope "${KHO_DEBUG:-ci}" --scope "$scope" --out "$BUILD/results" ${KHO_ONLY:+--only "$KHO_ONLY"} || rc=$?
# (run.py waited for the sanitizer kernel unless KHO_ONLY left out every
# debug-* scenario; the mutation run below builds in the same cores.)
wait "$dbgpid" || true
if [ "$(cat "$dbgrc" 2>/dev/null)" != 0 ]; then
	echo "the sanitizer kernel's build failed: $BUILD/debug-build.log"; rc=1
fi
if [ "$scope" = full ] && [ $rc -ne 0 ]; then
	echo "mutants: not run: the scenarios failed on the unmutated series, so a kill would prove nothing"
elif [ "$scope" = full ]; then
	# The mutation run: the scenarios above already passed on the
	# unmutated series, so no control run here. Its verdict is one more check.
	log "step 6 (--full): the mutation run (tests/mutants.txt)"
	mrc=0
	python3 "$TOP/tests/mutants.py" --tree "$tree" --no-control \
		--base-kernel "$base/.kho-out/arch/x86/boot/bzImage" --base-initrd "$BUILD/initrd-base.cpio.gz" \
		--upstream-kernel "$up" --selftests "$BUILD/selftests" --out "$BUILD/mutants" || mrc=$?
	[ $mrc -eq 0 ] || rc=1
	echo "mutants: $([ $mrc -eq 0 ] && echo 'every mutant killed' || echo 'FAILED (see the table above)')"
fi
log "builds before the checks took $(( t5 - t0 ))s, the checks $(( $(date +%s) - t5 ))s"
log "all tests finished in $(( $(date +%s) - t0 ))s"
exit $rc
