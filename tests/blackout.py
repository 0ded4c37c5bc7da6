#!/usr/bin/env python3
"""Blackout benchmark (not a timed test): how long a host is gone across a
KHO kexec, ours against stock 7.3 in one run, the same handover on both.

Every time here is the host's clock: khovm.run_vm(stamps=True) notes when
each console line arrives, and a span is the difference between two lines
printed while a console is up. The guest's printk clock is not used: under
TCG on a busy host its early TSC calibration sometimes fails and the clock
starts late, and early console output arrives in one burst.

Spans, per boot (generation 1 kexecs into generation 2):
  exec_to_init      "KHOT 1 kexec_exec" (init's last line before kexec -e)
                    to the successor's "Run /init as init process"
  exec_to_restored  ... to "luo-fill: retrieved" (the memfd is back)
  exec_to_verified  ... to "luo-fill: verified" (every page's stamp checked)
  restore           "luo-fill: check start" to "luo-fill: retrieved"

The successor's init checks the memfd before anything else
(khot.luo_first=1), as a host brings its guests back first.

Loads: nothing preserved, a memfd of 1 or 8 GiB preserved through LUO
(guest/luo-fill.c; both kernels), and 1 or 8 GiB of order-0 pages through
our test-only knob (khot.bench_mib; ours only), and a 512 MiB memfd with
a hole after every third page (luo-fill --gaps: about 44 000 runs of one
to three pages, the scattered case), and part 7's 8 GiB of a guest's
memory in a HugeTLB memfd of 1 GiB or of 2 MiB pages, every page written
(luo-fill --dense; 7.3 refuses to preserve it, shown with luo-fill's own
line), each compared with an empty handover booted with the same pools
("none, 1 GiB pool of 8", "none, 2 MiB pool of 4096"). All boots use the same
guest (11 GiB, 2 CPUs, TCG). With --kernel-deferred and
--upstream-deferred, the same kernels built with
CONFIG_DEFERRED_STRUCT_PAGE_INIT (configs/deferred.fragment) run the
"none" and 8 GiB loads too, as "ours+dsi" and "7.3+dsi"; with
--kernel-nodebug, ours built with CONFIG_KEXEC_HANDOVER_DEBUG off
(configs/nodebug.fragment; on in the others) runs them as "ours-nodbg".
--kernel-deferred-nodebug, ours with both fragments, runs them as
"ours+dsi-nodbg". --kernel-prev, ours without its latest change (a
kernel of the series as it was before it), runs the part 7 loads and
the 8 GiB memfd as "ours-prev": a change measured against the series
without it, in the same run. --kernels picks kernels by name. Purgatory's
digest: ours checks every segment by default, 7.3 skips the digest of
every KHO kexec; "ours+skip" is ours with kho_skip_digest=1 (patch 53),
the like-for-like comparison with 7.3 on that point. Rounds go ours,
ours+skip, 7.3, ... per load, so drift in the host's load falls on all;
the table gives the first round (cold: QEMU's translation cache empty),
the median and the spread (lowest to highest) of all rounds (5 by
default), and the best. What a load adds to the boot with nothing
preserved is given as the difference of the medians and, per round, as
the load's boot minus the empty boot of the same kernel and round: the
median and spread of those differences."""
import argparse
import csv
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import khovm  # noqa: E402
import plots  # noqa: E402
from scenarios import luo_verified  # noqa: E402
from hugetlb_luo import huge_verified  # noqa: E402

