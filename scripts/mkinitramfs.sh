#!/usr/bin/env bash
# Build the guest initramfs: busybox-static, Debian's kexec-tools (with its
# shared libraries), guest/init and the kernel image(s) to kexec into.
# KHO_ARCH=arm64: Debian's arm64 busybox-static and guest/kexec-file.c.
# The kernel is /boot/bzImage on both (guest/init's default name), and its
# signed copy /boot/bzImage.signed where there is one (see below).
#
#   scripts/mkinitramfs.sh <out.cpio.gz> <bzImage> [extra ...]
# An extra "name=path" copies a kernel image to /boot/name; "/dir=path"
# copies a directory (e.g. built selftests) to /dir.
. "$(dirname "$0")/lib.sh"
out=${1:?output}; img=${2:?bzImage}; shift 2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,boot,lib,lib64,proc,sys,dev,tmp,etc}
if [ "${KHO_ARCH:-x86_64}" = arm64 ]; then
	# Debian's arm64 busybox-static (pinned in scripts/versions) and
	# guest/kexec-file.c, static, for the two kexec calls of guest/init.
	need_pkgs cpio gzip gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	deb=$(fetch_deb busybox-static arm64)
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/busybox > "$root/bin/busybox"
	chmod +x "$root/bin/busybox"
	aarch64-linux-gnu-gcc -static -O2 -Wall -o "$root/sbin/kexec" "$TOP/guest/kexec-file.c"
else
	need_pkgs busybox-static kexec-tools cpio gzip
	cp /bin/busybox "$root/bin/busybox"
	kx=$(command -v kexec || echo /sbin/kexec)
	cp "$kx" "$root/sbin/kexec"
	for lib in $(ldd "$kx" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
fi
cp "$TOP/guest/init" "$root/init"; chmod +x "$root/init"
cp "$img" "$root/boot/bzImage"
# A signed copy of the image, if its build made one (scripts/build-kernel.sh,
# for a kernel that trusts the test key), goes in as /boot/bzImage.signed.
signed=${img%/arch/x86/boot/bzImage}/bzImage.signed
if [ -f "$signed" ] && [ "$signed" -nt "$img" ]; then cp "$signed" "$root/boot/bzImage.signed"; fi
for e in "$@"; do
	case "$e" in
	/*) mkdir -p "$root${e%%=*}" && cp -r "${e#*=}/." "$root${e%%=*}/";;
	*) cp "${e#*=}" "$root/boot/${e%%=*}";;
	esac
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
log "initramfs $out: $(du -k "$out" | cut -f1) KiB"
