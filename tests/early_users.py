"""The size check counts what every next kernel takes from scratch before it
can extend it: here the crash kernel reservation (patch 31).

A 2 GiB guest with crashkernel=256M. With scratch of 96 MiB in all the
check warns at boot and at kexec load, counting 256 MiB for the crash
kernel, and the successor (the series kernel, which extends scratch, but
only after setup_arch() has reserved the crash kernel) indeed cannot
reserve it. With a 768 MiB global area there is no warning and the
successor reserves its 256 MiB. Both run the series kernel in both
generations, so the prediction is checked against the kernel it is made
for.
"""
import re

from scenarios import SPARSE_LOAD, SPARSE_WARN, check, gen_checks, kho_checks

EARLY = re.compile(r"\(\d+ MiB of it the next kernel's image[^,]*, (\d+) MiB its crash kernel")
FAILED = r"cannot allocate crashkernel|crashkernel reservation failed"
RESERVED = r"crashkernel reserved: .*\(256 MB\)"


def case(ctx, name, scratch, short):
    c = []
    run = ctx.boot(name, "kho=on crashkernel=256M kho_scratch=" + scratch, gens=2, mem="2G")
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if not reached:
        return c
    g1 = reached[0]
    check(c, "%s: gen 1 reserved its crash kernel" % name, g1.grep(RESERVED),
          "; ".join(g1.grep(r"crashkernel")))
    warns = g1.grep(SPARSE_WARN) + g1.grep(SPARSE_LOAD)
    if short:
        early = [int(m.group(1)) for m in map(EARLY.search, warns) if m]
        check(c, "%s: boot and kexec load warn (2 warnings)" % name, len(warns) == 2,
              "%d warnings" % len(warns))
        check(c, "%s: both count 256 MiB for the crash kernel" % name,
              len(early) == 2 and all(e == 256 for e in early), "; ".join(warns)[:300])
        check(c, "%s: and say even an extending successor is short" % name,
              warns and all("too small even for a next kernel that extends scratch first"
                            in w for w in warns), (warns or [""])[0][-200:])
    else:
        check(c, "%s: no warning" % name, not warns, (warns or [""])[0])
    if len(reached) > 1:
        g2 = reached[1]
        if short:
            check(c, "%s: the successor cannot reserve its crash kernel, as predicted" % name,
                  g2.grep(FAILED) and not g2.grep(RESERVED), "; ".join(g2.grep(r"crashkernel")))
        else:
            check(c, "%s: the successor reserves its crash kernel" % name, g2.grep(RESERVED),
                  "; ".join(g2.grep(r"crashkernel")))
    return c


SCENARIOS = [
    ("early-crashkernel-short", lambda ctx: case(ctx, "early-crashkernel-short",
                                                 "16M,64M,16M", True)),
    # 384 MiB sufficed by the sum, but the crash kernel needs one 16 MiB
    # aligned block, and kexec's segments can split the area: a run on
    # 2026-12-02 failed so. The check counts sizes only (noted as a limit).
    ("early-crashkernel-ok", lambda ctx: case(ctx, "early-crashkernel-ok",
                                              "16M,768M,16M", False)),
]
