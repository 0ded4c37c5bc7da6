#!/usr/bin/env bash
# The series' KUnit suites run the way kernel developers run KUnit:
#
#   tools/testing/kunit/kunit.py run --arch=ARCH --kunitconfig=kernel/liveupdate
#
# on the tree with the series, in build/kunit-ARCH, with ccache (and the
# Debian cross compiler for arm64). kunit.py makes its own config (its
# defaults, kernel/liveupdate/.kunitconfig, its QEMU config for ARCH),
# boots it in QEMU and prints its usual report, which this passes on.
#
#   scripts/kunit-tool.sh ARCH [tree]      ARCH: x86_64 or arm64
. "$(dirname "$0")/lib.sh"
arch=${1:?usage: kunit-tool.sh x86_64|arm64 [tree]}
tree=$(cd "${2:-$BUILD/linux}" && pwd)
case $arch in
x86_64) need_pkgs qemu-system-x86 build-essential flex bison bc ccache
	cc=gcc cross=() qemu=qemu-system-x86_64;;
arm64)  need_pkgs qemu-system-arm gcc-aarch64-linux-gnu build-essential flex bison bc ccache
	cc=aarch64-linux-gnu-gcc cross=(--cross_compile=aarch64-linux-gnu-) qemu=qemu-system-aarch64;;
*)      die "unknown arch $arch (x86_64 or arm64)";;
esac
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G} \
	CCACHE_BASEDIR=$tree KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kho KBUILD_BUILD_HOST=kho
if [ "${KHO_ACCEL:-tcg}" != kvm ]; then
	bin=$BUILD/kunit-bin
	mkdir -p "$bin"
	ln -sf "$TOP/scripts/qemu-tcg" "$bin/$qemu"
	export PATH=$bin:$PATH
fi
cd "$tree"
# tests/kunit_tool.py reads the .config kunit.py made from here
echo "kunit-tool: build dir $BUILD/kunit-$arch"
exec python3 tools/testing/kunit/kunit.py run --arch="$arch" "${cross[@]}" \
	--kunitconfig=kernel/liveupdate --build_dir="$BUILD/kunit-$arch" \
	--make_options "CC=ccache $cc" --jobs "$(nproc)" --timeout 900
