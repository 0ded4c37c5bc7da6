"""A bad chunk or blob among good ones costs only itself (patches 40-45).

Generation 1 preserves test_kho's data and, through LUO, a memfd of
64 MiB (guest/luo-fill), then damages one piece of its handover with the
test-only corruption knob: a preserved chunk outside memory, in scratch
or across two nodes, or test_kho's sub-blob pointing outside preserved
memory. Generation 2 must say what it left out, in one line, and keep
the rest: still a KHO boot, the memfd back byte for byte, and test_kho's
data intact when only a chunk was damaged. Generation 3 gets a clean
handover again.

With kho_on_error=panic the same damage stops generation 2 once its
console is up, with the same words; a clean handover with that option
boots as usual.
"""
import re

from scenarios import Skip, check, gen_checks, kho_checks, luo_filled, luo_verified

LOST = r"KHO: handover from the previous kernel: left out"

CHUNKS = [
    # class, what the message names, NUMA layout
    ("range", r"left out 1 preserved chunks .*preserved range in scratch or outside memory, 0x", None),
    ("in-scratch", r"left out 1 preserved chunks .*preserved range in scratch or outside memory, 0x", None),
    # node 1 starts at 1026 MiB: a 4 MiB chunk at 1 GiB spans the edge
    ("node-cross", r"left out 1 preserved chunks .*preserved range crosses a node boundary, "
                   r"0x40000000\+0x400000", ["1026M", "1022M"]),
]
BLOBS = [
    ("blob-oob", r"left out blob 'kho_test' \(0x[0-9a-f]+\+0x[0-9a-f]+\): not preserved memory"),
    ("blob-size", r"left out blob 'kho_test' \(0x[0-9a-f]+\+0x40000000\): not preserved memory"),
]


# 64 MiB: more than the free memory above the successor's scratch in a
# 2 GiB guest, so memblock's top-down search meets scratch first and the
# new area of generation 2 is placed outside scratch only on purpose
RESERVE_MEM = "reserve_mem=64M:4096:oops "
RESERVE = [
    # the area handed over points beyond memory: not revived, named
    ("reserve-mem-oob", r"left out reserve_mem area 'oops' \(0x[0-9a-f]+\+0x4000000\): "
                        r"not preserved memory"),
]


def boot(ctx, name, append, gens, numa=None):
    if not ctx.args.selftest_initrd:
        raise Skip("no --selftest-initrd given (luo-fill)")
    return ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=64 " + append, gens=gens,
                    mem="2G", numa=numa, initrd=ctx.args.selftest_initrd)


def new_area_handed_over(c, name, area, g2, g3):
    """Gen 2 set up a reserve_mem= area anew and handed it over: no
    parser error, not revived, no failed memblock FDT, not left out as
    lying in scratch; gen 3 (if reached) revives it."""
    check(c, "%s: gen 2 sets the area up anew" % name,
          not g2.grep(r"Revived memory reservation '%s'" % area) and
          not g2.grep(r"reserve_mem: "), "; ".join(g2.grep(r"%s|reserve_mem" % area)))
    # the new area must lie outside scratch to be handed over at all:
    # gen 3 revives it only if gen 2 preserved it, and gen 3's checks
    # would leave out an area in scratch
    check(c, "%s: gen 2 hands its new area over" % name,
          not g2.grep(r"failed to prepare memblock FDT|reserve_mem area '%s' .*not handed" % area),
          "; ".join(g2.grep(r"memblock FDT|reserve_mem")))
    if g3:
        check(c, "%s: gen 3 revives the area gen 2 set up" % name,
              g3.grep(r"Revived memory reservation '%s' from KHO" % area),
              "; ".join(g3.grep(r"%s|reserve_mem|memblock FDT" % area)) or "not revived")


