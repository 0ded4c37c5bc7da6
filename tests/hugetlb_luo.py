"""HugeTLB memfds through LUO (part 7): the file comes back with every
byte, holes stay holes, and the host's pools come back exactly, per node.

guest/luo-fill.c --huge fills a HugeTLB memfd (every fourth huge page a
hole, never written) and preserves it; after preserving it tries to change
the file's layout (truncate up and down, fallocate, punch a hole, a fault
in a hole through a shared mapping), which the frozen file must refuse. The
successor retrieves it and checks every byte, reading the holes with
pread() so that the check allocates nothing. guest/init reports the pools
("pool LABEL SIZE NODE TOTAL FREE SURPLUS [RSVD]") at boot (start), after
the check (checked) and after the fill (filled).

 - hugetlb-2m: two NUMA nodes, a 64 MiB file of 2 MiB pages (24 pages,
   8 holes) with a 16 MiB shmem memfd in a second session,
   hugepages=48, three generations: each checks the previous file, every
   byte, and the pool: 48 pages, 24 on each node as in gen 1, 24 free at
   boot (the preserved ones counted in use, no hole given a page), 48
   free after the file is closed; the file's position and seals come
   back (luo-fill --check). Before each real preserve, luo-fill
   --rehearse has one refused (a page past the end) and one undone (its
   session closed): each must leave the file resizable and its pages
   free to be preserved again.
 - hugetlb-2m-pernode: two unequal NUMA nodes, a pool grown per node at
   run time in gen 1 (20 and 28 pages), hugepages=0:2,1:2 on the command
   line, smaller than what the file leaves on a node: each node's pool is
   max(asked, preserved), and the kernel says once that it grew.
 - hugetlb-2m-surplus: a pool of 16 with 16 surplus pages allowed: the
   file's mapping takes surplus pages; the successor counts them as
   surplus again, and frees (dissolves) them with the file.
 - hugetlb-2m-discard: the successor finishes the session without taking
   the file: its pages go back to the free pool.
 - hugetlb-2m-scratch: the file's pages lie in KHO scratch when preserve
   is asked (a scratch larger than half of memory draws pages added to
   the pool at run time there): preserve moves them out, the pool keeps
   its size, the successor has the file back; the moves are migrations
   with the reason "liveupdate" (trace_event= with tp_printk).
"""
import re

from scenarios import Skip, gen_checks, kho_checks
from scenarios import check as _check


def check(c, name, ok, detail=""):
    """scenarios.check() with the detail (pools are tuples and dicts) as text."""
    return _check(c, name, ok, str(detail))

MIB = 64
HUGE_KB = 2048
# every fourth huge page is a hole
DATA = MIB * 1024 // HUGE_KB * 3 // 4
HOLES = MIB * 1024 // HUGE_KB - DATA
FROZEN = "frozen: grow EPERM, shrink EPERM, fallocate EPERM, punch EPERM, hole fault SIGBUS"
FROZEN_NO_HOLE = "frozen: grow EPERM, shrink EPERM, fallocate EPERM, punch EPERM, no hole to fault"
HUGE_CHECK = re.compile(r"luo-fill: verified (\d+) MiB in (\d+) pages, every byte "
                        r"\((\d+) holes read zero, seed (\d+)\).*; hugetlb, (\d+) KiB pages")
GREW = re.compile(r"hugetlb_luo: pool of 2.00 MiB pages grows from (\d+) to (\d+)")
MOVED = re.compile(r"hugetlb_luo: moved (\d+) pages of the file out of KHO scratch")
# luo-fill --rehearse (hugetlb-2m) and the one refusal it asks for
REHEARSED = "; rehearsal: refused Invalid argument, resizable; unpreserved, resizable"
PAST_END = re.compile(r"hugetlb_luo: page at offset \d+ lies past the end of the file")
# trace_event=migrate:mm_migrate_pages with tp_printk: one line per
# migrate_pages() call, its base pages moved and its reason
MIGRATED = re.compile(r"mm_migrate_pages: nr_succeeded=(\d+) nr_failed=(\d+) .*reason=(\w+)")
WARN = re.compile(r"hugetlb_luo: .*(damaged|not a preserved|stays reserved|cannot|failed|not in a pool"
                  r"|counted at boot|moved only|no room in the cgroup)|preserved huge page at pfn .* memory map stays whole")


