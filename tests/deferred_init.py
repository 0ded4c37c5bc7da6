"""Preserved memory whose struct pages deferred init sets up (patch 72,
"kho: let deferred init set up the struct pages of preserved memory",
and patch 73's test-only early lookup). Needs a kernel with
CONFIG_DEFERRED_STRUCT_PAGE_INIT: the sanitizer kernel has it, so the
scenario runs as debug-deferred-memfd.

Generation 1 fills a 1 GiB memfd and preserves it through LUO, on two
NUMA nodes of 1 and 2 GiB. Deferred init sets up a node's highest zone
(DMA32 on both) from the first section boundary after the zone's first
128 MiB (defer_init() counts from the zone's start, whatever the memory
ranges): 256 MiB on node 0, whose zone starts at 16 MiB, and 1152 MiB on
node 1. At most 384 MiB of the memfd can lie below those points, so
most of it lies where deferred init works.
Generation 2 must:
 - say that it left preserved pages to deferred init, and that those are
   at most what it reserved and at least half of the memfd;
 - run deferred init on both nodes (a precondition of the layout more
   than a check of the patch);
 - have its preserved pageblocks Movable, as a fresh boot has them: in
   gen 2, no more Unmovable pageblocks than gen 1 had before it filled
   the memfd and no fewer Movable ones, give or take SLACK (a pageblock
   nobody set stays type 0, Unmovable; the memfd's part left to deferred
   init fills at least 256 of them, and the check asks for more than
   128);
 - find the first chunk of the last run left to deferred init preserved,
   with its order, when the test-only kho_test_early_lookup (patch 73)
   looks it up at early_initcall, before the threads start, as LUO's
   restores of its own state do: KHO must set up that run's struct pages
   for the lookup (the last run: deferred_grow_zone() may have set up the
   first before early_initcall);
 - give the memfd back, every byte (guest/luo-fill.c checks each page's
   stamp, holes and size): a page that deferred init did not set up and
   mark cannot be restored;
 - print no warning (the debug wrapper fails on any report, among them
   the one a restore while deferred init runs would print).
"""
import re

from scenarios import Skip, check, gen_checks, kho_checks, luo_verified

MIB = 1024
SLACK = 32  # pageblocks (64 MiB)
LEFT = re.compile(r"KHO: (\d+) preserved pages in (\d+) runs left to deferred init")
RESERVED = re.compile(r"KHO: reserved (\d+) preserved pages in (\d+) runs")
NODE_DONE = re.compile(r"node (\d+) deferred pages initialised in")
EARLY = re.compile(r"KHO test: early lookup of \S+, left to deferred init: order (-?\d+), "
                   r"preserved as (\d+)")


def pageblocks(g):
    """The guest's "pageblocks" fact as {migratetype: count}."""
    f = (g.fact("pageblocks") or "").split()
    try:
        return dict(zip(f[::2], map(int, f[1::2])))
    except ValueError:
        return {}


def deferred_memfd(ctx):
    name = "deferred-memfd"
    pages = MIB << 8
    c = []
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    run = ctx.boot(name, "kho=on liveupdate=on kho_test_early_lookup=1 "
                   "khot.luo_mib=%d" % MIB, gens=2,
                   initrd=ctx.args.selftest_initrd, mem="3G", numa=["1G", "2G"])
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g2 = reached[1]
    left = [LEFT.search(l) for l in g2.grep(LEFT)]
    res = [RESERVED.search(l) for l in g2.grep(RESERVED)]
    check(c, "%s: gen 2 says how many preserved pages it left to deferred init" % name,
          len(left) == 1 and len(res) == 1, "%d and %d lines" % (len(left), len(res)))
    if len(left) == 1 and len(res) == 1:
        n, reserved = int(left[0].group(1)), int(res[0].group(1))
        check(c, "%s: at least half of the memfd, at most what was reserved, was left to deferred init"
              % name, pages // 2 <= n <= reserved,
              "%d pages left, %d reserved, memfd %d pages" % (n, reserved, pages))
        b1, b2 = pageblocks(reached[0]), pageblocks(g2)
        ok = all(t in b for b in (b1, b2) for t in ("Unmovable", "Movable")) and n // 512 > 4 * SLACK
        check(c, "%s: gen 2's preserved pageblocks are Movable (Unmovable pageblocks "
              "at most gen 1's + %d, Movable at least gen 1's - %d)" % (name, SLACK, SLACK),
              ok and b2["Unmovable"] <= b1["Unmovable"] + SLACK and
              b2["Movable"] >= b1["Movable"] - SLACK,
              "gen 1 %s, gen 2 %s, %d pageblocks left to deferred init"
              % (reached[0].fact("pageblocks"),
                 g2.fact("pageblocks"), n // 512))
    nodes = sorted({int(m.group(1)) for m in map(NODE_DONE.search, g2.grep(NODE_DONE))})
    check(c, "%s: gen 2 ran deferred init on both nodes" % name, nodes == [0, 1],
          "nodes %s" % nodes)
    early = g2.grep(EARLY)
    m = EARLY.search(early[0]) if len(early) == 1 else None
    check(c, "%s: gen 2 found a chunk left to deferred init, with its order, "
          "before deferred init ran" % name, m and m.group(1) == m.group(2),
          early[0] if early else "no early lookup line")
    chk = g2.fact("luo_check") or ""
    check(c, "%s: gen 2 has the memfd back, every byte, holes and size" % name,
          luo_verified(g2, MIB), chk or "no luo_check")
    return c


SCENARIOS = [("deferred-memfd", deferred_memfd)]
