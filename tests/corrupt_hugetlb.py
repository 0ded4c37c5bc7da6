"""A HugeTLB memfd's state and the list of preserved huge pages from the
previous kernel are checked before they are used (part 7).

Generation 1 preserves a 64 MiB HugeTLB memfd of 2 MiB pages (24 pages,
8 holes) in session "khot-bench" and a 16 MiB shmem memfd in
"khot-extra", on two nodes, hugepages=32. The test-only corruption knob
damages the HugeTLB state once LUO has written it at the start of the
kexec (kho_corrupt_luo()). Generation 2 must name each damage once, keep
live update on, refuse the damaged HugeTLB file alone, give the other
session's memfd back with every byte, keep its pool whole, and make no
kernel report:

 - hugetlb-pool-count: the list of preserved pages counts more entries
   than its pages hold: no preserved page is taken into the pool (they
   stay reserved), the pool is allocated afresh, the file cannot come
   back;
 - hugetlb-pool-entries: six entries of the list damaged, one way each
   (a frame outside memory, a frame off its alignment, the wrong node, an
   order no pool has, an unknown flag, an entry naming the next entry's
   page): each is named and left out (five lines and one count), the
   file cannot come back, the pages taken go back to the free pool;
 - hugetlb-no-handler: as if generation 2 had no HugeTLB memfd handler
   (built without it, or another version of it): the list's subtree
   has no address and the file's compatible string is one it does not
   know. The file alone is left out with LUO's line, its session stays;
   the preserved pages stay reserved, the pool is allocated afresh;
 - hugetlb-file-order, -size, -index, -pfn, -swap, -count, -free: the
   file's own state (pages of an order no pool has, a size that is no
   number of its pages, a page past its end, a page named twice, two
   pages' frames swapped, more pages than its list holds, the state
   copied to memory nobody preserves): the file is refused with one
   line. Its pages go back to the free pool where the state and the
   list of preserved pages agree on which they are and where (-index:
   all but the page whose offset was changed; -pfn: all but the page no
   entry names any more; -swap: all but the two swapped: each stays in
   use); where it cannot be trusted (-order, -size,
   -count, -free) they stay in use until the next boot, as the
   documentation says. Without the offset check, -swap's file would
   come back with two pages in each other's place.
 - hugetlb-file-other: the second session's memfd is a HugeTLB one of
   the same size (6 pages), and a page of the first file's state names
   the frame of the second file's page at the same offset: the first
   file is refused with one line, its other 23 pages go back to the
   free pool, its own page at that offset stays in use, and the second
   file comes back every byte. Without the owner check in the list of
   preserved pages, the first file would take the second's page and the
   second file would be refused.
 - hugetlb-luo-missing (a scenario of its own: no session comes back):
   LUO's state is gone, the list of preserved pages is not: they are
   taken into the pool and released to it late in boot, as no file can
   claim them; hugetlb-luo-off: the same for a successor booted with
   liveupdate=off; corrupt-hugetlb-luo-rejected: LUO rejects its state
   (another version): the pages stay in use, as the memory that state
   names stays reserved.
 - corrupt-hugetlb-session-dropped: LUO drops the session of the HugeTLB
   memfd alone (its file count damaged, luo-file-count): the other
   session's memfd comes back every byte, and the file's 24 pages stay
   in the pool in use for the boot, held for no file, none given back
   (LUO's rule for what a dropped session preserved; the documentation
   says so).
"""
import re

from corrupt_luo import EXTRA, copies_made, extra_verified
from scenarios import Skip, check, gen_checks, kho_checks
from hugetlb_luo import (TAKEN, UNTOUCHED, huge_verified, pages_are, pfn_flags, pools,
                         two_small_nodes)


def frames(ctx):
    """khot.luo_pfns=1 but on the sanitizer kernel: with deferred struct
    page init and DEBUG_VM its memory map of preserved memory nobody took
    is poisoned, not zero, and reading its flags may trip a VM_BUG_ON."""
    return "" if getattr(ctx, "debug", False) else " khot.luo_pfns=1"

