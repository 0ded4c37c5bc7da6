"""A shmem memfd whose retrieve the kernel's memory accounting refuses
stays preserved for another retrieve (patch 103).

memfd_luo puts a retrieved file's folios into the page cache and then
accounts the file's pages at once (shmem_inode_acct_blocks(): a memfd
is VM_NORESERVE, so each page it gets is committed memory). Under strict
overcommit (vm.overcommit_memory=2) that accounting can fail after every
folio is in the page cache (with ENOSPC, as it does at a fault or a
fallocate()): the folios must come out of it again, uncharged, and stay
restored for the next retrieve.

guest/init (khot.shmem_overcommit=H) runs every luo-fill in a cgroup
"vm" with the memory controller and no limit; in gen 2 it sets
vm.overcommit_kbytes to Committed_AS plus H MiB and
vm.overcommit_memory to 2 before the check. luo-fill --retry then
requires its first retrieve to be refused, prints the error, vm's
memory.current and Committed_AS, sets vm.overcommit_memory back to 0,
retrieves again in the same session and prints both once it has the
file. guest/init prints Committed_AS after the check, the file closed.

 - shmem-overcommit: a 64 MiB shmem memfd (63.75 MiB of data, 64
   holes; memfd_luo's preserve gives every offset a folio, so the file
   has 16384 pages), 32 MiB of commit left. The first retrieve is
   refused with ENOSPC, the kernel names the accounting of the file's
   16384 pages once, and nothing of the file stays charged to vm,
   committed or in the page cache (memory.current, Committed_AS, Shmem
   and ShmemHugePages as luo-fill read them just before the retrieve);
   the second has the file back, every byte, charged to vm, and
   Committed_AS grew by the file's 65536 kB (within 1 MiB); with the
   file closed it is back within 1 MiB of where it was, and vm is
   charged under 8 MiB.
   The base had no such undo: the accounting came folio by folio after
   each went into the file, and a failure lost the file.
 - debug-shmem-overcommit-thp (the sanitizer kernel, with
   transparent_hugepage_shmem=always): the same with the memfd in 2 MiB
   folios (gen 1's ShmemHugePages shows them, and gen 2's once the file
   is retrieved), so that the page cache's multi-index entries are put in
   and taken out again.
"""
import re

from scenarios import check, luo_verified
import shmem_cgroup
from shmem_cgroup import MIB, OWN, REFUSED

HEADROOM = 32
# every offset has a folio once preserved (memfd_pin_folios())
PAGES = (MIB << 20) >> 12
# Committed_AS: vm_memory_committed() is exact; luo-fill's own commit
# and the guest's other processes move it by a few hundred kB
SLACK = 1 << 10
NAMED = re.compile(r"memfd_luo: the file's (\d+) pages cannot be accounted: (-ENOSPC|-28); "
                   r"the file stays preserved for another retrieve")
# ShmemHugePages: -1 (no such line) without CONFIG_TRANSPARENT_HUGEPAGE
THEN = re.compile(r"; Committed_AS (\d+) kB then; Shmem (\d+) kB then; ShmemHugePages (-?\d+) kB "
                  r"then; before it: memory\.current (\d+), Committed_AS (\d+) kB, Shmem (\d+) kB, "
                  r"ShmemHugePages (-?\d+) kB")
RETRIEVED = re.compile(r"; Committed_AS (\d+) kB retrieved; ShmemHugePages (-?\d+) kB retrieved")


