#!/usr/bin/env bash
# Build upstream's liveupdate selftests (tools/testing/selftests/liveupdate
# of the given tree) and our guest/luo-fill.c (benchmarks) as static
# binaries, for the guest initramfs: <dest>/liveupdate, <dest>/tools.
#
#   scripts/build-selftests.sh <tree> <kernel-out-dir> <dest>
# The UAPI headers come from the tree itself (headers_install), so the tests
# are built against exactly the ABI of the kernel they run on.
# KHO_ARCH=arm64: cross-built with Debian's gcc-aarch64-linux-gnu.
. "$(dirname "$0")/lib.sh"
tree=$(cd "${1:?tree}" && pwd); kout=${2:?kernel output dir}; dest=${3:?dest}
need_pkgs build-essential rsync
arch=() cc=gcc
if [ "${KHO_ARCH:-x86_64}" = arm64 ]; then
	need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	arch=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) cc=aarch64-linux-gnu-gcc
fi
rm -rf "$dest"; mkdir -p "$dest/liveupdate" "$dest/tools"
dest=$(cd "$dest" && pwd)
hdr=$(mktemp -d)
trap 'rm -rf "$hdr"' EXIT
make -s -C "$tree" O="$kout" "${arch[@]}" headers_install INSTALL_HDR_PATH="$hdr" >&2
# The tests' own objects land in the source directory, whatever OUTPUT is
# (the Makefile's TEST_O): left over from another architecture they would
# be linked in, so none is kept from one build to the next.
st=$tree/tools/testing/selftests/liveupdate
rm -f "$st"/*.[od]
make -s -C "$st" "${arch[@]}" OUTPUT="$dest/liveupdate" \
	KHDR_INCLUDES="-isystem $hdr/include" LDFLAGS=-static >&2
rm -f "$dest"/liveupdate/*.[od] "$st"/*.[od]
"$cc" -static -O3 -pthread -Wall -Wextra -Werror -isystem "$hdr/include" -o "$dest/tools/luo-fill" \
	"$TOP/guest/luo-fill.c"
for t in liveupdate luo_kexec_simple luo_multi_session luo_stress_sessions luo_stress_files; do
	[ -x "$dest/liveupdate/$t" ] || die "selftest $t was not built"
done
log "selftests in $dest/liveupdate: $(ls "$dest/liveupdate" | tr '\n' ' ')"