MEM = "11G"
BASE = "kho=on liveupdate=on kunit.enable=0 khot.luo_first=1"
# HugeTLB pools on the command line of every generation (the same in the
# load and in the empty handover it is compared with)
POOL_1G = "hugepagesz=1G hugepages=8"
POOL_2M = "hugepagesz=2M hugepages=4096"
LOADS = [  # name, command line, kernels[, the empty handover it adds to]
    ("none", "", ("ours", "ours+skip", "ours-nodbg", "7.3", "ours+dsi", "ours+dsi-nodbg", "7.3+dsi")),
    ("none, 1 GiB pool of 8", POOL_1G, ("ours", "ours-prev", "7.3")),
    ("none, 2 MiB pool of 4096", POOL_2M, ("ours", "ours-prev", "7.3")),
    ("memfd 1 GiB", "khot.luo_mib=1024", ("ours", "7.3")),
    ("memfd 8 GiB", "khot.luo_mib=8192", ("ours", "ours-prev", "ours+skip", "ours-nodbg", "7.3",
                                         "ours+dsi", "ours+dsi-nodbg", "7.3+dsi")),
    ("knob 1 GiB", "khot.bench_mib=1024", ("ours",)),
    ("knob 8 GiB", "khot.bench_mib=8192", ("ours", "ours+dsi")),
    ("memfd 512 MiB, holes", "khot.luo_mib=512 khot.luo_gaps=1", ("ours", "7.3")),
    # part 7: a guest's 8 GiB in HugeTLB pages, every page written
    # (luo-fill --dense); 7.3 refuses to preserve such a memfd
    ("hugetlb 8 GiB, 1 GiB pages", "khot.luo_mib=8192 khot.luo_huge=1G khot.luo_dense=1 " + POOL_1G,
     ("ours", "ours-prev", "7.3"), "none, 1 GiB pool of 8"),
    ("hugetlb 8 GiB, 2 MiB pages", "khot.luo_mib=8192 khot.luo_huge=2M khot.luo_dense=1 " + POOL_2M,
     ("ours", "ours-prev", "7.3"), "none, 2 MiB pool of 4096"),
]


def baseline(load):
    """The load with nothing preserved that load adds to."""
    for entry in LOADS:
        if entry[0] == load:
            return entry[3] if len(entry) > 3 else "none"
    return "none"
# kernel -> (argument with its bzImage, image in the initrd's /boot it
# kexecs, words added to the command line)
KERNELS = {"ours": ("kernel", "bzImage", ""), "ours+skip": ("kernel", "bzImage", "kho_skip_digest=1"),
           "ours-nodbg": ("kernel_nodebug", "ours-nodebug", ""), "7.3": ("upstream", "v73", ""),
           "ours+dsi": ("kernel_deferred", "ours-dsi", ""), "7.3+dsi": ("upstream_deferred", "v73-dsi", ""),
           "ours+dsi-nodbg": ("kernel_deferred_nodebug", "ours-dsi-nodebug", ""),
           "ours-prev": ("kernel_prev", "ours-prev", "")}
SPANS = ["exec_to_init", "exec_to_restored", "exec_to_verified", "restore"]


def first(stamps, pattern, after=None):
    rx = re.compile(pattern)
    for t, line in stamps:
        if (after is None or t >= after) and rx.search(line):
            return t
    return None


def spans(stamps):
    ex = first(stamps, r"KHOT 1 kexec_exec")
    if ex is None:
        return {}
    init = first(stamps, r"Run /init as init process", ex)
    start = first(stamps, r"luo-fill: check start", ex)
    back = first(stamps, r"luo-fill: retrieved", ex)
    ok = first(stamps, r"luo-fill: verified", ex)
    out = {"exec_to_init": init - ex if init else None,
           "exec_to_restored": back - ex if back else None,
           "exec_to_verified": ok - ex if ok else None,
           "restore": back - start if back and start else None}
    return out


def reserved_line(run):
    g2 = run.gens[1] if len(run.gens) > 1 else None
    m = g2 and g2.grep(r"KHO: reserved \d+ preserved pages")
    if not m:
        return ""
    f = re.search(r"reserved (\d+) preserved pages in (\d+) runs, memblock.reserved (\d+) -> (\d+)",
                  m[0])
    return "%s pages, %s runs, memblock.reserved %s -> %s regions" % f.groups() if f else ""


