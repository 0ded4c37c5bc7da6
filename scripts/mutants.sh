#!/usr/bin/env bash
# The mutation run (tests/mutants.py): build what the scenarios need, then
# break the series one mutant at a time in build/linux-mutant and check
# that a scenario catches each. Exits non-zero if any mutant survives.
#
#   scripts/mutants.sh [--no-control] [--only REGEX] [--list]
. "$(dirname "$0")/lib.sh"
if [ "${1:-}" = --list ]; then
	exec python3 "$TOP/tests/mutants.py" --list --base-kernel - --base-initrd - \
		--upstream-kernel - --selftests -
fi
need_pkgs qemu-system-x86 python3 busybox-static kexec-tools
. "$TOP/scripts/build-kernels.sh"
log "mutation run (tests/mutants.txt)"
exec python3 "$TOP/tests/mutants.py" --tree "$tree" \
	--base-kernel "$base/.kho-out/arch/x86/boot/bzImage" --base-initrd "$BUILD/initrd-base.cpio.gz" \
	--upstream-kernel "$up" --selftests "$BUILD/selftests" --out "$BUILD/mutants" "$@"
