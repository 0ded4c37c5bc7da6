"""The VM scenarios. Each returns a list of (check name, ok, detail)."""
import copy
import os
import re
import subprocess
import threading
from bisect import bisect_left

import coverage
import khovm

GIB_KB = 1024 * 1024
KHO_OFF = r"KHO: .*(disabling kexec handover|Failed to reserve.*scratch)"
MIB2_KB = 2048


class Skip(Exception):
    pass


# Kernel reports that fail any scenario: oopses, warnings (lockdep and RCU
# splats start with "WARNING:"), sanitizer reports, list corruption.
REPORTS = (r"Kernel panic|BUG:|Oops|WARNING:|general protection|KASAN:|UBSAN|"
           r"DEBUG_LOCKS_WARN_ON|lockdep is turned off|list_(add|del) corruption")
# The one panic a scenario asks for: kho_on_error=panic stopping the boot
# (corrupt-stop); its own checks judge it, the report scan passes over it.
ASKED_PANIC = "stopping as kho_on_error=panic asks"
# RCU stalls and hung tasks, which the report scan of every boot adds
STALLS = r"rcu: INFO: .*detected stalls|rcu_sched self-detected stall|INFO: task .* blocked for more than"


# Every boot of the running scenario, in this thread: (name, run, the
# reports it may show). tests/run.py scans them all for kernel reports once
# the scenario is done, helper boots (baselines, the base, 7.3) included.
_boots = threading.local()


def boots_begin():
    _boots.list = []


def boots_end():
    got, _boots.list = getattr(_boots, "list", []), []
    return got


def report_check(scenario, boots):
    """One check: no boot of the scenario printed a kernel report (panic,
    BUG, WARN, sanitizer, RCU stall) other than the ones it asked for."""
    bad = []
    for name, run, allow in boots:
        for g in run.gens:
            for l in g.grep(REPORTS + "|" + STALLS):
                if ASKED_PANIC not in l and not (allow and re.search(allow, l)):
                    bad.append("%s gen %d: %s" % (name, g.index, l.strip()))
    return ("%s: no kernel report in any of its %d boots (helper boots included)"
            % (scenario, len(boots)), not bad, (bad or [""])[0])


class Ctx:
    arch = "x86_64"  # of the guest: khovm.qemu_cmd() and scripts/kho-vmtest.sh

    def __init__(self, args):
        self.args = args
        self.out = args.out
        self.runs = []
        # kernel images a chain may kexec into besides the booted one
        # (guest/init's khot.next and khot.chain), by their name in /boot:
        # appended to the initramfs of a boot that names them (images_for),
        # so that every other boot carries one kernel image, not three,
        # through each generation's kexec
        self.images = {"base": args.base_kernel, "v73": args.upstream_kernel,
                       "ours": args.kernel}

    def images_for(self, append, initrd):
        """@initrd, or a copy of it with the kernel images @append names
        appended in /boot, in the results directory (khovm.with_images())."""
        names = [n for n in khovm.images_named(append) if self.images.get(n)]
        if not names:
            return initrd
        stem = os.path.basename(initrd).split(".")[0]
        return khovm.with_images(initrd, [("boot/" + n, self.images[n]) for n in names],
                                 self.out, "%s+%s" % (stem, "+".join(names)))

    def boot(self, name, append, gens=1, mem="1G", kernel=None, initrd=None, timeout=None,
             reports_ok=None, **kw):
        """Boot a chain of gens generations. reports_ok: a regex of kernel
        reports this boot is expected to show (e.g. the failure a test
        predicts); any other report fails the scenario."""
        kernel = kernel or self.args.kernel
        initrd = self.images_for(append, initrd or self.args.initrd)
        # KUnit runs at boot in the series test kernel; only the kunit
        # scenario needs it (3 s of every boot under TCG otherwise).
        if "kunit.enable=" not in append:
            append += " kunit.enable=0"
        append = "%s khot.gens=%d" % (append, gens)
        timeout = timeout or 120 + 90 * gens
        log = os.path.join(self.out, name + ".log")
        run = khovm.run_vm(kernel, initrd, append, log, timeout=timeout, mem=mem, arch=self.arch, **kw)
        self.runs.append(run)
        if hasattr(_boots, "list"):
            _boots.list.append((name, run, reports_ok))
        print("   boot %s: %d generation(s) reached init in %.0fs%s (log %s)"
              % (name, len(run.reached()), run.elapsed,
                 ", TIMED OUT" if run.timed_out else "", os.path.relpath(log)), flush=True)
        return run


def check(checks, name, ok, detail=""):
    # a detail that is no string (a tuple of pool counts, say) is shown as
    # its repr: run.py prints it after the name when the check fails
    checks.append((name, bool(ok), detail if isinstance(detail, str) else repr(detail)))
    return ok


def skipped(checks, name, why):
    """A check that could not run: SKIP, never a pass (tests/run.py fails
    the run unless tests/expectations lists it)."""
    checks.append((name, None, why))


def gen_checks(checks, run, name, gens):
    """Every generation booted to init, and the chain went all the way."""
    reached = run.reached()
    check(checks, "%s: %d generations reached init" % (name, gens), len(reached) == gens,
          "reached %d%s" % (len(reached), ", timed out" if run.timed_out else ""))
    for g in run.gens:
        bad = g.grep(REPORTS)
        if bad:
            check(checks, "%s: gen %d has no panic/BUG/WARN" % (name, g.index), False, bad[0])
        if g.khot_gens and g.khot_gens != {g.index}:
            check(checks, "%s: kernel %d of the log reports as generation %d" % (name, g.index, g.index),
                  False, "its init said generation %s" % sorted(g.khot_gens))
    return reached


LUO_FILL = re.compile(r"luo-fill: preserved (\d+) MiB in (\d+) pages \((\d+) holes, seed (\d+)\)")
LUO_CHECK = re.compile(r"luo-fill: verified (\d+) MiB in (\d+) pages, every byte "
                       r"\((\d+) holes read zero, seed (\d+)\)")


def luo_filled(g, mib):
    """Generation g preserved a memfd of mib MiB with its own seed."""
    m = LUO_FILL.search(g.fact("luo_fill") or "") if g else None
    return bool(m) and int(m.group(1)) == mib and int(m.group(4)) == g.index


def luo_verified(g, mib):
    """Generation g verified every byte of the mib MiB memfd that the
    generation before it filled (its seed), holes and size included."""
    m = LUO_CHECK.search(g.fact("luo_check") or "") if g else None
    return (bool(m) and int(m.group(1)) == mib and int(m.group(2)) == mib << 8
            and int(m.group(3)) == mib and int(m.group(4)) == g.index - 1)


def scratch_bytes(g):
    """Bytes of scratch a generation hands on (kho/out/scratch_len)."""
    return sum(int(x, 16) for x in g.files.get("scratch_len", []))


def kho_checks(checks, name, reached, cma_area=0):
    """KHO enabled in gen 1, and every later generation is a KHO boot.
    cma_area: bytes of a hugetlb_cma= area, MIGRATE_CMA beside scratch, or
    {generation: bytes} where generations differ."""
    for g in reached:
        check(checks, "%s: gen %d KHO enabled" % (name, g.index),
              g.fact("kho_debugfs") == "yes" and not g.grep(KHO_OFF),
              "; ".join(g.grep(KHO_OFF)) or "debugfs=%s" % g.fact("kho_debugfs"))
        if g.index > 1:
            check(checks, "%s: gen %d is a KHO boot (kho/in present)" % (name, g.index),
                  g.fact("kho_in") == "yes", "kho_in=%s" % g.fact("kho_in"))
        scratch = scratch_bytes(g)
        # a dict gives each generation its own area (0: none)
        area_b = cma_area.get(g.index, 0) if isinstance(cma_area, dict) else cma_area
        area = (" and the %d MiB HugeTLB CMA area, disjoint" % (area_b >> 20)
                if area_b else "")
        check(checks, "%s: gen %d CMA pageblocks are exactly the scratch areas%s"
              % (name, g.index, area),
              scratch > 0 and g.fact("cma_bytes") == str(scratch + area_b),
              "CMA %s bytes, scratch %d bytes%s" % (g.fact("cma_bytes"), scratch,
                                                    " + area %d" % area_b if area_b else ""))