POOL = 32
DATA, HOLES = 24, 8
# classes whose preserved pages must stay reserved, outside the pool
RESERVED = ("hugetlb-pool-count", "hugetlb-no-handler")
FRAME = r"0x[0-9a-f]+"

# the file's first page that is not in the pool, when it is retrieved
NOT_TAKEN = (r"hugetlb_luo: page at offset \d+ \(frame %s\) is not a page the pool holds for "
             r"the file there" % FRAME)
# the pages of the second session's memfd with khot.luo_extra_huge=2M
# (luo-fill leaves every fourth page a hole)
EXTRA_PAGES = EXTRA // 2 * 3 // 4

# class, [lines gen 2 must print once], free pages once the file is refused
CLASSES = [
    ("hugetlb-pool-count",
     [r"hugetlb_luo: the list of preserved huge pages is damaged: \d+ pages in \d+ pages of "
      r"list; they stay reserved", NOT_TAKEN], POOL),
    ("hugetlb-pool-entries",
     [r"hugetlb_luo: preserved huge page 0 at %s: no preserved chunk of order 9 there" % FRAME,
      r"hugetlb_luo: preserved huge page 1 at %s is damaged: order 9, node \d, flags 0x0" % FRAME,
      r"hugetlb_luo: preserved huge page 2 at %s lies on node \d, not \d" % FRAME,
      r"hugetlb_luo: preserved huge page 4 at %s is damaged: order 9, node \d, flags 0x80" % FRAME,
      r"hugetlb_luo: preserved huge page 7 at %s: no preserved chunk of order 9 there" % FRAME,
      # entries 0-4 and 7 (6 names 7's page, taken once): six entries
      # and six pages (0-4 and the page 6 named) left out
      r"hugetlb_luo: 6 of 24 preserved huge pages are not in a pool", NOT_TAKEN], POOL),
    ("hugetlb-file-order",
     [r"hugetlb_luo: file state at %s: no pool of order 8 pages here" % FRAME], POOL - DATA),
    ("hugetlb-file-size",
     [r"hugetlb_luo: file state at %s is damaged: size 67112960, 24 pages of order 9" % FRAME],
     POOL - DATA),
    # the damaged entry's page stays in use: its offset is not the one the
    # list of preserved pages gives it (patch 101)
    ("hugetlb-file-index",
     [r"hugetlb_luo: page 0 of 24 is damaged: index 16384, frame %s, in a file of 16384 "
      r"pages of order 9" % FRAME], POOL - 1),
    ("hugetlb-file-pfn",
     [r"hugetlb_luo: page at offset 2097152 \(frame %s\) is not a page the pool holds for "
      r"the file there" % FRAME], POOL - 1),
    ("hugetlb-file-swap",
     [r"hugetlb_luo: page at offset 0 \(frame %s\) is not a page the pool holds for the file "
      r"there" % FRAME], POOL - 2),
    # a pool with room for the second file's pages and holes (the holes
    # of a file mapped shared stay reserved); the second file is still
    # held when the first is checked (the free count says so: with the
    # second file retrieved and closed first, 39 pages would be free, and
    # its page no longer held could not be claimed by the first)
    ("hugetlb-file-other", [NOT_TAKEN], POOL + EXTRA // 2 - EXTRA_PAGES - 1,
     " khot.luo_extra_huge=2M", POOL + EXTRA // 2),
    # 24 entries in a list of one page: 257 pages counted (one more than
    # a page of the list holds), the size grown to hold them
    ("hugetlb-file-count",
     [r"hugetlb_luo: file state at %s is damaged: size 538968064, 257 pages of order 9 in "
      r"1 pages of list" % FRAME], POOL - DATA),
    ("hugetlb-file-free",
     [r"hugetlb_luo: file state at %s is not a preserved allocation" % FRAME], POOL - DATA),
    # a successor without the handler (built without it, or another
    # version): no pool list, a file of a kind it does not know. The file
    # alone is left out, its session comes back; its pages stay reserved,
    # outside the pool, which is allocated afresh.
    ("hugetlb-no-handler",
     [r"luo: No registered handler for compatible 'hugetlb-memfd-v0': file with token "
      r"0x[0-9a-f]+ dropped"], POOL),
]


def two_sessions(ctx, name, cls, more="", pool=POOL):
    """Boot name: the two sessions of the top on two nodes, the state
    damaged at kexec by class cls (khot.corrupt); more: command line
    words; pool: the 2 MiB pages asked for."""
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    return ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=64 khot.luo_huge=2M "
                    "hugepagesz=2M hugepages=%d khot.luo_extra=%d khot.corrupt=%s%s"
                    % (pool, EXTRA, cls, more), gens=2, **two_small_nodes(ctx),
                    initrd=ctx.args.selftest_initrd)


