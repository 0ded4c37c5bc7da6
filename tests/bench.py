#!/usr/bin/env python3
"""Benchmarks of the series (not timed tests): scratch extension scan
against a per-key digest of the same tree in the same boot, for 1 MiB,
1 GiB and 8 GiB of order-0 preservations; tree memory per GiB preserved;
coverage and regions added; time to init of plain and KHO boots, ours and
stock 7.3. Writes CSV files and gnuplot PNGs to build/bench/."""
import argparse
import csv
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import khovm  # noqa: E402
import plots  # noqa: E402
from scenarios import luo_verified  # noqa: E402

CASES = [  # MiB preserved as order-0 pages, guest memory
    (1, "2G"), (64, "2G"), (256, "2G"), (1024, "3G"), (4096, "6G"), (8192, "11G"),
]


def boot(args, name, append, mem, gens, kernel=None):
    log = os.path.join(args.out, name + ".log")
    if args.from_logs:
        with open(log, errors="replace") as f:
            return khovm.Run(f.read(), 0, 0, False)
    r = khovm.run_vm(kernel or args.kernel, args.initrd, append + " khot.gens=%d" % gens, log,
                     timeout=900, mem=mem)
    return r


def ranges(lines):
    out = []
    for l in lines:
        p = l.split()
        if len(p) >= 2:
            out.append((int(p[0], 16), int(p[1], 16)))
    return out


def coverage_1g(g):
    """What 1 GiB blocks would give on the same machine and tree: a 1 GiB
    block is free when none of its RAM is busy (RAM that is neither in our
    2 MiB runs nor in handed-over scratch, ignoring < 2 MiB edge pieces);
    the gain is the RAM of free blocks less the handed-over scratch."""
    def merge(rs):
        out = []
        for a, e in sorted(rs):
            if out and a <= out[-1][1]:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([a, e])
        return out

    def inter(rs, lo, hi):
        return sum(max(0, min(hi, e) - max(lo, a)) for a, e in rs)

    ram = merge([(int(m.group(1), 16), int(m.group(2), 16) + 1) for m in
                 (re.search(r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]\s+System RAM", l)
                  for l in g.dmesg) if m])
    ext = [(a, a + n) for a, n in ranges(g.files.get("kho_scratch_ext", []))]
    scr = [(a, a + n) for a, n in zip([int(x, 16) for x in g.files.get("scratch_phys", [])],
                                      [int(x, 16) for x in g.files.get("scratch_len", [])]) if n]
    free = merge(ext + scr)
    gib, total, blocks = 1 << 30, 0, 0
    top = max((e for _, e in ram), default=0)
    for lo in range(0, top, gib):
        hi = lo + gib
        r = inter(ram, lo, hi)
        if not r:
            continue
        covered = sum(inter(free, max(a, lo), min(e, hi)) for a, e in ram if e > lo and a < hi)
        if r - covered <= (2 << 20) * 2:
            blocks += 1
            total += r - inter(scr, lo, hi)
    return total >> 20, blocks


def uptime_at_init(g):
    for l in g.dmesg:
        m = re.match(r"\[\s*([0-9.]+)\] Run /init as init process", l)
        if m:
            return float(m.group(1))
    return None


def ext_invalid(f):
    """Why the ext-bench fields f (name -> digits) are no measurement, or
    None: a field missing, a timing of 0 (a clock that stood still), or
    same != 1 (the two methods found different busy ranges)."""
    missing = [k for k in ("keys", "tree_pages", "bitmaps", "scan_ns", "per_key_ns", "same")
               if k not in f]
    if missing:
        return "missing " + " ".join(missing)
    if int(f["scan_ns"]) == 0 or int(f["per_key_ns"]) == 0:
        return "a timing of 0"
    if int(f["same"]) != 1:
        return "same=%s: the scan and the per-key digest disagree" % f["same"]
    return None


