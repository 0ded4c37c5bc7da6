"""A HugeTLB memfd's retrieve that fails part-way through filling the file
(part 7), by fault injection.

fail_function (configs/kunit.fragment) makes the page cache insertion
after the next five fail once with -ENOMEM (luo-fill --fault, guest/init
khot.luo_fault=5; the guest does nothing else meanwhile, and the kernel's
message must name the page expected), in gen 2's check of the 64 MiB
file of 2 MiB pages (24 pages, 8 holes; data pages are huge pages 0-2,
4-6, ...: the sixth is huge page 6). All 24 pages are then charged to
the cgroup vm (the retrieve charges every page before any goes into the
file) and five are in the new file, with their reservation regions. The
kernel must take those out again, uncharge every page, hold the file's
pages again and keep the file preserved:

 - the first retrieve fails with ENOMEM, the kernel names the page once
   (offset 6 * 2 MiB), and warns of nothing else;
 - while the session is open, vm is charged nothing and the file's 24
   pages are still in use (24 free of 48): none went back to the pool;
 - luo-fill's second retrieve, in the same session, has the file back,
   every byte, charged 24 pages of usage, reservation and memcg, and
   mapped again its holes reserved as in gen 1;
 - with the file closed every page is free and nothing stays reserved
   (HugePages_Rsvd 0: a region left in the reservation map of the file
   that failed would be given back a second time when it is freed).
"""
import re

from scenarios import gen_checks, kho_checks
import hugetlb_cgroup
import hugetlb_luo
from hugetlb_luo import DATA, MIB, check, pools

HUGE = hugetlb_cgroup.HUGE
POOL = hugetlb_cgroup.POOL
AFTER = 5
# the sixth data page: data pages are huge pages 0-2, 4-6, ...
OFFSET = (AFTER // 3 * 4 + AFTER % 3) * HUGE


def hugetlb_fault_insert(ctx):
    name, c = "hugetlb-fault-insert", []
    run = hugetlb_cgroup.boot(ctx, name, "khot.luo_fault=%d" % AFTER, 2)
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    hugetlb_cgroup.setup_checks(c, name, reached)
    if len(reached) < 2:
        return c
    fill = reached[0].fact("luo_fill") or ""
    filled = hugetlb_cgroup.charges(fill).get("filled")
    check(c, "%s: gen 1 preserved the HugeTLB file, charged to vm" % name,
          "preserved %d MiB" % MIB in fill and filled is not None, fill)
    g = reached[1]
    line = g.fact("luo_check") or ""
    start = pools(g, "start").get("all")
    check(c, "%s: gen 2 boots with the file's %d pages in use, none reserved"
          % (name, DATA), start == (POOL, POOL - DATA, 0, 0), start)
    check(c, "%s: gen 2: the first retrieve fails (Cannot allocate memory), the file's "
          "%d pages still in use" % (name, DATA),
          "; retrieve refused (Cannot allocate memory), %d free pages then" % (POOL - DATA)
          in line, line or "no luo_check")
    named = g.grep(r"hugetlb_luo: page at offset \d+ cannot go into the file")
    want = re.compile(r"page at offset %d cannot go into the file: (-ENOMEM|-12); "
                      r"the file stays preserved for another retrieve$" % OFFSET)
    check(c, "%s: gen 2 names the page whose insertion failed (offset %d), once"
          % (name, OFFSET),
          len(named) == 1 and bool(want.search(named[0].rstrip())), "; ".join(named) or "no line")
    warn = g.grep(hugetlb_luo.WARN)
    check(c, "%s: gen 2: no other warning from hugetlb_luo" % name,
          bool(named) and warn == named, "; ".join(w for w in warn if w not in named) or "none")
    got = hugetlb_cgroup.charges(line)
    check(c, "%s: gen 2: failed, vm is charged nothing while the session is open" % name,
          got.get("refused") == ("/vm", 0, 0, 0), got.get("refused"))
    check(c, "%s: gen 2: the same session's second retrieve has the file back, every byte"
          % name, hugetlb_luo.huge_verified(g, MIB), line or "no luo_check")
    hugetlb_cgroup.retrieved_checks(c, name, got, filled, "retrieved the second time")
    checked = pools(g, "checked").get("all")
    check(c, "%s: gen 2: with the file closed every page is free, none reserved" % name,
          checked == (POOL, POOL, 0, 0), checked)
    check(c, "%s: gen 2: with the file closed vm is charged nothing" % name,
          hugetlb_cgroup.counters(g, "checked") == (0, 0, 0, 0, 0),
          hugetlb_cgroup.counters(g, "checked"))
    return c


SCENARIOS = [
    ("hugetlb-fault-insert", hugetlb_fault_insert),
]
