#!/usr/bin/env python3
"""Boot a KHO chain and print a readable report of what each generation saw."""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coverage  # noqa: E402
import khovm  # noqa: E402
from scenarios import REPORTS, luo_filled, luo_verified  # noqa: E402
from hugetlb_luo import WARN, huge_verified, nodes_of, pools  # noqa: E402

SIZES = {"2M": 2048, "1G": 1024 * 1024}


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%.0f %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0


def scratch(g):
    addrs = [int(x, 16) for x in g.files.get("scratch_phys", [])]
    lens = [int(x, 16) for x in g.files.get("scratch_len", [])]
    return list(zip(addrs, lens))


def memory_ranges(g):
    """(start, end) of g's memory: memblock.memory from debugfs where the
    kernel keeps it ("N: 0xSTART..0xLAST nid flags", LAST inclusive; not
    on x86 without TDX), else System RAM from /proc/iomem."""
    out = []
    for l in g.files.get("memblock_memory", []):
        m = re.search(r"(0x[0-9a-f]+)\.\.(0x[0-9a-f]+)", l)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
    if not out:
        out = [(a, a + n) for a, n in coverage.ram_ranges(g.files.get("iomem", []))]
    return out


def extension_report(g):
    """(text, ok): the memory the extension marked, from debugfs, against
    the kernel's own line "scratch extended by N MiB in K stretches"."""
    spans = [tuple(int(x, 16) for x in l.split()[:2]) for l in g.files.get("kho_scratch_ext", [])]
    line = g.grep(r"KHO: scratch extended by (\d+) MiB in (\d+) stretches")
    m = re.search(r"scratch extended by (\d+) MiB in (\d+) stretches", line[0]) if line else None
    if not spans and not m:
        return None, True
    # The kernel counts memory that was not scratch already: the areas
    # handed over (which a stretch may enclose) are left out.
    mem = coverage._subtract(coverage._intervals([(a, e - a) for a, e in memory_ranges(g)]),
                             coverage._intervals(scratch(g)))
    # a span of the extension can cover holes, which are no memory
    got = coverage._overlap(coverage._intervals(spans), mem)
    text = ("scratch extended in this boot: %s of memory (besides the areas handed over) in "
            "%d stretches (spanning %s)" % (human(got), len(spans), human(sum(n for _, n in spans))))
    if not m:
        return text + "\n    MISMATCH: the kernel printed no extension line", False
    if not mem:
        return text + "\n    MISMATCH: no memory map (memblock/memory or iomem) to count with", False
    ok = got >> 20 == int(m.group(1)) and len(spans) == int(m.group(2))
    return (text + "\n    kernel: scratch extended by %s MiB in %s stretches: %s"
            % (m.group(1), m.group(2), "agrees" if ok else "MISMATCH with debugfs")), ok