def test_kho_checks(checks, name, reached):
    """test_kho preserves data in a fresh chain and verifies it after kexec.

    The stock test_kho saves in a generation that has nothing to restore and
    verifies (checksums of every folio) in the one after it: generations
    2, 4, ... restore, 1, 3, ... save.
    """
    for g in reached:
        restored = g.grep(r"test_kho: KHO restore succeeded")
        failed = g.grep(r"test_kho: (KHO restore failed|failed to retrieve)")
        if g.index % 2 == 0:
            check(checks, "%s: gen %d test_kho data restored intact" % (name, g.index),
                  restored and not failed, (failed or ["no 'KHO restore succeeded'"])[0])
        else:
            check(checks, "%s: gen %d test_kho has nothing to restore and no failure" % (name, g.index),
                  not restored and not failed, (failed or restored or [""])[0])


def roundtrip(ctx):
    """Handover round trip with test_kho over 3 generations, 1 GiB guest."""
    c = []
    name = "roundtrip"
    run = ctx.boot(name, "kho=on", gens=3)
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    test_kho_checks(c, name, reached)
    return c


def base_boot(ctx, name, append, gens, mem="6G"):
    """Boot the bare base kernel (for the scenarios that show its bugs)."""
    if not ctx.args.base_kernel:
        raise Skip("no --base-kernel given")
    return ctx.boot(name, append, gens=gens, mem=mem,
                    kernel=ctx.args.base_kernel, initrd=ctx.args.base_initrd)


def huge_checks(c, name, g, want):
    """want: {size_kb: count} or {(node, size_kb): count}."""
    for key, n in sorted(want.items(), key=str):
        if isinstance(key, tuple):
            got = g.node_hugepages(key[0], key[1])
            what = "node %d %s pages" % (key[0], human_kb(key[1]))
        else:
            got = g.hugepages(key)
            what = "%s pages" % human_kb(key)
        check(c, "%s: gen %d has %d %s" % (name, g.index, n, what), got == n,
              "got %s; %s" % (got, "; ".join(g.grep(r"HugeTLB: .*(allocat|Only)")[:2])))
    # Only boot-time (gigantic) pages must stay out of scratch: 2 MiB pages
    # come from the buddy allocator as movable memory, and scratch is CMA.
    sizes = [k[1] if isinstance(k, tuple) else k for k in want]
    if all(kb >= GIB_KB for kb in sizes):
        his = g.fact("huge_in_scratch")
        check(c, "%s: gen %d has no HugeTLB page in scratch" % (name, g.index), his == "0",
              "huge pages in scratch: %s" % his)


