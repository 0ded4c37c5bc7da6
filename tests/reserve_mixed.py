"""Preserved chunks of two orders that alternate in memory are reserved in
address order (the reserve-by-runs patch).

Generation 1 preserves MIB MiB with the test-only knob bench_mixed: in
every block of four pages, page 0 as an order-0 chunk and pages 2-3 as an
order-1 chunk, so that no two chunks touch and the runs of the two orders
alternate. Generation 2 must reserve every one of them as a run of its
own, say that it took them in address order, and restore test_kho's
data. memblock.reserved grows by at least one region per block: an
order-1 chunk touches the next block's order-0 chunk where two blocks
were allocated side by side, and memblock merges those. The span of the
guest's clock from the line before the reservation to the line after it
is shown with each check (not judged: ./kho bench measures).
"""
import re

from scenarios import Skip, check, gen_checks, kho_checks

MIB = 256
RESERVED = re.compile(r"\[\s*([\d.]+)\] KHO: reserved (\d+) preserved pages in (\d+) runs, "
                      r"memblock.reserved (\d+) -> (\d+) regions, in address order")
BEFORE = re.compile(r"\[\s*([\d.]+)\] mem auto-init:")


def span(g, reserved):
    """Guest seconds from the line before the reservation to its report
    (reserved: the RESERVED match of that report)."""
    b = [m for m in (BEFORE.search(l) for l in g.dmesg) if m]
    return float(reserved.group(1)) - float(b[-1].group(1)) if b else None


def reserve_mixed(ctx, name="reserve-mixed", mib=MIB, mem="2G"):
    c = []
    run = ctx.boot(name, "kho=on khot.mixed=%d" % mib, gens=2, mem=mem)
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g1, g2 = reached
    check(c, "%s: gen 1 preserved the interleaved chunks" % name, g1.fact("mixed") == str(mib),
          g1.fact("mixed_failed") or "")
    m = [RESERVED.search(l) for l in g2.dmesg]
    m = [x for x in m if x]
    blocks = mib << (20 - 12 - 2)  # blocks of four pages
    if not m:
        check(c, "%s: gen 2 reserves the runs in address order" % name, False,
              "; ".join(g2.grep(r"KHO: reserv"))[:200])
        return c
    pages, runs, before, after = (int(m[0].group(i)) for i in (2, 3, 4, 5))
    t = span(g2, m[0])
    detail = "%d pages in %d runs, regions %d -> %d, %.3f s (guest clock)" % (
        pages, runs, before, after, t if t is not None else -1)
    check(c, "%s: gen 2 reserves every chunk as a run of its own, in address order" % name,
          pages >= 3 * blocks and runs >= 2 * blocks and after - before >= blocks, detail)
    check(c, "%s: gen 2 test_kho data intact" % name,
          g2.grep(r"test_kho: KHO restore succeeded"), "; ".join(g2.grep(r"test_kho"))[:200])
    return c


SCENARIOS = [("reserve-mixed", reserve_mixed)]
