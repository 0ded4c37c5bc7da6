"""Cgroup charges of a retrieved HugeTLB memfd (part 7).

guest/init (khot.cgroup=1) mounts cgroup v2 with memory_hugetlb_accounting
and runs luo-fill in a cgroup "vm" with the hugetlb and memory
controllers; luo-fill --cgroup prints vm's charges for the memfd's page
size while it holds the file: after the fill (gen 1), after retrieve and
once the file is mapped again (gen 2). guest/init prints vm's counters
after luo-fill is gone ("cgroup LABEL HUGETLB RSVD MEMCG MAXEVENTS
MEMMAXEVENTS": bytes, and the "max" events of hugetlb.2MB.events and
memory.events).

 - hugetlb-cgroup: the 64 MiB file of 2 MiB pages (24 pages, 8 holes).
   Gen 1's fill charges vm 24 pages of usage and memcg and 32 pages of
   reservation (its mapping reserved the holes too). Gen 2 retrieves it
   in vm: 24 pages of usage, reservation and memcg, the holes reserved
   only once the file is mapped again, and then exactly gen 1's numbers.
   With the file closed, vm is charged nothing.
 - hugetlb-cgroup-max: gen 2's vm may use 23 pages (hugetlb.2MB.max):
   the retrieve fails on the file's 24th page (ENOSPC, the page named),
   vm is charged nothing and counts one "max" event, and every page of
   the file is back in the free pool.
 - hugetlb-cgroup-memmax: gen 2's vm may use 40 MiB of memory
   (memory.max), less than the file's 48 MiB: the memory cgroup's charge
   fails (ENOMEM) part-way, the hugetlb cgroup's charges of that page are
   undone with the rest, and every page is back in the free pool.
"""
import re

from scenarios import gen_checks, kho_checks
import hugetlb_luo
from hugetlb_luo import DATA, MIB, check, pools

HUGE = 2 << 20
FILE = MIB << 20
POOL = 48
CHARGES = re.compile(r"; cgroup (\S+) (filled|retrieved|mapped again): hugetlb (-?\d+) "
                     r"rsvd (-?\d+) memcg (-?\d+)")


def charges(line):
    """{label: (cgroup, hugetlb, rsvd, memcg)} of luo-fill --cgroup's line."""
    return {m.group(2): (m.group(1), int(m.group(3)), int(m.group(4)), int(m.group(5)))
            for m in CHARGES.finditer(line or "")}


def counters(g, label):
    """vm's (hugetlb, rsvd, memcg, hugetlb max events, memory max events)
    that guest/init read at label."""
    for v in g.facts_of("cgroup") if g else []:
        f = v.split()
        if f and f[0] == label:
            try:
                return tuple(int(x) for x in f[1:])
            except ValueError:
                return tuple(f[1:])
    return None


def boot(ctx, name, append, gens):
    return hugetlb_luo.boot(ctx, name, "hugepagesz=2M hugepages=%d khot.cgroup=1 %s"
                            % (POOL, append), gens, mem="1G")


def setup_checks(c, name, reached):
    for g in reached:
        check(c, "%s: gen %d set up cgroup v2 with memory_hugetlb_accounting, vm with "
              "hugetlb and memory" % (name, g.index),
              g.fact("cgroup_setup") == "ok", g.fact("cgroup_setup"))