def human_kb(kb):
    return "%dGiB" % (kb // GIB_KB) if kb >= GIB_KB else "%dMiB" % (kb // 1024)


def giga_series(ctx, name, extra, gens=2, want=None, append=None, **kw):
    c = []
    run = ctx.boot(name, append or ("kho=on hugepagesz=1G hugepages=3 " + extra), gens=gens,
                   mem=kw.pop("mem", "6G"), **kw)
    reached = gen_checks(c, run, name, gens)
    kho_checks(c, name, reached)
    for g in reached:
        huge_checks(c, name, g, want or {GIB_KB: 3})
    test_kho_checks(c, name, reached)
    return c


def giga_3gen(ctx):
    """Default scratch, three generations, 3 x 1 GiB pages in each."""
    return giga_series(ctx, "giga-3gen", "", gens=3)


def giga_numa(ctx):
    """2-node NUMA guest, one 1 GiB page per node in every generation.
    4 GiB per node, and the first kernel's image pinned (nokaslr): node 0
    has [1G, 2G) and [4G, 5G) as candidates, early allocations take the
    top of the node ([4G, 5G)), and physical KASLR sometimes put the image
    in [1G, 2G), leaving no page for node 0 in a first boot, nothing to do
    with KHO (seen again on 2026-12-01: image at 0x44600000)."""
    return giga_series(ctx, "giga-numa", "", gens=2, numa=["4G", "4G"], mem="8G",
                       append="nokaslr kho=on hugepagesz=1G hugepages=0:1,1:1",
                       want={(0, GIB_KB): 1, (1, GIB_KB): 1})


def giga_mixed(ctx):
    """1 GiB and 2 MiB boot-time pages together with KHO."""
    return giga_series(ctx, "giga-mixed", "", gens=2,
                       append="kho=on hugepagesz=1G hugepages=2 hugepagesz=2M hugepages=64",
                       want={GIB_KB: 2, MIB2_KB: 64})


def giga_short(ctx):
    """More gigantic pages than memory outside scratch: fewer pages with the
    usual message, no hang, KHO still usable in the next generation."""
    c = []
    name = "giga-short"
    run = ctx.boot(name, "kho=on hugepagesz=1G hugepages=8", gens=2, mem="4G")
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    for g in reached:
        n = g.hugepages(GIB_KB)
        msg = g.grep(r"HugeTLB: allocating 8 of page size 1.00 GiB failed")
        check(c, "%s: gen %d gets some but fewer than 8 pages, with a message" % (name, g.index),
              n is not None and 0 < n < 8 and msg, "got %s; %s" % (n, msg[0] if msg else "no message"))
        check(c, "%s: gen %d has no HugeTLB page in scratch" % (name, g.index),
              g.fact("huge_in_scratch") == "0", "%s" % g.fact("huge_in_scratch"))
    test_kho_checks(c, name, reached)
    return c


def giga_default(ctx):
    """6 GiB guest, kho=on hugepagesz=1G hugepages=3, automatic scratch."""
    return giga_series(ctx, "giga-default", "")


# The explicit layout of giga-explicit and base-giga-explicit (the same, to
# compare like for like). Its global area must hold the successor's LZ4
# image, its initramfs and its early allocations: with 64M the bare base's
# successor ran out of scratch in setup_per_cpu_areas() and panicked before
# its console was set up (read from its log buffer through QEMU's gdb stub).
GIGA_EXPLICIT = "kho_scratch=16M,96M,32M"


def giga_explicit(ctx):
    """Same with an explicit kho_scratch (GIGA_EXPLICIT)."""
    return giga_series(ctx, "giga-explicit", GIGA_EXPLICIT)


def base_giga_default(ctx):
    """The bare base still shows the bug: gigantic pages disable KHO."""
    c = []
    run = base_boot(ctx, "base-giga-default", "kho=on hugepagesz=1G hugepages=3", 1)
    g = run.reached()[:1]
    msg = g[0].grep(r"Failed to reserve lowmem scratch buffer") if g else []
    check(c, "base-giga-default: base disables KHO with 1GiB pages", g and msg,
          msg[0] if msg else "no 'Failed to reserve lowmem scratch buffer'")
    return c


def base_giga_explicit(ctx):
    """The bare base: explicit scratch keeps KHO on, successor has no gigantic pages."""
    c = []
    run = base_boot(ctx, "base-giga-explicit",
                    "kho=on hugepagesz=1G hugepages=3 " + GIGA_EXPLICIT, 2)
    g2 = [g for g in run.reached() if g.index == 2]
    ok = False
    detail = "successor did not reach init"
    if g2:
        # The bug, and only it: the successor boots, says it could not
        # allocate the pages, and has fewer than asked (not any panic).
        g = g2[0]
        n = g.hugepages(GIB_KB)
        msg = g.grep(r"HugeTLB: allocating 3 of page size 1.00 GiB failed")
        ok = bool(msg) and n is not None and n < 3
        detail = "%s; nr_hugepages=%s" % ((msg or ["no allocation failure message"])[0], n)
    check(c, "base-giga-explicit: base successor fails to get 1GiB pages", ok, detail)
    return c


def ranges_of(lines, kind=None):
    out = []
    for l in lines:
        parts = l.split()
        if kind:
            if not parts or parts[0] != kind:
                continue
            parts = parts[1:]
        if len(parts) >= 2:
            out.append((int(parts[0], 16), int(parts[1], 16)))
    return out


def in_ranges(ranges, addr):
    """addr lies in one of the (start, size) ranges."""
    return any(a <= addr < a + n for a, n in ranges)


def overlaps(a, b):
    """Pairs of overlapping (start, size) ranges, a against b."""
    b = sorted(b)
    starts = [x[0] for x in b]
    hits = []
    for s, n in a:
        i = bisect_left(starts, s + n)
        for bs, bn in b[max(0, i - 64):i]:
            if bs < s + n and s < bs + bn:
                hits.append(((s, n), (bs, bn)))
    return hits


def region_bound(lines, stretches=None):
    """(ok, detail): the extension message in lines shows at most two
    memblock regions added per stretch marked (stretches as given, or as
    the message counts them)."""
    for l in lines:
        m = re.search(r"in (\d+) stretches \(memblock regions (\d+) -> (\d+)\)", l)
        if m:
            n = int(m.group(1)) if stretches is None else stretches
            return int(m.group(3)) - int(m.group(2)) <= 2 * n, "%d stretches, %s" % (n, m.group(0))
    return False, "no extension message with region counts"


def extension(ctx):
    """Scratch extension: after a handover, memory without preserved or tree
    pages is scratch; none of it holds a page the previous kernel preserved
    or a page of its tree; test_kho data intact over 3 generations."""
    c = []
    name = "extension"
    run = ctx.boot(name, "kho=on khot.dump_preserved=1", gens=3, mem="2G")
    reached = gen_checks(c, run, name, 3)
    test_kho_checks(c, name, reached)
    for g in reached[1:]:
        prev = reached[g.index - 2]
        ext = ranges_of(g.files.get("kho_scratch_ext", []))
        pages = ranges_of(prev.files.get("kho_out_preserved", []), "page")
        tree = ranges_of(prev.files.get("kho_out_preserved", []), "tree")
        total = sum(n for _, n in ext)
        memtotal = (g.meminfo("MemTotal") or 0) * 1024
        msg = g.grep(r"KHO: scratch extended by")
        check(c, "%s: gen %d reports its extension" % (name, g.index), msg and ext,
              "%d ranges, %s" % (len(ext), msg[0] if msg else "no message"))
        check(c, "%s: gen %d previous kernel listed its preservations" % (name, g.index),
              prev.filestate.get("kho_out_preserved") == "ok" and pages and tree,
              "%d pages, %d tree pages" % (len(pages), len(tree)))
        # a stretch may span a hole, but starts and ends in System RAM
        ram = coverage.ram_ranges(g.files.get("iomem", []))
        off = [(hex(a), hex(n)) for a, n in ext
               if not (in_ranges(ram, a) and in_ranges(ram, a + n - 1))]
        check(c, "%s: gen %d every stretch of kho/in/scratch_extended starts and ends in "
              "System RAM" % (name, g.index), ram and ext and not off,
              "%d of %d off, first %s" % (len(off), len(ext), off[:1]))
        hit = overlaps(ext, pages)
        check(c, "%s: gen %d no preserved page in extended scratch" % (name, g.index),
              not hit, "%d overlaps, first %s" % (len(hit), [tuple(map(hex, x)) for x in hit[0]] if hit else ""))
        hit = overlaps(ext, tree)
        check(c, "%s: gen %d no tree page in extended scratch" % (name, g.index),
              not hit, "%d overlaps" % len(hit))
        check(c, "%s: gen %d extension covers most memory (>= 70%% of MemTotal)" % (name, g.index),
              memtotal and total >= 0.7 * memtotal,
              "%d MiB of %d MiB" % (total >> 20, memtotal >> 20))
        ok, detail = region_bound(msg, len(ext))
        check(c, "%s: gen %d memblock regions added <= 2 x stretches marked" % (name, g.index),
              ok, detail)
        # Once the buddy allocator runs, only the scratch areas handed on
        # are MEMBLOCK_KHO_SCRATCH (counted by the kernel from memblock).
        scratch = scratch_bytes(g)
        back = [re.search(r"scratch: (\d+) KiB in \d+ memblock regions", l)
                for l in g.grep(r"KHO: stretches are normal memory again")]
        check(c, "%s: gen %d afterwards only the %d KiB of scratch areas are marked scratch"
              % (name, g.index, scratch >> 10),
              len(back) == 1 and back[0] and int(back[0].group(1)) << 10 == scratch,
              back[0].group(0) if back and back[0] else "no message")
    return c


INIT_FAILS_SCRATCH_MIB = (16, 256, 16)  # kho_scratch= lowmem, global, per node (one node)
AVAILABLE = re.compile(r"Memory: (\d+)K/(\d+)K available")
# One line per failure the fault attributes (fail_kho_*=) inject.
FAULT_FORCED = r"FAULT_INJECTION: forcing a failure"


def init_fails(ctx):
    """kho_init() fails in a first boot (fail_kho_init=, the kernel's fault
    injection): the scratch areas go back to the page allocator as movable
    memory. With DEFERRED_STRUCT_PAGE_INIT (the sanitizer kernel, debug-kho-init-fails)
    the memory map made their pageblocks MIGRATE_CMA at memblock_free_all(),
    which only a working kho_init() accounts as CMA; none may be left.
    Scratch is given explicitly, so that its size is known: memblock keeps it
    out of the memory the page allocator starts with ("Memory: N K
    available"), and MemTotal after boot must have it back."""
    c = []
    name = "kho-init-fails"
    scratch_mib = sum(INIT_FAILS_SCRATCH_MIB)
    run = ctx.boot(name, "kho=on fail_kho_init=1,100,0,1 kho_scratch=%dM,%dM,%dM" % INIT_FAILS_SCRATCH_MIB,
                   gens=1, mem="2G")
    reached = gen_checks(c, run, name, 1)
    for g in reached:
        forced = g.grep(FAULT_FORCED)
        check(c, "%s: the failure was injected, once" % name, len(forced) == 1,
              "%d lines" % len(forced))
        msg = g.grep(r"KHO: disabled: setting up the handover failed")
        check(c, "%s: one message says KHO is off and why" % name, len(msg) == 1,
              msg[0] if msg else "no message")
        check(c, "%s: no MIGRATE_CMA pageblocks left" % name, g.fact("cma_bytes") == "0",
              "CMA pageblocks hold %s bytes" % g.fact("cma_bytes"))
        avail = g.grep(AVAILABLE.pattern)
        m = AVAILABLE.search(avail[0]) if avail else None
        total = g.meminfo("MemTotal") or 0
        # The scratch areas back in the page allocator: MemTotal has them
        # on top of what the allocator started with (less 32 MiB for what
        # else boot keeps or frees); without them it is short by 288 MiB.
        check(c, "%s: the scratch memory is free again (MemTotal >= available at start + %d MiB - 32 MiB)"
              % (name, scratch_mib),
              m and total >= int(m.group(1)) + (scratch_mib - 32) * 1024,
              "MemTotal %s kB, %s" % (total, avail[0].strip() if avail else "no 'Memory:' line"))
    return c


BIGSCRATCH = "kho=on hugepagesz=1G hugepages=2 kho_scratch=64M,2G,0"


def giga_bigscratch(ctx):
    """Scratch large enough to hold gigantic pages: they still stay out of it."""
    return giga_series(ctx, "giga-bigscratch", "", append=BIGSCRATCH, want={GIB_KB: 2}, mem="8G")


def giga_bigscratch_late(ctx):
    """A 2 GiB scratch area and gigantic pages asked for only from generation
    2 on: generation 1 places its area where the pages would go (the top of
    memory), so the successors' first candidate blocks lie inside scratch,
    and they must go elsewhere."""
    c = []
    name = "giga-bigscratch-late"
    run = ctx.boot(name, "kho=on kho_scratch=64M,2G,0 khot.add=hugepagesz=1G+hugepages=2",
                   gens=3, mem="8G")
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    test_kho_checks(c, name, reached)
    for g in reached[1:]:
        # Scratch and generation 1's preserved memory leave room for one
        # or two 1 GiB pages in the 8 GiB guest; none may be in scratch.
        n = g.hugepages(GIB_KB)
        check(c, "%s: gen %d has 1 GiB pages" % (name, g.index), n and n >= 1,
              "got %s; %s" % (n, "; ".join(g.grep(r"HugeTLB: .*(allocat|Only)")[:2])))
        his = g.fact("huge_in_scratch")
        check(c, "%s: gen %d has no HugeTLB page in scratch" % (name, g.index), his == "0",
              "huge pages in scratch: %s" % his)
    return c


def base_giga_bigscratch(ctx):
    """The bare base puts the successor's gigantic pages into scratch, where
    nothing can be preserved (shows the scratch check detects it)."""
    c = []
    run = base_boot(ctx, "base-giga-bigscratch", BIGSCRATCH, 2, mem="8G")
    g2 = [g for g in run.reached() if g.index == 2]
    his = g2[0].fact("huge_in_scratch") if g2 else None
    check(c, "base-giga-bigscratch: base successor has HugeTLB pages in scratch",
          his is not None and his.isdigit() and int(his) > 0, "huge pages in scratch: %s" % his)
    return c


def memblock_sim(ctx):
    """tools/testing/memblock (memblock built in user space) with the
    series' cases; runs on the host."""
    c = []
    d = os.path.abspath(os.path.join(ctx.args.tree, "tools/testing/memblock"))
    b = subprocess.run(["make", "-C", d, "-j2", "-s"], capture_output=True, text=True)
    check(c, "memblock-sim: builds", b.returncode == 0, (b.stderr or b.stdout)[-300:])
    if b.returncode:
        return c
    r = subprocess.run([os.path.join(d, "main"), "-v"], capture_output=True, text=True, cwd=d)
    out = r.stdout + r.stderr
    with open(os.path.join(ctx.out, "memblock-sim.log"), "w") as f:
        f.write(out)
    oks = re.findall(r"^ok \d+ : (.*): passed$", out, re.M)
    check(c, "memblock-sim: every case passes (%d)" % len(oks), r.returncode == 0 and oks,
          "exit %d, %d passed" % (r.returncode, len(oks)))
    check(c, "memblock-sim: reserved size by flags case ran",
          any("memblock_reserved_size_by_flags" in o for o in oks), "not in output")
    subprocess.run(["make", "-C", d, "-s", "clean"], capture_output=True)
    return c


SPARSE_WARN = r"KHO: check: scratch too small for the next kernel's memory map"
SPARSE_LOAD = r"KHO: kexec load: scratch too small for the next kernel's memory map"


def sparse_parse(line):
    m = re.search(r"node (\d+) needs (\d+) MiB, has (\d+) MiB usable; in total (\d+) MiB needed"
                  r" \((\d+) MiB of it.*?\), (\d+) MiB usable.*kho_scratch=(\S+)", line)
    return m and dict(node=int(m.group(1)), need=int(m.group(2)), have=int(m.group(3)),
                      total=int(m.group(4)), extra=int(m.group(5)), usable=int(m.group(6)),
                      suggest=m.group(7))


# How a successor with too little scratch for its memory map fails: the
# sparse memory model cannot back a node's map (mm/sparse.c).
SPARSE_FAIL = r"memory map backing failed"
# what follows it in the base: a NULL dereference in the memory map, its
# Oops and the panic (the predicted failure's end, not another report)
SPARSE_OOPS = (r"BUG: kernel NULL pointer dereference|Oops: |Kernel panic - not syncing: "
               r"Fatal exception")
# A successor that fails in sparse_init stops before its console is up
# (and an Oops there ends in a hang): it boots with nokaslr, and at the
# timeout the harness reads its printk buffer from guest memory
# (khovm.run_vm(logbuf=...), the address from its System.map).
EARLY = " khot.add=nokaslr"


def logbuf_of(bzimage):
    """__log_buf's address in the kernel of bzimage (its build's System.map,
    four directories up: <out>/arch/x86/boot/bzImage), or None."""
    out = bzimage
    for _ in range(4):
        out = os.path.dirname(out)
    try:
        for line in open(os.path.join(out, "System.map")):
            a, _, name = line.split()[:3]
            if name == "__log_buf":
                return int(a, 16)
    except OSError:
        pass
    return None


def predicted_failure(gens, logbuf=True):
    """(ok, detail): the failure the scratch size check predicted, and no
    other: generation 1 reached init and went as far as the kexec, the
    successor started (its banner is in the log), failed with SPARSE_FAIL
    and never reached init. A successor that never started, or failed some
    other way, is not the predicted failure. logbuf: the address the
    boot read the successor's printk buffer from (None: it could not)."""
    g1 = gens[0] if gens else None
    if not g1 or g1.fact("start") is None or g1.fact("kexec_exec") is None:
        return False, "generation 1 did not get to the kexec (%s)" % (
            g1 and (g1.fact("kexec_failed") or "no kexec_exec"))
    g2 = gens[1] if len(gens) > 1 else None
    if g2 is None:
        return False, "no successor kernel started after the kexec"
    if g2.fact("start") is not None:
        return False, "the successor reached init"
    sig = g2.grep(SPARSE_FAIL)
    if not sig:
        return False, "the successor failed without %r; last: %s%s" % (
            SPARSE_FAIL, (g2.dmesg or ["(nothing)"])[-1][-120:],
            "" if logbuf else " (no System.map next to the base kernel: its printk buffer "
            "was not read)")
    return True, sig[0].strip()


def sparse_case(ctx, name, append, numa, mem, want_warn):
    """Gen 1 is the series kernel; gen 2 is the bare base, which cannot
    extend scratch: it shows whether the prediction was right."""
    c = []
    if not ctx.args.base_kernel:
        raise Skip("the base kernel is needed as the next kernel")
    # The base successor fails before its console is up when the
    # prediction is right (EARLY, logbuf: its printk buffer is read).
    logbuf = logbuf_of(ctx.args.base_kernel) if want_warn else None
    run = ctx.boot(name, append + " khot.next=/boot/base" + (EARLY if want_warn else ""),
                   gens=2, mem=mem, numa=numa, reports_ok=SPARSE_OOPS if want_warn else None,
                   logbuf=logbuf,
                   timeout=60 if want_warn else None)
    g = run.gens[0] if run.gens else None
    check(c, "%s: gen 1 reached init" % name, g and g.fact("start") is not None)
    if not g or g.fact("start") is None:
        return c
    warns = g.grep(SPARSE_WARN)
    loads = g.grep(SPARSE_LOAD)
    nodes = int(g.fact("nodes") or 0)
    memmap = (g.meminfo("MemTotal") or 0) // 1024 // 128 * 2  # MiB of memmap, roughly
    if want_warn:
        check(c, "%s: exactly one boot-time warning" % name, len(warns) == 1, "%d" % len(warns))
        w = sparse_parse(warns[0]) if warns else None
        check(c, "%s: warning names a node of this guest" % name, w and 0 <= w["node"] < nodes,
              warns[0] if warns else "")
        if w:
            per_node = memmap // max(nodes, 1)
            check(c, "%s: need per node matches the memory map (~%d MiB)" % (name, per_node),
                  abs(w["need"] - per_node) <= 4, "need %d" % w["need"])
            check(c, "%s: have < need, total usable < total needed" % name,
                  w["have"] < w["need"] and w["usable"] < w["total"], warns[0])
        check(c, "%s: the kexec load warns too, counting the loaded image" % name,
              len(loads) == 1 and sparse_parse(loads[0]) and sparse_parse(loads[0])["extra"] > 0,
              loads[0] if loads else "no load-time warning")
        ok, detail = predicted_failure(run.gens, logbuf)
        check(c, "%s: the predicted failure happens (base successor), and no other" % name,
              ok, detail)
        # The suggested kho_scratch= must be enough for the same successor.
        sug = sparse_parse(loads[0])["suggest"] if loads and sparse_parse(loads[0]) else None
        if sug:
            fixed = re.sub(r"kho_scratch=\S+", "kho_scratch=" + sug, append)
            run2 = ctx.boot(name + "-suggested", fixed + " khot.next=/boot/base", gens=2,
                            mem=mem, numa=numa)
            r2 = run2.reached()
            check(c, "%s: with the suggested kho_scratch=%s the base successor boots"
                  % (name, sug), len(r2) == 2 and r2[1].fact("kho_in") == "yes",
                  "%d generations" % len(r2))
            check(c, "%s: and no warning then" % name,
                  run2.gens and not run2.gens[0].grep(SPARSE_WARN + "|" + SPARSE_LOAD), "")
    else:
        check(c, "%s: no warning" % name, not warns and not loads, (warns + loads)[:1])
        reached = run.reached()
        check(c, "%s: base successor boots" % name, len(reached) == 2 and
              reached[1].fact("kho_in") == "yes", "%d generations" % len(reached))
    return c


def sparse_tiny_numa(ctx):
    """Two nodes, deliberately tiny scratch: one warning, right node, sizes."""
    return sparse_case(ctx, "sparse-tiny-numa", "kho=on kho_scratch=16M,16M,8M",
                       ["3G", "3G"], "6G", True)


def sparse_ok_numa(ctx):
    """Two nodes, default scratch: no warning, the successor boots."""
    return sparse_case(ctx, "sparse-ok-numa", "kho=on", ["3G", "3G"], "6G", False)


def sparse_flat(ctx):
    """One node, default scratch: no warning."""
    return sparse_case(ctx, "sparse-flat", "kho=on", None, "2G", False)


CORRUPT = [
    # class, diagnostic the successor must print
    # (range, in-scratch and the other classes that cost only the piece
    # they damage are in corrupt_partial.py)
    ("order", r"preserved memory tree is invalid: key with an impossible order"),
    ("table-oob", r"preserved memory tree is invalid: tree page in scratch or outside memory"),
    ("unaligned", r"preserved memory tree is invalid: tree page pointer not page aligned"),
    ("loop", r"preserved memory tree is invalid: tree loops back to a table above"),
    # A table shared by two slots also makes its keys alias other memory;
    # whichever is seen first is the diagnosis (KUnit covers both alone).
    ("shared", r"preserved memory tree is invalid: (tree page used twice|"
               r"preserved range in scratch or outside memory)"),
    ("fdt", r"handover is malformed: FDT is incompatible with kho-v4"),
    ("no-memmap", r"handover is malformed: FDT has no valid preserved memory map"),
    ("fdt-size", r"handover is malformed: FDT is larger than what was handed over \(0x4000\)"),
    ("fdt-unpreserved", r"dropping the handover from the previous kernel: its FDT is not in "
                        r"preserved memory"),
    ("scratch-unaligned", r"handover is malformed: scratch area wraps around or is not aligned"),
]


def corrupt(cls):
    """The scenario of corruption class cls (see CORRUPT)."""
    diag = dict(CORRUPT)[cls]
    return lambda ctx: corrupt_case(ctx, cls, diag)


def corrupt_case(ctx, cls, diag):
    """Gen 1 corrupts its handover on purpose; gen 2 boots to init, says
    what was wrong and runs without the handover; gen 3 gets a clean
    handover from gen 2 and restores test_kho data again."""
    c = []
    name = "corrupt-" + cls
    run = ctx.boot(name, "kho=on khot.corrupt=" + cls, gens=3)
    reached = gen_checks(c, run, name, 3)
    g1 = reached[0] if reached else None
    check(c, "%s: gen 1 corrupted its handover" % name, g1 and g1.fact("corrupted") == cls,
          "corrupt_failed: %s" % (g1.fact("corrupt_failed") if g1 else ""))
    if len(reached) < 2:
        return c
    g2 = reached[1]
    msg = g2.grep(diag)
    check(c, "%s: gen 2 names the problem" % name, msg, "no line matching %r" % diag)
    dropped = g2.grep(r"KHO: (dropping the handover from the previous kernel|disabling KHO revival)")
    check(c, "%s: gen 2 says it drops the handover" % name, dropped, "")
    check(c, "%s: gen 2 did not restore KHO state" % name,
          g2.fact("kho_in") == "no" and not g2.grep(r"test_kho: KHO restore succeeded"),
          "kho_in=%s" % g2.fact("kho_in"))
    check(c, "%s: gen 2 KHO still enabled for the next handover" % name,
          g2.fact("kho_debugfs") == "yes" and not g2.grep(KHO_OFF), "")
    # Memory counted once: a boot that drops the handover must not give the
    # inherited scratch areas to the page allocator a second time (patch 2);
    # MemTotal stays within 4 MiB of gen 1's.
    m1, m2 = reached[0].meminfo("MemTotal"), g2.meminfo("MemTotal")
    check(c, "%s: gen 2 counts its memory once (MemTotal within 4 MiB of gen 1)" % name,
          m1 and m2 and abs(m2 - m1) <= 4096, "gen 1 %s kB, gen 2 %s kB" % (m1, m2))
    if len(reached) == 3:
        g3 = reached[2]
        check(c, "%s: gen 3 clean handover works again" % name,
              g3.fact("kho_in") == "yes" and g3.grep(r"test_kho: KHO restore succeeded"),
              "kho_in=%s" % g3.fact("kho_in"))
    return c


TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script_checks(ctx, script, prefix, args):
    c = []
    p = subprocess.run(["bash", os.path.join(TOP, "scripts", script)] + args,
                       capture_output=True, text=True)
    with open(os.path.join(ctx.out, script + ".log"), "w") as f:
        f.write(p.stdout + p.stderr)
    n = 0
    for line in p.stdout.splitlines():
        m = re.match(r"%s (ok|FAIL) (.*)$" % prefix, line)
        if m:
            n += 1
            name, _, detail = m.group(2).partition(": ")
            check(c, name, m.group(1) == "ok", detail)
    check(c, "%s: ran and reported (%d checks)" % (script, n), n > 0 and
          (p.returncode == 0) == all(ok for _, ok, _ in c),
          "exit %d; %s" % (p.returncode, (p.stderr or "")[-200:]))
    return c


def static(ctx):
    """checkpatch --strict per patch, W=1 + sparse and kernel-doc on touched
    files against the base (scripts/static-checks.sh)."""
    if not ctx.args.base_tree:
        raise Skip("no --base-tree given")
    return script_checks(ctx, "static-checks.sh", "CHECK",
                         [ctx.args.tree, ctx.args.base_tree])


def bisect(ctx):
    """Every patch builds on its own (scripts/bisect-build.sh); by default
    the fixes to the base (up to the last patch with Cc: stable), with
    --full every patch."""
    scope = [] if ctx.args.scope == "full" else ["--fixes"]
    return script_checks(ctx, "bisect-build.sh", "BISECT", [ctx.args.tree] + scope)


def config_matrix(ctx):
    """Every patch's touched C files, W=1 and sparse, under Debian's config
    with the series on, with parts of it off, and arm64 defconfig
    (scripts/config-matrix.sh). A patch whose C files no config builds
    ("n/a" in every one) was never compiled: that fails too."""
    c = script_checks(ctx, "config-matrix.sh", "MATRIX", [ctx.args.tree])
    with open(os.path.join(ctx.out, "config-matrix.sh.log")) as f:
        return c + matrix_coverage(f.read())


def matrix_coverage(out):
    """One check per patch that config-matrix.sh names: compiled (ok or
    FAIL) under at least one config, not only "n/a" ones."""
    seen = {}
    for m in re.finditer(r"^MATRIX (ok|FAIL|n/a) \S+ (\d+) ", out, re.M):
        n = int(m.group(2))
        seen[n] = seen.get(n, False) or m.group(1) != "n/a"
    return [("config-matrix: patch %d compiled under some config" % n, built,
             "" if built else "n/a under every config") for n, built in sorted(seen.items())]


def interop(ctx, name, first, chain):
    """Handover between our kernel and stock 7.3 (same ABI): test_kho data
    preserved by one and restored by the other, 1 GiB pages in both."""
    c = []
    if not ctx.args.upstream_kernel:
        raise Skip("no --upstream-kernel (stock 7.3) given")
    kernel = ctx.args.upstream_kernel if first == "v73" else ctx.args.kernel
    run = ctx.boot(name, "kho=on hugepagesz=1G hugepages=2 khot.chain=" + chain, gens=3,
                   mem="6G", kernel=kernel)
    reached = gen_checks(c, run, name, 3)
    kho_checks(c, name, reached)
    test_kho_checks(c, name, reached)
    kinds = [first] + chain.split(",")
    for g in reached:
        who = "7.3" if kinds[g.index - 1] == "v73" else "ours"
        check(c, "%s: gen %d (%s) runs the expected kernel" % (name, g.index, who),
              (g.fact("start") or "").startswith("7.3") == (who == "7.3"), g.fact("start"))
        huge_checks(c, "%s (%s)" % (name, who), g, {GIB_KB: 2})
    return c


def interop_to_73(ctx):
    return interop(ctx, "interop-to-73", "ours", "v73,bzImage")


def interop_from_73(ctx):
    return interop(ctx, "interop-from-73", "v73", "bzImage,v73")


def kunit_suites(modular=False):
    """tests/kunit-suites; with modular=True only those that can be modules
    (not marked "builtin")."""
    rows = [l.split() for l in open(os.path.join(TOP, "tests", "kunit-suites"))
            if l.strip() and not l.startswith("#")]
    return [r[0] for r in rows if not (modular and "builtin" in r[1:])]


def ktap_skips(ktap):
    """(suite, case, reason) of every KTAP result marked "# SKIP"."""
    out, suite = [], "?"
    for line in ktap.splitlines():
        line = re.sub(r"^\s*\[[^]]*\]", "", line)
        m = re.match(r"\s*# Subtest: (\S+)", line)
        if m:
            suite = m.group(1)
            continue
        m = re.match(r"\s*ok \d+ (\S+)(?: .*)?# SKIP ?(.*)$", line)
        if m:
            out.append((suite, m.group(1), m.group(2).strip() or "no reason given"))
    return out


def kunit(ctx):
    """KUnit suites built into the series kernel, run at boot, parsed as KTAP."""
    c = []
    run = ctx.boot("kunit", "kho=on kunit.enable=1", gens=1)
    reached = gen_checks(c, run, "kunit", 1)
    if not reached:
        return c
    tree = ctx.args.tree
    expected = kunit_suites()
    ktap = "\n".join(run.gens[0].dmesg)
    kp = os.path.join(tree, "tools/testing/kunit/kunit.py")
    p = subprocess.run(["python3", kp, "parse"], input=ktap, capture_output=True, text=True)
    out = p.stdout + p.stderr
    with open(os.path.join(ctx.out, "kunit.parsed"), "w") as f:
        f.write(out)
    check(c, "kunit: kunit.py parse reports success", p.returncode == 0,
          "exit %d, see %s" % (p.returncode, os.path.relpath(os.path.join(ctx.out, "kunit.parsed"))))
    m = re.search(r"Testing complete\. Ran (\d+) tests: passed: (\d+)(?:, failed: (\d+))?", out)
    check(c, "kunit: tests ran", m and int(m.group(1)) > 0, m.group(0) if m else "no summary")
    # A skipped case proves nothing: each is a SKIP of its own, which fails
    # the run unless tests/expectations lists it by name.
    for suite, case, why in ktap_skips(ktap):
        skipped(c, "kunit: %s.%s" % (suite, case), why)
    for s in expected:
        # suite header "# <suite>" result lines: "ok N <suite>" / "not ok N <suite>"
        ok = re.search(r"^\s*(?:\[[^]]*\]\s*)?ok \d+ %s\s*$" % re.escape(s), ktap, re.M)
        check(c, "kunit: suite %s ran and passed" % s, ok, "" if ok else "missing or failed")
    return c


LUO_KEXEC = ["luo_kexec_simple", "luo_multi_session", "luo_stress_sessions", "luo_stress_files"]


def selftest_runs(g):
    """{name: exit code} of the selftests guest/init ran in generation g."""
    res = {}
    for v in g.facts_of("selftest"):
        n, _, rc = v.rpartition(" ")
        res[n] = int(rc)
    return res


def upstream_liveupdate(ctx):
    """Upstream's tools/testing/selftests/liveupdate (built from our tree,
    against its UAPI) on our kernel: the device suite, stage 1 of the four
    kexec tests, one kexec, stage 2 of each. A stage 2 run before the kexec
    must fail (the harness does read exit codes)."""
    c = []
    name = "upstream-liveupdate"
    if not ctx.args.selftest_initrd:
        raise Skip("no --selftest-initrd given")
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo=1", gens=2,
                   initrd=ctx.args.selftest_initrd)
    reached = gen_checks(c, run, name, 2)
    if not reached:
        return c
    g1 = reached[0]
    rc1 = selftest_runs(g1)
    out = g1.files.get("st:liveupdate", [])
    plan = [int(m.group(1)) for m in (re.match(r"1\.\.(\d+)$", l) for l in out) if m]
    cases = [re.match(r"(not )?ok \d+ (\S+)(.*)$", l) for l in out]
    cases = [m for m in cases if m]
    check(c, "%s: liveupdate suite exits 0" % name, rc1.get("liveupdate") == 0,
          "exit %s" % rc1.get("liveupdate"))
    check(c, "%s: liveupdate suite ran its whole plan" % name,
          plan and plan[0] > 0 and len(cases) == plan[0],
          "plan %s, %d results" % (plan, len(cases)))
    for m in cases:
        skipped = "# SKIP" in m.group(3)
        check(c, "%s: liveupdate %s" % (name, m.group(2)), not m.group(1) and not skipped,
              m.group(0))
    # The control fails for the reason it should: the test ran, found no
    # state session and said so (exit 1, KSFT_FAIL), not "not found" (127),
    # a skip (4) or a crash.
    ctl = g1.files.get("st:luo_kexec_simple:2-control", [])
    check(c, "%s: stage 2 before any kexec fails (control)" % name,
          rc1.get("luo_kexec_simple:2-control") == 1 and
          any("Stage mismatch Requested --stage 2, but system is in stage 1" in l for l in ctl),
          "exit %s; %s" % (rc1.get("luo_kexec_simple:2-control"), (ctl or [""])[-1]))
    for t in LUO_KEXEC:
        o = g1.files.get("st:%s:1" % t, [])
        check(c, "%s: %s stage 1 pins its sessions" % (name, t),
              rc1.get(t + ":1") == 0 and any("You may now perform kexec reboot" in l for l in o),
              "exit %s; %s" % (rc1.get(t + ":1"), (o or [""])[-1]))
    if len(reached) < 2:
        return c
    g2 = reached[1]
    rc2 = selftest_runs(g2)
    check(c, "%s: gen 2 retrieved the LUO state" % name,
          g2.grep(r"luo: Retrieved live update data"), "")
    subfdts = g2.facts_of("subfdt")
    # LUO frees its incoming state at boot; debugfs shows a copy taken
    # before that (patch "never show freed incoming sub-FDTs"), read in
    # full by guest/init (wc -c), which KASAN checks in the debug run.
    check(c, "%s: gen 2 kho/in/sub_fdts shows copies of test_kho's and LUO's blobs" % name,
          [v for v in subfdts if v.startswith("in kho_test ")]
          and [v for v in subfdts if v.startswith("in LUO ")], "; ".join(subfdts))
    for t in LUO_KEXEC:
        o = g2.files.get("st:%s:2" % t, [])
        check(c, "%s: %s stage 2 verifies the preserved data" % (name, t),
              rc2.get(t + ":2") == 0 and any(re.search(r"--- .*TEST PASSED", l) for l in o),
              "exit %s; %s" % (rc2.get(t + ":2"), (o or [""])[-1]))
    return c