def damaged_at_kexec(c, name, g1, cls, what):
    """Gen 1 preserved both sessions and the knob damaged class cls."""
    check(c, "%s: gen 1 preserved both sessions and damaged %s" % (name, what),
          "preserved 64 MiB" in (g1.fact("luo_fill") or "")
          and "preserved %d MiB" % EXTRA in (g1.fact("luo_extra_fill") or "")
          and g1.grep(r"test: live update state corrupted on purpose: %s$" % re.escape(cls)),
          "; ".join(g1.grep(r"test: live update state")) or g1.fact("luo_fill") or "")


def damaged(ctx, cls, lines, free, more="", pool=POOL):
    name = "corrupt-" + cls
    run = two_sessions(ctx, name, cls, frames(ctx) + more, pool)
    c = []
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if not reached:
        return c
    g1 = reached[0]
    damaged_at_kexec(c, name, g1, cls, "the HugeTLB state at kexec")
    if len(reached) < 2:
        return c
    g2 = reached[1]
    for want in lines:
        got = g2.grep(want)
        check(c, "%s: gen 2 says once: %s" % (name, want[:60]), len(got) == 1,
              "; ".join(got) or "; ".join(g2.grep(r"hugetlb_luo"))[:400])
    if cls == "hugetlb-file-other":
        # the page gen 2 names is the one the knob gave the other file's frame
        planted = [m.groups() for m in (re.search(
            r"test: hugetlb-file-other: the page at offset (\d+) named frame (%s)" % FRAME, l)
            for l in g1.dmesg) if m]
        named = [m.groups() for m in (re.search(
            r"page at offset (\d+) \(frame (%s)\) is not a page" % FRAME, l)
            for l in g2.grep(NOT_TAKEN)) if m]
        check(c, "%s: gen 2 names the page and frame the knob planted" % name,
              len(planted) == 1 and named == planted, "planted %s, named %s" % (planted, named))
    if cls.endswith("-free"):
        # the state named is gen 1's copy, not any address
        named = [int(m.group(1), 16) for m in
                 (re.search(r"hugetlb_luo: file state at 0x([0-9a-f]+) ", l)
                  for l in g2.grep(lines[0])) if m]
        made = copies_made(g1, cls)
        check(c, "%s: the file state named is gen 1's copy" % name,
              len(named) == 1 and named == made and named[0] > 0,
              "named %s, copy %s" % ([hex(a) for a in named], [hex(a) for a in made]))
    said = g2.grep(r"hugetlb_luo: ")
    check(c, "%s: gen 2 says nothing more about HugeTLB state" % name,
          len(said) == len([l for l in lines if l.startswith("hugetlb_luo")]),
          "; ".join(said)[:400])
    dropped = g2.grep(r"luo: dropped \d+ of \d+ incoming sessions")
    check(c, "%s: gen 2 keeps both sessions" % name, not dropped, "; ".join(dropped))
    check(c, "%s: gen 2 keeps live update on" % name,
          not g2.grep(r"live update is off"), "")
    first = g2.fact("luo_check") or ""
    check(c, "%s: gen 2 refuses the damaged HugeTLB file" % name,
          "FAIL retrieve memfd" in first and not huge_verified(g2, 64), first)
    # a refusal for damage is final: LUO keeps the error and does not ask
    # the handler again (which would name the damage a second time, above)
    m = re.search(r"FAIL retrieve memfd: ([^;]+); again: ([^;]+)", first)
    check(c, "%s: gen 2: a second retrieve of the file fails the same way" % name,
          bool(m) and m.group(1).strip() == m.group(2).strip(), first)
    other = (huge_verified(g2, EXTRA, fact="luo_extra_check", seed=g2.index + 99)
             if "luo_extra_huge" in more else extra_verified(g2))
    check(c, "%s: gen 2 has the other session's memfd back, every byte" % name,
          other, g2.fact("luo_extra_check") or "no luo_extra_check")
    # where the file's pages are at boot: reserved where the list of them
    # cannot be read, in the pool where the file's own state is damaged
    if frames(ctx) and (cls in RESERVED or cls.startswith("hugetlb-file-")):
        res = cls in RESERVED
        ok, why = pages_are(pfn_flags(g2), DATA, *(UNTOUCHED if res else TAKEN))
        check(c, "%s: gen 2: the %d pages the file held are %s at boot" % (
            name, DATA, "untouched: no page flag, not even PG_reserved (not free, not in "
            "the pool)" if res else "head HugeTLB pages taken into the pool"), ok, why)
    start = pools(g2, "start").get("all")
    check(c, "%s: gen 2 has its pool of %d pages" % (name, pool),
          start is not None and start[0] == pool, start)
    after = pools(g2, "checked").get("all")
    check(c, "%s: gen 2: %d pages free once the file is refused" % (name, free),
          after is not None and after[:3] == (pool, free, 0), after)
    return c


