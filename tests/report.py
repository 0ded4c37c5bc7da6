#!/usr/bin/env python3
"""Boot a KHO chain and print a readable report of what each generation saw."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import khovm  # noqa: E402


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%.0f %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0


def scratch(g):
    addrs = [int(x, 16) for x in g.files.get("scratch_phys", [])]
    lens = [int(x, 16) for x in g.files.get("scratch_len", [])]
    return list(zip(addrs, lens))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="kho=on")
    ap.add_argument("--mem", default="6G")
    ap.add_argument("--gens", type=int, default=2)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    run = khovm.run_vm(a.kernel, a.initrd, "%s khot.gens=%d" % (a.append, a.gens), a.log,
                       timeout=120 + 90 * a.gens, mem=a.mem)
    print()
    print("KHO live-update demo: %s guest, command line: %s" % (a.mem, a.append))
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
        print("  KHO enabled: %s; handover received: %s" % (
            "yes" if kho_on else "NO", "yes" if g.fact("kho_in") == "yes" else "no (first boot)"))
        for l in g.grep(r"Failed to reserve.*scratch|disabling KHO|KHO.*disabled"):
            print("    kernel: " + l.split("] ", 1)[-1])
        sc = scratch(g)
        if sc:
            print("  scratch: %d areas, %s total: %s" % (
                len(sc), human(sum(l for _, l in sc)),
                ", ".join("%s@%#x" % (human(l), a) for a, l in sc if l)))
        ext = [l.split() for l in g.files.get("kho_scratch_ext", [])]
        if ext:
            total = sum(int(x[1], 16) for x in ext)
            print("  scratch extended in this boot: %s in %d ranges (memory without preserved"
                  " pages)" % (human(total), len(ext)))
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
