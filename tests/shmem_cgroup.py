"""A shmem memfd whose retrieve its memory cgroup refuses stays preserved
for another retrieve (patch 103).

guest/init (khot.shmem_memmax=M) runs every luo-fill in a cgroup "vm"
with the memory controller; from generation 2 on, vm's memory.max is M
MiB before the check. luo-fill --retry then requires its first retrieve
of the memfd to be refused, prints the error and vm's memory.current,
lifts memory.max, retrieves again in the same session and prints
memory.current once it has the file. guest/init then prints vm's
memory.current and "max" events, and MemFree before and after the
check ("memcg checked CURRENT EVENTS FREE0 FREE1").

 - shmem-cgroup-memmax: a 64 MiB shmem memfd (63.75 MiB of data, 64
   holes), memory.max 40 MiB. The charge of the file's folios fails
   part-way (ENOMEM, the folio named once), without the cgroup's OOM
   killer (luo-fill lives on); the charges made are undone (vm's
   memory.current then is luo-fill's own memory, under 8 MiB); the
   second retrieve has the file back, every byte, charged to vm (at
   least the file's 63.75 MiB); with it closed, vm is charged under
   8 MiB again and counts a "max" event. The base charged folio by folio
   with the OOM killer allowed and lost the file on the first refusal.
 - shmem-cgroup-finish: the same limit, never lifted
   (khot.shmem_finish=1): both retrieves are refused (the second with
   the folios kept restored from the first), each naming the folio, and
   the session closed without a retrieve gives the file's memory back:
   MemFree after the check at least 48 MiB above MemFree before it.
"""
import re

from scenarios import Skip, check, gen_checks, kho_checks, luo_filled, luo_verified

MIB = 64
MEMMAX = 40
# vm's memory.current with none of the file charged: luo-fill's own
# memory (its binary, stack, a mapping of the file it no longer holds)
OWN = 8 << 20
REFUSED = re.compile(r"; retrieve refused \(([^)]*)\), memory\.current (-?\d+) then")
NAMED = re.compile(r"memfd_luo: folio at index \d+: no room in the memory cgroup of the "
                   r"caller: (-ENOMEM|-12); the file stays preserved for another retrieve")
MEMCG = re.compile(r"^checked (\d+) (\d+) (\d+) (\d+)$")
# the file's data: 64 MiB less its 64 holes of 4 KiB
DATA = (MIB << 20) - (64 << 12)
RETRIEVED = re.compile(r"; memory\.current (\d+) retrieved")


def boot(ctx, name, more="", limit="khot.shmem_memmax=%d" % MEMMAX):
    """Two generations, a 64 MiB shmem memfd filled in vm in gen 1 and
    checked in gen 2 under @limit (memory.max unless told); the checks
    the scenarios share. Returns the checks, gen 1 and gen 2 (None, None
    when gen 2 was not reached)."""
    if not ctx.args.selftest_initrd:
        raise Skip("needs --selftest-initrd (luo-fill)")
    c = []
    run = ctx.boot(name, "kho=on liveupdate=on khot.luo_mib=%d %s%s"
                   % (MIB, limit, more), gens=2, mem="1G", initrd=ctx.args.selftest_initrd)
    reached = gen_checks(c, run, name, 2)
    kho_checks(c, name, reached)
    if len(reached) < 2:
        return c, None, None
    g1, g2 = reached
    check(c, "%s: gen 1 set up vm and preserved the %d MiB memfd in it" % (name, MIB),
          g1.fact("cgroup_setup") == "ok" and luo_filled(g1, MIB),
          "%s; %s" % (g1.fact("cgroup_setup"), g1.fact("luo_fill")))
    killed = g2.grep(r"Memory cgroup out of memory|oom-kill")
    check(c, "%s: gen 2: no OOM kill in vm" % name, not killed, "; ".join(killed)[:400])
    return c, g1, g2


def shmem_cgroup_memmax(ctx):
    name = "shmem-cgroup-memmax"
    c, _, g2 = boot(ctx, name)
    if not g2:
        return c
    line = g2.fact("luo_check") or ""
    m = REFUSED.search(line)
    check(c, "%s: gen 2: the first retrieve is refused (ENOMEM) with nothing of the file "
          "charged to vm (memory.current under %d MiB)" % (name, OWN >> 20),
          g2.fact("cgroup_setup") == "ok" and bool(m)
          and m.group(1) == "Cannot allocate memory" and 0 <= int(m.group(2)) < OWN,
          line or "no luo_check")
    named = g2.grep(NAMED.pattern)
    check(c, "%s: gen 2 names the folio the cgroup refused, once" % name, len(named) == 1,
          "; ".join(named) or "; ".join(g2.grep(r"memfd_luo"))[:400] or "no line")
    check(c, "%s: gen 2: with memory.max lifted, the same session's second retrieve has "
          "the file back, every byte" % name, luo_verified(g2, MIB), line or "no luo_check")
    got = RETRIEVED.search(line)
    check(c, "%s: gen 2: retrieved, the file is charged to vm (memory.current at least its "
          "%d bytes of data)" % (name, DATA), bool(got) and int(got.group(1)) >= DATA,
          line or "no luo_check")
    mc = MEMCG.match(g2.fact("memcg") or "")
    check(c, "%s: gen 2: with the file closed, vm is charged under %d MiB and counted a max "
          "event" % (name, OWN >> 20),
          bool(mc) and int(mc.group(1)) < OWN and int(mc.group(2)) >= 1,
          g2.fact("memcg") or "no memcg line")
    return c


def shmem_cgroup_finish(ctx):
    name = "shmem-cgroup-finish"
    c, _, g2 = boot(ctx, name, " khot.shmem_finish=1")
    if not g2:
        return c
    line = g2.fact("luo_check") or ""
    check(c, "%s: gen 2: the retrieve is refused twice (ENOMEM), the second time kept "
          "open as the first" % name,
          "FAIL retrieve memfd: Cannot allocate memory; again: Cannot allocate memory" in line,
          line or "no luo_check")
    named = g2.grep(NAMED.pattern)
    check(c, "%s: gen 2 names the folio the cgroup refused at each retrieve" % name,
          len(named) == 2, "; ".join(named) or "; ".join(g2.grep(r"memfd_luo"))[:400]
          or "no line")
    mc = MEMCG.match(g2.fact("memcg") or "")
    check(c, "%s: gen 2: the session closed without a retrieve gives the file's memory back "
          "(MemFree up by at least 48 MiB) and vm is charged under %d MiB"
          % (name, OWN >> 20),
          bool(mc) and int(mc.group(4)) - int(mc.group(3)) >= 48 << 10
          and int(mc.group(1)) < OWN, g2.fact("memcg") or "no memcg line")
    return c


SCENARIOS = [("shmem-cgroup-memmax", shmem_cgroup_memmax),
             ("shmem-cgroup-finish", shmem_cgroup_finish)]
