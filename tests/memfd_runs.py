"""A LUO memfd restored run by run (patches 54-56), on layouts that cut the
runs. guest/luo-fill.c reads where the memfd's pages lie from
/proc/self/pagemap in the predecessor and prints it ("frames: R runs, S
pow2 steps, O other steps, L below 4 GiB"); the successor restores the
memfd and checks every page's stamp.

 - memfd-runs: a 256 MiB memfd filled page by page: its frames come in
   long runs, which the successor restores with kho_restore_folios().
 - memfd-gaps-numa: a 1 GiB memfd filled with one page of an unpreserved
   memfd after every third page (luo-fill --gaps), on two NUMA nodes. Most
   neighbours are then two frames apart: a pair that would pass for
   order-1 folios if the order were guessed from the spacing; the
   successor reads the order from the handover (kho_preserved_order()),
   so such pairs are runs of one, and runs of two or three pages
   elsewhere. Node 0 has 1 GiB, so the memfd spills over to node 1, whose
   highest zone (above 4 GiB) comes first: it lies on both nodes, below
   and above 4 GiB, in more than one zone.
"""
import re

from scenarios import Skip, check, gen_checks, kho_checks, luo_filled, luo_verified

FRAMES = re.compile(r"frames: (\d+) runs, (\d+) pow2 steps, (\d+) other steps, (\d+) below 4 GiB")
RESERVED = re.compile(r"KHO: reserved (\d+) preserved pages in (\d+) runs")


def frames(fill):
    """(runs, pow2 steps, other steps, pages below 4 GiB) from luo-fill's line."""
    m = FRAMES.search(fill or "")
    return tuple(int(x) for x in m.groups()) if m else None


def boot(ctx, name, append, **kw):
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    return ctx.boot(name, "kho=on liveupdate=on " + append, gens=2,
                    initrd=ctx.args.selftest_initrd, **kw)


def verified(c, name, reached, mib):
    if len(reached) == 2:
        chk = reached[1].fact("luo_check") or ""
        check(c, "%s: gen 2 has the memfd back, every byte, holes and size" % name,
              luo_verified(reached[1], mib), chk or "no luo_check")


def memfd_runs(ctx):
    name, mib = "memfd-runs", 256
    pages = mib << 8
    c = []
    run = boot(ctx, name, "khot.luo_mib=%d" % mib, mem="2G")
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if not reached:
        return c
    fill = reached[0].fact("luo_fill") or ""
    f = frames(fill)
    check(c, "%s: gen 1 read the memfd's frames" % name, f, fill)
    if f:
        # Runs of 16 pages on average at least: the successor's restore
        # takes most of the memfd in calls of more than one folio.
        check(c, "%s: the memfd's frames come in runs (runs <= pages/16)" % name,
              f[0] <= pages // 16, "%d runs in %d pages" % (f[0], pages))
    verified(c, name, reached, mib)
    back_in_memtotal(c, name, reached, mib)
    return c


def back_in_memtotal(c, name, reached, mib):
    """Every restored folio is handed back to the kernel's accounting
    (kho_restore_folios() adds it to the managed pages): once the memfd
    is checked and closed, gen 2's MemTotal is within 8 MiB of gen 1's,
    where before the check it lacked the memfd's mib MiB."""
    if len(reached) < 2:
        return
    first = reached[0].meminfo("MemTotal")
    before = reached[1].meminfo("MemTotal")
    after = reached[1].fact("memtotal_checked")
    check(c, "%s: gen 2: with the memfd checked and closed, MemTotal is back within 8 MiB "
          "of gen 1's (before the check it lacked the memfd's %d MiB)" % (name, mib),
          first and before and after and after.isdigit()
          and first - before >= (mib - 8) << 10 and abs(first - int(after)) <= 8 << 10,
          "gen 1 %s kB, gen 2 %s kB before the check, %s kB after" % (first, before, after))


def memfd_gaps_numa(ctx):
    name, mib = "memfd-gaps-numa", 1024
    pages = mib << 8
    c = []
    run = boot(ctx, name, "khot.luo_mib=%d khot.luo_gaps=1" % mib,
               mem="4G", numa=["1G", "3G"])
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if not reached:
        return c
    fill = reached[0].fact("luo_fill") or ""
    check(c, "%s: gen 1 preserved %d MiB in a memfd" % (name, mib),
          luo_filled(reached[0], mib), fill)
    f = frames(fill)
    check(c, "%s: gen 1 read the memfd's frames" % name, f, fill)
    if f:
        runs, pow2, other, low = f
        # One spacer page after every third memfd page: about one step in
        # three is two frames; allow the allocator to break the pattern in
        # half of the places.
        check(c, "%s: the memfd's frames are cut by holes (pow2 steps >= pages/6)" % name,
              pow2 >= pages // 6, "%d pow2 steps, %d other, %d runs in %d pages"
              % (pow2, other, runs, pages))
        check(c, "%s: the memfd lies below and above 4 GiB" % name, 0 < low < pages,
              "%d of %d pages below 4 GiB" % (low, pages))
    if len(reached) < 2:
        return c
    res = reached[1].grep(RESERVED)
    m = RESERVED.search(res[0]) if res else None
    check(c, "%s: gen 2 reports the runs it reserved" % name, m, "no 'KHO: reserved' line")
    if m and f:
        # Every page of the memfd is reserved, in runs no longer than the
        # memfd's own between its holes (other preserved memory can join a
        # few of them).
        check(c, "%s: gen 2 reserved every memfd page, in at least pages/8 runs" % name,
              int(m.group(1)) >= pages and int(m.group(2)) >= pages // 8, res[0])
    verified(c, name, reached, mib)
    return c


SCENARIOS = [
    ("memfd-runs", memfd_runs),
    ("memfd-gaps-numa", memfd_gaps_numa),
]
