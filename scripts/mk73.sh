#!/usr/bin/env bash
# Unpack stock upstream 7.3 (Debian linux-source-7.3, the yardstick) into
# build/linux-7.3, apply the harness instrument scripts/v73-instrument.patch
# (pr_info lines "KHO-73-EXT: ..." for each range 7.3's scratch extension
# marks, no change of behaviour, not part of the series) and build it with the
# same config fragment as ours. The tree's .kho-version records the Debian
# version and the patch's sha256, so a new tarball or a changed patch unpacks
# afresh. Prints the path of its bzImage.
. "$(dirname "$0")/lib.sh"
need_pkgs patch
tarball=$("$TOP/scripts/fetch-base.sh" 7.3)
dir=$BUILD/linux-7.3
instr=$TOP/scripts/v73-instrument.patch
want="$(cat "$tarball.version") instrument $(sha256sum "$instr" | cut -d' ' -f1)"
if [ ! -f "$dir/.kho-version" ] || [ "$(cat "$dir/.kho-version")" != "$want" ]; then
	log "unpacking linux-source-7.3 $(cat "$tarball.version") into $dir, with ${instr##*/}"
	rm -rf "$dir"; mkdir -p "$dir"
	tar -xf "$tarball" -C "$dir" --strip-components=1
	patch -d "$dir" -p1 --forward --quiet < "$instr" || die "${instr##*/} does not apply to linux-source-7.3"
	echo "$want" > "$dir/.kho-version"
fi
"$TOP/scripts/build-kernel.sh" "$dir" >&2
echo "$dir/.kho-out/arch/x86/boot/bzImage"
