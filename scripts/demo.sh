#!/usr/bin/env bash
# The live-update demo: build our kernel, boot an 8 GiB guest with KHO,
# 1 GiB and 2 MiB HugeTLB pools and three LUO memfds (1 GiB pages, 2 MiB
# pages, shmem; every byte checked in the next generation), hand over to
# a second generation with kexec, and report what was preserved and what
# came back, with the HugeTLB pools before and after. Exits non-zero if
# anything in the report did not hold.
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
# A host's guest memory: 2 GiB in 1 GiB pages and 64 MiB in 2 MiB pages
# (HugeTLB memfds, part 7) and 512 MiB of shmem, each in a LUO session of
# its own, with the HugeTLB pools per node before and after side by side.
append=${KHO_DEMO_APPEND:-"kho=on hugetlb_free_vmemmap=on hugepagesz=1G hugepages=3 hugepagesz=2M hugepages=64 kunit.enable=0"}
log "step 4/4: two generations in QEMU (TCG): $append"
mkdir -p "$BUILD/results"
python3 "$TOP/tests/report.py" --kernel "$tree/.kho-out/arch/x86/boot/bzImage" \
	--initrd "$BUILD/initrd-demo.cpio.gz" --append "$append" --mem 8G --gens 2 \
	--luo-mib "${KHO_DEMO_LUO_MIB:-2048}" --luo-huge 1G \
	--luo-extra 64 --luo-extra-huge 2M --luo-shmem "${KHO_DEMO_SHMEM_MIB:-512}" \
	--log "$BUILD/results/demo.log"
log "demo finished in $(( $(date +%s) - t0 ))s (console log: build/results/demo.log)"
