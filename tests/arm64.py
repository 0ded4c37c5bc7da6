"""arm64 at run time: the series kernel cross-built for arm64
(KHO_ARCH=arm64 scripts/build-kernel.sh, configs/arm64.fragment), booted by
qemu-system-aarch64 -M virt (TCG) under UEFI (Debian's qemu-efi-aarch64)
with ACPI and no device tree, as arm64 servers boot (KHO_ARM64_FW=dt for
QEMU's direct boot with a device tree, see tests/khovm.py), with Debian's
arm64 busybox-static and guest/kexec-file.c as userspace. The scenarios of
the x86 guest, run there, besides:
 - arm64-firmware: what the firmware hands over, three generations each
   way: UEFI with ACPI (the memory map the firmware fragments, the EFI
   system table and ACPI found again by every successor) and UEFI with a
   device tree;
 - arm64-giga-32m-*: 32 MiB pages (contiguous PMDs, gigantic with 4 KiB
   pages), like the 1 GiB ones;
 - arm64-memblock: memblock is kept after boot on arm64, so its debugfs
   shows the flags: the gigantic pages are RSV_HUGETLB, scratch is
   KHO_SCRATCH, and none of the first lies in the second;
 - arm64-upstream-kho-vmtest: upstream's selftests/kho/vmtest.sh in its
   own cross mode (-t aarch64) on this kernel;
 - arm64-upstream-liveupdate: upstream's liveupdate selftests, cross-built
   (KHO_ARCH=arm64 scripts/build-selftests.sh);
 - arm64-hugetlb: HugeTLB memfds of 32 MiB, 1 GiB and 2 MiB pages with a
   shmem memfd through LUO over three generations (tests/hugetlb_luo.py).
"""
import re

from hugetlb_luo import hugetlb_arm64
from scenarios import (SPARSE_LOAD, SPARSE_WARN, OtherCtx, check, corrupt, extension,
                       gen_checks, giga_series, kho_checks, luo_memfd, on_other, roundtrip,
                       sparse_parse, test_kho_checks, upstream_kho_vmtest,
                       upstream_liveupdate)

MIB32_KB = 32 * 1024


class Arm64Ctx(OtherCtx):
    arch = "arm64"

    def __init__(self, base, tag="arm64"):
        super().__init__(base, tag)
        self.images = {}  # the x86 images of the other chains do not boot here

    def boot(self, name, append, gens=1, mem="1G", timeout=None, **kw):
        # arm64 emulation under UEFI firmware: slower than x86
        return super().boot(name, append, gens=gens, mem=mem,
                            timeout=timeout or 2 * (120 + 90 * gens), **kw)


def giga32(ctx, name, extra):
    return giga_series(ctx, name, extra, gens=3, mem="4G",
                       append="kho=on hugepagesz=32M hugepages=16 " + extra,
                       want={MIB32_KB: 16})


def giga1g(ctx, name, extra):
    return giga_series(ctx, name, extra, gens=3)


REGION = re.compile(r"^\s*\d+: (0x[0-9a-f]+)\.\.(0x[0-9a-f]+)\s+\S+\s+(\S+)")


def regions(lines, flag):
    out = []
    for line in lines:
        m = REGION.match(line)
        if m and flag in m.group(3).split("|"):
            out.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
    return out


def memblock(ctx):
    name = "memblock"
    c = []
    run = ctx.boot(name, "kho=on hugepagesz=1G hugepages=2", gens=2, mem="6G")
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    for g in reached:
        huge = regions(g.files.get("memblock_reserved", []), "RSV_HUGETLB")
        scratch = regions(g.files.get("memblock_memory", []), "KHO_SCRATCH")
        hbytes = sum(e - s for s, e in huge)
        check(c, "%s: gen %d memblock debugfs flags the 2 GiB of gigantic pages RSV_HUGETLB"
              % (name, g.index), hbytes == 2 << 30, "%d ranges, %d MiB" % (len(huge), hbytes >> 20))
        # Memory is flagged KHO_SCRATCH where a handover says so: KHO boots.
        if g.index > 1:
            check(c, "%s: gen %d memblock debugfs says what is scratch (KHO_SCRATCH)"
                  % (name, g.index), scratch, "%d ranges" % len(scratch))
        inside = [(s, e) for s, e in huge for a, b in scratch if s < b and a < e]
        check(c, "%s: gen %d no RSV_HUGETLB range in KHO_SCRATCH memory" % (name, g.index),
              not inside, "%s" % ["%#x-%#x" % r for r in inside[:2]])
    return c


