#!/usr/bin/env bash
# Unpack stock upstream 7.3 (Debian linux-source-7.3, the yardstick) into
# build/linux-7.3 and build it with the same config fragment as ours.
# Prints the path of its bzImage.
. "$(dirname "$0")/lib.sh"
tarball=$("$TOP/scripts/fetch-base.sh" 7.3)
dir=$BUILD/linux-7.3
if [ ! -f "$dir/.kho-version" ] || [ "$(cat "$dir/.kho-version")" != "$(cat "$tarball.version")" ]; then
	log "unpacking linux-source-7.3 $(cat "$tarball.version") into $dir"
	rm -rf "$dir"; mkdir -p "$dir"
	tar -xf "$tarball" -C "$dir" --strip-components=1
	cp "$tarball.version" "$dir/.kho-version"
fi
"$TOP/scripts/build-kernel.sh" "$dir" >&2
echo "$dir/.kho-out/arch/x86/boot/bzImage"
