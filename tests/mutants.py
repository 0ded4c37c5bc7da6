#!/usr/bin/env python3
"""Mutation run: are the tests able to fail?

Each mutant is a small deliberate breakage of the series (tests/mutants.txt
says what and where). For each, one at a time, in a scratch worktree of the
series tree (build/linux-mutant; never patches/ or build/linux): apply the
breakage, build the kernel, make the initramfs it needs, run the scenarios
that should catch it (tests/run.py --only), and undo it. A mutant is
KILLED when at least one check fails, and the first failing check is named;
otherwise it SURVIVED. A control run of the same scenarios on the unmutated
series comes first: a scenario that fails without any mutant kills nothing.

Prints a table "mutant | part | killed by" and exits non-zero if any mutant
survived, did not build, or the control failed.

  tests/mutants.py --tree build/linux --base-kernel B --upstream-kernel U
                   --selftests DIR [--only REGEX] [--no-control] [--list]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(TOP, "tests", "mutants.txt")


def load(path=SPEC):
    """The mutants of tests/mutants.txt: a list of dicts with id, part,
    file, kill, what, old, new and build. The format, one block per mutant:

        mutant <id> <part>
        file <path in the tree>
        kill <regex of scenario names that must catch it>
        what <one line>
        build <fragment>     (optional: configs/<fragment>.fragment too; the
                              kernel then also stands for --debug-kernel,
                              so debug-* scenarios run on it, not on the
                              sanitizer kernel ./kho test uses)
        old
        <lines, exactly as in the file, once>
        new
        <lines>
        end
    """
    muts, cur, mode = [], None, None
    for raw in open(path):
        line = raw.rstrip("\n")
        if mode == "old" and line == "new":
            mode = "new"
        elif mode == "new" and line == "end":
            cur["old"] = "\n".join(cur["old"]) + "\n"
            cur["new"] = "\n".join(cur["new"]) + "\n"
            muts.append(cur)
            cur, mode = None, None
        elif mode:
            cur[mode].append(line)
        elif not line.strip() or line.startswith("#"):
            continue
        else:
            key, _, val = line.partition(" ")
            if key == "mutant":
                mid, _, part = val.partition(" ")
                cur = dict(id=mid, part=part.strip(), old=[], new=[], build="")
            elif key in ("file", "kill", "what", "build"):
                cur[key] = val.strip()
            elif key == "old":
                mode = "old"
            else:
                raise SystemExit("%s: cannot read line %r" % (path, line))
    return muts


def sh(cmd, log):
    with open(log, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode


def worktree(tree, wt):
    """wt: a detached worktree of tree at its HEAD, clean."""
    head = subprocess.check_output(["git", "-C", tree, "rev-parse", "HEAD"], text=True).strip()
    ok = os.path.isdir(wt) and subprocess.run(
        ["git", "-C", wt, "rev-parse", "HEAD"], capture_output=True).returncode == 0
    if not ok:
        shutil.rmtree(wt, ignore_errors=True)
        subprocess.run(["git", "-C", tree, "worktree", "prune"], check=True)
        subprocess.run(["git", "-C", tree, "worktree", "add", "-q", "--detach", wt, head], check=True)
    subprocess.run(["git", "-C", wt, "checkout", "-q", "-f", "--detach", head], check=True)
    subprocess.run(["git", "-C", wt, "clean", "-q", "-fdx", "-e", "/.kho-out*/"], check=True)


def misfit(tree, m):
    """Why mutant m cannot be applied to the tree (its text must occur
    exactly once in its file), or None."""
    path = os.path.join(tree, m["file"])
    n = open(path).read().count(m["old"]) if os.path.exists(path) else 0
    if n != 1:
        return "the text to change occurs %d times in %s" % (n, m["file"])
    return None


def apply(wt, m):
    why = misfit(wt, m)
    if why:
        return why
    path = os.path.join(wt, m["file"])
    src = open(path).read()
    with open(path, "w") as f:
        f.write(src.replace(m["old"], m["new"]))
    return None


def build(args, wt, log, frag=""):
    """Kernel and the two initramfs of the mutated tree, with
    configs/<frag>.fragment if frag is given; None or why not."""
    outdir = ".kho-out" + ("-" + frag if frag else "")
    kernel = os.path.join(wt, outdir, "arch/x86/boot/bzImage")
    extra = [os.path.join(TOP, "configs", frag + ".fragment")] if frag else []
    if sh(["env", "KHO_OUTDIR=" + outdir, os.path.join(TOP, "scripts/build-kernel.sh"), wt,
           os.path.join(TOP, "configs/kunit.fragment")] + extra, log):
        return None, "the kernel does not build (see %s)" % os.path.relpath(log)
    out = os.path.dirname(log)
    rd, st = os.path.join(out, "initrd.cpio.gz"), os.path.join(out, "initrd-st.cpio.gz")
    mk = os.path.join(TOP, "scripts/mkinitramfs.sh")
    if (sh([mk, rd, kernel], log) or
            sh([mk, st, kernel, "/selftests=" + args.selftests], log)):
        return None, "mkinitramfs failed (see %s)" % os.path.relpath(log)
    return (kernel, rd, st), None


def run_scenarios(args, files, regex, out, log, wt, frag=""):
    """(exit code, [failed check lines], output) of tests/run.py --only
    regex; wt, the mutated tree, is --tree (memblock-sim builds from it).
    A kernel built with a fragment of its own also runs the debug-*
    scenarios (such as debug-deferred-memfd, which wants deferred init)."""
    kernel, rd, st = files
    cmd = [sys.executable, os.path.join(TOP, "tests/run.py"), "--kernel", kernel, "--initrd", rd,
           "--selftest-initrd", st, "--base-kernel", args.base_kernel,
           "--base-initrd", args.base_initrd, "--upstream-kernel", args.upstream_kernel,
           "--tree", wt, "--scope", "full", "--debug-scope", "all",
           "--only", "^(%s)$" % regex, "--out", out]
    if frag:
        cmd += ["--debug-kernel", kernel, "--debug-initrd", st]
    with open(log, "a") as f:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.write(p.stdout)
    fails = [l for l in p.stdout.splitlines() if re.match(r"FAIL ", l)]
    # the most telling first: a named suite or check before the summary
    # lines (kunit.py's exit status, the report scan)
    fails.sort(key=lambda l: bool(re.search(r"kunit\.py parse reports success|no kernel report", l)))
    return p.returncode, fails, p.stdout


def check_name(line):
    """The name of the check on a FAIL line of tests/run.py (before the
    detail, which may differ from run to run)."""
    name = re.sub(r"^FAIL\s+", "", line)
    return ": ".join(name.split(": ")[:2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=os.path.join(TOP, "build", "linux"))
    ap.add_argument("--base-kernel", required=True)
    ap.add_argument("--base-initrd", required=True)
    ap.add_argument("--upstream-kernel", required=True)
    ap.add_argument("--selftests", required=True, help="built liveupdate selftests and luo-fill")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "mutants"))
    ap.add_argument("--only", help="regex of mutant ids")
    ap.add_argument("--no-control", action="store_true",
                    help="skip the control run (the same run already passed these scenarios)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    muts = [m for m in load() if not args.only or re.search(args.only, m["id"])]
    if args.list:
        for m in muts:
            print("%-28s %-10s %s  [kill: %s]" % (m["id"], m["part"], m["what"], m["kill"]))
        return 0
    if not muts:
        print("no mutant selected")
        return 1
    args.tree = os.path.abspath(args.tree)
    wt = os.path.join(os.path.dirname(args.tree), "linux-mutant")
    os.makedirs(args.out, exist_ok=True)
    t_all = time.time()
    rows, bad = [], 0

    worktree(args.tree, wt)
    control_fails = {}
    # one control run per kernel build the mutants ask for
    for frag in [] if args.no_control else sorted({m["build"] for m in muts}):
        regex = "|".join(sorted({m["kill"] for m in muts if m["build"] == frag}))
        tag = "control" + ("-" + frag if frag else "")
        d = os.path.join(args.out, tag)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        log = os.path.join(d, "mutant.log")
        files, why = build(args, wt, log, frag)
        rc, fails, _ = run_scenarios(args, files, regex, d, log, wt, frag) if files else (1, [why], "")
        print("%s (no mutant): %s" % (tag, "the scenarios pass" if rc == 0 else
                                      "FAILED: %s" % (fails[:1] or ["exit %d" % rc])[0]),
              flush=True)
        if rc:
            rows.append((tag, "-", "FAILED without a mutant: " + (fails[:1] or [""])[0][:90]))
            bad += 1
        # a check that fails without any mutant kills none (on that build)
        control_fails[frag] = {check_name(l) for l in fails}
    for m in muts:
        t0 = time.time()
        d = os.path.join(args.out, m["id"])
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        log = os.path.join(d, "mutant.log")
        worktree(args.tree, wt)
        why = apply(wt, m)
        files = None
        if not why:
            files, why = build(args, wt, log, m["build"])
        if why:
            verdict = "NOT RUN: " + why
            bad += 1
        else:
            rc, fails, out = run_scenarios(args, files, m["kill"], d, log, wt, m["build"])
            skips = [l for l in out.splitlines() if l.startswith("SKIP ")]
            real = [l for l in fails if check_name(l) not in control_fails.get(m["build"], set())
                    and not re.search(r": scenario raised", l)]
            if skips:
                # a scenario that did not run kills nothing, whatever else failed
                verdict = "NOT RUN: " + skips[0][:100]
                bad += 1
            elif rc and real:
                verdict = "killed by: " + re.sub(r"^FAIL\s+", "", real[0])[:110]
            elif rc:
                # a crash of the harness, a scenario that raised, or only
                # checks that fail without the mutant too: proves nothing
                verdict = "NOT RUN: exit %d without a failing check of its own (see %s)" % (
                    rc, os.path.relpath(log))
                bad += 1
            else:
                verdict = "SURVIVED"
                bad += 1
        rows.append((m["id"], m["part"], verdict))
        print("mutant %s (%s, %.0fs): %s" % (m["id"], m["part"], time.time() - t0, verdict),
              flush=True)
    worktree(args.tree, wt)
    print()
    print("| mutant | part | verdict |")
    print("|---|---|---|")
    for r in rows:
        print("| %s | %s | %s |" % r)
    killed = sum(1 for r in rows if r[2].startswith("killed"))
    print("\n%d mutants: %d killed, %d not (%.0f min)" % (len(muts), killed, len(muts) - killed,
                                                        (time.time() - t_all) / 60))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
