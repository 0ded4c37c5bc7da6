# Sourced by scripts/test-all.sh and scripts/mutants.sh (after lib.sh):
# fetch the base, make the series tree, build the series kernel, the bare
# base and stock 7.3, upstream's liveupdate selftests with guest/luo-fill.c,
# and the initramfs of each. Sets tree, base and up (7.3's bzImage).
# shellcheck shell=bash
log "step 1/5: base tarball"
"$TOP/scripts/fetch-base.sh" 7.2 >/dev/null
log "step 2/5: tree with the series applied"
tree=$("$TOP/scripts/mktree.sh" "$BUILD/linux")
log "step 3/5: build the series kernel"
"$TOP/scripts/build-kernel.sh" "$tree" "$TOP/configs/kunit.fragment"
log "step 4/5: build the bare base kernel (for base-regression scenarios)"
base=$BUILD/linux-base
if [ ! -d "$base" ] || [ "$(git -C "$base" rev-parse HEAD 2>/dev/null)" != "$(git -C "$tree" rev-parse kho-base)" ]; then
	rm -rf "$base"; git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$base" kho-base
fi
"$TOP/scripts/build-kernel.sh" "$base"
log "step 4b/5: build stock upstream 7.3 (the yardstick, for interop)"
up=$("$TOP/scripts/mk73.sh")
# One kernel image: tests/scenarios.py appends base and v73 for the chains
# that kexec into them (three images through every kexec cost each
# generation about 2.5 s of TCG time: cpio, gzip, digest and unpack).
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd.cpio.gz" "$tree/.kho-out/arch/x86/boot/bzImage"
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-base.cpio.gz" "$base/.kho-out/arch/x86/boot/bzImage"
log "step 4c/5: upstream's liveupdate selftests, built against the series UAPI"
"$TOP/scripts/build-selftests.sh" "$tree" "$tree/.kho-out" "$BUILD/selftests"
"$TOP/scripts/mkinitramfs.sh" "$BUILD/initrd-st.cpio.gz" "$tree/.kho-out/arch/x86/boot/bzImage" \
	/selftests="$BUILD/selftests"
