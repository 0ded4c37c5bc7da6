"""A KHO boot that fails to reserve the preserved memory part-way gives
back what it had reserved (the reserve-by-runs patch, and the
fail_kho_reserve= fault attribute after it).

Generation 1 preserves test_kho's data, a 256 MiB memfd through LUO and
a 16 MiB reserve_mem= area. Generation 2 boots with a fault attribute
that fails the N-th run's reservation.

fault-reserve (fail_kho_reserve=N,100,0,-1: every N-th reservation
fails). The runs are reserved in address order from a list taken from
scratch memory; when that fails for want of memory, the successor tries
once more in the walk's order without the list, and that fails too at
its N-th run. The handover is then dropped, and the runs reserved
before the failure must be released again: memblock.reserved has as
many regions after as before, and generation 2 has as much memory as
generation 1 (MemTotal within 4 MiB; the runs reserved before the
failure hold more than that, so a release that was left out would
show). The reserve_mem= area, revived from the handover before the
failure and still used by name, must stay reserved: were it released
with the runs, generation 2 would have 16 MiB more than generation 1.

fault-reserve-retry (fail_kho_reserve=N,100,0,1: the N-th reservation
fails once). The second try, in the walk's order, succeeds: the
handover is kept, and the memfd comes back with every byte.
"""
import re

from scenarios import FAULT_FORCED as FORCED, Skip, check, gen_checks, luo_filled, luo_verified

# The failing call: late enough that the runs before it hold more memory
# than the MemTotal tolerance (checked below, not assumed).
NTH = 40
MIB = 256
AREA_MIB = 16
REVIVED = r"Revived memory reservation 'oops' from KHO"
FAILED = re.compile(r"KHO: reserving preserved memory failed \((-?\d+)\) after (\d+) pages in (\d+) runs; "
                    r"released them, memblock.reserved (\d+) -> (\d+) regions")
RETRY = re.compile(r"KHO: reserving preserved memory in address order failed after (\d+) runs; "
                   r"again in tree order")
RESERVED = re.compile(r"KHO: reserved (\d+) preserved pages in (\d+) runs, .* in tree order")
DROPPED = r"KHO: handover from the previous kernel: dropped: its preserved memory could not be reserved"
TOLERANCE_KIB = 4096


def boot(ctx, name, times):
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    return ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=%d reserve_mem=%dM:4096:oops "
                    "fail_kho_reserve=%d,100,0,%d" % (MIB, AREA_MIB, NTH, times),
                    gens=2, mem="2G", initrd=ctx.args.selftest_initrd)


def retried(c, name, g2):
    """Generation 2 said once that it tried again in tree order, after the
    run before the failing one."""
    retry = g2.grep(RETRY.pattern)
    check(c, "%s: gen 2 tried again in tree order after run %d, said once" % (name, NTH - 1),
          len(retry) == 1 and RETRY.search(retry[0]).group(1) == str(NTH - 1),
          "; ".join(retry) or "no line")


def fault_reserve(ctx):
    name = "fault-reserve"
    c = []
    run = boot(ctx, name, -1)
    reached = gen_checks(c, run, name, 2)
    if not reached:
        return c
    g1 = reached[0]
    check(c, "%s: gen 1 preserved a %d MiB memfd" % (name, MIB), luo_filled(g1, MIB),
          g1.fact("luo_fill") or "no luo_fill")
    check(c, "%s: gen 1 injects nothing (no reservation in a first boot)" % name,
          not g1.grep(FORCED), "; ".join(g1.grep(FORCED)[:1]))
    if len(reached) < 2:
        return c
    g2 = reached[1]
    check(c, "%s: gen 2 revived the reserve_mem= area before the failure" % name,
          len(g2.grep(REVIVED)) == 1, "; ".join(g2.grep(REVIVED)) or "no line")
    forced = g2.grep(FORCED)
    check(c, "%s: gen 2 injected two failures, one in each try" % name, len(forced) == 2,
          "%d lines" % len(forced))
    retried(c, name, g2)
    lines = g2.grep(FAILED.pattern)
    m = FAILED.search(lines[0]) if lines else None
    check(c, "%s: gen 2 reports the failure and what it released" % name, m, "no such line")
    if m:
        err, pages, runs, before, after = (int(x) for x in m.groups())
        check(c, "%s: the failure came at run %d, as asked" % (name, NTH), runs == NTH - 1 and err == -12,
              lines[0])
        check(c, "%s: the runs before it held more than %d KiB" % (name, TOLERANCE_KIB),
              pages * 4 > TOLERANCE_KIB, "%d pages" % pages)
        check(c, "%s: memblock.reserved has its regions of before" % name, before == after, lines[0])
    check(c, "%s: gen 2 dropped the handover, in one line" % name, len(g2.grep(DROPPED)) == 1,
          "; ".join(g2.grep(DROPPED)) or "no line")
    chk = g2.fact("luo_check") or ""
    check(c, "%s: gen 2 finds no preserved LUO session" % name,
          "retrieve session: No such file or directory" in chk, chk or "no luo_check")
    m1, m2 = g1.meminfo("MemTotal"), g2.meminfo("MemTotal")
    check(c, "%s: gen 2 has the memory back and keeps the area (MemTotal within %d KiB of gen 1)"
          % (name, TOLERANCE_KIB),
          m1 and m2 and abs(m1 - m2) <= TOLERANCE_KIB, "gen 1 %s kB, gen 2 %s kB" % (m1, m2))
    return c


def fault_reserve_retry(ctx):
    name = "fault-reserve-retry"
    c = []
    reached = gen_checks(c, boot(ctx, name, 1), name, 2)
    if len(reached) < 2:
        return c
    g1, g2 = reached
    check(c, "%s: gen 1 preserved a %d MiB memfd" % (name, MIB), luo_filled(g1, MIB),
          g1.fact("luo_fill") or "no luo_fill")
    forced = g2.grep(FORCED)
    check(c, "%s: gen 2 injected one failure" % name, len(forced) == 1, "%d lines" % len(forced))
    retried(c, name, g2)
    done = g2.grep(RESERVED.pattern)
    check(c, "%s: gen 2 reserved every preserved page in tree order" % name,
          len(done) == 1 and not g2.grep(FAILED.pattern) and not g2.grep(DROPPED),
          "; ".join(done + g2.grep(FAILED.pattern) + g2.grep(DROPPED)) or "no line")
    check(c, "%s: gen 2 has test_kho's data back" % name,
          g2.fact("kho_in") == "yes" and g2.grep(r"test_kho: KHO restore succeeded"),
          "; ".join(g2.grep(r"test_kho"))[:300])
    check(c, "%s: gen 2 has the memfd back, every byte" % name, luo_verified(g2, MIB),
          g2.fact("luo_check") or "no luo_check")
    return c


SCENARIOS = [("fault-reserve", fault_reserve), ("fault-reserve-retry", fault_reserve_retry)]