def luo_memfd(ctx):
    """64 MiB of memfd data handed over through LUO (guest/luo-fill.c),
    verified byte for byte in the successor."""
    name = "luo-memfd"
    c = []
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=64", gens=2, mem="2G")
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if reached:
        check(c, "%s: gen 1 preserved 64 MiB in a memfd" % name,
              luo_filled(reached[0], 64), reached[0].fact("luo_fill") or "")
    if len(reached) == 2:
        check(c, "%s: gen 2 has the memfd back, every byte, holes and size" % name,
              luo_verified(reached[1], 64), reached[1].fact("luo_check") or "no luo_check")
    return c


def upstream_kho_vmtest(ctx):
    """Upstream's tools/testing/selftests/kho/vmtest.sh on our prebuilt
    kernel (scripts/kho-vmtest.sh: its init, initrd, QEMU line and verdict;
    TCG instead of KVM). The sanitizer kernel must have all of its options."""
    c = []
    name = "upstream-kho-vmtest"
    kernel = ctx.args.kernel
    kout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(kernel))))
    serial = os.path.join(ctx.out, name + ".serial.log")
    # The sanitizer kernel needs a smaller scratch scale in vmtest's 1 GiB
    # guest (see DebugCtx); vmtest's own command line is kept otherwise.
    extra = ["kho_scratch=50%"] if getattr(ctx, "debug", False) else []
    env = dict(os.environ, KHO_ARCH=ctx.arch)
    p = subprocess.run(["bash", os.path.join(TOP, "scripts", "kho-vmtest.sh"), ctx.args.tree,
                        kout, serial] + extra, capture_output=True, text=True, timeout=900, env=env)
    with open(os.path.join(ctx.out, name + ".log"), "w") as f:
        f.write(p.stdout + p.stderr)
    print("   vmtest.sh: exit %d (log %s)" % (p.returncode, os.path.relpath(serial)), flush=True)
    check(c, "%s: vmtest.sh exits 0 and reports ok" % name,
          p.returncode == 0 and re.search(r"^ok 1 KHO succeeded", p.stdout, re.M),
          "exit %d; %s" % (p.returncode, p.stdout.strip().splitlines()[-1:] or p.stderr[-200:]))
    log = open(serial, errors="replace").read() if os.path.exists(serial) else ""
    gens = khovm.parse(log)
    check(c, "%s: the successor restored test_kho data" % name,
          len(gens) == 2 and gens[1].grep(r"test_kho: KHO restore succeeded"),
          "%d kernels in the serial log" % len(gens))
    for g in gens:
        # The successor has no initramfs and ends in "No working init found"
        # by design of the test; anything else is a report.
        bad = [l for l in g.grep(REPORTS) if "No working init found" not in l]
        check(c, "%s: kernel %d has no BUG/WARN/sanitizer report" % (name, g.index), not bad,
              (bad or [""])[0])
    missing = re.findall(r"vmtest-config missing (\S+)", p.stdout)
    if getattr(ctx, "debug", False):
        check(c, "%s: the kernel has every option vmtest.sh asks for" % name, not missing,
              " ".join(missing))
    elif missing:
        # x86: the sanitizer kernel has them all; arm64: only the PL010
        # UART is left, which QEMU's virt machine does not have (PL011)
        print("   note: this kernel lacks %s of vmtest.sh's options" % " ".join(missing))
    return c