def boot(args, who, load, cmd, rnd):
    arg, image, extra = KERNELS[who]
    kernel = getattr(args, arg)
    nxt = " khot.next=/boot/%s" % image + (" " + extra if extra else "")
    name = "blackout-%s-%s-%d" % (re.sub(r"\W+", "", who), re.sub(r"\W+", "-", load), rnd)
    log = os.path.join(args.out, name + ".log")
    if args.from_logs:
        with open(log, errors="replace") as f:
            r = khovm.Run(f.read(), 0, 0, False)
        r.stamps = khovm.read_stamps(log + ".t")
    else:
        r = khovm.run_vm(kernel, args.initrd, "%s %s khot.gens=2%s" % (BASE, cmd, nxt), log,
                         timeout=1200, mem=MEM, stamps=True)
    s = spans(r.stamps)
    g2 = r.gens[1] if len(r.gens) > 1 else None
    # "n/a" where nothing is preserved; otherwise the check's own line, in
    # full (a missing line is NOT verified)
    mib = re.search(r"khot\.luo_mib=(\d+)", cmd)
    huge = re.search(r"khot\.luo_huge=(\w+)", cmd)
    if not mib:
        verified = "n/a"
    elif huge:
        verified = huge_verified(g2, int(mib.group(1)), {"2M": 2048, "1G": 1 << 20}[huge.group(1)],
                                 dense="khot.luo_dense=1" in cmd)
    else:
        verified = luo_verified(g2, int(mib.group(1)))
    g1 = r.gens[0] if r.gens else None
    fill = ((g1.fact("luo_fill") or "no luo_fill line") if g1 else "no gen 1") if mib else ""
    if huge and "khot.luo_dense=1" in cmd:
        # gen 1 wrote every page
        verified = verified and "(0 holes," in fill
    row = dict(kernel=who, load=load, round=rnd, verified=verified if mib is None else int(verified),
               reserved=reserved_line(r) if who.startswith("ours") else "",
               refused="" if not mib or "luo-fill: preserved" in fill else fill.strip())
    for k in SPANS:
        row[k] = round(s[k], 3) if s.get(k) is not None else ""
    print("%-4s %-12s round %d: %s%s%s%s" % (
        who, load, rnd, " ".join("%s=%s" % (k, row[k]) for k in SPANS if row[k] != ""),
        "" if verified else " NOT VERIFIED", (" [%s]" % row["reserved"]) if row["reserved"] else "",
        (" [gen 1 did not preserve it: %s]" % row["refused"]) if row["refused"] else ""),
        flush=True)
    return row


def values(rows, who, load, key, rnd=None):
    return sorted(r[key] for r in rows if r["kernel"] == who and r["load"] == load and r[key] != ""
                  and r["verified"] and (rnd is None or r["round"] == rnd))


def best(rows, who, load, key, rnd=None):
    v = values(rows, who, load, key, rnd)
    return v[0] if v else None


def mid(v):
    if not v:
        return None
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def paired(rows, who, load):
    """Per round, the load's time to init minus the time to init with
    nothing preserved, same kernel, same round (the same few minutes of
    the run: a round boots every kernel with nothing preserved, then with
    each load); sorted."""
    out = []
    for rnd in sorted({r["round"] for r in rows}):
        a = values(rows, who, load, "exec_to_init", rnd)
        z = values(rows, who, baseline(load), "exec_to_init", rnd)
        if a and z:
            out.append(a[0] - z[0])
    return sorted(out)


def median(rows, who, load, key):
    return mid(values(rows, who, load, key))


def spread(rows, who, load, key):
    v = values(rows, who, load, key)
    return "%.2f-%.2f" % (v[0], v[-1]) if v else "-"


def fmt(v):
    return "-" if v is None else "%.2f" % v


def table(rows):
    out = ["| load | kernel | to init, cold (s) | to init, median (s) | to init, spread (s) "
           "| to init, best (s) | to memfd retrieved, best (s) | to memfd verified, cold"
           " (s) | to memfd verified, best (s) | memfd restore, best (s) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    ran = {(r["kernel"], r["load"]) for r in rows}
    for load, _, kernels, *_ in LOADS:
        for who in [k for k in kernels if (k, load) in ran]:
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                load, who, fmt(best(rows, who, load, "exec_to_init", 1)),
                fmt(median(rows, who, load, "exec_to_init")),
                spread(rows, who, load, "exec_to_init"),
                fmt(best(rows, who, load, "exec_to_init")),
                fmt(best(rows, who, load, "exec_to_restored")),
                fmt(best(rows, who, load, "exec_to_verified", 1)),
                fmt(best(rows, who, load, "exec_to_verified")),
                fmt(best(rows, who, load, "restore"))))
    out += ["", "| load | kernel | added to a KHO boot with nothing preserved (the same pools): "
            "median minus median (s) "
            "| per round, median (s) | per round, spread (s) | the same, best minus best (s) |",
            "|---|---|---|---|---|---|"]
    for load, _, kernels, *_ in LOADS[1:]:
        if load.startswith("none"):
            continue
        z = baseline(load)
        for who in [k for k in kernels if (k, load) in ran]:
            a, b = best(rows, who, load, "exec_to_init"), best(rows, who, z, "exec_to_init")
            ma, mb = median(rows, who, load, "exec_to_init"), median(rows, who, z, "exec_to_init")
            d = paired(rows, who, load)
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                load, who, fmt(ma - mb if ma is not None and mb else None),
                fmt(mid(d)), "%.2f to %.2f" % (d[0], d[-1]) if d else "-",
                fmt(a - b if a is not None and b else None)))
    refused = sorted({(r["load"], r["kernel"], r["refused"]) for r in rows if r["refused"]})
    if refused:
        out += ["", "| load | kernel | gen 1 did not preserve the memfd |", "|---|---|---|"]
        out += ["| %s | %s | %s |" % x for x in refused]
    restore = {}
    for load, _, kernels, *_ in LOADS:
        if (("ours", load) in ran):
            restore[load] = best(rows, "ours", load, "restore")
    shm = restore.get("memfd 8 GiB")
    lines = ["%s: %s s, %s" % (load, fmt(v), "1/%.1f of memfd 8 GiB's (4 KiB shmem)" % (shm / v)
                                    if shm and v else "-")
             for load, v in restore.items() if load.startswith("hugetlb") and v is not None]
    if lines:
        out += ["", "ours, memfd restore (best, check start to retrieved, same run): " + "; ".join(lines)]
    return "\n".join(out)


