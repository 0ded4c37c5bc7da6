#!/usr/bin/env bash
# Benchmarks (not tests): scratch extension scan vs per-key digest at 1 MiB
# to 8 GiB of order-0 preservations, tree memory per GiB, coverage, and
# time to init of plain and KHO boots (nothing, 1 GiB and 8 GiB preserved)
# for our kernel and stock 7.3, and the tracker memory of each.
# Then the blackout benchmark (tests/blackout.py): host-clock time from
# kexec -e to the successor's init and to every memfd page verified, ours
# against stock 7.3 with the same handover, nothing / 1 GiB / 8 GiB.
# Results: build/bench/{ext,boot,tracker,blackout}.csv,
# build/bench/{ext-scan,boot,blackout}.png.
#
#   scripts/bench.sh [--quick] [--boot-only]
#   scripts/bench.sh --blackout [--rounds N] [--only REGEX]   only the blackout benchmark
. "$(dirname "$0")/lib.sh"
need_pkgs qemu-system-x86 python3 busybox-static kexec-tools gnuplot-nox
tree=$("$TOP/scripts/mktree.sh" "$BUILD/linux")
"$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment"
up=$("$TOP/scripts/mk73.sh")
"$TOP/scripts/build-selftests.sh" "$tree" "$tree/.kho-out" "$BUILD/selftests"
# Both kernels again with deferred struct page init, for the blackout runs.
KHO_OUTDIR=.kho-out-deferred "$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment" \
	"$TOP/configs/deferred.fragment"
KHO_OUTDIR=.kho-out-deferred "$TOP/scripts/build-kernel.sh" "$BUILD/linux-7.3" "$TOP/configs/deferred.fragment"
# Ours with the KHO debug checks off (on in the others).
KHO_OUTDIR=.kho-out-nodebug "$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment" \
	"$TOP/configs/nodebug.fragment"
KHO_OUTDIR=.kho-out-deferred-nodebug "$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment" \
	"$TOP/configs/deferred.fragment" "$TOP/configs/nodebug.fragment"
bz=$tree/.kho-out/arch/x86/boot/bzImage
bzd=$tree/.kho-out-deferred/arch/x86/boot/bzImage
upd=$BUILD/linux-7.3/.kho-out-deferred/arch/x86/boot/bzImage
bzn=$tree/.kho-out-nodebug/arch/x86/boot/bzImage
bzdn=$tree/.kho-out-deferred-nodebug/arch/x86/boot/bzImage
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-bench.cpio.gz" "$bz" \
	v73="$up" ours-dsi="$bzd" v73-dsi="$upd" ours-nodebug="$bzn" \
	ours-dsi-nodebug="$bzdn" /selftests="$BUILD/selftests"
blackout=(python3 "$TOP/tests/blackout.py" --kernel "$bz" --upstream "$up" --kernel-deferred "$bzd"
	--upstream-deferred "$upd" --kernel-nodebug "$bzn" \
	--kernel-deferred-nodebug "$bzdn" --initrd "$BUILD/initrd-bench.cpio.gz" --out "$BUILD/bench")
if [ "${1:-}" = --blackout ]; then
	shift
	exec "${blackout[@]}" "$@"
fi
python3 "$TOP/tests/bench.py" --kernel "$tree/.kho-out/arch/x86/boot/bzImage" \
	--initrd "$BUILD/initrd-bench.cpio.gz" --upstream "$up" --out "$BUILD/bench" "$@"
"${blackout[@]}" $([ "${1:-}" = --quick ] && echo --rounds 1)
