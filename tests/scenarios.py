"""The VM scenarios. Each returns a list of (check name, ok, detail)."""
import os
import re
import subprocess

import khovm

GIB_KB = 1024 * 1024
MIB2_KB = 2048


class Skip(Exception):
    pass


class Ctx:
    def __init__(self, args):
        self.args = args
        self.out = args.out

    def boot(self, name, append, gens=1, mem="1G", kernel=None, initrd=None, timeout=None, **kw):
        kernel = kernel or self.args.kernel
        initrd = initrd or self.args.initrd
        append = "%s khot.gens=%d" % (append, gens)
        timeout = timeout or 120 + 90 * gens
        log = os.path.join(self.out, name + ".log")
        run = khovm.run_vm(kernel, initrd, append, log, timeout=timeout, mem=mem, **kw)
        print("   boot %s: %d generation(s) reached init in %.0fs%s (log %s)"
              % (name, len(run.reached()), run.elapsed,
                 ", TIMED OUT" if run.timed_out else "", os.path.relpath(log)), flush=True)
        return run


def check(checks, name, ok, detail=""):
    checks.append((name, bool(ok), detail))
    return ok


def gen_checks(checks, run, name, gens):
    """Every generation booted to init, and the chain went all the way."""
    reached = run.reached()
    check(checks, "%s: %d generations reached init" % (name, gens), len(reached) == gens,
          "reached %d%s" % (len(reached), ", timed out" if run.timed_out else ""))
    for g in run.gens:
        bad = g.grep(r"Kernel panic|BUG:|Oops|WARNING:|general protection|KASAN|UBSAN")
        if bad:
            check(checks, "%s: gen %d has no panic/BUG/WARN" % (name, g.index), False, bad[0])
    return reached


def kho_checks(checks, name, reached):
    """KHO enabled in gen 1, and every later generation is a KHO boot."""
    for g in reached:
        check(checks, "%s: gen %d KHO enabled" % (name, g.index),
              g.fact("kho_debugfs") == "yes" and not g.grep("KHO.*disabled|Failed to reserve.*scratch"),
              "; ".join(g.grep("KHO.*disabled|Failed to reserve.*scratch")) or "debugfs=%s" % g.fact("kho_debugfs"))
        if g.index > 1:
            check(checks, "%s: gen %d is a KHO boot (kho/in present)" % (name, g.index),
                  g.fact("kho_in") == "yes", "kho_in=%s" % g.fact("kho_in"))


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


def giga(ctx, name, extra, base=False, gens=2):
    c = []
    kw = {}
    if base:
        if not ctx.args.base_kernel:
            raise Skip("no --base-kernel given")
        kw = {"kernel": ctx.args.base_kernel, "initrd": ctx.args.base_initrd}
    run = ctx.boot(name, "kho=on hugepagesz=1G hugepages=3 " + extra, gens=gens, mem="6G", **kw)
    return c, run


def giga_series(ctx, name, extra):
    c, run = giga(ctx, name, extra)
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    for g in reached:
        n = g.hugepages(GIB_KB)
        check(c, "%s: gen %d has 3 1GiB pages" % (name, g.index), n == 3,
              "nr_hugepages=%s; %s" % (n, "; ".join(g.grep(r"HugeTLB|hugepages")[:2])))
    test_kho_checks(c, name, reached)
    return c


def giga_default(ctx):
    """6 GiB guest, kho=on hugepagesz=1G hugepages=3, automatic scratch."""
    return giga_series(ctx, "giga-default", "")


def giga_explicit(ctx):
    """Same with an explicit kho_scratch=16M,64M,32M."""
    return giga_series(ctx, "giga-explicit", "kho_scratch=16M,64M,32M")


def base_giga_default(ctx):
    """The bare base still shows the bug: gigantic pages disable KHO."""
    c, run = giga(ctx, "base-giga-default", "", base=True, gens=1)
    g = run.reached()[:1]
    msg = g[0].grep(r"Failed to reserve lowmem scratch buffer") if g else []
    check(c, "base-giga-default: base disables KHO with 1GiB pages", g and msg,
          msg[0] if msg else "no 'Failed to reserve lowmem scratch buffer'")
    return c


def base_giga_explicit(ctx):
    """The bare base: explicit scratch keeps KHO on, successor has no gigantic pages."""
    c, run = giga(ctx, "base-giga-explicit", "kho_scratch=16M,64M,32M", base=True)
    reached = run.reached()
    g2 = [g for g in run.gens if g.index == 2]
    ok = False
    detail = "successor did not start"
    if g2:
        g = g2[0]
        n = g.hugepages(GIB_KB) if g.fact("start") is not None else None
        bad = g.grep(r"Only allocated 0 hugepages|memory map backing failed|Kernel panic")
        ok = bool(bad) or (n is not None and n < 3)
        detail = "; ".join(bad[:2]) or "nr_hugepages=%s" % n
    check(c, "base-giga-explicit: base successor fails to get 1GiB pages", ok, detail)
    return c


def kunit(ctx):
    """KUnit suites built into the series kernel, run at boot, parsed as KTAP."""
    c = []
    run = ctx.boot("kunit", "kho=on kunit.enable=1", gens=1)
    reached = gen_checks(c, run, "kunit", 1)
    if not reached:
        return c
    tree = ctx.args.tree
    expected = [l.split()[0] for l in open(os.path.join(os.path.dirname(__file__), "kunit-suites"))
                if l.strip() and not l.startswith("#")]
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
    for s in expected:
        # suite header "# <suite>" result lines: "ok N <suite>" / "not ok N <suite>"
        ok = re.search(r"^\s*(?:\[[^]]*\]\s*)?ok \d+ %s\s*$" % re.escape(s), ktap, re.M)
        check(c, "kunit: suite %s ran and passed" % s, ok, "" if ok else "missing or failed")
    return c


ALL = [
    ("kunit", kunit),
    ("roundtrip", roundtrip),
    ("giga-default", giga_default),
    ("giga-explicit", giga_explicit),
    ("base-giga-default", base_giga_default),
    ("base-giga-explicit", base_giga_explicit),
]