def run(ctx, name, more="", thp=False):
    """The scenario; with thp, shmem's large folios (the sanitizer kernel's
    transparent_hugepage_shmem=always): the memfd is made of 2 MiB folios,
    holes included."""
    c, g1, g2 = shmem_cgroup.boot(ctx, name, more,
                                  limit="khot.shmem_overcommit=%d" % HEADROOM)
    if not g2:
        return c
    if thp:
        huge = g1.fact("shmem_huge_filled") or ""
        check(c, "%s: gen 1 filled the memfd with shmem's large folios (ShmemHugePages at "
              "least %d kB)" % (name, MIB << 10), huge.isdigit() and int(huge) >= MIB << 10,
              huge or "no shmem_huge_filled line")
    line = g2.fact("luo_check") or ""
    m = REFUSED.search(line)
    then = THEN.search(line)
    check(c, "%s: gen 2: under strict overcommit the first retrieve is refused (ENOSPC) "
          "with nothing of the file charged to vm (memory.current within 1 MiB of before it)"
          % name,
          g2.fact("cgroup_setup") == "ok" and bool(m) and bool(then)
          and m.group(1) == "No space left on device"
          and int(m.group(2)) >= 0 and abs(int(m.group(2)) - int(then.group(4))) < 1 << 20,
          line or "no luo_check")
    check(c, "%s: gen 2: after the refusal nothing of the file is committed or in the page "
          "cache (Committed_AS and Shmem within %d kB of before it, ShmemHugePages as before)"
          % (name, SLACK),
          bool(then) and abs(int(then.group(1)) - int(then.group(5))) <= SLACK
          and abs(int(then.group(2)) - int(then.group(6))) <= SLACK
          and then.group(3) == then.group(7), line or "no luo_check")
    named = g2.grep(NAMED.pattern)
    check(c, "%s: gen 2 names the accounting of the file's %d pages that failed, once"
          % (name, PAGES),
          len(named) == 1 and NAMED.search(named[0]).group(1) == str(PAGES),
          "; ".join(named) or "; ".join(g2.grep(r"memfd_luo"))[:400] or "no line")
    other = [w for w in g2.grep(r"memfd_luo") if w not in named]
    check(c, "%s: gen 2: no other line from memfd_luo" % name, not other,
          "; ".join(other)[:400] or "none")
    check(c, "%s: gen 2: with overcommit back to 0, the same session's second retrieve has "
          "the file back, every byte" % name, luo_verified(g2, MIB), line or "no luo_check")
    got = RETRIEVED.search(line)
    grew = int(got.group(1)) - int(then.group(1)) if then and got else None
    want = PAGES << 2
    check(c, "%s: gen 2: the retrieve committed the file's %d kB (Committed_AS grew by that, "
          "within %d kB)" % (name, want, SLACK),
          grew is not None and abs(grew - want) <= SLACK,
          "grew %s kB; %s" % (grew, line or "no luo_check"))
    closed = g2.fact("committed_checked")
    check(c, "%s: gen 2: with the file closed, Committed_AS is back within %d kB of the "
          "refusal's" % (name, SLACK),
          bool(then) and (closed or "").isdigit()
          and abs(int(closed) - int(then.group(1))) <= SLACK,
          "then %s kB, closed %s kB" % (then.group(1) if then else None, closed))
    charged = shmem_cgroup.RETRIEVED.search(line)
    check(c, "%s: gen 2: retrieved, the file is charged to vm (memory.current at least its "
          "%d bytes of data)" % (name, shmem_cgroup.DATA),
          bool(charged) and int(charged.group(1)) >= shmem_cgroup.DATA, line or "no luo_check")
    if thp:
        check(c, "%s: gen 2: the retrieved file is in shmem's large folios (ShmemHugePages "
              "up by at least %d kB once retrieved)" % (name, MIB << 10),
              bool(got) and bool(then) and int(got.group(2)) - int(then.group(7)) >= MIB << 10,
              line or "no luo_check")
    mc = shmem_cgroup.MEMCG.match(g2.fact("memcg") or "")
    check(c, "%s: gen 2: with the file closed, vm is charged under %d MiB"
          % (name, OWN >> 20), bool(mc) and int(mc.group(1)) < OWN,
          g2.fact("memcg") or "no memcg line")
    return c


def shmem_overcommit(ctx):
    return run(ctx, "shmem-overcommit")


def shmem_overcommit_thp(ctx):
    return run(ctx, "shmem-overcommit-thp", " transparent_hugepage_shmem=always", thp=True)


SCENARIOS = [("shmem-overcommit", shmem_overcommit)]
# shmem's large folios need CONFIG_TRANSPARENT_HUGEPAGE: the sanitizer
# kernel only (its DEBUG_VM checks the page cache's large entries too).
DEBUG_SCENARIOS = [("shmem-overcommit-thp", shmem_overcommit_thp)]