def pools(g, label, size="%dkB" % HUGE_KB):
    """{node: (total, free, surplus[, rsvd])} of one pool at one point;
    node "all" is the whole pool."""
    out = {}
    for v in g.facts_of("pool") if g else []:
        f = v.split()
        if len(f) >= 6 and f[0] == label and f[1] == size:
            out[f[2]] = tuple(int(x) for x in f[3:])
    return out


def nodes_of(p):
    return {n: v for n, v in p.items() if n != "all"}


def holes_of(mib, huge_kb):
    """The holes of a HugeTLB file of mib MiB in luo-fill, in 4 KiB pages:
    huge pages 3, 7, 11, ..."""
    return mib * 1024 // huge_kb // 4 * huge_kb // 4


def huge_verified(g, mib, huge_kb=HUGE_KB, fact="luo_check", seed=None, dense=False):
    """Generation g verified every byte of the HugeTLB file of mib MiB that
    the generation before it filled, holes included (dense: a file without
    holes, luo-fill --dense)."""
    m = HUGE_CHECK.search(g.fact(fact) or "") if g else None
    return (bool(m) and int(m.group(1)) == mib and int(m.group(2)) == mib << 8
            and int(m.group(3)) == (0 if dense else holes_of(mib, huge_kb))
            and int(m.group(4)) == (g.index - 1 if seed is None else seed)
            and int(m.group(5)) == huge_kb)


KPF_BUDDY, KPF_HUGE, KPF_NOPAGE, KPF_RESERVED = 1 << 10, 1 << 17, 1 << 20, 1 << 32
# the head page of a huge page (KPF_HUGE alone is on its tail pages too)
KPF_HUGE_HEAD = KPF_HUGE | 1 << 15
# KHO leaves the struct pages of preserved memory out of the memory map's
# set-up (MEMBLOCK_RSRV_NOINIT) until an owner restores them: a preserved
# page nobody took reads with no flag at all, not even PG_reserved; a free
# page reads as buddy, a page in a pool as huge, a used one with its use.
UNTOUCHED = (0, (1 << 64) - 1)
# (want, never) of a preserved page taken into a pool: a head HugeTLB page,
# neither free in the buddy allocator nor PG_reserved
TAKEN = (KPF_HUGE_HEAD, KPF_BUDDY | KPF_NOPAGE | KPF_RESERVED)


def pfn_flags(g):
    """{frame: /proc/kpageflags word} of each page the previous generation's
    HugeTLB file held (khot.luo_pfns=1), read at boot before the file is
    retrieved; None for a word that could not be read."""
    out = {}
    for item in (g.fact("pfnflags") or "").split() if g else []:
        pfn, _, flags = item.partition(":")
        try:
            key = int(pfn, 16)
        except ValueError:
            key = item  # a damaged line: counted, and never as wanted
        try:
            out[key] = int(flags, 16)
        except ValueError:
            out[key] = None
    return out


def pages_are(flags, n, want, never=KPF_BUDDY | KPF_NOPAGE):
    """(ok, detail): n frames, each with every bit of want and none of never."""
    bad = ["%s:%s" % (p if isinstance(p, str) else "%#x" % p,
                      "unreadable" if f is None else "%#x" % f)
           for p, f in sorted(flags.items(), key=str)
           if isinstance(p, str) or f is None or f & want != want or f & never]
    return (len(flags) == n and not bad,
            "%d frames of %d; %s" % (len(flags), n, " ".join(bad[:4]) or "all as wanted"))


def shmem_verified(g, mib):
    """Generation g verified every byte of the shmem memfd of mib MiB in
    the session "khot-shmem" that the generation before it filled (guest/
    init's seed: 200 + that generation), not a HugeTLB one."""
    sh = g.fact("luo_shmem_check") or ""
    return (bool(re.search(r"verified %d MiB in %d pages, every byte .*seed %d\)"
                           % (mib, mib << 8, g.index + 199), sh)) and "hugetlb" not in sh)


def boot(ctx, name, append, gens, mib=MIB, huge="2M", **kw):
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    return ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=%d khot.luo_huge=%s %s"
                    % (mib, huge, append), gens=gens, initrd=ctx.args.selftest_initrd, **kw)