def plot(args, rows):
    dat = os.path.join(args.out, "blackout.dat")
    with open(dat, "w") as f:
        for load, *_ in LOADS:
            f.write('"%s" %s %s %s %s\n' % (load, *[
                "NaN" if v is None else "%.3f" % v for v in (
                    best(rows, "ours", load, "exec_to_init"), best(rows, "7.3", load, "exec_to_init"),
                    best(rows, "ours", load, "exec_to_verified"),
                    best(rows, "7.3", load, "exec_to_verified"))]))
    png = os.path.join(args.out, "blackout.png")
    plots.histogram(png, "960,540", "seconds from kexec -e (host clock, best of %d, TCG)" % args.rounds,
                    "Blackout: to the successor init, and to every memfd page verified",
                    "'%s' using 2:xtic(1) title 'ours: to init', '' using 3 title '7.3: to init', "
                    "'' using 4 title 'ours: to memfd verified', '' using 5 title '7.3: to memfd verified'"
                    % dat)
    print("plot: %s" % os.path.relpath(png))


def main():
    # timings: no early console (tests/khovm.py EARLYCON_X86); here, not
    # at import: the harness self-test imports this module
    khovm.EARLYCON_X86 = ""
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True, help="our bzImage")
    ap.add_argument("--upstream", help="stock 7.3 bzImage")
    ap.add_argument("--kernel-deferred", help="our bzImage with deferred struct page init")
    ap.add_argument("--upstream-deferred", help="7.3's bzImage with deferred struct page init")
    ap.add_argument("--initrd", required=True,
                    help="initrd with /boot/{bzImage,v73,ours-dsi,v73-dsi,ours-nodebug,"
                    "ours-dsi-nodebug,ours-prev} and luo-fill")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kernel-nodebug", help="our bzImage without CONFIG_KEXEC_HANDOVER_DEBUG")
    ap.add_argument("--kernel-deferred-nodebug",
                    help="our bzImage with deferred struct page init, without CONFIG_KEXEC_HANDOVER_DEBUG")
    ap.add_argument("--kernel-prev", help="our bzImage without its latest change (ours-prev)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--kernels", help="regex of kernels to run (ours, ours+skip, ours-nodbg, 7.3, ...)")
    ap.add_argument("--only", help="regex of loads to run")
    ap.add_argument("--from-logs", action="store_true", help="re-read the last run's logs")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    rows = []
    for rnd in range(1, args.rounds + 1):
        for load, cmd, kernels, *_ in LOADS:
            if args.only and not re.search(args.only, load):
                continue
            for who in kernels:
                if args.kernels and not re.fullmatch(args.kernels, who):
                    continue
                if getattr(args, KERNELS[who][0]):
                    rows.append(boot(args, who, load, cmd, rnd))
    with open(os.path.join(args.out, "blackout.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    plot(args, rows)
    print("\n" + table(rows))
    print("\nblackout benchmark: %d boots in %.0fs (%s, %d cores, host clock)" % (
        len(rows), time.time() - t0, time.strftime("%Y-%m-%d"), os.cpu_count()))


if __name__ == "__main__":
    main()
