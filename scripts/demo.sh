#!/usr/bin/env bash
# The live-update demo: build our kernel, boot a 6 GiB guest with KHO and
# gigantic pages and a LUO memfd (512 MiB, every byte checked in the next
# generation), hand over to a second generation with kexec, and report what
# was preserved and what came back. Exits non-zero if anything in the
# report did not hold.
. "$(dirname "$0")/lib.sh"
need_pkgs qemu-system-x86 python3 busybox-static kexec-tools
t0=$(date +%s)
log "step 1/4: base tarball and tree with the series"
tree=$("$TOP/scripts/mktree.sh" "$BUILD/linux")
log "step 2/4: build the kernel"
"$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment"
log "step 3/4: guest initramfs (with guest/luo-fill.c)"
"$TOP/scripts/build-selftests.sh" "$tree" "$tree/.kho-out" "$BUILD/selftests"
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-demo.cpio.gz" "$tree/.kho-out/arch/x86/boot/bzImage" \
	/selftests="$BUILD/selftests"
append=${KHO_DEMO_APPEND:-"kho=on hugepagesz=1G hugepages=2 hugepagesz=2M hugepages=64 kunit.enable=0"}
log "step 4/4: two generations in QEMU (TCG): $append"
mkdir -p "$BUILD/results"
python3 "$TOP/tests/report.py" --kernel "$tree/.kho-out/arch/x86/boot/bzImage" \
	--initrd "$BUILD/initrd-demo.cpio.gz" --append "$append" --mem 6G --gens 2 \
	--luo-mib "${KHO_DEMO_LUO_MIB:-512}" \
	--log "$BUILD/results/demo.log"
log "demo finished in $(( $(date +%s) - t0 ))s (console log: build/results/demo.log)"
