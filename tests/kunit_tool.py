"""KUnit the way kernel developers run it: kunit.py run
--kunitconfig=kernel/liveupdate, for x86_64 and arm64 (scripts/kunit-tool.sh).

kunit.py builds its own kernel from kernel/liveupdate/.kunitconfig, boots it
in QEMU and parses the KTAP itself; these checks read its report: it exits
0, every suite of tests/kunit-suites is reported passed, every case passed
and none was skipped.
"""
import os
import re
import subprocess

from scenarios import Skip, check, kunit_suites

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCH_OPT = {"x86_64": "CONFIG_X86_64=y", "arm64": "CONFIG_ARM64=y"}


def kunit_tool(ctx, arch):
    name = "kunit-tool-" + arch
    if not ctx.args.tree:
        raise Skip("no --tree given")
    c = []
    log = os.path.join(ctx.out, name + ".log")
    with open(log, "w") as f:
        p = subprocess.run([os.path.join(TOP, "scripts", "kunit-tool.sh"), arch, ctx.args.tree],
                           stdout=f, stderr=subprocess.STDOUT, text=True)
    out = open(log).read()
    rel = os.path.relpath(log)
    check(c, "%s: kunit.py run exits 0" % name, p.returncode == 0,
          "exit %d, see %s" % (p.returncode, rel))
    bd = re.search(r"^kunit-tool: build dir (.*)$", out, re.M)
    cfg = os.path.join(bd.group(1) if bd else "(kunit-tool.sh named no build dir)", ".config")
    conf = open(cfg).read() if os.path.exists(cfg) else ""
    check(c, "%s: kunit.py built an %s kernel with KHO and the suites" % (name, arch),
          all(o in conf.split("\n") for o in (ARCH_OPT[arch], "CONFIG_KEXEC_HANDOVER=y",
                                              "CONFIG_KEXEC_HANDOVER_KUNIT_TEST=y")),
          "see " + os.path.relpath(cfg))
    m = re.search(r"Testing complete\. Ran (\d+) tests: (.*)", out)
    summary = m.group(0) if m else "no summary (see %s)" % rel
    ran = int(m.group(1)) if m else 0
    passed = re.search(r"passed: (\d+)", m.group(2)) if m else None
    check(c, "%s: every case ran passed" % name,
          ran > 0 and passed and int(passed.group(1)) == ran, summary)
    skipped = re.findall(r"\[SKIPPED\] (\S+)", out)
    check(c, "%s: no case was skipped" % name, m and not skipped and "skipped" not in m.group(2),
          " ".join(skipped) or summary)
    for s in kunit_suites():
        ok = re.search(r"=+ \[PASSED\] %s =+" % re.escape(s), out)
        check(c, "%s: suite %s ran and passed" % (name, s), ok, "" if ok else "missing or failed")
    return c


SCENARIOS = [("kunit-tool-" + a, (lambda a: lambda ctx: kunit_tool(ctx, a))(a))
             for a in ("x86_64", "arm64")]