class OtherCtx(Ctx):
    """Boots another build of the series: the kernel of --<tag>-kernel with
    the initramfs of --<tag>-initrd (also for scenarios that want the
    selftests), logs in <out>/<tag>."""

    def __init__(self, base, tag):
        a = copy.copy(base.args)
        a.kernel = getattr(a, tag + "_kernel")
        a.initrd = a.selftest_initrd = getattr(a, tag + "_initrd")
        super().__init__(a)
        self.images = dict(base.images)  # "ours" stays the plain series
        self.out = os.path.join(base.out, tag)
        os.makedirs(self.out, exist_ok=True)


class DebugCtx(OtherCtx):
    """The same scenarios on the sanitizer kernel (configs/debug.fragment).

    KASAN reserves 1/8 of RAM for its shadow at boot, and the automatic
    scratch size (200% of boot reservations for lowmem + global, and again
    per node: 4x in a one-node guest) grows with it until it no longer fits
    (3 GiB guest: 548 MiB reserved; 6 GiB guest with 3 GiB of gigantic
    pages: 1 GiB reserved) and KHO is disabled. Here the automatic size is
    scaled by 50% instead (1x the reservations in all, which still holds
    the successor's own shadow, allocated before scratch can be extended),
    and 1 and 2 GiB guests get 3 GiB. Scenarios that set kho_scratch= keep
    theirs and are not run here (see DEBUG). Timeouts are doubled."""

    MEM = {"1G": "3G", "2G": "3G"}

    def __init__(self, base, tag="debug"):
        super().__init__(base, tag)
        self.debug = True

    def boot(self, name, append, gens=1, mem="1G", timeout=None, **kw):
        if "kho_scratch=" not in append:
            append += " kho_scratch=50%"
        # 4-level paging: with 5-level paging (TCG's -cpu max has LA57),
        # KASAN of the base kernel can flag a "wild-memory-access" in an
        # interrupt that lands while identify_cpu() rebuilds the CPUID
        # tables (seen once in ~60 boots, in the first kernel, before KHO
        # does anything). Not ours to fix here; kept out of the way.
        append += " no5lvl"
        big = self.MEM.get(mem, mem)
        if big != mem and kw.get("numa"):
            # QEMU wants the nodes to add up to -m: the last node with
            # memory gets the extra, the node edges stay where they were.
            numa = list(kw["numa"])
            last = max(i for i, size in enumerate(numa) if size != "0")
            numa[last] = "%dM" % (mib(numa[last]) + mib(big) - mib(mem))
            kw["numa"] = numa
        return super().boot(name, append, gens=gens, mem=big,
                            timeout=timeout or 2 * (120 + 90 * gens), **kw)


