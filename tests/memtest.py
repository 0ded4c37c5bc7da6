"""memtest= in a KHO boot (the mm/memtest fix at the front of the series).

early_memtest() writes its patterns to free memory long before the
preserved memory is reserved; the base walked all of it and zeroed every
preserved page. The series kernel walks only scratch in a KHO boot. Run
on the sanitizer kernel, the one configuration with CONFIG_MEMTEST
(configs/debug.fragment): a 2 GiB guest (3 GiB on that kernel, see
DebugCtx.MEM), memtest=1 in every generation.
Gen 1 (a first boot) tests nearly all memory; gen 2 (a KHO boot) tests
much less, and test_kho's preserved data comes back intact.
"""
import re

import coverage

from ext_coverage import scratch_of
from scenarios import check, gen_checks, kho_checks, ranges_of, test_kho_checks

RANGE = re.compile(r"^\s*\[[^]]*\]\s+(0x[0-9a-f]+) - (0x[0-9a-f]+) pattern ")


def tested_ranges(g):
    """(start, end) of every range early_memtest() wrote its pattern to in
    generation g."""
    out = []
    for line in g.dmesg:
        m = RANGE.match(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16)))
    return out


def tested_bytes(g):
    """Bytes early_memtest() wrote its pattern to in generation g."""
    return sum(e - s for s, e in tested_ranges(g))


def outside(ranges, allowed):
    """The parts of ranges ((start, end) list) outside allowed ((start,
    size) list), merged."""
    return coverage._subtract(coverage._intervals([(s, e - s) for s, e in ranges]),
                              coverage._intervals(allowed))


def memtest(ctx):
    name = "memtest"
    c = []
    run = ctx.boot(name, "kho=on memtest=1", gens=2, mem="2G")
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    test_kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g1, g2 = reached[0], reached[1]
    t1, t2 = tested_bytes(g1), tested_bytes(g2)
    check(c, "%s: gen 1 (first boot) tested most of memory" % name, t1 > 1 << 30,
          "%d MiB tested" % (t1 >> 20))
    check(c, "%s: gen 2 (KHO boot) ran the memory test" % name, t2 > 0,
          "; ".join(g2.grep(r"early_memtest")) or "no early_memtest line")
    check(c, "%s: gen 2 tested far less than gen 1" % name,
          0 < t2 < t1 // 2, "gen 1 %d MiB, gen 2 %d MiB" % (t1 >> 20, t2 >> 20))
    # Every range gen 2 tested lies in scratch: the areas handed over (gen
    # 2 hands the same ones on) or the stretches it extended scratch by.
    scratch = scratch_of(g2) + ranges_of(g2.files.get("kho_scratch_ext", []))
    out = outside(tested_ranges(g2), scratch)
    check(c, "%s: gen 2 tested only scratch memory" % name, scratch and not out,
          "%d pieces outside scratch, first %s" % (len(out), [hex(x) for x in out[0]])
          if out else "no scratch list")
    return c