# how no file can claim the pages: scenario, its command line words, and
# what luo-fill's check in gen 2 fails on (live update on without any
# session, or off)
UNCLAIMED = {
    "missing": ("corrupt-hugetlb-luo-missing", "khot.corrupt=hugetlb-luo-missing",
                "FAIL retrieve session"),
    "rejected": ("corrupt-hugetlb-luo-rejected", "khot.corrupt=luo-version",
                 "FAIL open /dev/liveupdate"),
    "off": ("hugetlb-luo-off", "khot.add=liveupdate=off", "FAIL open /dev/liveupdate"),
}


def unclaimed(ctx, how):
    """No file can claim the preserved pages: the successor takes them into
    its pool at boot, and late in boot they go back to the free pool, said
    once. corrupt-hugetlb-luo-missing (how "missing"): LUO's own state is
    gone from the handover (its sub-FDT has no address), the list of
    preserved huge pages is not; live update stays on, no session comes.
    hugetlb-luo-off ("off"): the successor boots with liveupdate=off.
    corrupt-hugetlb-luo-rejected ("rejected"): LUO's state is of another
    version (class luo-version): LUO rejects it, live update is off, and
    what it names stays reserved: the pages stay in use, nothing said."""
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    c = []
    name, extra, fails = UNCLAIMED[how]
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=64 khot.luo_huge=2M "
                   "hugepagesz=2M hugepages=%d %s%s" % (POOL, extra, frames(ctx)),
                   gens=2, initrd=ctx.args.selftest_initrd, **two_small_nodes(ctx))
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g1, g2 = reached
    if how != "missing":
        check(c, "%s: gen 1 preserved the file" % name,
              "preserved 64 MiB" in (g1.fact("luo_fill") or ""), g1.fact("luo_fill") or "")
    else:
        check(c, "%s: gen 1 preserved the file and removed LUO's state at kexec" % name,
              "preserved 64 MiB" in (g1.fact("luo_fill") or "")
              and g1.grep(r"test: live update state corrupted on purpose: hugetlb-luo-missing$"),
              "; ".join(g1.grep(r"test: live update state")) or g1.fact("luo_fill") or "")
    said = g2.grep(r"hugetlb_luo: ")
    if how == "rejected":
        rej = g2.grep(r"luo: the incoming live update state cannot be used .*: live update is "
                      r"off in this boot, and the memory the state names stays reserved")
        check(c, "%s: gen 2 rejects LUO's state and says its memory stays reserved" % name,
              len(rej) == 1, "; ".join(g2.grep(r"luo: "))[:400])
        check(c, "%s: gen 2 says nothing about HugeTLB pages" % name, not said,
              "; ".join(said)[:400])
    else:
        why = "live update is off" if how == "off" else "no live update session came with them"
        check(c, "%s: gen 2 says once that the %d pages go back to the pool (%s), and nothing "
              "more" % (name, DATA, why),
              len(said) == 1 and re.search(r"hugetlb_luo: %s: %d preserved huge pages released "
                                           r"to the pool" % (why, DATA), said[0]),
              "; ".join(said)[:400])
    if how == "missing":
        check(c, "%s: gen 2 keeps live update on" % name,
              not g2.grep(r"live update is off"), "")
    if frames(ctx):
        ok, why = pages_are(pfn_flags(g2), DATA, *TAKEN)
        check(c, "%s: gen 2: the %d pages the file held are head HugeTLB pages" % (name, DATA),
              ok, why)
    start = pools(g2, "start").get("all")
    if how == "rejected":
        check(c, "%s: gen 2 has its pool of %d pages, the %d preserved ones kept in use"
              % (name, POOL, DATA),
              start is not None and start[:3] == (POOL, POOL - DATA, 0), str(start))
    else:
        check(c, "%s: gen 2 has its pool of %d pages, every one free" % (name, POOL),
              start is not None and start[:3] == (POOL, POOL, 0), str(start))
    first = g2.fact("luo_check") or ""
    check(c, "%s: gen 2 has no file to give back (%s)" % (name, fails), fails in first, first)
    return c


