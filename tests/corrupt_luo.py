"""LUO's own state from the previous kernel is checked before it is used.

Generation 1 preserves two sessions through LUO: "khot-bench" with a
64 MiB memfd (guest/luo-fill), then "khot-extra" with a 16 MiB one. The
test-only corruption knob damages one piece of LUO's state once LUO has
written it at the start of the kexec (kho_corrupt_luo(): the first block
of sessions, the first session, its first file). Generation 2 must name
the damage and drop only what it must, with no kernel report:

 - LUO's top-level state (its version string, the sessions' block list,
   its first block): live update is off in generation 2, with one line
   that says so; KHO and test_kho's data are not touched;
 - the FLB state: no FLB comes back, both sessions do;
 - the first session's file list: that session alone is dropped, and the
   other comes back with every byte;
 - the first session's memfd: retrieving that file fails, the other
   session's memfd comes back with every byte.

With kho_on_error=panic, damage to LUO's top-level state stops
generation 2 instead (LUO's own panic, the base's behaviour).
"""
import re

from scenarios import Skip, check, gen_checks, kho_checks, luo_filled, luo_verified

EXTRA = 16  # MiB in the second session
MEM_MIB = 2048  # the guest's memory
# the address in the line that names a damaged link
ADDR = re.compile(r"(?:at|to) 0x([0-9a-f]+)")
# The one line LUO prints when it boots without its state.
# (%pe prints -22 without CONFIG_SYMBOLIC_ERRNAME)
EINVAL = r"\[-(EINVAL|22)\]"
LUO_OFF = r"luo: the incoming live update state cannot be used " + EINVAL + ": live update is off"
NOT_BLOCK = r"Block set links to 0x[0-9a-f]+, which is not a preserved block"

# class, the line that names the damage, what generation 2 keeps:
# "none" (LUO off), "all" (both sessions: the FLBs, which these have none
# of, are what is lost), "other" (the other session), "file" (the
# session, not the damaged memfd)
CLASSES = [
    # not damage but another version of LUO's state: the same way out
    ("luo-version", r"luo: LUO state is incompatible with 'luo-v5'", "none"),
    ("luo-sessions-oob", NOT_BLOCK, "none"),
    ("luo-block-loop", r"Block set is corrupted", "none"),
    ("luo-block-count", r"Block contains invalid entry count: \d+", "none"),
    ("luo-flb-oob", r"FLB state at 0x[0-9a-f]+ is not preserved memory; no FLB comes back",
     "all"),
    ("luo-files-oob", NOT_BLOCK, "other"),
    ("luo-file-count", r"File count mismatch: expected 2, found 1", "other"),
    # no list, a count: damaged input, not a kernel bug (patch 13, a fix
    # of the base, which warned)
    ("luo-files-none", r"File count mismatch: expected 1, found none", "other"),
    # a copy of the list in a page the old kernel did not preserve: inside
    # RAM, so only the check that it is preserved can tell
    ("luo-files-free", NOT_BLOCK, "other"),
    ("memfd-state-oob", r"memfd_luo: file state at 0x[0-9a-f]+ is not a preserved allocation",
     "file"),
    # a copy in a page nobody preserved, as luo-files-free
    ("memfd-state-free", r"memfd_luo: file state at 0x[0-9a-f]+ is not a preserved allocation",
     "file"),
    # inside the state's own page, which is preserved: read as state, its
    # zeroed rest would make an empty file
    ("memfd-state-mid", r"memfd_luo: file state at 0x[0-9a-f]+800 is not a preserved "
                        r"allocation", "file"),
    ("memfd-nr-folios", r"memfd_luo: file state at 0x[0-9a-f]+ is damaged: size 67108864, "
                        r"\d+ folios in \d+ pages", "file"),
    ("memfd-folio-index", r"memfd_luo: folio 0 of \d+ is damaged: index 16384 in a file of "
                          r"16384 pages", "file"),
    ("memfd-chunk-oob", r"vmalloc preservation links to 0x[0-9a-f]+, which is not a preserved "
                        r"page", "file"),
    # the pages of the array restored before it are given back
    ("memfd-array-oob", r"vmalloc preservation names 0x[0-9a-f]+, which is not preserved memory",
     "file"),
    # a count only the chunk list can refute: no array is sized by it
    ("memfd-array-count", r"vmalloc preservation of \d+ pages names \d+$", "file"),
]

# Classes that need the sanitizer kernel, with words for its command line:
# memfd-folio-align needs shmem's large folios (CONFIG_TRANSPARENT_HUGEPAGE,
# on in configs/debug.fragment only) and DEBUG_VM, whose VM_BUG_ON in the
# page cache a misaligned large folio hits when nothing checks it first.
DEBUG_CLASSES = [
    ("memfd-folio-align", r"memfd_luo: folio of 512 pages does not fit at index \d*[13579] of a file "
                          r"of 67108864 bytes", "file", "transparent_hugepage_shmem=always"),
]


def boot(ctx, name, append, gens=2, **kw):
    if not ctx.args.selftest_initrd:
        raise Skip("no --selftest-initrd given (luo-fill)")
    return ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=64 khot.luo_extra=%d %s"
                    % (EXTRA, append), gens=gens, mem="%dM" % MEM_MIB, initrd=ctx.args.selftest_initrd, **kw)


def extra_verified(g):
    """Generation g verified every byte of the second session's memfd."""
    v = g.fact("luo_extra_check") or ""
    return bool(re.search(r"luo-fill: verified %d MiB in %d pages, every byte .*seed %d\)"
                          % (EXTRA, EXTRA << 8, g.index + 99), v))


