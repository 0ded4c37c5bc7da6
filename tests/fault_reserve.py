"""A KHO boot that fails to reserve the preserved memory part-way gives
back what it had reserved (the reserve-by-runs patch, and the
fail_kho_reserve= fault attribute after it).

Generation 1 preserves test_kho's data, a 256 MiB memfd through LUO and
a 16 MiB reserve_mem= area. Generation 2 boots with
fail_kho_reserve=N,100,0,1: the kernel's fault-injection framework fails
the N-th run's reservation once. The handover is then dropped, and the
runs reserved before the failure must be released again: memblock.reserved
has as many regions after as before, and generation 2 has as much memory
as generation 1 (MemTotal within 4 MiB; the runs reserved before the
failure hold more than that, so a release that was left out would show).
The reserve_mem= area, revived from the handover before the failure and
still used by name, must stay reserved: were it released with the runs,
generation 2 would have 16 MiB more than generation 1.
"""
import re

from scenarios import FAULT_FORCED as FORCED, Skip, check, gen_checks, luo_filled

# The failing call: late enough that the runs before it hold more memory
# than the MemTotal tolerance (checked below, not assumed).
NTH = 40
MIB = 256
AREA_MIB = 16
REVIVED = r"Revived memory reservation 'oops' from KHO"
FAILED = re.compile(r"KHO: reserving preserved memory failed \((-?\d+)\) after (\d+) pages in (\d+) runs; "
                    r"released them, memblock.reserved (\d+) -> (\d+) regions")
DROPPED = r"KHO: handover from the previous kernel: dropped: its preserved memory could not be reserved"
TOLERANCE_KIB = 4096


def fault_reserve(ctx):
    name = "fault-reserve"
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    c = []
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=%d reserve_mem=%dM:4096:oops fail_kho_reserve=%d,100,0,1"
                   % (MIB, AREA_MIB, NTH),
                   gens=2, mem="2G", initrd=ctx.args.selftest_initrd)
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
    check(c, "%s: gen 2 injected one failure" % name, len(forced) == 1, "%d lines" % len(forced))
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


SCENARIOS = [("fault-reserve", fault_reserve)]