def session_dropped(ctx):
    name = "corrupt-hugetlb-session-dropped"
    run = two_sessions(ctx, name, "luo-file-count")
    c = []
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g2 = reached[1]
    damaged_at_kexec(c, name, reached[0], "luo-file-count", "the first one's file count")
    dropped = g2.grep(r"luo: dropped \d+ of \d+ incoming sessions")
    check(c, "%s: gen 2 drops the HugeTLB memfd's session alone, once" % name,
          len(dropped) == 1 and "dropped 1 of 2 incoming sessions" in dropped[0],
          "; ".join(dropped) or "no line")
    first = g2.fact("luo_check") or ""
    check(c, "%s: gen 2 cannot retrieve the dropped session" % name,
          "FAIL retrieve session" in first, first or "no luo_check")
    check(c, "%s: gen 2 has the other session's memfd back, every byte" % name,
          extra_verified(g2), g2.fact("luo_extra_check") or "no luo_extra_check")
    start, after = pools(g2, "start").get("all"), pools(g2, "checked").get("all")
    check(c, "%s: gen 2: the file's %d pages are in the pool in use at boot" % (name, DATA),
          start is not None and start[:3] == (POOL, POOL - DATA, 0), start)
    check(c, "%s: gen 2: they stay in use after the sessions are retrieved and closed"
          % name, after is not None and after[:3] == (POOL, POOL - DATA, 0), after)
    back = g2.grep(r"hugetlb_luo: .*(released to the pool|back in the pool)")
    check(c, "%s: gen 2 gives none of them back" % name, not back, "; ".join(back))
    return c


def scenario(row):
    return ("corrupt-" + row[0], lambda ctx: damaged(ctx, *row))


SCENARIOS = [scenario(row) for row in CLASSES] + [
    ("corrupt-hugetlb-luo-missing", lambda ctx: unclaimed(ctx, "missing")),
    ("corrupt-hugetlb-luo-rejected", lambda ctx: unclaimed(ctx, "rejected")),
    ("hugetlb-luo-off", lambda ctx: unclaimed(ctx, "off")),
    ("corrupt-hugetlb-session-dropped", session_dropped),
]