def mib(size):
    """MiB in a QEMU size such as "1022M" or "3G"."""
    return int(size[:-1]) * (1024 if size[-1] == "G" else 1)


def on_other(tag, cls, fn):
    """Scenario fn on the build of --<tag>-kernel, its checks marked [tag]."""
    def run(ctx):
        if not getattr(ctx.args, tag + "_kernel", None):
            raise Skip("no --%s-kernel given (./kho test --full builds it)" % tag)
        return [("[%s] %s" % (tag, n), ok, det) for n, ok, det in fn(cls(ctx, tag))]
    return run


def kasan_handover(ctx):
    """The sanitizer kernel and the same series without KASAN hand test_kho
    data to each other (generations: KASAN, plain, plain, KASAN). KASAN
    kernels use the generic csum_partial(), whose partial sums differ from
    x86's: test_kho must compare folded checksums (patch 3)."""
    c = []
    name = "kasan-handover"
    run = ctx.boot(name, "kho=on khot.chain=ours,ours,bzImage", gens=4, mem="3G")
    reached = gen_checks(c, run, name, 4)
    kho_checks(c, name, reached)
    test_kho_checks(c, name, reached)
    for g in reached:
        want = g.index in (1, 4)
        check(c, "%s: gen %d runs the %s kernel" % (name, g.index, "KASAN" if want else "plain"),
              bool(g.grep(r"KernelAddressSanitizer initialized")) == want, "")
    return c


