"""Gigantic pages on unequal NUMA nodes, with a memoryless node: every KHO
generation gets exactly as many 1 GiB pages as the same kernel without KHO
on the same guest.

For each case the same kernel boots once without KHO (the baseline) and
then as a chain of three KHO generations with the same layout and the same
hugepages= (default or explicit scratch). In the "late" cases generation 1
asks for no huge pages, so it places its scratch areas where the pages
would go, and generations 2 and 3 ask for them: their first try on a node
lands in that node's scratch, the case a version of the series got wrong
(it narrowed the window below the scratch and fell back to other nodes
only inside it, then stopped at the first failure). Generation 1 has put
preserved memory where the pages would go, so there the check is against
the 1 GiB blocks that lie outside scratch and preserved memory.
"""
import coverage
import ext_coverage
from scenarios import GIB_KB, check, gen_checks, kho_checks, test_kho_checks

LAYOUTS = {
    # 1 GiB-aligned blocks: node 0 [0,1G) [1G,2G); node 1 [2G,3G) and
    # [4G,7G) (RAM above 3 GiB starts at 4 GiB); node 2 has a CPU, no memory
    "3node": ["2G", "4G", "0"],
    # node 0 has one aligned block, node 1 the rest
    "2node": ["1536M", "4608M"],
}

SPECS = {
    "n": "hugepagesz=1G hugepages=3",
    "pernode": "hugepagesz=1G hugepages=0:1,1:2",
}

SCRATCH = {"default": "", "explicit": "kho_scratch=16M,64M,32M"}

CASES = [
    ("3node", "n", "default", False), ("3node", "n", "explicit", False),
    ("3node", "pernode", "default", False), ("3node", "pernode", "explicit", False),
    ("3node", "n", "default", True), ("3node", "pernode", "default", True),
    ("2node", "n", "default", False), ("2node", "n", "explicit", False),
]

# Physical KASLR can put the first kernel's image in any 1 GiB block (and
# a different one in the baseline boot than in the KHO boot): both boots
# pin it, so that the two compare like for like.
PIN = "nokaslr"

_baseline = {}


def counts(g, nodes):
    return g.hugepages(GIB_KB), [g.node_hugepages(n, GIB_KB) for n in range(nodes)]


def baseline(ctx, layout, spec):
    """Per-node 1 GiB pages of the same kernel without KHO, booted once."""
    key = (layout, spec)
    if key not in _baseline:
        run = ctx.boot("giga-nodes-%s-%s-nokho" % (layout, spec), PIN + " " + SPECS[spec], gens=1,
                       mem="6G", numa=LAYOUTS[layout])
        g = run.reached()
        _baseline[key] = counts(g[0], len(LAYOUTS[layout])) if g else None
    return _baseline[key]


def usable_blocks(g, prev):
    """1 GiB-aligned blocks of g's RAM that overlap no scratch area and no
    page (or tree page) that prev preserved: where g can put 1 GiB pages."""
    ram = coverage._intervals(coverage.ram_ranges(g.files.get("iomem", [])))
    bad = coverage._intervals(ext_coverage.preserved_of(prev) + ext_coverage.scratch_of(g))
    n = 0
    for a, e in ram:
        b = (a + (1 << 30) - 1) >> 30 << 30
        while b + (1 << 30) <= e:
            if not any(s < b + (1 << 30) and b < t for s, t in bad):
                n += 1
            b += 1 << 30
    return n


def case(ctx, layout, spec, scratch, late):
    name = "giga-nodes-%s-%s-%s%s" % (layout, spec, scratch, "-late" if late else "")
    c = []
    base = baseline(ctx, layout, spec)
    check(c, "%s: baseline boot without KHO" % name, base is not None and base[0],
          "baseline %s" % (base,))
    if not base:
        return c
    append = PIN + " kho=on " + SCRATCH[scratch]
    if late:
        # usable_blocks() reads generation g - 1's list of preserved ranges
        append += " khot.dump_preserved=1 khot.add=" + SPECS[spec].replace(" ", "+")
    else:
        append += " " + SPECS[spec]
    run = ctx.boot(name, append, gens=3, mem="6G", numa=LAYOUTS[layout])
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    test_kho_checks(c, name, reached)
    for g in reached:
        if late and g.index == 1:
            continue
        got = counts(g, len(LAYOUTS[layout]))
        if late:
            # Generation 1 preserved memory where the pages would have gone:
            # as many as fit outside scratch and preserved memory.
            prev = reached[g.index - 2]
            check(c, "%s: gen %d listed its preservations" % (name, prev.index),
                  prev.filestate.get("kho_out_preserved") == "ok",
                  prev.filestate.get("kho_out_preserved"))
            fit = min(base[0], usable_blocks(g, prev))
            check(c, "%s: gen %d gets as many 1 GiB pages as fit outside scratch and preserved memory"
                  % (name, g.index), fit > 0 and got[0] == fit,
                  "KHO %s, fit %d, without KHO %s (total, per node)" % (got, fit, base))
            continue
        check(c, "%s: gen %d gets as many 1 GiB pages as without KHO" % (name, g.index),
              got[0] == base[0], "KHO %s, without KHO %s (total, per node)" % (got, base))
        if spec == "pernode":
            check(c, "%s: gen %d gets them on the same nodes" % (name, g.index),
                  got[1] == base[1], "KHO %s, without KHO %s" % (got[1], base[1]))
        check(c, "%s: gen %d has no huge page in scratch" % (name, g.index),
              g.fact("huge_in_scratch") == "0", "huge_in_scratch=%s" % g.fact("huge_in_scratch"))
    return c


SCENARIOS = [("giga-nodes-%s-%s-%s%s" % (l, s, k, "-late" if late else ""),
              (lambda l, s, k, late: lambda ctx: case(ctx, l, s, k, late))(l, s, k, late))
             for l, s, k, late in CASES]