def ext_cases(args, rows):
    for mib, mem in CASES:
        if args.quick and mib > 1024:
            continue
        for attempt in range(3):
            r = boot(args, "bench-ext-%d" % mib,
                     "kho=on kho_ext_bench kunit.enable=0 khot.bench_mib=%d" % mib,
                     mem, 2)
            g2 = r.gens[1] if len(r.gens) > 1 else None
            line = g2 and g2.grep(r"ext-bench:")
            # Under TCG the TSC calibration sometimes fails and the early
            # clock stands still: such a boot measured nothing, boot again.
            if line and "scan_ns=0 " not in line[0]:
                break
        ext = g2 and g2.grep(r"scratch extended by")
        if not line:
            print("bench %d MiB: no result (see %s.log)" % (mib, "bench-ext-%d" % mib))
            continue
        f = dict(re.findall(r"(\w+)=(\d+)", line[0]))
        # A measurement is only one where both timings ran and agreed:
        # scan_ns=0 (a clock that stood still) or a missing field is no
        # result, and same=0 means the two methods found different busy
        # ranges, so neither number stands.
        why = ext_invalid(f)
        if why:
            print("bench %d MiB: no valid result (%s; see %s.log)" % (mib, why, "bench-ext-%d" % mib))
            continue
        m = re.search(r"extended by (\d+) MiB in (\d+) (?:ranges|stretches).*?(\d+) KiB granules",
                      ext[0]) if ext else None
        memtotal = (g2.meminfo("MemTotal") or 0) // 1024
        gib_mib, gib_ranges = coverage_1g(g2)
        rows.append(dict(preserved_mib=mib, guest=mem, keys=int(f["keys"]),
                         tree_pages=int(f["tree_pages"]), bitmaps=int(f["bitmaps"]),
                         scan_us=int(f["scan_ns"]) / 1000.0, per_key_us=int(f["per_key_ns"]) / 1000.0,
                         ratio=int(f["per_key_ns"]) / max(1, int(f["scan_ns"])),
                         same=int(f["same"]),
                         tree_kib_per_gib=int(f["tree_pages"]) * 4 * 1024.0 / mib,
                         extended_mib=int(m.group(1)) if m else 0,
                         ranges=int(m.group(2)) if m else 0,
                         granule_kib=int(m.group(3)) if m else 0,
                         gib_blocks_mib=gib_mib, gib_blocks_ranges=gib_ranges,
                         memtotal_mib=memtotal))
        print("bench %5d MiB: keys %8d tree pages %5d scan %9.1f us per-key %10.1f us ratio %6.1fx"
              % (mib, rows[-1]["keys"], rows[-1]["tree_pages"], rows[-1]["scan_us"],
                 rows[-1]["per_key_us"], rows[-1]["ratio"]), flush=True)


def boot_cases(args, rows, trackers):
    """Time to init (the kernel's "Run /init" timestamp), two generations.
    KUnit off. Memory is preserved two ways: our test-only knob (order-0
    pages straight into KHO, ours only) and LUO memfd preservation from
    user space (guest/luo-fill.c), which stock 7.3 has too with the same
    UAPI, so the two kernels are compared on the same handover. With
    kho_ext_bench on the command line our successor also measures the tree
    it received: that gives 7.3's tracker memory when 7.3 hands over to us."""
    v73 = "khot.next=/boot/v73"
    luo = "kho=on liveupdate=on khot.luo_mib=%d"
    cases = [("ours", args.kernel, "", "plain", "kho=off"),
             ("ours", args.kernel, "", "kho", "kho=on"),
             ("ours", args.kernel, "", "kho+1GiB", "kho=on khot.bench_mib=1024"),
             ("ours", args.kernel, "", "kho+8GiB", "kho=on khot.bench_mib=8192"),
             ("ours", args.kernel, "", "luo+1GiB", luo % 1024),
             ("ours", args.kernel, "", "luo+8GiB", luo % 8192)]
    if args.upstream:
        cases += [("7.3", args.upstream, v73, "plain", "kho=off"),
                  ("7.3", args.upstream, v73, "kho", "kho=on"),
                  ("7.3", args.upstream, v73, "luo+1GiB", luo % 1024),
                  ("7.3", args.upstream, v73, "luo+8GiB", luo % 8192),
                  # 7.3 hands over, ours measures the tree it got
                  ("7.3>ours", args.upstream, "", "luo+1GiB", luo % 1024 + " kho_ext_bench")]
    cases.append(("ours>ours", args.kernel, "", "luo+1GiB", luo % 1024 + " kho_ext_bench"))
    for who, k, nxt, name, append in cases:
        if args.quick and "8GiB" in name:
            continue
        mem = "11G" if "8GiB" in name else "3G"
        r = boot(args, "bench-boot-%s-%s" % (who.replace(".", "").replace(">", "-"),
                                             name.replace("+", "-")),
                 "%s kunit.enable=0 %s" % (append, nxt), mem, 2, kernel=k)
        got = []
        for g in r.gens:
            t = uptime_at_init(g)
            if t is not None and ">" not in who:
                rows.append(dict(kernel=who, boot=name, gen=g.index, guest=mem, init_s=t))
                got.append("%.3f" % t)
        g2 = r.gens[1] if len(r.gens) > 1 else None
        mib = re.search(r"khot\.luo_mib=(\d+)", append)
        verified = bool(mib) and luo_verified(g2, int(mib.group(1)))
        if "luo" in name:
            print("   %s %s: %s / %s" % (who, name, r.gens[0].fact("luo_fill") if r.gens else "-",
                                        g2.fact("luo_check") if g2 else "no gen 2"))
            if not verified:
                got.append("NOT VERIFIED")
        line = g2.grep(r"ext-bench:") if g2 else []
        if ">" in who and line:
            f = dict(re.findall(r"(\w+)=(\d+)", line[0]))
            trackers.append(dict(handover=who, preserved="1 GiB memfd (LUO)", keys=int(f["keys"]),
                                 tree_pages=int(f["tree_pages"]),
                                 tree_kib_per_gib=int(f["tree_pages"]) * 4,
                                 verified=int(verified)))
            got.append("tree %s pages, %s keys" % (f["tree_pages"], f["keys"]))
        print("boot %-9s %-9s (%s): time to init per generation %s" % (who, name, mem, got),
              flush=True)


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def plot(args, ext):
    if not ext:
        return
    dat = os.path.join(args.out, "ext.dat")
    with open(dat, "w") as f:
        for r in ext:
            f.write("%d %d %f %f\n" % (r["keys"], r["tree_pages"], r["scan_us"], r["per_key_us"]))
    png = os.path.join(args.out, "ext-scan.png")
    gp = """set terminal png size 900,560
set output '%s'
set logscale xy
set grid
set key top left
set xlabel 'preserved order-0 pages (keys)'
set ylabel 'microseconds (QEMU TCG)'
set title 'Scratch extension scan: per leaf bitmap (ours) vs per-key digest, same tree, same boot'
plot '%s' using 1:3 with linespoints title 'ours: per bitmap', \\
     '%s' using 1:4 with linespoints title 'per-key digest', \\
     '%s' using 1:($2*1.0) with lines dashtype 2 title 'tree pages (count)'
""" % (png, dat, dat, dat)
    subprocess.run(["gnuplot"], input=gp, text=True, check=False)
    print("plot: %s" % os.path.relpath(png))


