#!/usr/bin/env bash
# Run upstream's KHO selftest, tools/testing/selftests/kho/vmtest.sh of the
# given tree, against a kernel this harness already built.
#
#   scripts/kho-vmtest.sh <tree> <kernel-out-dir> <serial-log> [extra cmdline]
#
# vmtest.sh configures and builds a kernel of its own and asks QEMU for KVM
# first. Everything else of it runs unchanged (its nolibc init, its initrd,
# its QEMU command line, its pass criterion and KTAP output); two things are
# swapped in:
#  - build_kernel() does not rebuild: it checks vmtest's own option list
#    (read from vmtest.sh and the arch .conf at run time) against the
#    prebuilt kernel's .config, prints "# vmtest-config missing <option>" for
#    each one it lacks, and installs the UAPI headers that init.c needs;
#  - qemu-system-x86_64 is a wrapper that replaces the accelerator list by
#    TCG (KVM hangs on these machines), bounds the run to 300 s and keeps
#    the serial log, which vmtest.sh would delete. Its CPU has no LA57, as
#    the sanitizer scenarios boot with no5lvl (see DebugCtx in
#    tests/scenarios.py: a KASAN false positive of the base under 5-level
#    paging). An extra command line, if given, is appended to vmtest's
#    (the sanitizer run needs kho_scratch=50%: see DebugCtx).
# KHO_ARCH=arm64: vmtest's own cross run (-t aarch64, CROSS_COMPILE with
# Debian's gcc-aarch64-linux-gnu) on a prebuilt arm64 kernel; the wrapper is
# qemu-system-aarch64, whose CPU (vmtest asks for -cpu max) gets
# pauth-impdef=on, as TCG's architected pointer authentication is slow.
. "$(dirname "$0")/lib.sh"
tree=$(cd "${1:?tree}" && pwd); kout=$(cd "${2:?kernel out dir}" && pwd); serial=${3:?serial log}
extra=${4:-}
if [ "${KHO_ARCH:-x86_64}" = arm64 ]; then
	need_pkgs qemu-system-arm gcc-aarch64-linux-gnu
	qname=qemu-system-aarch64 cpu=(-cpu max,pauth-impdef=on) target=(-t aarch64)
	export CROSS_COMPILE=aarch64-linux-gnu-
else
	need_pkgs qemu-system-x86 build-essential
	qname=qemu-system-x86_64 cpu=(-cpu max,la57=off) target=()
fi
st=$tree/tools/testing/selftests/kho
[ -f "$st/vmtest.sh" ] || die "no $st/vmtest.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$serial"

qemu=$(command -v $qname)
cat > "$work/$qname" <<WRAP
#!/usr/bin/env bash
a=(); ser=
while [ \$# -gt 0 ]; do
	case "\$1" in
	-accel) shift 2; continue;;
	-cpu) shift 2; continue;;
	-append) a+=(-append "\$2 $extra"); shift 2; continue;;
	file:*) ser=\${1#file:};;
	esac
	a+=("\$1"); shift
done
rc=0
timeout 300 $qemu -accel tcg ${cpu[*]} "\${a[@]}" || rc=\$?
[ -z "\$ser" ] || cp "\$ser" "$serial"
exit \$rc
WRAP
chmod +x "$work/$qname"

cat > "$work/override.sh" <<'OVR'
# --- kho-series harness: use the prebuilt kernel in $build_dir ---
function build_kernel() {
	local build_dir=$1 arch_kconfig=$3 opt
	for opt in $( (sed -n '/> "$kho_config" <<EOF/,/^EOF/p' "$test_dir/vmtest.sh"; echo "$arch_kconfig") |
			grep -o '^CONFIG_[A-Za-z0-9_]*=y'); do
		grep -qx "$opt" "$build_dir/.config" || echo "# vmtest-config missing $opt"
	done
	make -s -C "$kernel_dir" O="$build_dir" ARCH=$arch headers_install INSTALL_HDR_PATH="$headers_dir"
}
OVR
awk -v st="$st" -v ovr="$work/override.sh" '
	/^test_dir=/ { print "test_dir=" st; next }
	/^main "\$@"$/ { while ((getline l < ovr) > 0) print l }
	{ print }' "$st/vmtest.sh" > "$work/vmtest.sh"
grep -q "kho-series harness" "$work/vmtest.sh" || die "could not hook build_kernel into vmtest.sh"
PATH="$work:$PATH" bash "$work/vmtest.sh" -d "$kout" "${target[@]}"
