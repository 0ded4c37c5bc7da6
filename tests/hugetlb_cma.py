"""hugetlb_cma= with KHO: the CMA area for gigantic pages is HugeTLB memory
and stays out of the automatic scratch size (patch 30), and it never lands
in scratch, in the first kernel or in a KHO boot.

hugetlb-cma-kho: a KHO boot must put its area somewhere else when a page
of the previous kernel's area is preserved, and never in the scratch
areas it hands on (a page there could not be preserved again).
hugetlb-cma-kho-shmem: nor over preserved pages not reserved yet (fix 1):
with no room left by them, no area at all.

A 6 GiB guest with hugetlb_cma=2G and automatic scratch. The bare base
counts the 2 GiB area among the kernel's early reservations and asks for
twice that as scratch: KHO is disabled for lack of memory. With the series
every one of three generations has its 2 GiB area and KHO on. Both boots
pin the image (nokaslr): physical KASLR sometimes puts it in the only free
1 GiB-aligned 2 GiB block, and then the area cannot be reserved at all,
with or without KHO.
"""
from scenarios import base_boot, check, gen_checks, scratch_bytes, test_kho_checks
import hugetlb_luo

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


def kho_boots(ctx, name, gens, mib, mem, cma_area, extra=""):
    """The generations of hugetlb-cma-kho's command line (and extra) in a
    guest of mem: (checks, generations reached), with what every one of
    them must show (hugetlb_luo.common(): the file preserved and frozen,
    MIGRATE_CMA pageblocks exactly scratch plus cma_area)."""
    c = []
    run = hugetlb_luo.boot(ctx, name, "nokaslr kho_scratch=16M,2G,16M hugetlb_cma=2G "
                           "hugepagesz=1G khot.pool1g=2 khot.pool1g_each=1 " + extra, gens,
                           mib=mib, huge="1G", mem=mem)
    reached = gen_checks(c, run, name, gens)
    hugetlb_luo.common(c, name, reached, gens, mib=mib, frozen=hugetlb_luo.FROZEN_NO_HOLE,
                       cma_area=cma_area)
    return c, reached


def area_reserved(c, name, g):
    """Generation g reserved its whole area."""
    check(c, "%s: gen %d reserved its 2048 MiB area" % (name, g.index),
          g.grep(r"hugetlb_cma: reserved 2048 MiB on node 0"),
          "; ".join(g.grep(r"hugetlb_cma:|cma: ")))


def no_area(c, name, g, where):
    """Generation g found no room for its area (where: what had none) and
    reserved none, saying so, rather than put it elsewhere."""
    check(c, "%s: gen %d has no room %s: no area, and says so" % (name, g.index, where),
          g.grep(r"cma: Failed to reserve 2048 MiB")
          and g.grep(r"hugetlb_cma: reservation failed: err -12, node 0")
          and not g.grep(r"hugetlb_cma: reserved"), "; ".join(g.grep(r"hugetlb_cma: |cma: ")))


def file_back(c, name, g, mib):
    """Generation g has the 1 GiB-page file of mib MiB back, every byte."""
    check(c, "%s: gen %d has the file back, every byte" % (name, g.index),
          hugetlb_luo.huge_verified(g, mib, hugetlb_luo.GIG_KB),
          g.fact("luo_check") or "no luo_check")


