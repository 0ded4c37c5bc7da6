#!/usr/bin/env bash
# Build the guest initramfs: busybox-static, Debian's kexec-tools (with its
# shared libraries), guest/init and the kernel image(s) to kexec into.
#
#   scripts/mkinitramfs.sh <out.cpio.gz> <bzImage> [extra ...]
# An extra "name=path" copies a kernel image to /boot/name; "/dir=path"
# copies a directory (e.g. built selftests) to /dir.
. "$(dirname "$0")/lib.sh"
out=${1:?output}; img=${2:?bzImage}; shift 2
need_pkgs busybox-static kexec-tools cpio gzip
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,boot,lib,lib64,proc,sys,dev,tmp,etc}
cp /bin/busybox "$root/bin/busybox"
kx=$(command -v kexec || echo /sbin/kexec)
cp "$kx" "$root/sbin/kexec"
for lib in $(ldd "$kx" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp "$TOP/guest/init" "$root/init"; chmod +x "$root/init"
cp "$img" "$root/boot/bzImage"
for e in "$@"; do
	case "$e" in
	/*) mkdir -p "$root${e%%=*}" && cp -r "${e#*=}/." "$root${e%%=*}/";;
	*) cp "${e#*=}" "$root/boot/${e%%=*}";;
	esac
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
log "initramfs $out: $(du -k "$out" | cut -f1) KiB"