def partial(ctx, cls, diag, numa, blob, extra=""):
    c = []
    name = "corrupt-part-" + cls
    run = boot(ctx, name, extra + "khot.corrupt=" + cls, 3, numa)
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    if not reached:
        return c
    g1 = reached[0]
    check(c, "%s: gen 1 preserved a memfd and damaged its handover" % name,
          luo_filled(g1, 64) and g1.fact("corrupted") == cls,
          "luo_fill %s; corrupt_failed %s" % (g1.fact("luo_fill"), g1.fact("corrupt_failed")))
    if len(reached) < 2:
        return c
    g2 = reached[1]
    lost = g2.grep(LOST)
    check(c, "%s: gen 2 names what it left out, in one line" % name,
          len(lost) == 1 and g2.grep(diag), "; ".join(lost) or "no message")
    check(c, "%s: gen 2 keeps the rest of the handover" % name,
          not g2.grep(r"KHO: (dropping the handover|disabling KHO revival)"), "")
    check(c, "%s: gen 2 has the memfd back, every byte, holes and size" % name,
          luo_verified(g2, 64), g2.fact("luo_check") or "no luo_check")
    restored = g2.grep(r"test_kho: KHO restore succeeded")
    if blob:
        check(c, "%s: gen 2 test_kho finds no blob (it was left out)" % name, not restored,
              "; ".join(g2.grep(r"test_kho")))
    else:
        check(c, "%s: gen 2 test_kho data intact" % name, restored and
              not g2.grep(r"test_kho: (KHO restore failed|failed to retrieve)"),
              "; ".join(g2.grep(r"test_kho")))
    if extra:
        new_area_handed_over(c, name, "oops", g2, reached[2] if len(reached) == 3 else None)
    if len(reached) == 3:
        g3 = reached[2]
        # test_kho restores in every other generation: gen 3 only saves
        check(c, "%s: gen 3 clean handover, nothing left out, no test_kho failure" % name,
              g3.fact("kho_in") == "yes" and not g3.grep(LOST) and
              not g3.grep(r"test_kho: (KHO restore failed|failed to retrieve)"),
              "; ".join(g3.grep(LOST + r"|test_kho")))
        # gen 2 filled a new memfd after checking the old one
        check(c, "%s: gen 3 has gen 2's memfd back, every byte" % name,
              luo_verified(g3, 64), g3.fact("luo_check") or "no luo_check")
    return c


def reserve_mem_clean(ctx):
    """Control: a reserve_mem= area handed over cleanly is revived in
    generations 2 and 3, and nothing is left out."""
    c = []
    name = "reserve-mem-revive"
    run = boot(ctx, name, RESERVE_MEM, 3)
    reached = gen_checks(c, run, name, 3)
    for g in reached[1:]:
        check(c, "%s: gen %d revives the area and leaves nothing out" % (name, g.index),
              g.grep(r"Revived memory reservation 'oops' from KHO") and not g.grep(LOST),
              "; ".join(g.grep(r"oops|left out")))
    return c


def reserve_mem_new(ctx):
    """An area named only from generation 2 on (khot.add): generation 2,
    a KHO boot, has nothing to revive and sets the area up anew. It must
    not be handed over inside scratch, where the next kernel boots (the
    base does: with KHO debugging its memblock FDT fails and no area is
    handed over). Patch 70 places it outside scratch, so it is handed
    over and generation 3 revives it. No corruption knob, so the
    scenario runs on any kernel: with patches 1-10 alone the area lies
    in scratch and is left out in one line, which fails "hands its new
    area over" and "revives" here (by design: those need patch 70)."""
    c = []
    name = "reserve-mem-new"
    run = boot(ctx, name, "khot.add=" + RESERVE_MEM.strip().replace("oops", "late"), 3)
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g1, g2 = reached[0], reached[1]
    g3 = reached[2] if len(reached) == 3 else None
    area = re.compile(r"(^| )reserve_mem=64M:4096:late( |$)")
    check(c, "%s: only gen 2 on has the area on its command line" % name,
          not area.search(g1.fact("cmdline") or "") and
          area.search(g2.fact("cmdline") or ""),
          "%s | %s" % (g1.fact("cmdline"), g2.fact("cmdline")))
    new_area_handed_over(c, name, "late", g2, g3)
    if g3:
        check(c, "%s: gen 3 has gen 2's memfd back, every byte" % name,
              luo_verified(g3, 64), g3.fact("luo_check") or "no luo_check")
    return c


