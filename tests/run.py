#!/usr/bin/env python3
"""Run the KHO VM scenarios (and the KUnit boot) against built kernels.

Every check is an assertion about what the guest kernel did, read from its
console (dmesg and the facts guest/init reports). Prints one line per check
and ends with "N passed, N failed" (", N skipped" when some were skipped).
Exit status is non-zero when any check failed.

Each check ends in one of five states:
  PASS   it held;
  FAIL   it did not;
  SKIP   it (or its whole scenario) could not run here; tests/expectations
         must list it ("<name> skip <why>"), or the run fails: a check
         that did not run proves nothing and is never counted as passed;
  XFAIL  it failed, as tests/expectations says it does for now
         ("<scenario> xfail <why>");
  XPASS  a scenario listed as xfail passed every check: a failure, so that
         the expectation is updated.
The summary counts each state; the exit status is non-zero on any FAIL,
XPASS or unlisted SKIP.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import khovm  # noqa: E402
import scenarios  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT_SCAN = "(helper boots included)"
OWN_CHECKS = "made checks of its own"


def load_expectations():
    exp = {}
    path = os.path.join(TOP, "tests", "expectations")
    if os.path.exists(path):
        for line in open(path):
            line = line.split("#", 1)[0].strip()
            if line:
                name, kind, *why = line.split(None, 2)
                exp[name] = (kind, why[0] if why else "")
    return exp


def expected_skip(exp, scenario, cname):
    """The reason tests/expectations gives for skipping cname (a check of
    scenario), or None."""
    for key in (cname, scenario):
        kind, why = exp.get(key, ("", ""))
        if kind == "skip":
            return why or "listed"
    return None


def verdicts(exp, name, checks, skip):
    """The states of scenario name's checks (or of its skip), as
    (state, check name, detail, what to list as failed or None) tuples."""
    if skip is not None:
        checks = [(name, None, skip)]
    kind = exp.get(name, ("", ""))[0]
    if not [c for c in checks if not c[0].endswith(REPORT_SCAN)]:
        # a scenario that made no check of its own proved nothing
        checks = checks + [("%s: %s" % (name, OWN_CHECKS), False, "none")]
    ran = [ok for _, ok, _ in checks if ok is not None]
    out = []
    for cname, ok, detail in checks:
        fail = None
        if ok is None:
            st = "SKIP"
            why = expected_skip(exp, name, cname)
            if why is None:
                fail = cname + " (SKIP not listed in tests/expectations)"
                detail += " [not an expected skip: a failure]"
            else:
                detail += " [expected: %s]" % why
        elif kind == "xfail" and not cname.endswith(REPORT_SCAN) and \
                not cname.endswith(": scenario raised") and not cname.endswith(OWN_CHECKS):
            # xfail covers the scenario's own checks, never a kernel
            # report, a broken scenario or one that checked nothing
            st = "XFAIL" if not ok else "PASS"
        else:
            st = "PASS" if ok else "FAIL"
            fail = None if ok else cname
        out.append((st, cname, detail, fail))
    if kind == "xfail" and ran and all(ran):
        out.append(("XPASS", name, "expected to fail (%s) but every check passed" % exp[name][1],
                    name + " (XPASS: remove it from tests/expectations)"))
    return out


def run_one(ctx, name, fn):
    """Run one scenario: (checks, None), or (None, why) when it skipped."""
    scenarios.boots_begin()
    try:
        checks, skip = fn(ctx), None
    except scenarios.Skip as e:
        checks, skip = None, str(e)
    except Exception as e:  # a broken scenario is a failed check, not a crash
        checks, skip = [("%s: scenario raised" % name, False, repr(e))], None
    boots = scenarios.boots_end()
    if boots:
        # a scenario that booted and then skipped still has its boots scanned
        checks = (checks or [(name, None, skip)]) + [scenarios.report_check(name, boots)]
        skip = None
    return checks, skip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True, help="bzImage of the series")
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--base-kernel", help="bzImage of the bare base (for base regressions)")
    ap.add_argument("--base-initrd")
    ap.add_argument("--tree", help="kernel tree with the series (kunit.py, static checks)")
    ap.add_argument("--base-tree", help="kernel tree of the bare base (static checks)")
    ap.add_argument("--upstream-kernel", help="bzImage of stock 7.3 (interop); appended "
                    "as /boot/v73 to the initrd of a chain that names it")
    ap.add_argument("--selftest-initrd", help="initrd of the series kernel with upstream's "
                    "liveupdate selftests in /selftests (scripts/build-selftests.sh)")
    ap.add_argument("--debug-kernel", help="bzImage of the sanitizer kernel "
                    "(configs/debug.fragment); the debug-* scenarios run on it")
    ap.add_argument("--debug-initrd", help="initrd for --debug-kernel (with selftests, "
                    "no other kernel image: base, v73 and ours are appended as needed)")
    ap.add_argument("--debug-ready", help="file the background build of --debug-kernel "
                    "writes its exit status to (scripts/test-all.sh); the debug-* "
                    "scenarios run last and wait for it")
    ap.add_argument("--debug-pid", type=int, help="the process of that build: if it "
                    "ends without writing the file, the debug-* scenarios fail at once")
    ap.add_argument("--distro-kernel", help="bzImage of the distribution-flavoured kernel "
                    "(scripts/build-distro.sh); the distro-* scenarios run on it")
    ap.add_argument("--distro-initrd", help="initrd for --distro-kernel (with luo-fill, "
                    "selftests and the KUnit modules)")
    ap.add_argument("--arm64-kernel", help="arm64 Image of the series (KHO_ARCH=arm64 "
                    "scripts/build-kernel.sh); the arm64-* scenarios run on it")
    ap.add_argument("--arm64-initrd", help="arm64 initrd for --arm64-kernel")
    ap.add_argument("--debug-scope", choices=["ci", "all"], default="ci",
                    help="which scenarios run again on --debug-kernel: the default "
                    "part (ci) or every one that can (all)")
    ap.add_argument("--scope", choices=["default", "full"], default="default",
                    help="full also runs scenarios.FULL_ONLY")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "results"))
    ap.add_argument("--only", help="regex of scenario names to run")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    exp = load_expectations()
    ctx = scenarios.Ctx(args)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0, "XFAIL": 0, "XPASS": 0}
    not_run = []
    failed = []
    t_all = time.time()
    selected = []
    for name, fn in scenarios.ALL:
        if args.only and not re.search(args.only, name):
            continue
        if (args.debug_scope == "ci" and name.startswith("debug-")
                and name[len("debug-"):] not in scenarios.DEBUG_CI):
            not_run.append(name)
            continue
        if args.scope != "full" and name in scenarios.FULL_ONLY:
            not_run.append(name)
            continue
        selected.append((name, fn))

    def report(name, result, elapsed, header=None):
        if header is not None:
            print("== %s%s" % (name, header), flush=True)
        for st, cname, detail, fail in verdicts(exp, name, *result):
            counts[st] += 1
            if fail:
                failed.append(fail)
            if st == "XPASS":
                print("XPASS %s: %s" % (cname, detail))
            else:
                print("%-5s %s%s" % (st, cname, (": " + detail) if detail and st != "PASS" else ""),
                      flush=True)
        print("   (%s: %.0fs)" % (name, elapsed), flush=True)

    # The build-only scenarios (scenarios.BACKGROUND) run in a thread of
    # their own at nice 19, while the VM scenarios run: a TCG guest keeps
    # about one of two cores busy, the builds take what it leaves. Their
    # reports come at the end, in their order.
    fg = [(n, f) for n, f in selected if n not in scenarios.BACKGROUND]
    # The sanitizer kernel may still be building (--debug-ready): its
    # scenarios go last, in their order.
    fg.sort(key=lambda nf: nf[0].startswith("debug-"))
    debug_built = []

    def wait_debug_kernel():
        """None once the sanitizer kernel is built, else why it is not."""
        if not args.debug_ready:
            return None
        if not debug_built:
            t_wait = time.time()
            print("(waiting for the sanitizer kernel's build: %s)" % args.debug_ready, flush=True)
            r = subprocess.run([os.path.join(TOP, "scripts", "wait-sanitizer.sh"), args.debug_ready,
                                str(args.debug_pid or "")], stdout=subprocess.PIPE, text=True)
            print("(sanitizer kernel build: %s, waited %.0fs)"
                  % ("built" if r.returncode == 0 else r.stdout.strip(), time.time() - t_wait),
                  flush=True)
            debug_built.append(None if r.returncode == 0 else r.stdout.strip())
        return debug_built[0]
    bg = sorted(((n, f) for n, f in selected if n in scenarios.BACKGROUND),
                key=lambda nf: scenarios.BACKGROUND.index(nf[0]))
    bg_done = []

    def background():
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for name, fn in bg:
            t0 = time.time()
            bg_done.append((name, run_one(ctx, name, fn), time.time() - t0))

    took = []
    worker = threading.Thread(target=background, daemon=True)
    if bg:
        print("background (nice 19, reported at the end): %s" % " ".join(n for n, _ in bg),
              flush=True)
        worker.start()
    for name, fn in fg:
        why = wait_debug_kernel() if name.startswith("debug-") else None
        t0 = time.time()
        print("== %s" % name, flush=True)
        if why:
            report(name, ([("%s: the sanitizer kernel is built" % name, False, why)], None), 0)
            continue
        report(name, run_one(ctx, name, fn), time.time() - t0)
        took.append((name, time.time() - t0))
    if bg:
        t_wait = time.time()
        worker.join()
        print("(background scenarios: waited %.0fs after the last VM scenario)"
              % (time.time() - t_wait), flush=True)
        for name, result, elapsed in bg_done:
            report(name, result, elapsed, header=" (ran in the background)")
        for name, _ in bg[len(bg_done):]:
            report(name, ([("%s: background run finished" % name, False, "it did not")], None),
                   0, header=" (ran in the background)")

    print()
    print("VM and KUnit checks done in %.0fs; %d expected failures (see tests/expectations)"
          % (time.time() - t_all, counts["XFAIL"]))
    # where the time went, in the last lines a CI log shows
    print("slowest in the foreground: " + ", ".join(
        "%s %.0fs" % nt for nt in sorted(took, key=lambda nt: -nt[1])[:12]))
    if bg_done:
        print("in the background: " + ", ".join("%s %.0fs" % (n, e) for n, _, e in bg_done))
    for f in failed:
        print("failed: " + f)
    if not_run:
        print("not run (only with ./kho test --full): " + " ".join(not_run))
    unlisted = sum(1 for f in failed if f.endswith("(SKIP not listed in tests/expectations)"))
    print("PASS %(PASS)d  FAIL %(FAIL)d  SKIP %(SKIP)d  XFAIL %(XFAIL)d  XPASS %(XPASS)d" % counts
          + "  (%d of the skips not listed in tests/expectations)" % unlisted)
    nfail = counts["FAIL"] + counts["XPASS"] + unlisted
    # the closing line: an unlisted skip counts among the failed, not
    # the skipped
    line = "%d passed, %d failed" % (counts["PASS"], nfail)
    if counts["SKIP"] - unlisted:
        line += ", %d skipped" % (counts["SKIP"] - unlisted)
    print(line)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
