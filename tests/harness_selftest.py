"""Tests of the tests: the harness's own verdicts, fed inputs made broken on
purpose, on the host (no VM, a few seconds). Each check here is one of the
harness's checkers shown to say FAIL on the broken input it exists to
catch, and PASS on the good one, so that none of them passes vacuously:

 - the memfd verdict (luo-fill's line): a wrong seed (a stale copy of an
   older generation), a wrong size, a FAIL line, no line;
 - the HugeTLB-in-scratch probe: a probe error is a failure, not "none";
 - the log parser: a successor that reports another generation number;
   an init line a kernel message was printed into (at its end, or in the
   middle of a value that goes on in the next line) reads whole;
 - the demo's extension report: memory, not spans, against the kernel's line;
 - KUnit: skipped cases are found in KTAP; tests/run.py takes a skip as
   expected only when tests/expectations lists it;
 - the predicted-failure classifier of the sparse scenarios;
 - memtest's "only scratch" ranges; the benchmark's refusal of timings of
   0 and of methods that disagree;
 - config-matrix: a patch that no config compiles is a failure;
 - tests/run.py's states: unlisted skips, xfail and XPASS, no own check;
 - the coverage tool's own self-test (tests/coverage.py);
 - the kernel images appended to the initramfs of a chain that names them;
 - luo-fill's data check itself (tests/luo_fill_selftest.c, built for the
   host): every flipped bit found, in both compare paths, with any number
   of threads.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import khovm
import scenarios
from scenarios import check

HERE = os.path.dirname(os.path.abspath(__file__))


def gen(index, facts=None, files=None, dmesg=()):
    g = khovm.Gen(index)
    for k, v in (facts or {}).items():
        g.facts[k] = [v]
    g.files = dict(files or {})
    g.dmesg = list(dmesg)
    return g


def selftest(ctx):
    import report  # noqa: E402 (both import scenarios, which imports this)
    import run as runner  # noqa: E402
    c = []
    name = "harness-selftest"

    # memfd verdict
    line = "luo-fill: verified 64 MiB in 16384 pages, every byte (64 holes read zero, seed 1)"
    good = gen(2, {"luo_check": line})
    check(c, "%s: a memfd verified in full passes" % name, scenarios.luo_verified(good, 64), line)
    bad = {
        "a stale copy (seed of generation 0)": line.replace("seed 1", "seed 0"),
        "another size": line.replace("64 MiB in 16384", "32 MiB in 8192"),
        "a FAIL line": "luo-fill: FAIL 1 of 16384 pages differ; first at offset 0x5800",
        "no line": "",
    }
    for what, l in bad.items():
        check(c, "%s: the memfd verdict fails on %s" % (name, what),
              not scenarios.luo_verified(gen(2, {"luo_check": l}), 64), l)

    # HugeTLB-in-scratch probe
    for his, want in (("0", True), ("3", False), ("error: short read at 0x1000", False)):
        cc = []
        scenarios.huge_checks(cc, "probe", gen(1, {"huge_in_scratch": his,
                                                  "hugepages": "1048576kB 2"}),
                              {scenarios.GIB_KB: 2})
        probe = [ok for n, ok, _ in cc if "no HugeTLB page in scratch" in n]
        check(c, "%s: the scratch probe says %s on %r" % (name, "PASS" if want else "FAIL", his),
              probe == [want], "%s" % cc)

    # generation numbers
    log = "\n".join(["Linux version 7.2", "KHOT 1 start 7.2", "Linux version 7.2",
                     "KHOT 1 start 7.2"])
    cc = []
    scenarios.gen_checks(cc, khovm.Run(log, 0, 0, False), "gens", 2)
    check(c, "%s: a successor reporting generation 1 again fails" % name,
          any(not ok and "reports as generation 2" in n for n, ok, _ in cc), "%s" % cc)
    cc = []
    scenarios.gen_checks(cc, khovm.Run(log.replace("KHOT 1 start 7.2", "KHOT 2 start 7.2", 2)
                                       .replace("KHOT 2 start 7.2", "KHOT 1 start 7.2", 1),
                                       0, 0, False), "gens", 2)
    check(c, "%s: generations 1 and 2 in order pass" % name, cc and all(ok for _, ok, _ in cc),
          "%s" % cc)

    # a kernel message printed into an init line (CI, stop 35: giga-short
    # read int("1[    2.119767] clocksource: ...")); the message stays in
    # dmesg, where the report scan sees it
    log = "\n".join(["[    0.000000] Linux version 7.2", "KHOT 1 start 7.2",
                     "KHOT 1 hugepages 1048576kB 1[    2.119767] clocksource: tsc: mask",
                     "",
                     "KHOT 1 hugepages 2048kB 10[    2.2] WARNING: at x",
                     "[    2.3] second message",
                     "24",
                     "KHOT 1 nodes 1"])
    g1 = khovm.parse(log)[0]
    check(c, "%s: an init line with a kernel message at its end reads whole" % name,
          g1.hugepages(scenarios.GIB_KB) == 1, "%s" % g1.facts_of("hugepages"))
    check(c, "%s: an init line cut in a value by kernel messages reads whole" % name,
          g1.hugepages(scenarios.MIB2_KB) == 1024 and g1.fact("nodes") == "1",
          "%s" % g1.facts)
    check(c, "%s: the messages printed into init lines stay in dmesg" % name,
          g1.grep(r"WARNING: at x") and g1.grep(r"second message") and
          g1.grep(r"clocksource: tsc"), "%s" % g1.dmesg)

    # the demo's extension report
    mem = ["   0: 0x0000000000001000..0x000000000009efff    0 NONE",
           "   1: 0x0000000000100000..0x00000000bffdffff    0 NONE",
           "   2: 0x0000000100000000..0x000000013fffffff    0 NONE"]
    # one span over the PCI hole: 1 GiB of span, 256 MiB + 128 KiB of memory
    ext = ["0xb0000000 0x60000000"]
    memb = 0xbffe0000 - 0xb0000000 + 0x10000000
    mib = memb >> 20
    ok_line = ["[ 0.1] KHO: scratch extended by %d MiB in 1 stretches (memblock regions 3 -> 4)" % mib]
    text, ok = report.extension_report(gen(2, files={"kho_scratch_ext": ext, "memblock_memory": mem},
                                           dmesg=ok_line))
    check(c, "%s: the demo reports memory in the spans, not the spans" % name,
          ok and "%s of memory" % report.human(memb) in text and "spanning 1.5 GiB" in text, text)
    text, ok = report.extension_report(gen(2, files={"kho_scratch_ext": ext, "memblock_memory": mem},
                                           dmesg=[ok_line[0].replace("by %d" % mib, "by 1536")]))
    check(c, "%s: the demo fails when debugfs and the kernel disagree" % name, not ok, text)
    # x86 keeps no memblock list after boot: System RAM of /proc/iomem
    iomem = ["00001000-0009efff : System RAM", "00100000-bffdffff : System RAM",
             "  01000000-01ffffff : Kernel code", "100000000-13fffffff : System RAM"]
    text, ok = report.extension_report(gen(2, files={"kho_scratch_ext": ext, "iomem": iomem},
                                           dmesg=ok_line))
    check(c, "%s: the demo counts memory from /proc/iomem without memblock" % name,
          ok and "%s of memory" % report.human(memb) in text, text)
    # a scratch area handed over inside the span is no new memory
    text, ok = report.extension_report(gen(2, files={
        "kho_scratch_ext": ext, "iomem": iomem, "scratch_phys": ["0x100000000"],
        "scratch_len": ["0x4000000"]}, dmesg=[ok_line[0].replace("by %d" % mib, "by %d" % (mib - 64))]))
    check(c, "%s: the demo leaves the scratch areas handed over out of the memory added" % name,
          ok and "%s of memory" % report.human(memb - (64 << 20)) in text, text)
    text, ok = report.extension_report(gen(2, files={"kho_scratch_ext": ext}, dmesg=ok_line))
    check(c, "%s: the demo fails with no memory map to count with" % name, not ok, text)

    # the demo's HugeTLB pools before and after the kexec
    def pooled(index, label, lines):
        g = khovm.Gen(index)
        g.facts["pool"] = ["%s %s" % (label, l) for l in lines]
        return g
    before = ["1048576kB all 3 1 0 1", "1048576kB 0 3 1 0", "2048kB 0 64 40 0"]
    rows, ok = report.pool_rows(pooled(1, "end", before), pooled(2, "start", before))
    check(c, "%s: the demo finds the same pools per node the same" % name,
          ok and len(rows) == 2 and all(r.endswith("same") for r in rows), rows)
    for what, after in (("one free page fewer", ["1048576kB 0 3 0 0", "2048kB 0 64 40 0"]),
                        ("a pool missing", ["1048576kB 0 3 1 0"]),
                        ("a page on another node", ["1048576kB 0 2 0 0", "1048576kB 1 1 1 0",
                                                    "2048kB 0 64 40 0"])):
        rows, ok = report.pool_rows(pooled(1, "end", before), pooled(2, "start", after))
        check(c, "%s: the demo fails on pools that differ: %s" % (name, what), not ok, rows)
    rows, ok = report.pool_rows(pooled(1, "end", []), pooled(2, "start", []))
    check(c, "%s: the demo fails with no pool lines to compare" % name, not ok, rows)

    # KUnit skips and the expectations
    ktap = "\n".join(["    # Subtest: kho_radix", "    ok 1 walk", "    ok 2 big # SKIP no memory",
                      "ok 1 kho_radix"])
    check(c, "%s: a skipped KUnit case is found" % name,
          scenarios.ktap_skips(ktap) == [("kho_radix", "big", "no memory")], ktap)
    exp = {"kunit: kho_radix.big": ("skip", "listed for a reason")}
    check(c, "%s: a listed skip is expected, an unlisted one is not" % name,
          runner.expected_skip(exp, "kunit", "kunit: kho_radix.big") == "listed for a reason"
          and runner.expected_skip(exp, "kunit", "kunit: kho_radix.walk") is None, "")

    # config-matrix: a patch "n/a" under every config was never compiled
    out = "\n".join(["MATRIX ok debian 1 kho: fix a: 2 objects", "MATRIX n/a arm64 1 kho: fix a: nothing",
                     "MATRIX n/a debian 2 kho: b: nothing", "MATRIX n/a arm64 2 kho: b: nothing",
                     "MATRIX FAIL arm64 3 kho: c: warnings", "MATRIX ok debian series: 9 objects"])
    got = [(cname, ok) for cname, ok, _ in scenarios.matrix_coverage(out)]
    check(c, "%s: config-matrix fails a patch compiled under no config" % name,
          got == [("config-matrix: patch %d compiled under some config" % n, ok)
                  for n, ok in ((1, True), (2, False), (3, True))], repr(got))

    # tests/run.py's verdicts: what each state counts as
    scan = ("s: no kernel report " + runner.REPORT_SCAN, True, "")
    scans = {"scan": scan, "scan-failed": (scan[0], False, "a report")}
    for what, sc, checks, skip, want in VERDICT_CASES:
        got = [(st, bool(fail)) for st, _, _, fail in
               runner.verdicts(dict(EXPECT, s=(sc, "why")) if sc else EXPECT, "s",
                               [scans.get(x, x) if isinstance(x, str) else x for x in checks], skip)]
        check(c, "%s: run.py: %s" % (name, what), got == want, repr(got))

    # a failing check whose detail is no string (pool counts) is printed
    # with it, as text: run.py once died on such a detail, and the run
    # with it, only when the check failed
    cc = []
    scenarios.check(cc, "s: pools", False, (48, 24, 0, 0))
    line = ["%-5s %s%s" % (st, cname, (": " + detail) if detail else "")
            for st, cname, detail, _ in runner.verdicts(EXPECT, "s", cc, None)]
    check(c, "%s: a failing check with a tuple for its detail is reported with it" % name,
          line == ["FAIL  s: pools: (48, 24, 0, 0)"], repr(line))

    # the sparse scenarios' predicted failure
    for what, lines, want in SPARSE_CASES:
        got = scenarios.predicted_failure(khovm.parse("\n".join(lines)))
        check(c, "%s: predicted failure %s: %s" % (name, "seen" if want else "not seen", what),
              bool(got[0]) == want, got[1])

    # memtest: a tested range that leaves scratch is found
    import memtest
    scratch = [(0x1000000, 0x1000000)]
    check(c, "%s: memtest ranges inside scratch pass, one past its end fails" % name,
          memtest.outside([(0x1000000, 0x1800000)], scratch) == [] and
          memtest.outside([(0x1800000, 0x2100000)], scratch) == [(0x2000000, 0x2100000)], "")

    # bench: a clock that stood still or methods that disagree are no result
    import bench
    f = dict(keys="10", tree_pages="3", bitmaps="2", scan_ns="500", per_key_ns="9000", same="1")
    check(c, "%s: bench takes a complete ext-bench line" % name, bench.ext_invalid(f) is None, "")
    for k, v in (("scan_ns", "0"), ("same", "0")):
        check(c, "%s: bench refuses %s=%s" % (name, k, v),
              bench.ext_invalid(dict(f, **{k: v})) is not None, "")
    check(c, "%s: bench refuses a line without same=" % name,
          bench.ext_invalid({k: v for k, v in f.items() if k != "same"}) is not None, "")

    # tests/coverage.py's self-test
    p = subprocess.run([sys.executable, os.path.join(HERE, "coverage.py")],
                       capture_output=True, text=True)
    check(c, "%s: coverage.py self-test passes" % name,
          p.returncode == 0 and "coverage self-test: ok" in p.stdout, (p.stdout + p.stderr)[-200:])

    # digest-signed's "loaded the signed image": the name alone is no load
    import purgatory_digest  # noqa: E402 (imports scenarios, as this file does)
    img = purgatory_digest.SIGNED
    check(c, "%s: a signed image named and loaded counts as loaded" % name,
          purgatory_digest.loaded(gen(1, {"kexec_load": img, "kexec_exec": "2"}), img), "")
    check(c, "%s: a signed image named whose load failed does not" % name,
          not purgatory_digest.loaded(gen(1, {"kexec_load": img, "kexec_failed": "load: x"}), img), "")

    # the kernel images a chain names, appended to its initramfs
    check(c, "%s: the images a chain names are found" % name,
          khovm.images_named("kho=on khot.chain=v73,bzImage khot.next=/boot/base x.chain=ours")
          == ["base", "bzImage", "v73"], "")
    with tempfile.TemporaryDirectory() as d:
        rd, img = os.path.join(d, "rd.cpio.gz"), os.path.join(d, "v73")
        open(rd, "wb").write(b"\x1f\x8b" + b"x" * 5)
        open(img, "wb").write(b"IMAGE")
        fake = scenarios.Ctx.__new__(scenarios.Ctx)
        fake.out, fake.images = d, {"v73": img, "base": None}
        same = fake.images_for("kho=on khot.chain=base,bzImage", rd)
        check(c, "%s: a chain of images we do not have keeps its initramfs" % name, same == rd, same)
        got = open(fake.images_for("kho=on khot.chain=v73", rd), "rb").read()
        # the second archive starts 4-aligned after the first, uncompressed
        ok = (got.startswith(open(rd, "rb").read()) and got[8:14] == b"070701"
              and b"boot/v73\0" in got and b"IMAGE" in got and b"TRAILER!!!" in got)
        check(c, "%s: a chain naming v73 gets it appended as /boot/v73" % name, ok, repr(got[:40]))

    # luo-fill's data check, on the host
    ok, detail = luo_fill_selftest(ctx.args.tree or os.path.join(HERE, "..", "build", "linux"))
    if ok and "the avx2 path is not tested" in detail:
        # the path a guest under -cpu max takes: not proven on this host
        scenarios.skipped(c, "%s: luo-fill's check, AVX2 path" % name, "no AVX2 on this host")
    check(c, "%s: luo-fill's check finds every changed bit, any thread count" % name, ok, detail)
    return c


def luo_fill_selftest(tree):
    """Build tests/luo_fill_selftest.c (which includes guest/luo-fill.c) for the
    host and run it. The host's headers may predate LUO: the one UAPI header
    luo-fill needs comes from @tree, alone, so nothing else is shadowed."""
    uapi = os.path.join(tree, "include", "uapi", "linux", "liveupdate.h")
    if not os.path.exists(uapi):
        return False, "no %s" % uapi
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "linux"))
        shutil.copy(uapi, os.path.join(d, "linux"))
        exe = os.path.join(d, "luo-fill-selftest")
        p = subprocess.run(["gcc", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-isystem", d,
                            "-o", exe, os.path.join(HERE, "luo_fill_selftest.c")],
                           capture_output=True, text=True)
        if p.returncode:
            return False, "build: " + (p.stdout + p.stderr)[-300:]
        p = subprocess.run([exe], capture_output=True, text=True, timeout=300)
    last = (p.stdout.strip().splitlines() or [""])[-1]
    # 368 cases a compare path: every case of both paths ran; and the 13
    # of a HugeTLB memfd's holes (--huge)
    m = re.match(r"luo-fill selftest: (\d+) cases, 0 failed$", last)
    want = 368 * (1 if "the avx2 path is not tested" in p.stdout else 2) + 13
    return p.returncode == 0 and bool(m) and int(m.group(1)) == want, (p.stdout + p.stderr)[-300:]


G1 = ["Linux version 7.2 (gen 1)", "KHOT 1 start 7.2", "KHOT 1 kexec_exec 2"]
SPARSE_CASES = [
    ("the successor stops in its memory map",
     G1 + ["Linux version 7.2 (gen 2)", "[ 0.1] sparse_init_nid: node[1] memory map backing failed. "
                                        "Some memory will not be available."], True),
    ("the successor boots to init", G1 + ["Linux version 7.2 (gen 2)", "KHOT 2 start 7.2"], False),
    ("no kexec at all", ["Linux version 7.2 (gen 1)", "KHOT 1 start 7.2",
                         "KHOT 1 kexec_failed load: no"], False),
    ("the successor fails some other way",
     G1 + ["Linux version 7.2 (gen 2)", "[ 0.1] Kernel panic - not syncing: VFS: Unable to mount root"],
     False),
]

# tests/run.py's verdicts: (what, expectation of scenario "s", its checks,
# its skip, the (state, counted as failed) each gives)
EXPECT = {"s: listed": ("skip", "why")}
VERDICT_CASES = [
    ("a passing check passes", None, [("s: a", True, "")], None, [("PASS", False)]),
    ("a failing check fails", None, [("s: a", False, "")], None, [("FAIL", True)]),
    ("a skip not listed is a failure", None, [("s: a", None, "")], None, [("SKIP", True)]),
    ("a listed skip is only a skip", None, [("s: listed", None, "")], None, [("SKIP", False)]),
    ("a skipped scenario not listed is a failure", None, [], "no disk", [("SKIP", True)]),
    ("no check of its own, only the report scan, fails", None, ["scan"], None,
     [("PASS", False), ("FAIL", True)]),
    ("no check at all fails", None, [], None, [("FAIL", True)]),
    ("xfail: a failing check is XFAIL", "xfail", [("s: a", False, ""), ("s: b", True, "")], None,
     [("XFAIL", False), ("PASS", False)]),
    ("xfail: every check passing is XPASS, a failure", "xfail", [("s: a", True, "")], None,
     [("PASS", False), ("XPASS", True)]),
    ("xfail never covers a kernel report", "xfail",
     [("s: a", False, ""), "scan-failed"], None,
     [("XFAIL", False), ("FAIL", True)]),
    ("xfail never covers a scenario with no check of its own", "xfail", ["scan"], None,
     [("PASS", False), ("FAIL", True)]),
    ("xfail never covers a scenario that raised", "xfail", [("s: scenario raised", False, "")], None,
     [("FAIL", True)]),
]

SCENARIOS = [("harness-selftest", selftest)]
