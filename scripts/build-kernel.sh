#!/usr/bin/env bash
# Configure (tinyconfig + fragments) and build a kernel tree.
#
#   scripts/build-kernel.sh <srcdir> [extra fragment...]
# Output: <srcdir>/.kho-out/arch/x86/boot/bzImage (KHO_OUTDIR names another
# output directory inside the tree, e.g. for the sanitizer kernel). Extra make flags via
# KMAKEFLAGS. KHO_ARCH=arm64: cross-built with configs/arm64.fragment instead of
# configs/kho.fragment, output arch/arm64/boot/Image (default KHO_OUTDIR .kho-out-arm64). The output lives inside the tree so that ccache (with the tree
# as its base directory) hits across trees, e.g. the series and the base.
. "$(dirname "$0")/lib.sh"

src=$(cd "${1:?source dir}" && pwd); shift
arch=${KHO_ARCH:-x86_64}
case $arch in
x86_64) out=$src/${KHO_OUTDIR:-.kho-out} frags=("$TOP/configs/kho.fragment" "$@")
	target=bzImage img=arch/x86/boot/bzImage gcc=gcc cross=;;
arm64)  out=$src/${KHO_OUTDIR:-.kho-out-arm64} frags=("$TOP/configs/arm64.fragment" "$@")
	target=Image img=arch/arm64/boot/Image gcc=aarch64-linux-gnu-gcc cross=aarch64-linux-gnu-
	need_pkgs gcc-aarch64-linux-gnu;;
*)      die "KHO_ARCH: x86_64 or arm64";;
esac
need_pkgs build-essential flex bison bc libelf-dev libssl-dev ccache python3 cpio lz4
mkdir -p "$out"
grep -qxF '/.kho-out*/' "$src/.git/info/exclude" 2>/dev/null || { mkdir -p "$src/.git/info" 2>/dev/null && echo '/.kho-out*/' >> "$src/.git/info/exclude"; } || true

cc=$gcc
command -v ccache >/dev/null && cc="ccache $gcc"
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
export CCACHE_BASEDIR=$src KBUILD_BUILD_TIMESTAMP=${KBUILD_BUILD_TIMESTAMP:-2026-01-01} \
	KBUILD_BUILD_USER=kho KBUILD_BUILD_HOST=kho
xarch=()
[ "$arch" = arm64 ] && xarch=(ARCH=arm64 CROSS_COMPILE="$cross")
MK=(make -C "$src" O="$out" "${xarch[@]}" CC="$cc" HOSTCC=gcc -j"$(nproc)" -s)

# Configure only when the fragments or the tree changed since the last run.
cfgsum=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.kho-cfgsum" 2>/dev/null)" != "$cfgsum" ]; then
	log "configuring $out (tinyconfig + ${frags[*]##*/})"
	"${MK[@]}" tinyconfig >/dev/null
	cat "${frags[@]}" >> "$out/.config"
	"${MK[@]}" olddefconfig >/dev/null
	check_fragments "$out/.config" "${frags[@]}" || { rm -f "$out/.config"; die "config fragment not satisfied (see above)"; }
	echo "$cfgsum" > "$out/.kho-cfgsum"
fi
# A kernel that trusts the test signing key (configs/debug.fragment) finds
# its certificate in its build directory, and gets a signed copy of its
# image beside it: bzImage.signed (scripts/kexec-sign.sh).
testkey=
grep -qx 'CONFIG_SYSTEM_TRUSTED_KEYS="certs/kho-kexec-test.pem"' "$out/.config" && testkey=1
[ -z "$testkey" ] || "$TOP/scripts/kexec-sign.sh" cert "$out/certs/kho-kexec-test.pem"
log "building $(basename "$src") in $out (progress every 30s)"
start=$(date +%s)
( while sleep 30; do log "  ... still building ($(( $(date +%s) - start ))s)"; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
rc=0
"${MK[@]}" ${KMAKEFLAGS:-} $target >&2 || rc=$?
[ $rc -eq 0 ] || { kill $ticker; die "kernel build failed in $src (make exit $rc)"; }
kill $ticker 2>/dev/null || true
log "built $out/$img in $(( $(date +%s) - start ))s"
[ -z "$testkey" ] || "$TOP/scripts/kexec-sign.sh" sign "$out/$img" "$out/bzImage.signed"