def common(c, name, reached, gens, mib=MIB, frozen=FROZEN, cma_area=0, expected=None):
    """What every scenario wants of every generation: the file preserved
    and frozen (frozen: luo-fill's line for it; FROZEN_NO_HOLE for a file
    without holes), no warning from the handler, the data back. cma_area:
    bytes of the hugetlb_cma= area (scenarios.kho_checks()). expected: a
    regex of handler lines the scenario asks for and checks itself."""
    kho_checks(c, name, reached, cma_area=cma_area)
    for g in reached:
        warn = [l for l in g.grep(WARN) if not (expected and expected.search(l))]
        check(c, "%s: gen %d: no warning from hugetlb_luo" % (name, g.index),
              not warn, warn[0] if warn else "")
        if g.index < gens:
            fill = g.fact("luo_fill") or ""
            check(c, "%s: gen %d preserved the HugeTLB file (%d MiB)" % (name, g.index, mib),
                  ("preserved %d MiB" % mib) in fill and "hugetlb" in fill, fill)
            check(c, "%s: gen %d: the preserved file's layout is frozen" % (name, g.index),
                  frozen in fill, fill)


def per_node_kept(g, size="%dkB" % HUGE_KB):
    """Per node, the pages the file holds after gen g filled it: each node's
    total less its free pages (nothing else uses the pool)."""
    return {n: v[0] - v[1] for n, v in nodes_of(pools(g, "filled", size)).items()}


def two_small_nodes(ctx):
    """Two nodes of 512 MiB; on the sanitizer kernel two of 1.5 GiB: its
    3 GiB guests give the extra memory to the last node, and a node 0 of
    512 MiB has no room for its scratch beside KASAN's shadow (KHO off)."""
    if getattr(ctx, "debug", False):
        return {"mem": "3G", "numa": ["1536M", "1536M"]}
    return {"mem": "1G", "numa": ["512M", "512M"]}


def hugetlb_2m(ctx):
    name, gens, pool = "hugetlb-2m", 3, 48
    c = []
    run = boot(ctx, name, "hugepagesz=2M hugepages=%d khot.luo_extra=16 khot.luo_pfns=1 "
               "khot.luo_rehearse=1" % pool, gens, **two_small_nodes(ctx))
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens, expected=PAST_END)
    for g in reached[:gens - 1]:
        # luo-fill --rehearse: a preserve refused after it recorded the
        # file's pages, and one undone by closing its session, each leave
        # the file resizable (not frozen) and its pages no longer recorded
        # as preserved: the real preserve after them takes every page
        # (checked above; a page still recorded fails it with EBUSY)
        fill = g.fact("luo_fill") or ""
        check(c, "%s: gen %d: a refused preserve and an unpreserved one each left the file "
              "resizable" % (name, g.index), REHEARSED in fill, fill)
        past = g.grep(PAST_END)
        check(c, "%s: gen %d: the refusal named the page past the end, once" % (name, g.index),
              len(past) == 1 and "offset %d " % (MIB << 20) in past[0],
              past or "no line")
    start1 = pools(reached[0], "start") if reached else {}
    check(c, "%s: gen 1 has a pool of %d free 2 MiB pages" % (name, pool),
          start1.get("all", ())[:3] == (pool, pool, 0), start1)
    for g in reached:
        if g.index < gens:
            filled = pools(g, "filled").get("all")
            # in use: the data pages; reserved: the holes the mapping reserved
            check(c, "%s: gen %d: the file holds %d pages, its %d holes only reserved"
                  % (name, g.index, DATA, HOLES),
                  filled == (pool, pool - DATA, 0, HOLES), filled)
        if g.index == 1:
            continue
        start = pools(g, "start")
        check(c, "%s: gen %d: the pool is back, the preserved pages in use, no hole given a page"
              % (name, g.index), start.get("all") == (pool, pool - DATA, 0, 0), start.get("all"))
        check(c, "%s: gen %d: each node's pool as in gen 1" % (name, g.index),
              {n: v[0] for n, v in nodes_of(start).items()}
              == {n: v[0] for n, v in nodes_of(start1).items()},
              "%s, gen 1 %s" % (nodes_of(start), nodes_of(start1)))
        ok, why = pages_are(pfn_flags(g), DATA, *TAKEN)
        check(c, "%s: gen %d: the frames gen %d's file held head HugeTLB pages at boot, "
              "none in the buddy allocator or PG_reserved" % (name, g.index, g.index - 1),
              ok, why)
        check(c, "%s: gen %d has the HugeTLB file back, every byte, holes and size" % (name, g.index),
              huge_verified(g, MIB), g.fact("luo_check") or "no luo_check")
        check(c, "%s: gen %d: mapped again, the file reserves its %d holes and no page it has"
              % (name, g.index, HOLES),
              ("; mapped again: %d reserved" % HOLES) in (g.fact("luo_check") or ""),
              g.fact("luo_check") or "no luo_check")
        checked = pools(g, "checked").get("all")
        check(c, "%s: gen %d: the file's pages are free again once it is closed" % (name, g.index),
              checked == (pool, pool, 0, 0), checked)
        ex = g.fact("luo_extra_check") or ""
        check(c, "%s: gen %d has the shmem memfd of the other session back" % (name, g.index),
              "verified 16 MiB" in ex, ex)
    return c


