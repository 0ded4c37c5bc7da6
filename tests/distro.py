"""Core scenarios on the distribution-flavoured kernel (scripts/build-distro.sh):
Debian's amd64 config for the base with KHO, its debugfs and LUO on, every
mm option as Debian has it (HUGETLB_PAGE_OPTIMIZE_VMEMMAP with
SPARSEMEM_VMEMMAP_PREINIT, CMA, DEFERRED_STRUCT_PAGE_INIT, MEMORY_HOTPLUG,
ZONE_DEVICE, INIT_ON_ALLOC_DEFAULT_ON, RANDOMIZE_MEMORY, NODES_SHIFT=10),
and the series' KUnit suites as modules.

Each runs a scenario of the tinyconfig kernel on that kernel, besides:
 - distro-giga-vmemmap: 1 GiB pages with hugetlb_free_vmemmap=on (HVO),
   three generations;
 - distro-luo-memfd: 64 MiB of memfd data handed over through LUO and
   verified byte for byte in the successor;
 - distro-kunit-modules: kunit.ko and the suites loaded as modules after
   boot, every suite that can be a module passes (tests/kunit-suites).
"""
import re

from scenarios import (OtherCtx, check, corrupt, extension, gen_checks, giga_series,
                       kho_checks, kunit_suites, luo_memfd, on_other, roundtrip)


def giga_vmemmap(ctx):
    """The same three 1 GiB pages with and without HVO: with it, in every
    generation, the memory map is smaller by what the kernel says it frees
    per page (16380 KiB each)."""
    name = "giga-vmemmap"
    off = ctx.boot(name + "-off", "kho=on hugepagesz=1G hugepages=3 hugetlb_free_vmemmap=off",
                   gens=1, mem="6G").reached()
    c = giga_series(ctx, name, "hugetlb_free_vmemmap=on", gens=3)
    base = int(off[0].fact("memmap_pages") or 0) if off else 0
    for g in ctx.runs[-1].reached():
        m = [int(x) for x in re.findall(r"HugeTLB: (\d+) KiB vmemmap can be freed for a 1.00 GiB",
                                        "\n".join(g.dmesg))]
        want = 3 * m[0] // 4 if m else 0
        got = base - int(g.fact("memmap_pages") or 0)
        check(c, "%s: gen %d has HVO on and its memory map is %d pages smaller" % (name, g.index, want),
              g.fact("hvo") == "1" and base and want and abs(got - want) <= want // 20,
              "hvo=%s, %d pages smaller (without HVO: %d)" % (g.fact("hvo"), got, base))
    return c


def kunit_modules(ctx):
    name = "kunit-modules"
    c = []
    run = ctx.boot(name, "kunit.enable=1 khot.modules=1", gens=1)
    reached = gen_checks(c, run, name, 1)
    if not reached:
        return c
    g = reached[0]
    ins = g.facts_of("insmod")
    check(c, "%s: kunit.ko and the suites load" % name,
          any(v.startswith("kunit.ko ok") for v in ins) and len(ins) > 1 and
          all(v.split()[1] == "ok" for v in ins), "; ".join(ins) or "nothing loaded")
    for s in kunit_suites(modular=True):
        lines = [l.strip() for l in g.files.get("kunit:" + s, [])]
        suite_ok = any(re.match(r"ok \d+ %s$" % re.escape(s), l) for l in lines)
        cases = [l for l in lines if re.match(r"ok \d+ ", l) and not l.endswith(" " + s)]
        bad = [l for l in lines if l.startswith("not ok") or "# SKIP" in l]
        check(c, "%s: suite %s passed as a module (every case ok, none skipped)" % (name, s),
              suite_ok and cases and not bad,
              (bad or ["%d lines, %d cases ok" % (len(lines), len(cases))])[0])
    return c


# The distribution-flavoured kernel and its initramfs (which also carries
# luo-fill, the selftests and the KUnit modules).
SCENARIOS = [("distro-" + n, on_other("distro", OtherCtx, fn)) for n, fn in [
    ("roundtrip", roundtrip),
    ("giga-vmemmap", giga_vmemmap),
    ("extension", extension),
    ("corrupt-fdt", corrupt("fdt")),
    ("luo-memfd", luo_memfd),
    ("kunit-modules", kunit_modules),
]]