def copies_made(g1, cls):
    """The addresses gen 1 says it copied damaged state to for class cls
    (kho_corrupt_luo_copy(): "test: <class>: the copy is at 0x...")."""
    copy = re.compile(r"test: %s: the copy is at 0x([0-9a-f]+)$" % re.escape(cls))
    return [int(m.group(1), 16) for m in map(copy.search, g1.dmesg) if m]


def damaged(ctx, cls, diag, keeps, append=""):
    c = []
    name = "corrupt-luo-" + cls
    run = boot(ctx, name, ("khot.corrupt=%s %s" % (cls, append)).strip())
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if not reached:
        return c
    g1 = reached[0]
    check(c, "%s: gen 1 preserved two sessions and damaged LUO's state at kexec" % name,
          luo_filled(g1, 64) and "preserved %d MiB" % EXTRA in (g1.fact("luo_extra_fill") or "")
          and g1.fact("corrupted") == cls and
          g1.grep(r"test: live update state corrupted on purpose: %s$" % re.escape(cls)),
          "luo_fill %s; extra %s; %s" % (g1.fact("luo_fill"), g1.fact("luo_extra_fill"),
                                         "; ".join(g1.grep(r"test: live update state"))))
    if len(reached) < 2:
        return c
    g2 = reached[1]
    named = g2.grep(diag)
    check(c, "%s: gen 2 names the damage, once" % name, len(named) == 1,
          "; ".join(named) or "; ".join(g2.grep(r"liveupdate|memfd_luo|kho_block"))[:300])
    if cls.endswith("-free"):
        # the class is what it says: the address named is the copy gen 1
        # made, inside the guest's RAM (the *-oob classes point past it),
        # where a check that asks only "is it RAM?" would follow it (and
        # name a garbage link read through the copy in the same words, as
        # a full mutation run showed)
        addr = [int(m.group(1), 16) for m in map(ADDR.search, named) if m]
        made = copies_made(g1, cls)
        check(c, "%s: the damaged link named is gen 1's copy, inside RAM (below %d MiB)"
              % (name, MEM_MIB),
              len(addr) == 1 and len(made) == 1 and addr == made and
              0 < addr[0] < MEM_MIB << 20,
              "named %s, copy %s" % ([hex(a) for a in addr], [hex(a) for a in made]))
    check(c, "%s: gen 2 is still a KHO boot, test_kho data intact" % name,
          g2.fact("kho_in") == "yes" and g2.grep(r"test_kho: KHO restore succeeded") and
          not g2.grep(r"KHO: (dropping the handover|handover from the previous kernel)"),
          "; ".join(g2.grep(r"test_kho|KHO: "))[:300])
    first = g2.fact("luo_check") or ""
    off = g2.grep(LUO_OFF)
    if keeps == "none":
        check(c, "%s: gen 2 boots with live update off, said in one line" % name,
              len(off) == 1 and "open /dev/liveupdate" in first and
              "open /dev/liveupdate" in (g2.fact("luo_extra_check") or ""),
              "; ".join(off) or first)
        return c
    check(c, "%s: gen 2 keeps live update on" % name, not off, "; ".join(off))
    check(c, "%s: gen 2 has the other session's memfd back, every byte" % name,
          extra_verified(g2), g2.fact("luo_extra_check") or "no luo_extra_check")
    if keeps == "all":
        check(c, "%s: gen 2 has the first session's memfd back too, every byte" % name,
              luo_verified(g2, 64) and not g2.grep(r"luo: dropped \d+ of"), first)
    elif keeps == "other":
        check(c, "%s: gen 2 drops the damaged session alone" % name,
              g2.grep(r"luo: dropped 1 of 2 incoming sessions") and
              "retrieve session: No such file or directory" in first, first)
    else:
        check(c, "%s: gen 2 keeps the session, refuses the damaged memfd" % name,
              not g2.grep(r"luo: dropped \d+ of") and "FAIL retrieve memfd" in first,
              first)
    return c


def stop(ctx):
    """kho_on_error=panic: damage to LUO's top-level state stops the boot,
    with LUO's own words."""
    c = []
    name = "corrupt-luo-stop"
    run = boot(ctx, name, "kho_on_error=panic khot.corrupt=luo-sessions-oob",
               reports_ok=r"Kernel panic - not syncing: The incoming tree failed to initialize")
    g = run.gens
    check(c, "%s: gen 1 reached init" % name, g and g[0].fact("start") is not None, "")
    g2 = g[1] if len(g) > 1 else None
    check(c, "%s: gen 2 stops with the reason" % name,
          g2 is not None and g2.grep(NOT_BLOCK) and
          g2.grep(r"Kernel panic - not syncing: The incoming tree failed to initialize properly "
                  + EINVAL + r", disabling live update"),
          "; ".join(g2.grep(r"panic|liveupdate")[-3:]) if g2 else "no gen 2")
    check(c, "%s: gen 2 never reaches init" % name, g2 is not None and g2.fact("start") is None, "")
    return c


def scenario(cls):
    """The scenario of one class (a row of CLASSES or DEBUG_CLASSES)."""
    return ("corrupt-luo-" + cls[0], lambda ctx: damaged(ctx, *cls))


# (run as debug-corrupt-luo-<class> only: see tests/scenarios.py)
DEBUG_SCENARIOS = [scenario(cls) for cls in DEBUG_CLASSES]

SCENARIOS = (
    [scenario(cls) for cls in CLASSES] +
    [("corrupt-luo-stop", stop)])
