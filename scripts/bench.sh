#!/usr/bin/env bash
# Benchmarks (not tests): scratch extension scan vs per-key digest at 1 MiB
# to 8 GiB of order-0 preservations, tree memory per GiB, coverage, and
# time to init of plain and KHO boots for our kernel and stock 7.3.
# Results: build/bench/{ext,boot}.csv, build/bench/ext-scan.png.
#
#   scripts/bench.sh [--quick]
. "$(dirname "$0")/lib.sh"
need_pkgs qemu-system-x86 python3 busybox-static kexec-tools gnuplot-nox
tree=$("$TOP/scripts/mktree.sh" "$BUILD/linux")
"$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment"
up=$("$TOP/scripts/mk73.sh")
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-bench.cpio.gz" "$tree/.kho-out/arch/x86/boot/bzImage"
python3 "$TOP/tests/bench.py" --kernel "$tree/.kho-out/arch/x86/boot/bzImage" \
	--initrd "$BUILD/initrd-bench.cpio.gz" --upstream "$up" --out "$BUILD/bench" "$@"
