"""A successor without the HugeTLB memfd handler: stock 7.3 (part 7).

Generation 1 (ours) preserves a 64 MiB HugeTLB memfd of 2 MiB pages in
session "khot-bench" and a 16 MiB shmem memfd in "khot-extra", then
kexecs into stock 7.3, which has no handler for "hugetlb-memfd-v1" and
does not know the list of preserved huge pages. What 7.3 does is its own
business; what must hold is that nothing is corrupted: 7.3 boots to
init with the handover, makes no kernel report, gives its pool of 2 MiB
pages afresh (the preserved pages stay reserved: it never hands them
out: the frames the file held, passed on on the command line with
khot.luo_pfns, read in 7.3 with no page flag at all: KHO never set up
their struct pages, nothing took them)
and says why it cannot take the live update state. The scenario
records what 7.3 does with the shmem session, for the documentation.

The initramfs is the one with luo-fill; Ctx.boot() appends stock 7.3 to
it as /boot/v73, which the chain names.
"""
import re

from scenarios import Skip, check, gen_checks
from hugetlb_luo import DATA, UNTOUCHED, pages_are, pfn_flags, pools

POOL = 32


def hugetlb_to_73(ctx):
    if not ctx.args.selftest_initrd or not ctx.args.upstream_kernel:
        raise Skip("needs --selftest-initrd (luo-fill) and --upstream-kernel (stock 7.3)")
    c = []
    name = "hugetlb-to-73"
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=64 khot.luo_huge=2M hugepagesz=2M "
                   "hugepages=%d khot.luo_extra=16 khot.luo_pfns=1 khot.chain=v73" % POOL, gens=2,
                   mem="1G",
                   initrd=ctx.args.selftest_initrd)
    reached = gen_checks(c, run, name, 2)
    if len(reached) < 2:
        return c
    g1, g2 = reached
    check(c, "%s: gen 1 (ours) preserved the HugeTLB file and the shmem memfd" % name,
          "preserved 64 MiB" in (g1.fact("luo_fill") or "") and "hugetlb" in (g1.fact("luo_fill") or "")
          and "preserved 16 MiB" in (g1.fact("luo_extra_fill") or ""),
          "%s; %s" % (g1.fact("luo_fill"), g1.fact("luo_extra_fill")))
    check(c, "%s: gen 2 runs stock 7.3 and received the handover" % name,
          (g2.fact("start") or "").startswith("7.3") and g2.fact("kho_in") == "yes",
          "%s, kho_in %s" % (g2.fact("start"), g2.fact("kho_in")))
    start = pools(g2, "start").get("all")
    check(c, "%s: gen 2 allocates its pool of %d pages afresh, all free" % (name, POOL),
          start is not None and start[:3] == (POOL, POOL, 0), start)
    # nothing corrupted: 7.3 keeps the pages the file held reserved
    ok, why = pages_are(pfn_flags(g2), DATA, *UNTOUCHED)
    check(c, "%s: gen 2 leaves the %d pages the file held untouched: no page flag, not even "
          "PG_reserved (not free, not in its pool, not used)" % (name, DATA), ok, why)
    luo = g2.grep(r"luo: |liveupdate: ")
    check(c, "%s: gen 2 says why it cannot take the live update state" % name,
          any(re.search(r"hugetlb-memfd-v1", l) for l in luo), "; ".join(luo)[:400])
    first = g2.fact("luo_check") or ""
    check(c, "%s: gen 2 does not give the HugeTLB file back" % name,
          first.startswith("luo-fill: FAIL") or "FAIL" in first, first)
    # recorded, not asserted: what 7.3 does with the other session
    print("   (%s: 7.3 and the shmem session: %s)" % (name, g2.fact("luo_extra_check")))
    return c


SCENARIOS = [("hugetlb-to-73", hugetlb_to_73)]
