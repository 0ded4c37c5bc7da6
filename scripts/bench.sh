#!/usr/bin/env bash
# Benchmarks (not tests): scratch extension scan vs per-key digest at 1 MiB
# to 8 GiB of order-0 preservations, tree memory per GiB, coverage, and
# time to init of plain and KHO boots (nothing, 1 GiB and 8 GiB preserved)
# for our kernel and stock 7.3, and the tracker memory of each.
# Results: build/bench/{ext,boot,tracker}.csv, build/bench/{ext-scan,boot}.png.
#
#   scripts/bench.sh [--quick] [--boot-only]
. "$(dirname "$0")/lib.sh"
need_pkgs qemu-system-x86 python3 busybox-static kexec-tools gnuplot-nox
tree=$("$TOP/scripts/mktree.sh" "$BUILD/linux")
"$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment"
up=$("$TOP/scripts/mk73.sh")
"$TOP/scripts/build-selftests.sh" "$tree" "$tree/.kho-out" "$BUILD/selftests"
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-bench.cpio.gz" "$tree/.kho-out/arch/x86/boot/bzImage" \
	v73="$up" /selftests="$BUILD/selftests"
python3 "$TOP/tests/bench.py" --kernel "$tree/.kho-out/arch/x86/boot/bzImage" \
	--initrd "$BUILD/initrd-bench.cpio.gz" --upstream "$up" --out "$BUILD/bench" "$@"