def hugetlb_cma_kho(ctx):
    """hugetlb_cma=2G in a 10 GiB guest with a 2 GiB global scratch
    area (kho_scratch=16M,2G,16M, as a host that sizes scratch itself),
    three generations, each growing its pool of 1 GiB pages to two from
    its own area (khot.pool1g_each) and preserving a 1 GiB file. Gen 1,
    a first boot, reserves its area before scratch exists; the page its
    file preserves lies in that area, so gen 2 must place its area
    elsewhere in the memory its early allocations may use, where the
    2 GiB scratch area, mostly free then, is the first fit: without
    patch 89 the area took 192 MiB of it (MIGRATE_CMA pageblocks 192 MiB
    short of scratch + area), with it the area lies in two ranges outside
    scratch. Per generation: the area reserved whole, its pageblocks and
    scratch's together exactly the MIGRATE_CMA ones (disjoint: cma does
    not say where its ranges are), no HugeTLB page in scratch once the
    pool took its pages from the area, the file preserved (its pages could not be in scratch),
    every byte back, and the pool of two with the preserved page in use.
    With 8 GiB the same command line leaves the extension no room for
    the area in the KHO boots: hugetlb-cma-kho-noroom (--full). nokaslr
    as in hugetlb-cma."""
    name, gens, mib, gig = "hugetlb-cma-kho", 3, 1024, "1048576kB"
    c, reached = kho_boots(ctx, name, gens, mib, "10G", AREA)
    for g in reached:
        area_reserved(c, name, g)
        check(c, "%s: gen %d: no HugeTLB page in scratch with the pool grown" % (name, g.index),
              g.fact("huge_in_scratch") == "0", g.fact("huge_in_scratch"))
        start = hugetlb_luo.pools(g, "start", gig).get("all")
        want = (2, 2, 0) if g.index == 1 else (2, 1, 0)
        check(c, "%s: gen %d: a pool of two 1 GiB pages%s" % (
            name, g.index, "" if g.index == 1 else ", the preserved one in use"),
              start is not None and start[:3] == want, str(start))
        if g.index > 1:
            file_back(c, name, g, mib)
    return c


def hugetlb_cma_kho_noroom(ctx):
    """hugetlb-cma-kho's command line in an 8 GiB guest, two generations:
    with gen 1's preserved page where its area was and the 2 GiB scratch
    area, the memory gen 2's early allocations may use outside scratch
    has no room for 2 GiB in 1 GiB-aligned ranges. Gen 2 must boot
    without an area, and say so, rather than put it in scratch (without
    patch 89: 1 GiB of it in scratch): its MIGRATE_CMA pageblocks are
    exactly scratch, and the file comes back every byte."""
    name, gens, mib = "hugetlb-cma-kho-noroom", 2, 1024
    c, reached = kho_boots(ctx, name, gens, mib, "8G", {1: AREA})
    if len(reached) < 2:
        return c
    g1, g2 = reached
    area_reserved(c, name, g1)
    no_area(c, name, g2, "outside scratch")
    file_back(c, name, g2, mib)
    return c


def hugetlb_cma_kho_shmem(ctx):
    """Fix 1 (in a KHO boot, cma_declare_contiguous_multi() walks only
    memory early allocations may use): hugetlb-cma-kho's command line with
    a 1 GiB shmem memfd preserved beside the file, two generations. In
    gen 2 the memfd's pages, preserved but not reserved yet, are spread
    over the memory above 4 GiB, so the scratch extension's stretches have
    no room for 2 GiB in 1 GiB-aligned ranges, not even by the
    multi-range walk: gen 2 must boot without an area, and say so, rather
    than place it over them, and have the shmem memfd and the file back,
    every byte. With the fix undone (the walk over all free memory) gen 2
    reserved the area in two ranges, 1 GiB of it in scratch."""
    name, gens, mib, shm = "hugetlb-cma-kho-shmem", 2, 1024, 1024
    c, reached = kho_boots(ctx, name, gens, mib, "10G", {1: AREA}, "khot.luo_shmem=%d" % shm)
    for g in reached[:1]:
        area_reserved(c, name, g)
    for g in reached[1:]:
        no_area(c, name, g, "in memory without preserved pages")
        check(c, "%s: gen %d has the shmem memfd back, every byte" % (name, g.index),
              hugetlb_luo.shmem_verified(g, shm), g.fact("luo_shmem_check") or "no check")
        file_back(c, name, g, mib)
    return c


SCENARIOS = [
    ("hugetlb-cma", hugetlb_cma),
    ("hugetlb-cma-kho", hugetlb_cma_kho),
    ("hugetlb-cma-kho-shmem", hugetlb_cma_kho_shmem),
    ("hugetlb-cma-kho-noroom", hugetlb_cma_kho_noroom),
    ("base-hugetlb-cma", base_hugetlb_cma),
]