def reserve_mem_in_scratch(ctx):
    """A new reserve_mem= area that only fits in scratch (patch 10; patch
    70 places an area outside scratch only where there is room): gen 1
    has a 400 MiB area and 1360 MiB of scratch in 2 GiB, and damages the
    area's record; gen 2 cannot revive it, its old pages stay preserved,
    so the new area fits only in scratch. Gen 2 uses it but leaves it out
    of the handover, in one line, and hands the rest over: no report, no
    failed memblock FDT, gen 3 has gen 2's memfd back and sets the area
    up anew."""
    c = []
    name = "reserve-mem-in-scratch"
    # nokaslr: 1280 MiB of global scratch and the 400 MiB area fit in
    # 2 GiB only if the kernel image does not cut free memory in two
    run = boot(ctx, name, "nokaslr kho_scratch=16M,1280M,64M reserve_mem=400M:4096:oops "
               "khot.corrupt=reserve-mem-oob", 3)
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c
    g2 = reached[1]
    left = g2.grep(r"reserve_mem area 'oops' lies in KHO scratch: not handed over")
    check(c, "%s: gen 2 sets the area up in scratch and says it is not handed over" % name,
          len(left) == 1 and not g2.grep(r"Revived memory reservation 'oops'"),
          "; ".join(g2.grep(r"oops|reserve_mem")) or "no line")
    check(c, "%s: gen 2 hands the rest over (no failed memblock FDT)" % name,
          not g2.grep(r"failed to prepare memblock FDT"), "")
    if len(reached) == 3:
        g3 = reached[2]
        check(c, "%s: gen 3 finds no area to revive and has gen 2's memfd back" % name,
              not g3.grep(r"Revived memory reservation 'oops'") and
              not g3.grep(r"left out reserve_mem area") and luo_verified(g3, 64),
              "%s; %s" % ("; ".join(g3.grep(r"oops|left out")), g3.fact("luo_check")))
    return c


def luo_blob(ctx):
    """LUO's own blob points outside memory: it is left out, named, and the
    successor boots without LUO state (LUO finds none, it does not stop
    the boot); test_kho's data comes back."""
    c = []
    name = "corrupt-part-luo-blob-oob"
    run = boot(ctx, name, "khot.corrupt=luo-blob-oob", 2)
    reached = gen_checks(c, run, name, 2)
    if len(reached) < 2:
        return c
    g2 = reached[1]
    check(c, "%s: gen 2 names LUO's blob, in one line" % name,
          len(g2.grep(LOST)) == 1 and g2.grep(r"left out blob 'LUO' \(0x[0-9a-f]+\+0x[0-9a-f]+\): "
                                               r"not preserved memory"),
          "; ".join(g2.grep(LOST)) or "no message")
    check(c, "%s: gen 2 boots without LUO state, no panic" % name,
          not g2.grep(r"Kernel panic|luo: .*(failed|Fail)") and
          not g2.grep(r"luo: Retrieved live update data"), "; ".join(g2.grep(r"luo:"))[:200])
    check(c, "%s: gen 2 has no memfd to check (its state was left out)" % name,
          "verified" not in (g2.fact("luo_check") or ""), g2.fact("luo_check") or "")
    check(c, "%s: gen 2 test_kho data intact" % name,
          g2.grep(r"test_kho: KHO restore succeeded"), "; ".join(g2.grep(r"test_kho")))
    return c


def stop(ctx):
    """kho_on_error=panic: the successor stops instead of running without
    the chunk; and a clean handover with the option boots."""
    c = []
    name = "corrupt-stop"
    run = boot(ctx, name, "kho_on_error=panic khot.corrupt=range", 2)
    g = run.gens
    check(c, "%s: gen 1 reached init" % name, g and g[0].fact("start") is not None, "")
    g2 = g[1] if len(g) > 1 else None
    check(c, "%s: gen 2 stops with the reason" % name,
          g2 is not None and g2.grep(r"Kernel panic - not syncing: KHO: left out 1 preserved "
                                     r"chunks .*; stopping as kho_on_error=panic asks"),
          "; ".join(g2.grep(r"panic|KHO:")[-3:]) if g2 else "no gen 2")
    check(c, "%s: gen 2 never reaches init" % name, g2 is not None and g2.fact("start") is None, "")
    ok = boot(ctx, name + "-clean", "kho_on_error=panic", 2)
    r = ok.reached()
    check(c, "%s: a clean handover with kho_on_error=panic boots, memfd intact" % name,
          len(r) == 2 and luo_verified(r[1], 64) and
          not r[1].grep(r"Kernel panic"), "%d generations" % len(r))
    return c


SCENARIOS = (
    [("corrupt-part-" + cls, (lambda a, b, n: lambda ctx: partial(ctx, a, b, n, False))(cls, d, n))
     for cls, d, n in CHUNKS] +
    [("corrupt-part-" + cls, (lambda a, b: lambda ctx: partial(ctx, a, b, None, True))(cls, d))
     for cls, d in BLOBS] +
    [("corrupt-part-" + cls, (lambda a, b: lambda ctx: partial(
        ctx, a, b, None, False, RESERVE_MEM))(cls, d)) for cls, d in RESERVE] +
    [("corrupt-part-luo-blob-oob", luo_blob), ("reserve-mem-revive", reserve_mem_clean),
     ("reserve-mem-new", reserve_mem_new),
     ("reserve-mem-in-scratch", reserve_mem_in_scratch),
     ("corrupt-stop", stop)])