def plot_boot(args, boots):
    """Time to init of the successor (gen 2): ours against stock 7.3."""
    cases = []
    for r in boots:
        if r["boot"] not in cases:
            cases.append(r["boot"])
    t = {(r["kernel"], r["boot"]): r["init_s"] for r in boots if r["gen"] == 2}
    if not t:
        return
    dat = os.path.join(args.out, "boot.dat")
    with open(dat, "w") as f:
        for c in cases:
            f.write("%s %s %s\n" % (c, t.get(("ours", c), "NaN"), t.get(("7.3", c), "NaN")))
    png = os.path.join(args.out, "boot.png")
    plots.histogram(png, "900,520", "successor: seconds to init (QEMU TCG)",
                    "KHO boot overhead: plain, KHO, and KHO with memory preserved (kexec to self)",
                    "'%s' using 2:xtic(1) title 'ours', '' using 3 title 'stock 7.3'" % dat)
    print("plot: %s" % os.path.relpath(png))


def main():
    # timings: no early console (tests/khovm.py EARLYCON_X86); here, not
    # at import: the harness self-test imports this module
    khovm.EARLYCON_X86 = ""
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--upstream", help="stock 7.3 bzImage")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="skip the 4 and 8 GiB cases")
    ap.add_argument("--boot-only", action="store_true", help="only the boot cases")
    ap.add_argument("--from-logs", action="store_true",
                    help="no boots: re-read the console logs of the last run")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ext, boots, trackers = [], [], []
    t0 = time.time()
    if not args.boot_only:
        ext_cases(args, ext)
    boot_cases(args, boots, trackers)
    write_csv(os.path.join(args.out, "ext.csv"), ext)
    write_csv(os.path.join(args.out, "boot.csv"), boots)
    write_csv(os.path.join(args.out, "tracker.csv"), trackers)
    plot(args, ext)
    plot_boot(args, boots)
    print("\n| preserved | keys | tree pages | tree KiB/GiB | scan (us) | per-key (us) | ratio |"
          " gained, ours (2 MiB) | gained, 1 GiB blocks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in ext:
        print("| %d MiB | %d | %d | %.0f | %.1f | %.1f | %.0fx | %d of %d MiB, %d ranges |"
              " %d MiB, %d ranges |" % (
                  r["preserved_mib"], r["keys"], r["tree_pages"], r["tree_kib_per_gib"],
                  r["scan_us"], r["per_key_us"], r["ratio"], r["extended_mib"],
                  r["memtotal_mib"], r["ranges"], r["gib_blocks_mib"], r["gib_blocks_ranges"]))
    print("\n| kernel | boot | guest | gen 1 to init (s) | gen 2 to init (s) |")
    print("|---|---|---|---|---|")
    seen = []
    for r in boots:
        key = (r["kernel"], r["boot"])
        if key in seen:
            continue
        seen.append(key)
        t = {x["gen"]: x["init_s"] for x in boots if (x["kernel"], x["boot"]) == key}
        print("| %s | %s | %s | %s | %s |" % (r["kernel"], r["boot"], r["guest"],
              "%.3f" % t[1] if 1 in t else "-", "%.3f" % t[2] if 2 in t else "-"))
    print("\n| handover | preserved | keys | tree pages | tree KiB per GiB | data verified |")
    print("|---|---|---|---|---|---|")
    for r in trackers:
        print("| %s | %s | %d | %d | %d | %s |" % (r["handover"], r["preserved"], r["keys"],
              r["tree_pages"], r["tree_kib_per_gib"], "yes" if r["verified"] else "NO"))
    print("\nbenchmarks done in %.0fs (%s, %d cores)" % (time.time() - t0, time.strftime("%Y-%m-%d"),
                                                        os.cpu_count()))


if __name__ == "__main__":
    main()