def hugetlb_2m_pernode(ctx):
    """Two unequal nodes. Gen 1 grows each node's pool at run time (20 and
    28 pages); every generation boots with hugepages=0:2,1:2, less than
    what the file keeps on the node(s) it lies on: each node's pool must be
    max(asked, preserved) there, the free pages what the file does not
    hold, and the kernel must say the pool grew."""
    name, gens = "hugetlb-2m-pernode", 2
    asked = {"0": 2, "1": 2}
    c = []
    run = boot(ctx, name, "hugepagesz=2M hugepages=0:2,1:2 khot.nodepool=0:20,1:28",
               gens, mem="2G", numa=["768M", "1280M"])
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens)
    if len(reached) < 2:
        return c
    start1 = nodes_of(pools(reached[0], "start"))
    check(c, "%s: gen 1 grew its pool to 20 and 28 pages" % name,
          {n: v[0] for n, v in start1.items()} == {"0": 20, "1": 28}, start1)
    kept = per_node_kept(reached[0])
    start = nodes_of(pools(reached[1], "start"))
    want = {n: (max(asked[n], kept.get(n, 0)), max(asked[n], kept.get(n, 0)) - kept.get(n, 0))
            for n in asked}
    check(c, "%s: gen 1's file holds its %d pages" % (name, DATA),
          sum(kept.values()) == DATA, kept)
    check(c, "%s: gen 2: per node, total = max(asked, preserved), free = total - preserved" % name,
          {n: v[:2] for n, v in start.items()} == want,
          "got %s, want %s (asked %s, preserved %s)" % (start, want, asked, kept))
    grew = reached[1].grep(GREW)
    m = GREW.search(grew[0]) if grew else None
    check(c, "%s: gen 2 says once that the pool grew, from 4 to %d" % (name, sum(w[0] for w in want.values())),
          len(grew) == 1 and m and int(m.group(1)) == 4
          and int(m.group(2)) == sum(w[0] for w in want.values()), "; ".join(grew) or "no line")
    check(c, "%s: gen 2 has the HugeTLB file back, every byte" % name,
          huge_verified(reached[1], MIB), reached[1].fact("luo_check") or "no luo_check")
    # each node's pool is what the file holds there, none free: its holes
    # cannot be reserved, as for any file of a pool with no free page
    check(c, "%s: gen 2: mapped again with reservations, the full pool refuses its holes (ENOMEM)"
          % name, "; mapped again: Cannot allocate memory" in (reached[1].fact("luo_check") or ""),
          reached[1].fact("luo_check") or "no luo_check")
    return c


def hugetlb_2m_surplus(ctx):
    """hugepages=16 and 16 surplus pages allowed: the file's mapping
    reserves its 32 pages, 16 of them surplus. The successor, with the same
    command line, counts the preserved surplus pages as surplus again."""
    name, gens, pool, over = "hugetlb-2m-surplus", 2, 16, 16
    c = []
    run = boot(ctx, name, "hugepagesz=2M hugepages=%d khot.overcommit=%d" % (pool, over),
               gens, mem="1G")
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens)
    if len(reached) < 2:
        return c
    filled = pools(reached[0], "filled").get("all")
    check(c, "%s: gen 1's file took %d surplus pages" % (name, over),
          filled == (pool + over, pool + over - DATA, over, HOLES), filled)
    start = pools(reached[1], "start").get("all")
    # the 24 preserved pages: 16 surplus, 8 persistent; the pool of 16
    # keeps 8 more free: 32 in all, 8 free, 16 surplus
    check(c, "%s: gen 2: total, free and surplus as before the kexec" % name,
          start == (pool + over, pool + over - DATA, over, 0), start)
    check(c, "%s: gen 2 has the HugeTLB file back, every byte" % name,
          huge_verified(reached[1], MIB), reached[1].fact("luo_check") or "no luo_check")
    check(c, "%s: gen 2: mapped again, the file reserves its %d holes only" % (name, HOLES),
          ("; mapped again: %d reserved" % HOLES) in (reached[1].fact("luo_check") or ""),
          reached[1].fact("luo_check") or "no luo_check")
    checked = pools(reached[1], "checked").get("all")
    check(c, "%s: gen 2: the surplus pages are dissolved with the file" % name,
          checked == (pool, pool, 0, 0), checked)
    return c