def pool_rows(before, after):
    """(text lines, ok): each HugeTLB pool per node, total/free/surplus
    before the kexec (the predecessor's "end" pool lines) and after it (the
    successor's "start" lines) side by side; ok when every one is equal."""
    def table(g, label):
        sizes = {v.split()[1] for v in g.facts_of("pool") if v.split()[0] == label}
        return {(size, node): v[:3] for size in sizes
                for node, v in nodes_of(pools(g, label, size)).items()}
    b, a = table(before, "end"), table(after, "start")
    lines, ok = [], bool(b) and set(a) == set(b)
    for key in sorted(set(a) | set(b), key=lambda k: (-int(k[0][:-2]), int(k[1]))):
        x, y = b.get(key), a.get(key)
        same = x == y
        ok &= same
        fmt = lambda t: "%d total, %d free, %d surplus" % t if t else "none"
        lines.append("    %-9s node %s:  %-32s %-32s %s" % (
            human(int(key[0][:-2]) * 1024), key[1], fmt(x), fmt(y), "same" if same else "DIFFERENT"))
    return lines, ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="kho=on")
    ap.add_argument("--mem", default="6G")
    ap.add_argument("--gens", type=int, default=2)
    ap.add_argument("--log", required=True)
    ap.add_argument("--luo-mib", type=int, default=0,
                    help="MiB of memfd data carried through LUO (khot.luo_mib)")
    ap.add_argument("--luo-huge", choices=sorted(SIZES),
                    help="the memfd is a HugeTLB one of this page size (khot.luo_huge)")
    ap.add_argument("--luo-extra", type=int, default=0,
                    help="MiB of a second memfd in a session of its own (khot.luo_extra)")
    ap.add_argument("--luo-extra-huge", choices=sorted(SIZES),
                    help="that memfd is a HugeTLB one of this page size")
    ap.add_argument("--luo-shmem", type=int, default=0,
                    help="MiB of a shmem memfd in a third session (khot.luo_shmem)")
    a = ap.parse_args()
    append = a.append + (" liveupdate=on khot.luo_mib=%d" % a.luo_mib if a.luo_mib else "")
    for opt, val in (("luo_huge", a.luo_huge), ("luo_extra", a.luo_extra),
                     ("luo_extra_huge", a.luo_extra_huge), ("luo_shmem", a.luo_shmem)):
        if val:
            append += " khot.%s=%s" % (opt, val)
    run = khovm.run_vm(a.kernel, a.initrd, "%s khot.gens=%d" % (append, a.gens), a.log,
                       timeout=120 + 90 * a.gens, mem=a.mem)
    print()
    print("KHO live-update demo: %s guest, command line: %s" % (a.mem, append))
    print("=" * 78)
    ok = True
    for g in run.gens:
        booted = g.fact("start") is not None
        print("Generation %d: %s" % (g.index, "booted to init" if booted else "DID NOT REACH INIT"))
        if not booted:
            ok = False
            for l in g.grep(r"Kernel panic|BUG|KHO|scratch")[-5:]:
                print("    " + l)
            continue
        kho_on = g.fact("kho_debugfs") == "yes"
        ok &= kho_on and (g.index == 1 or g.fact("kho_in") == "yes")
        print("  KHO enabled: %s; handover received: %s" % (
            "yes" if kho_on else "NO", "yes" if g.fact("kho_in") == "yes" else "no (first boot)"))
        for l in g.grep(r"Failed to reserve.*scratch|disabling KHO|KHO.*disabled"):
            print("    kernel: " + l.split("] ", 1)[-1])
        sc = scratch(g)
        if sc:
            print("  scratch: %d areas, %s total: %s" % (
                len(sc), human(sum(l for _, l in sc)),
                ", ".join("%s@%#x" % (human(l), a) for a, l in sc if l)))
        text, ext_ok = extension_report(g)
        if text:
            print("  " + text)
        ok &= ext_ok
        files = [("luo", "LUO memfd", a.luo_mib, a.luo_huge, g.index - 1),
                 ("luo_extra", "second memfd", a.luo_extra, a.luo_extra_huge, g.index + 99),
                 ("luo_shmem", "shmem memfd", a.luo_shmem, None, g.index + 199)]
        for fact, what, mib, huge, seed in files:
            if not mib:
                continue
            kind = "%s pages" % huge if huge else "shmem"
            fill, chk = g.fact(fact + "_fill"), g.fact(fact + "_check")
            if g.index > 1:
                if huge:
                    good = huge_verified(g, mib, SIZES[huge], fact + "_check", seed)
                else:
                    good = bool(chk) and ("verified %d MiB" % mib) in chk and ("seed %d)" % seed) in chk
                    good &= fact != "luo" or luo_verified(g, mib)
                print("  %s (%s) from generation %d: %s" % (
                    what, kind, g.index - 1, chk.replace("luo-fill: ", "").strip() if chk else "NOT CHECKED"))
                ok &= good
            if g.index < a.gens:
                print("  %s (%s) for generation %d: %s" % (
                    what, kind, g.index + 1, fill.replace("luo-fill: ", "").strip() if fill else "NOT PRESERVED"))
                ok &= bool(fill) and ("preserved %d MiB" % mib) in fill
                ok &= bool(huge) or fact != "luo" or luo_filled(g, mib)
        if a.luo_huge or a.luo_extra_huge:
            warn = g.grep(WARN)
            if warn:
                print("    kernel: " + warn[0].split("] ", 1)[-1])
            ok &= not warn
        if (a.luo_huge or a.luo_extra_huge) and g.index > 1:
            rows, pools_ok = pool_rows(run.gens[g.index - 2], g)
            print("  HugeTLB pools per node, before the kexec and after it:")
            print("    %-16s  %-32s %-32s" % ("", "gen %d, files held" % (g.index - 1),
                                          "gen %d, at boot" % g.index))
            for r in rows:
                print(r)
            ok &= pools_ok
            for size in sorted({a.luo_huge, a.luo_extra_huge} - {None}):
                closed = pools(g, "end", "%dkB" % SIZES[size]).get("all")
                if g.index == a.gens:
                    print("  %s pool once the files are closed: %s" % (
                        size, "%d total, %d free" % closed[:2] if closed else "NOT REPORTED"))
                    ok &= bool(closed) and closed[0] == closed[1]
        outs = [v.split()[1:] for v in g.facts_of("subfdt") if v.startswith("out ")]
        ins = [v.split()[1:] for v in g.facts_of("subfdt") if v.startswith("in ")]
        if ins:
            print("  came back from the previous kernel: %s" % ", ".join("%s (%s B FDT)" % (n, s) for n, s in ins))
        rest = g.grep(r"test_kho: KHO restore (succeeded|failed)")
        if rest:
            print("  test_kho data: %s" % rest[-1].split("test_kho: ")[-1])
            ok &= "succeeded" in rest[-1]
        if outs:
            print("  preserved for the next kernel: %s" % ", ".join("%s (%s B FDT)" % (n, s) for n, s in outs))
        hp = ["%s x %s" % (v.split()[1], v.split()[0]) for v in g.facts_of("hugepages")]
        print("  HugeTLB pages: %s" % ", ".join(hp))
        for l in g.grep(r"HugeTLB: .*(allocated|Only)|Only allocated"):
            print("    kernel: " + l.split("] ", 1)[-1])
        print("  MemTotal %s kB, MemFree %s kB" % (g.meminfo("MemTotal"), g.meminfo("MemFree")))
    print("=" * 78)
    print("generations that reached init: %d of %d%s" % (
        len(run.reached()), a.gens, " (QEMU timed out)" if run.timed_out else ""))
    ok &= len(run.reached()) == a.gens
    bad = [l for g in run.gens for l in g.grep(REPORTS)]
    if bad:
        print("kernel reports: %s" % bad[0])
    ok &= not bad
    print("demo: %s" % ("every check above held" if ok else "FAILED (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
