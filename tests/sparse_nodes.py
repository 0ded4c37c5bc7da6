"""The scratch size check on an asymmetric NUMA guest: node 1's memory lies
on both sides of the PCI hole ([2G, 3G) and [4G, 7G)), so its span covers
memory of no other node here but is not its memory; node 2 has a CPU and no
memory. With tiny scratch the check warns once, names a node that has
memory, and gives that node the need of its own sections (2 MiB of memory
map per 128 MiB section, plus usage maps); with default scratch it is
silent. The successor is the bare base, which cannot extend scratch, so a
warning is borne out by its failure.
"""
from scenarios import EARLY, SPARSE_LOAD, SPARSE_OOPS, SPARSE_WARN, Skip, check, logbuf_of, predicted_failure, sparse_parse

LAYOUT = ["2G", "4G", "0"]
# MiB of memory map per node: 2 MiB per 128 MiB section of the node's memory
NEED = {0: 2048 // 128 * 2, 1: 4096 // 128 * 2}


def case(ctx, name, append, want_warn):
    c = []
    if not ctx.args.base_kernel:
        raise Skip("the base kernel is needed as the next kernel")
    # EARLY, logbuf: the base successor fails before its console is up;
    # its printk buffer is read from guest memory when it hangs
    logbuf = logbuf_of(ctx.args.base_kernel) if want_warn else None
    run = ctx.boot(name, append + " khot.next=/boot/base" + (EARLY if want_warn else ""), gens=2,
                   mem="6G", numa=LAYOUT, timeout=60 if want_warn else None,
                   reports_ok=SPARSE_OOPS if want_warn else None, logbuf=logbuf)
    g = run.gens[0] if run.gens else None
    check(c, "%s: gen 1 reached init" % name, g and g.fact("start") is not None)
    if not g or g.fact("start") is None:
        return c
    warns, loads = g.grep(SPARSE_WARN), g.grep(SPARSE_LOAD)
    if not want_warn:
        check(c, "%s: no warning" % name, not warns and not loads, (warns + loads)[:1])
        reached = run.reached()
        check(c, "%s: base successor boots" % name,
              len(reached) == 2 and reached[1].fact("kho_in") == "yes", "%d generations" % len(reached))
        return c
    check(c, "%s: exactly one boot-time warning" % name, len(warns) == 1, "%d" % len(warns))
    w = sparse_parse(warns[0]) if warns else None
    check(c, "%s: the warning names a node with memory" % name, w and w["node"] in NEED,
          warns[0] if warns else "no warning")
    if w and w["node"] in NEED:
        check(c, "%s: node %d needs the map of its own sections (%d MiB)"
              % (name, w["node"], NEED[w["node"]]),
              0 <= w["need"] - NEED[w["node"]] <= 2, "need %d MiB" % w["need"])
        check(c, "%s: total need is the map of all sections plus the image" % name,
              w["total"] >= sum(NEED.values()), warns[0])
    check(c, "%s: the kexec load warns too" % name, len(loads) == 1, loads[0] if loads else "none")
    ok, detail = predicted_failure(run.gens, logbuf)
    check(c, "%s: the predicted failure happens (base successor), and no other" % name, ok, detail)
    return c


SCENARIOS = [
    ("sparse-asym-tiny", lambda ctx: case(ctx, "sparse-asym-tiny", "kho=on kho_scratch=16M,16M,8M", True)),
    ("sparse-asym-ok", lambda ctx: case(ctx, "sparse-asym-ok", "kho=on", False)),
]
