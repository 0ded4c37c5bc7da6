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
   the retrieve fails on the file's 24th page (ENOSPC, the page named
   once), and keeps the file: vm is charged nothing, the file's pages are
   still in use (not free), and once luo-fill lifts the limit
   (khot.cgroup_retry=1, luo-fill --retry) a second retrieve in the same
   session gets the file back, every byte, charged as in hugetlb-cgroup;
   vm counts one "max" event.
 - hugetlb-cgroup-memmax: the same with gen 2's memory.max at 40 MiB,
   less than the file's 48 MiB: the memory cgroup's charge fails
   (ENOMEM) part-way, the hugetlb cgroup's charges of that page are
   undone with the rest, nothing is charged; with memory.max lifted the
   second retrieve has the file back, charged to both controllers.
 - hugetlb-cgroup-finish: memory.max at 40 MiB and no lifting: the
   retrieve is refused twice (the kernel keeps the file for another try
   and names the page each time), nothing is charged, and the session
   closed without a retrieve that succeeded gives the file's 24 pages
   back to the free pool (said once).
"""
import re

from scenarios import gen_checks, kho_checks
import hugetlb_luo
from hugetlb_luo import DATA, MIB, check, pools

HUGE = 2 << 20
FILE = MIB << 20
POOL = 48
CHARGES = re.compile(r"; cgroup (\S+) (filled|refused|retrieved|mapped again): hugetlb (-?\d+) "
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
    retrieved_checks(c, name, charges(line), filled, "retrieved in vm")
    check(c, "%s: gen 2: with the file closed vm is charged nothing" % name,
          counters(g, "checked") == (0, 0, 0, 0, 0), counters(g, "checked"))
    return c


def retrieved_checks(c, name, got, filled, how):
    """Gen 2's file (luo-fill's charges got), retrieved as how says,
    charges vm its data pages of usage, reservation and memcg, and mapped
    again what the fresh file charged in gen 1 (filled)."""
    want = ("/vm", DATA * HUGE, DATA * HUGE, DATA * HUGE)
    check(c, "%s: gen 2: %s, the file charges vm %d pages of usage, reservation and memcg"
          % (name, how, DATA), got.get("retrieved") == want,
          "%s, want %s" % (got.get("retrieved"), want))
    check(c, "%s: gen 2: mapped again, vm's charges are gen 1's (the holes reserved)"
          % name, filled is not None and got.get("mapped again") == filled,
          "%s, gen 1 %s" % (got.get("mapped again"), filled))


def refused(ctx, name, append, errnos, offset=None, times=1):
    """Boot name (two generations) with gen 2's vm limited by append: gen 1
    preserves the file, charged to vm; gen 2's retrieve is refused, the
    kernel names the page times times (errnos: the error as %pe prints
    it, by name or number; offset: the page's, when known) and warns of
    nothing else, vm is charged nothing while the session is still open,
    and with the file closed or never retrieved every page of the pool is
    free. Returns the checks and gen 2, or None."""
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
    named = g.grep(r"hugetlb_luo: page at offset \d+: no room in the cgroup")
    want = re.compile(r"page at offset %s: no room in the cgroup of the caller: (%s); "
                      r"the file stays preserved for another retrieve$"
                      % (r"\d+" if offset is None else offset, errnos))
    check(c, "%s: gen 2 names the page vm has no room for%s, %s"
          % (name, "" if offset is None else " (offset %d)" % offset,
             "once" if times == 1 else "at each of the %d retrieves" % times),
          len(named) == times and all(want.search(n.rstrip()) for n in named),
          "; ".join(named) or "no line")
    # the line the finish of a file never retrieved prints is no warning
    warn = g.grep(hugetlb_luo.WARN)
    check(c, "%s: gen 2: no other warning from hugetlb_luo" % name,
          bool(named) and warn == named, "; ".join(w for w in warn if w not in named) or "none")
    got = charges(g.fact("luo_check"))
    check(c, "%s: gen 2: refused, vm is charged nothing while the session is open" % name,
          got.get("refused") == ("/vm", 0, 0, 0), got.get("refused"))
    checked = pools(g, "checked").get("all")
    check(c, "%s: gen 2: with the file closed or finished, every page is free" % name,
          checked == (POOL, POOL, 0, 0), checked)
    return c, g


def retried(ctx, name, append, err, errnos, offset, events):
    """refused(), then luo-fill lifts the limit and retrieves again in the
    same session: the file back, every byte, charged in full; vm's max
    events (hugetlb, memory) then as events says (a number, or None: at
    least one)."""
    c, g = refused(ctx, name, append + " khot.cgroup_retry=1", errnos, offset)
    if not g:
        return c
    line = g.fact("luo_check") or ""
    got = charges(line)
    check(c, "%s: gen 2: the first retrieve is refused (%s), the file's %d pages still in "
          "use" % (name, err, DATA),
          "; retrieve refused (%s), %d free pages then" % (err, POOL - DATA) in line,
          line or "no luo_check")
    check(c, "%s: gen 2: with the limit lifted, the same session's second retrieve has "
          "the file back, every byte" % name, hugetlb_luo.huge_verified(g, MIB),
          line or "no luo_check")
    want = ("/vm", DATA * HUGE, DATA * HUGE, DATA * HUGE)
    check(c, "%s: gen 2: retrieved the second time, the file charges vm %d pages of usage, "
          "reservation and memcg" % (name, DATA), got.get("retrieved") == want,
          "%s, want %s" % (got.get("retrieved"), want))
    ev = counters(g, "checked")
    check(c, "%s: gen 2: with the file closed vm is charged nothing; max events %s"
          % (name, events), bool(ev) and len(ev) == 5 and ev[:3] == (0, 0, 0)
          and all(isinstance(e, int) and (e >= 1 if w is None else e == w)
                  for e, w in zip(ev[3:], events)), ev)
    return c


def hugetlb_cgroup_max(ctx):
    room = DATA - 1
    # data pages are huge pages 0-2, 4-6, ...: the 24th is page 30
    last = (DATA - 1) // 3 * 4 + (DATA - 1) % 3
    return retried(ctx, "hugetlb-cgroup-max", "khot.cgroup_max=%d" % room,
                   "No space left on device", "-ENOSPC|-28", last * HUGE, (1, 0))


def hugetlb_cgroup_memmax(ctx):
    return retried(ctx, "hugetlb-cgroup-memmax", "khot.cgroup_memmax=40",
                   "Cannot allocate memory", "-ENOMEM|-12", None, (0, None))


def hugetlb_cgroup_finish(ctx):
    name = "hugetlb-cgroup-finish"
    c, g = refused(ctx, name, "khot.cgroup_memmax=40", "-ENOMEM|-12", times=2)
    if not g:
        return c
    line = g.fact("luo_check") or ""
    check(c, "%s: gen 2: the retrieve is refused twice, the file kept for another try"
          % name, "FAIL retrieve memfd: Cannot allocate memory; again: Cannot allocate memory"
          in line, line or "no luo_check")
    back = g.grep(r"hugetlb_luo: a file never retrieved")
    check(c, "%s: gen 2: the session closed after the refusals gives the kept file's %d "
          "pages back to the pool, once" % (name, DATA),
          len(back) == 1 and back[0].rstrip().endswith(
              "a file never retrieved: %d of its %d huge pages back in the pool" % (DATA, DATA)),
          "; ".join(back) or "no line")
    return c


SCENARIOS = [
    ("hugetlb-cgroup", hugetlb_cgroup),
    ("hugetlb-cgroup-max", hugetlb_cgroup_max),
    ("hugetlb-cgroup-memmax", hugetlb_cgroup_memmax),
    ("hugetlb-cgroup-finish", hugetlb_cgroup_finish),
]