def debug(name, fn):
    """Run scenario fn on the sanitizer kernel; besides its own checks, no
    boot of it may print a KASAN, UBSAN, lockdep or other kernel report."""
    def run(ctx):
        if not getattr(ctx.args, "debug_kernel", None):
            raise Skip("no --debug-kernel given")
        d = DebugCtx(ctx)
        checks = [("[debug] " + n, ok, det) for n, ok, det in fn(d)]
        gens = [g for r in d.runs for g in r.gens]
        if d.runs:
            bad = [l for g in gens for l in g.grep(REPORTS) if ASKED_PANIC not in l]
            checks.append(("[debug] %s: no KASAN/UBSAN/lockdep/BUG/WARN report in %d boots, "
                           "%d kernels" % (name, len(d.runs), len(gens)),
                           gens and not bad, (bad or [""])[0]))
        return checks
    return run


ALL = [
    ("static", static),
    ("bisect", bisect),
    ("config-matrix", config_matrix),
    ("kunit", kunit),
    ("memblock-sim", memblock_sim),
    ("roundtrip", roundtrip),
    ("extension", extension),
    ("kho-init-fails", init_fails),
    ("giga-default", giga_default),
    ("giga-explicit", giga_explicit),
    ("giga-3gen", giga_3gen),
    ("giga-numa", giga_numa),
    ("giga-mixed", giga_mixed),
    ("giga-short", giga_short),
    ("base-giga-default", base_giga_default),
    ("base-giga-explicit", base_giga_explicit),
    ("giga-bigscratch", giga_bigscratch),
    ("sparse-tiny-numa", sparse_tiny_numa),
    ("sparse-ok-numa", sparse_ok_numa),
    ("sparse-flat", sparse_flat),
] + [
    ("interop-to-73", interop_to_73),
    ("interop-from-73", interop_from_73),
] + [
    ("corrupt-" + cls, corrupt(cls)) for cls, _ in CORRUPT
] + [
    ("base-giga-bigscratch", base_giga_bigscratch),
    ("giga-bigscratch-late", giga_bigscratch_late),
    ("upstream-liveupdate", upstream_liveupdate),
    ("upstream-kho-vmtest", upstream_kho_vmtest),
]

