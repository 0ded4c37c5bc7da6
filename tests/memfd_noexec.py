"""A memfd made with MFD_NOEXEC_SEAL through a live update (patch 14).

Such a memfd has mode 0666 and the seal F_SEAL_EXEC; under
vm.memfd_noexec=1 every memfd made without MFD_EXEC is one. The base's
retrieve makes the new file with exec bits (mode 0777) and then adds the
preserved seals, and on a file with exec bits F_SEAL_EXEC brings
F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE and F_SEAL_FUTURE_WRITE with it:
the memfd comes back sealed against writes.

guest/init's khot.luo_noexec=1 makes every memfd luo-fill preserves with
MFD_NOEXEC_SEAL, and by its seed modulo 3 adds F_SEAL_SEAL (seals 0x21),
F_SEAL_GROW (0x24: one write seal, not all) or all four write seals
(0x3e: the seals of an executable file sealed with F_SEAL_EXEC as well,
which comes back without exec bits all the same). luo-fill --check
requires the exact seals, mode 0666, and a writable shared mapping
unless a write seal forbids it (then none), and says "seals S, mode M,
maps writable" (or "write-sealed") when it has them.

 - memfd-noexec: ours, four generations, a shmem memfd and a HugeTLB one
   of 2 MiB pages in a session of its own: both come back as made, with
   each of the three kinds of seals (shmem seeds 1-3, HugeTLB 101-103).
 - base-memfd-noexec: the bare base (gen 1 and gen 2), the shmem memfd:
   it comes back with seals 0x3f for 0x21, the bug and only it.
"""
import re

from scenarios import Skip, check, gen_checks, luo_verified
from hugetlb_luo import huge_verified

MIB = 16
DONE = re.compile(r"; seals (0x[0-9a-f]+|0), mode (0\d+), (maps writable|write-sealed)")
WRONG = re.compile(r"luo-fill: FAIL memfd seals (0x[0-9a-f]+|0), position (\d+), mode (0\d+); "
                   r"preserved seals (0x[0-9a-f]+|0), position (\d+), mode (0\d+)")
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 0x1, 0x2, 0x4, 0x8
F_SEAL_FUTURE_WRITE, F_SEAL_EXEC = 0x10, 0x20
# what memfd_add_seals() adds with F_SEAL_EXEC on a file with exec bits
EXEC_WRITE_SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE


def seals_of(seed):
    """luo-fill's noexec_seals(), with F_SEAL_EXEC."""
    return F_SEAL_EXEC | (EXEC_WRITE_SEALS, F_SEAL_SEAL, F_SEAL_GROW)[seed % 3]


def came_back(line, seed):
    """(ok, detail): luo-fill verified the memfd of @seed with the seals
    it was preserved with, mode 0666, writable unless write-sealed."""
    m = DONE.search(line or "")
    if not m:
        return False, line or "no check line"
    want = seals_of(seed)
    mapping = "write-sealed" if want & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) else "maps writable"
    ok = int(m.group(1), 16) == want and m.group(2) == "0666" and m.group(3) == mapping
    return ok, "seals %s, mode %s, %s (want %#x, 0666, %s)" % (m.group(1), m.group(2), m.group(3),
                                                             want, mapping)


def memfd_noexec(ctx):
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    c = []
    name = "memfd-noexec"
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_noexec=1 khot.luo_mib=%d "
                   "khot.luo_extra=%d khot.luo_extra_huge=2M hugepagesz=2M hugepages=16"
                   % (MIB, MIB), gens=4, mem="1G", initrd=ctx.args.selftest_initrd)
    reached = gen_checks(c, run, name, 4)
    for g in reached[1:]:
        line = g.fact("luo_check") or ""
        ok, detail = came_back(line, g.index - 1)
        check(c, "%s: gen %d has the shmem memfd back, every byte, its seals, mode 0666, "
              "writable" % (name, g.index), luo_verified(g, MIB) and ok, detail)
        line = g.fact("luo_extra_check") or ""
        ok, detail = came_back(line, 100 + g.index - 1)
        check(c, "%s: gen %d has the HugeTLB memfd back, every byte, its seals, mode 0666, "
              "writable" % (name, g.index),
              huge_verified(g, MIB, fact="luo_extra_check", seed=100 + g.index - 1) and ok,
              "%s; %s" % (detail, line[:200]))
    return c


def base_memfd_noexec(ctx):
    if not ctx.args.selftest_initrd or not ctx.args.base_kernel:
        raise Skip("needs --selftest-initrd (luo-fill) and --base-kernel")
    c = []
    name = "base-memfd-noexec"
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_noexec=1 khot.luo_mib=%d khot.chain=base"
                   % MIB, gens=2, mem="1G", kernel=ctx.args.base_kernel,
                   initrd=ctx.args.selftest_initrd)
    reached = gen_checks(c, run, name, 2)
    if len(reached) < 2:
        return c
    line = reached[1].fact("luo_check") or ""
    m = WRONG.search(line)
    want = seals_of(1)
    # the bug and only it: the preserved seals plus exactly the write
    # seals F_SEAL_EXEC brings on a file with exec bits, mode 0777
    ok = (bool(m) and int(m.group(4), 16) == want and m.group(6) == "0666"
          and int(m.group(1), 16) == want | EXEC_WRITE_SEALS and m.group(3) == "0777"
          and m.group(2) == m.group(5))
    check(c, "%s: the base's successor gives the memfd back sealed against writes "
          "(seals %#x for %#x) and with exec bits" % (name, want | EXEC_WRITE_SEALS, want),
          ok, line[:300])
    return c


SCENARIOS = [("memfd-noexec", memfd_noexec), ("base-memfd-noexec", base_memfd_noexec)]