def hugetlb_cgroup(ctx):
    name, gens = "hugetlb-cgroup", 2
    c = []
    run = boot(ctx, name, "", gens)
    reached = gen_checks(c, run, name, gens)
    hugetlb_luo.common(c, name, reached, gens)
    setup_checks(c, name, reached)
    if not reached:
        return c
    fill = reached[0].fact("luo_fill") or ""
    filled = charges(fill).get("filled")
    # the fill's shared mapping reserved the whole file, holes included
    want1 = ("/vm", DATA * HUGE, FILE, DATA * HUGE)
    check(c, "%s: gen 1: the fresh file charges vm %d pages of usage and memcg, %d of "
          "reservation" % (name, DATA, FILE // HUGE), filled == want1,
          "%s, want %s" % (filled, want1))
    check(c, "%s: gen 1: vm's counters say the same with the file held for the kexec"
          % name, counters(reached[0], "filled") == want1[1:] + (0, 0),
          counters(reached[0], "filled"))
    if len(reached) < 2:
        return c
    g = reached[1]
    line = g.fact("luo_check") or ""
    check(c, "%s: gen 2 has the HugeTLB file back, every byte" % name,
          hugetlb_luo.huge_verified(g, MIB), line or "no luo_check")
    got = charges(line)
    want = ("/vm", DATA * HUGE, DATA * HUGE, DATA * HUGE)
    check(c, "%s: gen 2: retrieved in vm, the file charges it %d pages of usage, "
          "reservation and memcg" % (name, DATA), got.get("retrieved") == want,
          "%s, want %s" % (got.get("retrieved"), want))
    check(c, "%s: gen 2: mapped again, vm's charges are gen 1's (the holes reserved)"
          % name, filled is not None and got.get("mapped again") == filled,
          "%s, gen 1 %s" % (got.get("mapped again"), filled))
    check(c, "%s: gen 2: with the file closed vm is charged nothing" % name,
          counters(g, "checked") == (0, 0, 0, 0, 0), counters(g, "checked"))
    return c


def refused(ctx, name, append, fail, errnos, offset=None):
    """Boot name (two generations) with gen 2's vm limited by append: gen 1
    preserves the file, charged to vm; gen 2's retrieve fails with
    luo-fill's line fail, the kernel names the page once (errnos: the
    error as %pe prints it, by name or number; offset: the page's, when
    known) and warns of nothing else, and every page of the file is back
    in the free pool. Returns the checks and gen 2, or None."""
    c = []
    run = boot(ctx, name, append, 2)
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    setup_checks(c, name, reached)
    if len(reached) < 2:
        return c, None
    fill = reached[0].fact("luo_fill") or ""
    check(c, "%s: gen 1 preserved the HugeTLB file, charged to vm" % name,
          "preserved %d MiB" % MIB in fill and "; cgroup /vm filled" in fill, fill)
    g = reached[1]
    line = g.fact("luo_check") or ""
    check(c, "%s: gen 2: the retrieve fails (%s)" % (name, fail), "FAIL retrieve memfd: " + fail in line,
          line or "no luo_check")
    named = g.grep(r"hugetlb_luo: page at offset \d+ cannot go into the file")
    want = re.compile(r"page at offset %s cannot go into the file: (%s)$"
                      % (r"\d+" if offset is None else offset, errnos))
    check(c, "%s: gen 2 names the page vm has no room for%s, once"
          % (name, "" if offset is None else " (offset %d)" % offset),
          len(named) == 1 and bool(want.search(named[0].rstrip())), "; ".join(named) or "no line")
    warn = g.grep(hugetlb_luo.WARN)
    check(c, "%s: gen 2: no other warning from hugetlb_luo" % name,
          bool(named) and warn == named, "; ".join(w for w in warn if w not in named) or "none")
    checked = pools(g, "checked").get("all")
    check(c, "%s: gen 2: every page of the file is back in the free pool" % name,
          checked == (POOL, POOL, 0, 0), checked)
    return c, g


def hugetlb_cgroup_max(ctx):
    name, room = "hugetlb-cgroup-max", DATA - 1
    # data pages are huge pages 0-2, 4-6, ...: the 24th is page 30
    last = (DATA - 1) // 3 * 4 + (DATA - 1) % 3
    c, g = refused(ctx, name, "khot.cgroup_max=%d" % room, "No space left on device",
                   "-ENOSPC|-28", last * HUGE)
    if g:
        check(c, "%s: gen 2: with room for %d pages of %d, vm is charged nothing after the "
              "failed retrieve, one max event" % (name, room, DATA),
              counters(g, "checked") == (0, 0, 0, 1, 0), counters(g, "checked"))
    return c


def hugetlb_cgroup_memmax(ctx):
    name, mib = "hugetlb-cgroup-memmax", 40
    c, g = refused(ctx, name, "khot.cgroup_memmax=%d" % mib, "Cannot allocate memory",
                   "-ENOMEM|-12")
    if g:
        got = counters(g, "checked")
        check(c, "%s: gen 2: memory.max (%d MiB) below the file's %d MiB: vm is charged "
              "nothing after the failed retrieve, hugetlb cgroup included; memory.max was "
              "hit, hugetlb.2MB.max never" % (name, mib, DATA * HUGE >> 20),
              bool(got) and len(got) == 5 and got[:4] == (0, 0, 0, 0)
              and isinstance(got[4], int) and got[4] >= 1, got)
    return c


SCENARIOS = [
    ("hugetlb-cgroup", hugetlb_cgroup),
    ("hugetlb-cgroup-max", hugetlb_cgroup_max),
    ("hugetlb-cgroup-memmax", hugetlb_cgroup_memmax),
]
