"""hugetlb_cma= with KHO: the CMA area for gigantic pages is HugeTLB memory
and stays out of the automatic scratch size (patch 29), and it never lands
in scratch, in the first kernel or in a KHO boot.

A 6 GiB guest with hugetlb_cma=2G and automatic scratch. The bare base
counts the 2 GiB area among the kernel's early reservations and asks for
twice that as scratch: KHO is disabled for lack of memory. With the series
every one of three generations has its 2 GiB area and KHO on. Both boots
pin the image (nokaslr): physical KASLR sometimes puts it in the only free
1 GiB-aligned 2 GiB block, and then the area cannot be reserved at all,
with or without KHO.
"""
from scenarios import base_boot, check, gen_checks, scratch_bytes, test_kho_checks

CMA = "nokaslr kho=on hugetlb_cma=2G"
AREA = 2048 << 20


def hugetlb_cma(ctx):
    c = []
    name = "hugetlb-cma"
    plain = ctx.boot(name + "-without", "nokaslr kho=on", gens=1, mem="6G")
    run = ctx.boot(name, CMA, gens=3, mem="6G")
    reached = gen_checks(c, run, name, 3)
    p = plain.reached()
    without = scratch_bytes(p[0]) if p else 0
    check(c, "%s: the guest without hugetlb_cma= has scratch" % name, without > 0,
          "%d generations" % len(p))
    for g in reached:
        s = scratch_bytes(g)
        check(c, "%s: gen %d reserved its 2048 MiB area" % (name, g.index),
              g.grep(r"hugetlb_cma: reserved 2048 MiB on node 0"),
              "; ".join(g.grep(r"hugetlb_cma:")))
        check(c, "%s: gen %d KHO on%s" % (name, g.index, ", a KHO boot" if g.index > 1 else ""),
              s > 0 and (g.index == 1 or g.fact("kho_in") == "yes"),
              "; ".join(g.grep(r"KHO: .*(disabl|Failed)")) or "kho_in=%s" % g.fact("kho_in"))
        # Scratch and the area are both MIGRATE_CMA: together they must
        # make up all CMA pageblocks, which they only do when disjoint.
        check(c, "%s: gen %d CMA pageblocks are scratch plus the area, disjoint" % (name, g.index),
              s > 0 and g.fact("cma_bytes") == str(s + AREA),
              "CMA %s bytes, scratch %d + area %d" % (g.fact("cma_bytes"), s, AREA))
        if g.index == 1 and without:
            # Early reservations differ only by the memory map of the area.
            check(c, "%s: scratch is sized without the area (%d MiB, %d MiB without "
                  "hugetlb_cma=)" % (name, s >> 20, without >> 20),
                  abs(s - without) <= without // 20, "")
    test_kho_checks(c, name, reached)
    return c


def base_hugetlb_cma(ctx):
    """The bare base sizes scratch with the area counted: KHO is off."""
    c = []
    run = base_boot(ctx, "base-hugetlb-cma", CMA, 1, mem="6G")
    g = run.reached()
    check(c, "base-hugetlb-cma: the base reserved the area",
          g and g[0].grep(r"hugetlb_cma: reserved 2048 MiB"), "")
    check(c, "base-hugetlb-cma: and then cannot reserve scratch (KHO disabled)",
          g and g[0].grep(r"KHO: Failed to reserve scratch area, disabling"), "")
    return c


SCENARIOS = [
    ("hugetlb-cma", hugetlb_cma),
    ("base-hugetlb-cma", base_hugetlb_cma),
]
