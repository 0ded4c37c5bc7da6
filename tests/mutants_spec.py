"""tests/mutants.txt still fits the series (on the host, no VM, a second).

A mutant whose text no longer occurs in its file is never run: ./kho
mutants says "NOT RUN" only when someone runs it, and the breakage it
stands for goes unguarded. So every run checks that each mutant's old
text occurs exactly once in its file of the series tree, that the patch
it names (patch-N: the N-th commit above kho-base) touches that file,
that its kill regex names at least one scenario, and that the fragment
its build line asks for, if any, exists. A mutant whose kill regex
names only debug-* scenarios needs a build line: without one, ./kho
mutants has no debug kernel for them, and they are skipped.
"""
import os
import re
import subprocess

import mutants
from scenarios import Skip, check


def problems(tree, muts, names):
    """(id, why) for each mutant that does not fit the tree."""
    commits = subprocess.run(["git", "-C", tree, "log", "--reverse", "--format=%H",
                              "kho-base..HEAD"], capture_output=True, text=True,
                             check=True).stdout.split()
    bad = []
    for m in muts:
        why = mutants.misfit(tree, m)
        if why:
            bad.append((m["id"], why))
        k = re.fullmatch(r"patch-(\d+)", m["part"])
        if not k or not 1 <= int(k.group(1)) <= len(commits):
            bad.append((m["id"], "names no patch of the series: %s" % m["part"]))
        else:
            files = subprocess.run(["git", "-C", tree, "show", "--name-only", "--format=",
                                    commits[int(k.group(1)) - 1]], capture_output=True,
                                   text=True, check=True).stdout.split()
            if m["file"] not in files:
                bad.append((m["id"], "%s does not touch %s" % (m["part"], m["file"])))
        killers = [n for n in names if re.fullmatch("(%s)" % m["kill"], n)]
        if not killers:
            bad.append((m["id"], "kill %s names no scenario" % m["kill"]))
        elif not m["build"] and all(n.startswith("debug-") for n in killers):
            bad.append((m["id"], "kill %s names only debug-* scenarios and there is no build line"
                        % m["kill"]))
        if m["build"] and not os.path.isfile(os.path.join(mutants.TOP, "configs",
                                                          m["build"] + ".fragment")):
            bad.append((m["id"], "build %s: no configs/%s.fragment" % (m["build"], m["build"])))
    return bad


def spec(ctx):
    import scenarios
    if not ctx.args.tree:
        raise Skip("no --tree given")
    names = [n for n, _ in scenarios.ALL]
    c = []
    muts = mutants.load()
    bad = problems(ctx.args.tree, muts, names)
    check(c, "mutants-spec: each of the %d mutants applies to the series tree, names the "
          "patch that touches its file and scenarios that exist" % len(muts), not bad,
          "; ".join("%s: %s" % b for b in bad))
    # the check itself: a mutant whose text is gone must be found
    stale = dict(muts[0], id="stale", old="no such text in any kernel file\n")
    check(c, "mutants-spec: a mutant whose text is not in its file is found",
          [b[0] for b in problems(ctx.args.tree, [stale], names)] == ["stale"], "")
    nofrag = dict(muts[0], id="nofrag", build="no-such-fragment")
    check(c, "mutants-spec: a mutant that asks for a fragment that does not exist is found",
          [b[0] for b in problems(ctx.args.tree, [nofrag], names)] == ["nofrag"], "")
    nobuild = [dict(m, id="nobuild", build="") for m in muts if m["kill"].startswith("debug-")][:1]
    check(c, "mutants-spec: a mutant killed only by debug-* scenarios, without a build line, is found",
          nobuild and [b[0] for b in problems(ctx.args.tree, nobuild, names)] == ["nobuild"],
          "" if nobuild else "no mutant with a debug-* kill to try it on")
    return c


SCENARIOS = [("mutants-spec", spec)]