def hugetlb_2m_discard(ctx):
    name, gens, pool = "hugetlb-2m-discard", 2, 32
    c = []
    run = boot(ctx, name, "hugepagesz=2M hugepages=%d khot.luo_discard=1" % pool, gens, mem="1G")
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens)
    if len(reached) < 2:
        return c
    g = reached[1]
    start = pools(g, "start").get("all")
    check(c, "%s: gen 2: the preserved pages are in use until the session ends" % name,
          start == (pool, pool - DATA, 0, 0), start)
    d = g.fact("luo_discard") or ""
    check(c, "%s: gen 2 finished the session without taking the file" % name,
          "discarded session" in d, d)
    released = g.grep(r"hugetlb_luo: a file never retrieved: %d of its %d huge pages back in the pool"
                      % (DATA, DATA))
    check(c, "%s: gen 2 says the file's pages went back to the pool" % name, released,
          "no 'a file never retrieved' line")
    after = pools(g, "discarded").get("all")
    check(c, "%s: gen 2: every page free again" % name, after == (pool, pool, 0, 0), after)
    return c


GIG_KB = 1024 * 1024
GIG = "%dkB" % GIG_KB
MIB2 = "%dkB" % HUGE_KB


def hugetlb_2m_scratch(ctx):
    """The file's pages lie in KHO scratch when preserve is asked. Gen 1
    boots with a pool of 32 2 MiB pages (allocated before KHO gives scratch
    to the page allocator: outside it) and a scratch larger than half of
    its memory (kho_scratch=16M,512M,16M on 1 GiB), then grows the pool to
    64 at run time: the page allocator takes movable allocations from
    scratch's CMA pageblocks first while they hold most of the free
    memory, so the 32 new pages lie in scratch, and the file, which takes
    the pages added last first, has every page there. Preserve must move
    each out of scratch (the kernel says how many) instead of refusing the
    file, and keep the pool as it was: 64 pages, the file's 24 in use, no
    surplus page left. The successor (hugepages=32) gets every byte back,
    the preserved pages in its pool of 32. nokaslr: the 512 MiB global
    area wants one free range of half the guest, which a kernel image
    placed at random can split (gen 1 failed to reserve it, KHO off, in
    run 26)."""
    name, gens, pool1, pool = "hugetlb-2m-scratch", 2, 64, 32
    c = []
    run = boot(ctx, name, "nokaslr kho_scratch=16M,512M,16M hugepagesz=2M hugepages=%d "
               "khot.nodepool=0:%d trace_event=migrate:mm_migrate_pages tp_printk "
               "trace_buf_size=64K" % (pool, pool1), gens, mem="1G")
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens)
    if not reached:
        return c
    g1 = reached[0]
    # the premise: the pool's pages the file takes lie in scratch (init's
    # probe counts 4 KiB pages flagged huge inside the scratch areas)
    inside = g1.fact("huge_in_scratch") or ""
    check(c, "%s: gen 1: before the fill at least %d huge pages lie in KHO scratch" % (name, DATA),
          inside.isdigit() and int(inside) >= DATA * HUGE_KB // 4, "%s 4 KiB pages" % inside)
    moved = [int(m.group(1)) for m in (MOVED.search(l) for l in g1.grep(MOVED)) if m]
    check(c, "%s: gen 1 moved the file's %d pages out of KHO scratch at preserve" % (name, DATA),
          moved == [DATA], g1.grep(MOVED) or "no line")
    # ...under a migration reason of its own, not as long-term pins
    # (nr_succeeded counts 4 KiB pages: 512 a huge page)
    migrations = [(m.group(3), int(m.group(1)), int(m.group(2)))
                  for m in (MIGRATED.search(l) for l in g1.grep(MIGRATED)) if m]
    ours = [(n, f) for r, n, f in migrations if r == "liveupdate"]
    check(c, "%s: gen 1: those moves are migrations for live update (reason liveupdate), "
          "%d 4 KiB pages, none failed, no long-term pin" % (name, DATA * HUGE_KB // 4),
          sum(n for n, _ in ours) == DATA * HUGE_KB // 4 and not any(f for _, f in ours)
          and not any(r == "longterm_pin" for r, _, _ in migrations), migrations or "no trace line")
    filled = pools(g1, "filled").get("all")
    check(c, "%s: gen 1: the pool kept its size: %d pages, the file's %d in use, no surplus"
          % (name, pool1, DATA), filled == (pool1, pool1 - DATA, 0, HOLES), filled)
    for g in reached[1:]:
        start = pools(g, "start").get("all")
        check(c, "%s: gen %d: a pool of %d, the preserved pages in use" % (name, g.index, pool),
              start == (pool, pool - DATA, 0, 0), start)
        check(c, "%s: gen %d has the HugeTLB file back, every byte, holes and size" % (name, g.index),
              huge_verified(g, MIB), g.fact("luo_check") or "no luo_check")
        checked = pools(g, "checked").get("all")
        check(c, "%s: gen %d: the file's pages are free again once it is closed" % (name, g.index),
              checked == (pool, pool, 0, 0), checked)
    return c


def hugetlb_mixed(ctx, name, gens):
    """A host's guests in 1 GiB and 2 MiB pages and in shmem, side by side:
    a 4 GiB file of 1 GiB pages (3 pages and a hole), a 64 MiB file of
    2 MiB pages (24 pages, 8 holes) and a 16 MiB shmem memfd, each in a
    session of its own, on two nodes with a per-node pool of 1 GiB pages
    (hugepages=0:1,1:3: node 0 has room for one outside
    scratch and the kernel; nokaslr: see giga-numa; node 1 has room for
    more than its pool, so that a successor that allocated its whole pool
    beside the preserved pages would show it) and a global one of 2 MiB
    pages. Every successor has every byte of the three back, and
    both pools as in gen 1, per node, the preserved pages in use."""
    big, small, shm, pool1g, pool2m = 4096, 64, 16, {"0": 1, "1": 3}, 32
    data1g, data2m = 3, small * 1024 // HUGE_KB * 3 // 4
    c = []
    run = boot(ctx, name, "nokaslr hugetlb_free_vmemmap=on hugepagesz=1G hugepages=0:1,1:3 "
               "hugepagesz=2M hugepages=%d "
               "khot.luo_extra=%d khot.luo_extra_huge=2M khot.luo_shmem=%d" % (pool2m, small, shm),
               gens, mib=big, huge="1G", mem="10G", numa=["4G", "6G"])
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens, mib=big)
    if not reached:
        return c
    n1g = sum(pool1g.values())
    start1 = pools(reached[0], "start", GIG)
    check(c, "%s: gen 1 has its pool of 1 GiB pages, 1 and 3 per node" % name,
          {n: v[:3] for n, v in nodes_of(start1).items()}
          == {n: (k, k, 0) for n, k in pool1g.items()}, start1)
    for g in reached:
        if g.index < gens:
            filled = pools(g, "filled", GIG).get("all")
            check(c, "%s: gen %d: the 1 GiB file holds %d pages, its hole only reserved"
                  % (name, g.index, data1g), filled == (n1g, n1g - data1g, 0, 1), filled)
            fill = g.fact("luo_extra_fill") or ""
            check(c, "%s: gen %d preserved the 2 MiB file, its layout frozen" % (name, g.index),
                  ("preserved %d MiB" % small) in fill and "hugetlb" in fill and FROZEN in fill,
                  fill)
            sf = g.fact("luo_shmem_fill") or ""
            check(c, "%s: gen %d preserved the shmem memfd" % (name, g.index),
                  ("preserved %d MiB" % shm) in sf and "hugetlb" not in sf, sf)
        if g.index == 1:
            continue
        prev = reached[g.index - 2]
        kept = per_node_kept(prev, GIG)
        start = pools(g, "start", GIG)
        want = {n: (k, k - kept.get(n, 0)) for n, k in pool1g.items()}
        check(c, "%s: gen %d: each node's 1 GiB pool as in gen 1, the preserved pages in use"
              % (name, g.index), {n: v[:2] for n, v in nodes_of(start).items()} == want,
              "got %s, want %s (preserved per node %s)" % (nodes_of(start), want, kept))
        # HVO: the preserved pages' memory map is optimized as a fresh
        # boot's pool pages' are (gen 1: the same pools, all fresh)
        mm1, mm = reached[0].fact("memmap_pages"), g.fact("memmap_pages")
        check(c, "%s: gen %d: HVO on, the memory map as small as in gen 1 (%s pages)"
              % (name, g.index, mm1), g.fact("hvo") == "1" and int(mm1 or 0) > 0 and mm == mm1,
              "hvo=%s, %s pages, gen 1 %s" % (g.fact("hvo"), mm, mm1))
        short = g.grep(r"HugeTLB: allocating \d+ of page size .* failed")
        check(c, "%s: gen %d: the boot allocation asked for no page it had no room for"
              % (name, g.index), not short, "; ".join(short))
        s2 = pools(g, "start", MIB2).get("all")
        check(c, "%s: gen %d: the 2 MiB pool is back, its preserved pages in use"
              % (name, g.index), s2 == (pool2m, pool2m - data2m, 0, 0), s2)
        check(c, "%s: gen %d has the 1 GiB file back, every byte, hole and size"
              % (name, g.index), huge_verified(g, big, GIG_KB), g.fact("luo_check") or "no luo_check")
        check(c, "%s: gen %d has the 2 MiB file back, every byte, holes and size"
              % (name, g.index), huge_verified(g, small, HUGE_KB, "luo_extra_check", g.index + 99),
              g.fact("luo_extra_check") or "no luo_extra_check")
        check(c, "%s: gen %d: mapped again, each file reserves its holes only (1 and %d)"
              % (name, g.index, small * 1024 // HUGE_KB // 4),
              "; mapped again: 1 reserved" in (g.fact("luo_check") or "")
              and ("; mapped again: %d reserved" % (small * 1024 // HUGE_KB // 4))
              in (g.fact("luo_extra_check") or ""),
              "%s | %s" % (g.fact("luo_check"), g.fact("luo_extra_check")))
        sh = g.fact("luo_shmem_check") or ""
        check(c, "%s: gen %d has the shmem memfd back, every byte" % (name, g.index),
              shmem_verified(g, shm), sh)
        checked = pools(g, "checked", GIG).get("all")
        check(c, "%s: gen %d: the 1 GiB pages are free again once the file is closed"
              % (name, g.index), checked == (n1g, n1g, 0, 0), checked)
        if g.index == gens:
            end = pools(g, "end", MIB2).get("all")
            check(c, "%s: gen %d: the 2 MiB pages are free again once the file is closed"
                  % (name, g.index), end == (pool2m, pool2m, 0, 0), end)
    return c


def hugetlb_1g_cma(ctx):
    """hugetlb_cma=3G, no boot-time pool: gen 1 grows its pool of 1 GiB
    pages at run time, from the CMA area, and preserves a 2 GiB file of
    them (the CMA area lies outside KHO scratch, or preserving would be
    refused). Gen 2 declares its CMA area afresh; the preserved pages come
    back as ordinary gigantic pages, in use, the file every byte, and free
    in the pool once it is closed. What became of gen 2's own CMA area is
    recorded, not asserted (with 2 GiB preserved in an 8 GiB guest there
    was no room left for 3 GiB: see the issue note). nokaslr: the area
    wants 3 GiB in one range above 4 GiB, which a kernel image placed
    there at random can split (gen 1 failed to reserve it once in run 25)."""
    name, gens, mib = "hugetlb-1g-cma", 2, 2048
    c = []
    run = boot(ctx, name, "nokaslr hugetlb_cma=3G hugepagesz=1G khot.pool1g=3", gens, mib=mib,
               huge="1G", mem="8G")
    reached = gen_checks(c, run, name, gens)
    if not reached:
        return c
    g1 = reached[0]
    check(c, "%s: gen 1 has 3 pages of 1 GiB from its CMA area" % name,
          pools(g1, "start", GIG).get("all", ())[:2] == (3, 3)
          and g1.grep(r"hugetlb_cma: reserved 3072 MiB"), pools(g1, "start", GIG))
    fill = g1.fact("luo_fill") or ""
    check(c, "%s: gen 1 preserved the file of CMA pages (not in scratch)" % name,
          ("preserved %d MiB" % mib) in fill and FROZEN_NO_HOLE in fill, fill)
    if len(reached) < 2:
        return c
    g2 = reached[1]
    start = pools(g2, "start", GIG).get("all")
    check(c, "%s: gen 2 has the 2 preserved pages in its pool, in use" % name,
          start is not None and start[0] - start[1] == 2, start)
    check(c, "%s: gen 2 has the file back, every byte" % name,
          huge_verified(g2, mib, GIG_KB), g2.fact("luo_check") or "no luo_check")
    checked = pools(g2, "checked", GIG).get("all")
    check(c, "%s: gen 2: the pages are free in the pool once the file is closed" % name,
          checked is not None and start is not None and checked[:2] == (start[0], start[0]),
          checked)
    print("   (%s: gen 2's CMA area: %s)" % (name, "; ".join(
        l.split("] ", 1)[-1] for l in g2.grep(r"hugetlb_cma: |cma: (Failed|Reserved)"))))
    return c


def hugetlb_arm64(ctx):
    """arm64 with 4 KiB pages (tests/arm64.py, QEMU virt under UEFI): a
    file of each gigantic size and one of 2 MiB pages, with a shmem memfd,
    each in a session of its own, over three generations: a 128 MiB file
    of 32 MiB pages (contiguous PMDs; three pages and a hole), a 2 GiB file
    of 1 GiB pages (two pages) and a 64 MiB file of 2 MiB pages (24 pages,
    8 holes), pools of 8, 2 and 32. Every successor has every byte of the
    four back, each pool as in gen 1 with the preserved pages in use, and
    every page free once the files are closed."""
    name, gens = "hugetlb", 3
    files = [  # fact, MiB, page size, KiB, pool, seed of gen g's check - g
        ("luo", 128, "32M", 32 * 1024, 8, -1),
        ("luo_extra", 2048, "1G", GIG_KB, 2, 99),
        ("luo_extra2", 64, "2M", HUGE_KB, 32, 299),
    ]
    shm = 16
    c = []
    run = boot(ctx, name, "hugepagesz=32M hugepages=8 hugepagesz=1G hugepages=2 "
               "hugepagesz=2M hugepages=32 khot.luo_extra=2048 khot.luo_extra_huge=1G "
               "khot.luo_extra2=64 khot.luo_extra2_huge=2M khot.luo_shmem=%d" % shm,
               gens, mib=128, huge="32M", mem="5G")
    reached = gen_checks(c, run, name, gens)
    common(c, name, reached, gens, mib=128)
    for g in reached:
        for fact, mib, size, kb, pool, off in files:
            pages = mib * 1024 // kb
            data = pages - pages // 4
            label = "%dkB" % kb
            if g.index == 1:
                start = pools(g, "start", label).get("all")
                check(c, "%s: gen 1 has its pool of %d %s pages, all free" % (name, pool, size),
                      start == (pool, pool, 0, 0), start)
            if g.index < gens and fact != "luo":
                fill = g.fact(fact + "_fill") or ""
                check(c, "%s: gen %d preserved the %s-page file, its layout frozen"
                      % (name, g.index, size), ("preserved %d MiB" % mib) in fill and "hugetlb" in fill
                      and (FROZEN if pages >= 4 else FROZEN_NO_HOLE) in fill, fill)
            if g.index == 1:
                continue
            start = pools(g, "start", label).get("all")
            check(c, "%s: gen %d: the %s pool is back, its %d preserved pages in use"
                  % (name, g.index, size, data), start == (pool, pool - data, 0, 0), start)
            check(c, "%s: gen %d has the %s-page file back, every byte, holes and size"
                  % (name, g.index, size), huge_verified(g, mib, kb, fact + "_check", g.index + off),
                  g.fact(fact + "_check") or "no %s_check" % fact)
            if g.index == gens:
                end = pools(g, "end", label).get("all")
                check(c, "%s: gen %d: the %s pages are free again once the files are closed"
                      % (name, g.index, size), end == (pool, pool, 0, 0), end)
        if g.index > 1:
            sh = g.fact("luo_shmem_check") or ""
            check(c, "%s: gen %d has the shmem memfd back, every byte" % (name, g.index),
                  shmem_verified(g, shm), sh)
    return c


def hugetlb_1g(ctx):
    return hugetlb_mixed(ctx, "hugetlb-1g", 3)


def hugetlb_1g_5gen(ctx):
    return hugetlb_mixed(ctx, "hugetlb-1g-5gen", 5)


SCENARIOS = [
    ("hugetlb-1g", hugetlb_1g),
    ("hugetlb-1g-5gen", hugetlb_1g_5gen),
    ("hugetlb-1g-cma", hugetlb_1g_cma),
    ("hugetlb-2m", hugetlb_2m),
    ("hugetlb-2m-pernode", hugetlb_2m_pernode),
    ("hugetlb-2m-surplus", hugetlb_2m_surplus),
    ("hugetlb-2m-discard", hugetlb_2m_discard),
    ("hugetlb-2m-scratch", hugetlb_2m_scratch),
]