EFI_MAP = r"\] efi:\s+0x[0-9a-f]+-0x[0-9a-f]+ \["


def firmware(ctx):
    """UEFI with ACPI (the default) and UEFI with a device tree: every
    generation finds the EFI system table, the first one's memory map
    (efi=debug prints it) has the firmware's fragments, every successor is
    a KHO boot with test_kho's data, booted from the same description."""
    c = []
    for fw, desc in (("uefi", r"ACPI: SPCR: console: pl011"), ("uefi-dt", r"Machine model: linux,dummy-virt")):
        name = "firmware-" + fw
        run = ctx.boot(name, "kho=on efi=debug", gens=3, mem="4G", fw=fw)
        reached = gen_checks(c, run, name, 3)
        kho_checks(c, name, reached)
        test_kho_checks(c, name, reached)
        for g in reached:
            check(c, "%s: gen %d found the EFI system table" % (name, g.index),
                  g.grep(r"efi: EFI v\d+\.\d+ by EDK II"), "")
            check(c, "%s: gen %d booted from %s" % (name, g.index, "ACPI" if fw == "uefi" else "a device tree"),
                  g.grep(desc) and (fw == "uefi") == bool(g.grep(r"ACPI: Using GIC for interrupt routing")),
                  "; ".join(g.grep(r"ACPI: |Machine model")[:2]))
        if reached:
            regions = reached[0].grep(EFI_MAP)
            check(c, "%s: gen 1 EFI memory map has the firmware's fragments (at least 8 entries)" % name,
                  len(regions) >= 8, "%d entries" % len(regions))
    return c


def sparse_2node(ctx):
    """The size check on a two-node guest: a tiny kho_scratch= warns once at
    boot, naming a node, and once at kexec load; the default does not, and
    the successor boots with the handover."""
    name = "sparse-2node"
    c = []
    run = ctx.boot(name + "-tiny", "kho=on kho_scratch=16M,16M,8M", gens=2, mem="6G",
                   numa=["3G", "3G"], timeout=300)
    g = run.gens[0] if run.gens else None
    warns = g.grep(SPARSE_WARN) if g else []
    loads = g.grep(SPARSE_LOAD) if g else []
    w = sparse_parse(warns[0]) if warns else None
    check(c, "%s: tiny scratch: one boot-time warning naming a node" % name,
          len(warns) == 1 and w and 0 <= w["node"] < int(g.fact("nodes") or 0),
          warns[0] if warns else "no warning")
    check(c, "%s: tiny scratch: the kexec load warns too" % name, len(loads) == 1,
          loads[0] if loads else "no load-time warning")
    run = ctx.boot(name, "kho=on", gens=2, mem="6G", numa=["3G", "3G"])
    reached = gen_checks(c, run, name, 2)
    check(c, "%s: default scratch: no warning" % name,
          reached and not reached[0].grep(SPARSE_WARN + "|" + SPARSE_LOAD), "")
    check(c, "%s: default scratch: the successor has the handover" % name,
          len(reached) == 2 and reached[1].fact("kho_in") == "yes", "%d generations" % len(reached))
    return c


SCENARIOS = [("arm64-" + n, on_other("arm64", Arm64Ctx, fn)) for n, fn in [
    ("roundtrip", roundtrip),
    ("firmware", firmware),
    ("giga-1g-default", lambda ctx: giga1g(ctx, "giga-1g-default", "")),
    ("giga-1g-explicit", lambda ctx: giga1g(ctx, "giga-1g-explicit", "kho_scratch=64M,128M,32M")),
    ("giga-32m-default", lambda ctx: giga32(ctx, "giga-32m-default", "")),
    ("giga-32m-explicit", lambda ctx: giga32(ctx, "giga-32m-explicit", "kho_scratch=64M,128M,32M")),
    ("extension", extension),
    ("memblock", memblock),
    ("corrupt-fdt", corrupt("fdt")),
    ("corrupt-table-oob", corrupt("table-oob")),
    ("sparse-2node", sparse_2node),
    ("luo-memfd", luo_memfd),
    ("hugetlb", hugetlb_arm64),
    ("upstream-liveupdate", upstream_liveupdate),
    ("upstream-kho-vmtest", upstream_kho_vmtest),
]]