import ext_coverage  # noqa: E402 (uses the helpers above)
import giga_nodes  # noqa: E402
import sparse_nodes  # noqa: E402
import hugetlb_cma  # noqa: E402
import early_users  # noqa: E402
import corrupt_partial  # noqa: E402
import corrupt_luo  # noqa: E402
import reserve_mixed  # noqa: E402
import kunit_tool  # noqa: E402
import distro  # noqa: E402
import arm64  # noqa: E402
import memfd_runs  # noqa: E402
import hugetlb_luo  # noqa: E402
import corrupt_hugetlb  # noqa: E402
import hugetlb_interop  # noqa: E402
import hugetlb_cgroup  # noqa: E402
import hugetlb_fault  # noqa: E402
import purgatory_digest  # noqa: E402
import fault_reserve  # noqa: E402
import memfd_noexec  # noqa: E402
import shmem_cgroup  # noqa: E402
import shmem_overcommit  # noqa: E402
import harness_selftest  # noqa: E402
import mutants_spec  # noqa: E402
ALL = harness_selftest.SCENARIOS + mutants_spec.SCENARIOS + ALL
ALL += (ext_coverage.SCENARIOS + giga_nodes.SCENARIOS + sparse_nodes.SCENARIOS
        + hugetlb_cma.SCENARIOS + early_users.SCENARIOS + corrupt_partial.SCENARIOS
        + corrupt_luo.SCENARIOS + reserve_mixed.SCENARIOS
        + kunit_tool.SCENARIOS + distro.SCENARIOS + arm64.SCENARIOS + memfd_runs.SCENARIOS
        + purgatory_digest.SCENARIOS + fault_reserve.SCENARIOS + hugetlb_luo.SCENARIOS
        + corrupt_hugetlb.SCENARIOS + hugetlb_interop.SCENARIOS + hugetlb_cgroup.SCENARIOS
        + hugetlb_fault.SCENARIOS + memfd_noexec.SCENARIOS + shmem_cgroup.SCENARIOS
        + shmem_overcommit.SCENARIOS)

# Scenarios repeated on the sanitizer kernel (KASAN, UBSAN, lockdep): every
# one that boots our kernel first (the base-* ones boot the bare base), but
#  - those with an explicit kho_scratch= sized for a kernel without KASAN:
#    too small for a KASAN successor, whose shadow (1/8 of RAM) comes from
#    handed-over scratch, allocated before scratch can be extended
#    (giga-explicit, sparse-tiny-numa), or a 2 GiB global area that a KASAN
#    guest with 2 GiB of gigantic pages often has no room for
#    (giga-bigscratch: KHO disabled in one of two runs);
#  - interop with stock 7.3: a 7.3 predecessor (no KASAN) sizes scratch for
#    itself, too small for a KASAN successor's shadow (it hangs before the
#    console is up), and 7.3's test_kho compares partial checksums, which
#    differ between the generic csum_partial() of KASAN kernels and x86's
#    (patch 3 fixes that in our test_kho);
#  - the ext-* coverage measurements, which compare with stock 7.3, and the
#    giga-nodes-* matrix (giga-numa and giga-default stand for it), and
#    sparse-asym-* and early-* (small explicit scratch, as sparse-tiny-numa);
#  - kunit-tool-*: kunit.py builds and boots kernels of its own, and
#    distro-* and arm64-*, which boot other kernels.
#  - digest-lockdown: the sanitizer kernel verifies kexec signatures, and
#    lockdown refuses to load the unsigned image there (lockdown's own
#    rule, before any digest); digest-signed stands for it;
#  - hugetlb-2m-scratch: its scratch must hold more than half of a 1 GiB
#    guest's free memory, which the sanitizer's 3 GiB guest is not;
#  - hugetlb-cma-kho, -noroom, -shmem: where the area fits (or does not)
#    follows from the memory map of a guest without KASAN's shadow.
DEBUG = [n for n, _ in ALL if n not in ("harness-selftest", "mutants-spec", "static", "bisect", "config-matrix", "memblock-sim",
                                        "giga-explicit",
                                        "sparse-tiny-numa", "giga-bigscratch", "giga-bigscratch-late", "interop-to-73",
                                        "interop-from-73", "digest-lockdown", "hugetlb-2m-scratch",
                                        "hugetlb-cma-kho", "hugetlb-cma-kho-noroom",
                                        "hugetlb-cma-kho-shmem")
         and not n.startswith(("base-", "ext-", "giga-nodes-", "sparse-asym-", "early-",
                                 "kunit-tool-", "distro-", "arm64-"))]
# Scenarios only the full mode runs (./kho test --full), to keep the default
# run under an hour on a fresh 2-core machine: the rest of the giga-nodes-*
# matrix (3node-n-default, 3node-pernode-explicit and the per-node late case
# stay), the light-load ext-* layouts (the scattered
# ones stay), and cases another default scenario covers (sparse-tiny-numa:
# sparse-asym-tiny), the
# config-matrix, and the distro-* and arm64-* scenarios (their kernels are
# built only then).
FULL_ONLY = ["giga-nodes-3node-n-explicit", "giga-nodes-3node-pernode-default",
             "giga-nodes-3node-n-default-late",
             "giga-nodes-2node-n-default", "giga-nodes-2node-n-explicit",
             "ext-fragmented-light", "ext-numa4-light", "sparse-tiny-numa",
             "config-matrix"]
# (base-giga-bigscratch runs by default: it is the positive control of the
# HugeTLB-in-scratch probe, which every giga-* scenario relies on.)
FULL_ONLY += [n for n, _ in distro.SCENARIOS + arm64.SCENARIOS]
# kunit.py for x86_64: the same suites run by default in our x86 kernel
# (kunit) and in the sanitizer kernel (debug-kunit).
FULL_ONLY.append("kunit-tool-x86_64")
# Five generations of a host's guests in 1 GiB, 2 MiB and shmem pages: the
# default run has the same in three (hugetlb-1g).
FULL_ONLY.append("hugetlb-1g-5gen")
# The hugetlb CMA area of a KHO boot with no room outside scratch: none
# (the default run has the area placed outside scratch: hugetlb-cma-kho).
FULL_ONLY.append("hugetlb-cma-kho-noroom")
# kunit.py for arm64 too (since 2026-12-04): its 15 minutes of background
# build slowed every VM scenario it shared the two cores with, and the
# default run was over the hour (62.1 minutes on 2026-12-03). The same
# suites run by default in the x86 kernel and the sanitizer kernel.
FULL_ONLY.append("kunit-tool-arm64")
# Build-only scenarios: tests/run.py runs them at nice 19 in the background
# while the VM scenarios run, and reports them at the end. static since
# 2026-12-06 (157 s in the foreground in run 21; the bisect of the fixes
# had finished 20 minutes before the last VM scenario): it rebuilds
# objects, never a kernel image a VM boots.
# In this order: static's last part waits for the sanitizer kernel, which
# ./kho test builds in the background too, so the bisect goes first.
BACKGROUND = ["bisect", "static", "config-matrix", "kunit-tool-x86_64", "kunit-tool-arm64"]
# The part of it the test command runs by default (KHO_DEBUG=all: every one),
# to keep the default run under an hour on an empty cache: the KUnit suites
# and the scenarios below, each of which only the sanitizer kernel can run
# (a handover under KASAN, memtest=, deferred struct page init, large
# folios in shmem, signed images and IMA). Every other one runs on our
# kernel by default and on the sanitizer kernel with --full. Until
# 2026-12-06 extension, corrupt-table-oob, kho-init-fails and two
# corrupt-luo-*-oob classes ran here too: CI took 65 minutes (3906 s) on a
# fresh machine, and they repeat what our kernel runs by default.
DEBUG_CI = ["kunit"]
ALL += [("debug-" + n, debug(n, fn)) for n, fn in ALL if n in DEBUG]
ALL.append(("debug-kasan-handover", debug("kasan-handover", kasan_handover)))
DEBUG_CI.append("kasan-handover")
# memtest= needs CONFIG_MEMTEST, which only the sanitizer kernel has.
import memtest  # noqa: E402
ALL.append(("debug-memtest", debug("memtest", memtest.memtest)))
DEBUG_CI.append("memtest")
# Preserved memory left to deferred init: only a kernel with
# DEFERRED_STRUCT_PAGE_INIT does that, so it runs on the sanitizer kernel.
import deferred_init  # noqa: E402
ALL.append(("debug-deferred-memfd", debug("deferred-memfd", deferred_init.deferred_memfd)))
DEBUG_CI.append("deferred-memfd")
# LUO corruption classes that need the sanitizer kernel's options (large
# folios in shmem, DEBUG_VM): tests/corrupt_luo.py.
# Purgatory's digest with a signed image and with IMA: only the sanitizer
# kernel verifies kexec signatures and has IMA (tests/purgatory_digest.py).
# digest-ima runs with --full only (since 2026-12-06, for CI time: 150 s);
# digest-signed, the other condition that keeps the digest, by default.
for _n, _fn in (corrupt_luo.DEBUG_SCENARIOS + purgatory_digest.DEBUG_SCENARIOS
               + shmem_overcommit.DEBUG_SCENARIOS):
    ALL.append(("debug-" + _n, debug(_n, _fn)))
    if _n != "digest-ima":
        DEBUG_CI.append(_n)
