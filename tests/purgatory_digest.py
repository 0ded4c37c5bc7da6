"""Purgatory's digest with KHO (patch 53). Generation 1 loads the next
kernel with kexec_file, then changes one bit of the loaded image (the test
knob "kexec-segment" of kho/out/corrupt: the last byte of the kernel
segment's zero fill, which the kernel does not need to boot) and kexecs.

 - digest-kept: the default (kho_skip_digest off) hashes every segment,
   so purgatory finds the changed bit and never starts the successor: no
   second kernel banner may appear. The load says nothing about leaving
   segments out.
 - digest-lockdown: kho_skip_digest=1, but the kernel is locked down
   (integrity) before the load: the load says it checks every segment
   because of the lockdown, and purgatory refuses the changed image. Its
   control: the same lockdown with the image unchanged boots on.
 - digest-skipped: with kho_skip_digest=1 (image not signature-verified,
   no lockdown, no IMA: nothing binds the segments to a verified image),
   the load says which segments it left out, and the successor boots
   although its image changed after the load: the skip happened, and
   only where the message says.
 - digest-signed, digest-ima (on the sanitizer kernel, which verifies
   kexec signatures and has IMA): a signed image, and IMA appraising
   kexec images, keep every segment although kho_skip_digest=1 asks
   otherwise, and purgatory refuses the changed image; the unsigned image
   on the same kernel leaves them out.
"""
import re

from scenarios import check, gen_checks

SKIPPED = re.compile(r"kho_skip_digest: (\d+) of (\d+) segments, in KHO scratch, left out")
CHANGED = re.compile(r"test: loaded kexec segment \d+ changed on purpose")


def digest_lines(g1):
    """The load's kho_skip_digest lines, as one string."""
    return " ".join(g1.grep(r"kho_skip_digest:")) if g1 else ""


def corrupted(c, name, g1):
    check(c, "%s: gen 1 changed a bit of the loaded image, then kexec'd" % name,
          g1 and g1.fact("corrupted") == "kexec-segment" and g1.grep(CHANGED)
          and g1.fact("kexec_exec") == "2",
          "corrupted=%s corrupt_failed=%s kexec_exec=%s" % (
              g1.fact("corrupted"), g1.fact("corrupt_failed"), g1.fact("kexec_exec"))
          if g1 else "no gen 1")


def refused(c, name, run):
    """Purgatory prints nothing when it refuses: the evidence is that the
    predecessor got as far as handing over to it, and no second kernel
    banner came in the WAIT seconds (host clock) from the kexec to the
    timeout (a successor that starts shows its banner within seconds, the
    sanitizer kernel's too). The run must be booted with stamps=True."""
    g1 = run.gens[0] if run.gens else None
    check(c, "%s: gen 1 went into the kexec (\"Starting new kernel\")" % name,
          g1 and g1.grep(r"kexec_core: Starting new kernel"), "")
    at = [t for t, l in run.stamps if KEXEC in l]
    waited = run.elapsed - at[0] if at else 0
    check(c, "%s: purgatory refused the changed image: no successor started in %d s" % (name, WAIT),
          len(run.gens) == 1 and run.timed_out and waited >= WAIT,
          "%d kernel banner(s)%s, %.0f s from the kexec to the end" % (
              len(run.gens), "" if run.timed_out else ", not timed out", waited))


# purgatory spins forever on a bad digest: such a run ends at the timeout
# or WAIT + 5 seconds after the kexec, whichever comes first
WAIT = 20
KEXEC = "kexec_core: Starting new kernel"


def refused_boot(ctx, name, append):
    """Boot a run that purgatory should stop: two generations asked for,
    the console stamped, ended WAIT + 5 seconds after the kexec or by the
    timeout (longer on the sanitizer kernel, whose first generation takes
    longer to reach the kexec), as a run that hangs."""
    return ctx.boot(name, append, gens=2, stamps=True, end_after=(KEXEC, WAIT + 5),
                    timeout=100 if getattr(ctx, "debug", False) else 50)


def digest_kept(ctx):
    c = []
    name = "digest-kept"
    run = refused_boot(ctx, name, "kho=on khot.segcorrupt=1")
    g1 = run.gens[0] if run.gens else None
    corrupted(c, name, g1)
    check(c, "%s: the load left no segment out of the digest" % name,
          g1 and not digest_lines(g1), digest_lines(g1))
    refused(c, name, run)
    return c


def digest_lockdown(ctx):
    c = []
    name = "digest-lockdown"
    run = refused_boot(ctx, name, "kho=on kho_skip_digest=1 khot.lockdown=1 khot.segcorrupt=1")
    g1 = run.gens[0] if run.gens else None
    check(c, "%s: gen 1 locked itself down before the load" % name,
          g1 and "[integrity]" in (g1.fact("lockdown") or ""),
          "lockdown=%s lockdown_failed=%s" % (g1.fact("lockdown"), g1.fact("lockdown_failed"))
          if g1 else "no gen 1")
    corrupted(c, name, g1)
    kept_because(c, name, g1, "the kernel is locked down")
    refused(c, name, run)
    # the control: the same lockdown, no change to the image, boots on
    run = ctx.boot(name + "-control", "kho=on kho_skip_digest=1 khot.lockdown=1", gens=2)
    reached = gen_checks(c, run, name + "-control", 2)
    g1 = reached[0] if reached else None
    check(c, "%s-control: locked down, unchanged image: the successor boots" % name,
          len(reached) == 2 and g1 and "[integrity]" in (g1.fact("lockdown") or ""),
          "lockdown=%s" % (g1.fact("lockdown") if g1 else None))
    return c


def digest_skipped(ctx):
    c = []
    name = "digest-skipped"
    run = ctx.boot(name, "kho=on kho_skip_digest=1 khot.segcorrupt=1", gens=2)
    reached = gen_checks(c, run, name, 2)
    g1 = run.gens[0] if run.gens else None
    corrupted(c, name, g1)
    m = SKIPPED.search(digest_lines(g1))
    check(c, "%s: the load says it left the segments in scratch out (at least one)" % name,
          m and 0 < int(m.group(1)) <= int(m.group(2)), m.group(0) if m else "no such line")
    check(c, "%s: nothing bound the image, so nothing was kept on purpose" % name,
          g1 and not g1.grep(r"kho_skip_digest: every segment is checked"), "")
    return c


def kept_because(c, name, g1, why):
    """The load kept every segment for the reason given, and left none out."""
    kept = g1.grep(r"kho_skip_digest: every segment is checked: " + why) if g1 else []
    check(c, "%s: the load kept every segment: %s" % (name, why),
          len(kept) == 1 and not g1.grep(SKIPPED), digest_lines(g1))


SIGNED = "/boot/bzImage.signed"


def loaded(g, image):
    """Generation g loaded image for its kexec: guest/init names the image
    (kexec_load) before the load, and says kexec_exec only after a load
    that worked."""
    return bool(g) and g.fact("kexec_load") == image and g.fact("kexec_exec") is not None


def digest_signed(ctx):
    """The sanitizer kernel (KEXEC_SIG, trusting the test key) loads its own
    image signed with that key: the signature binds the segments, so
    kho_skip_digest=1 keeps them all and purgatory refuses the image changed
    after the load. The control: the signed image unchanged boots, and the
    next generation, loading the same image unsigned with the same command
    line, leaves the segments in scratch out (the signature made the
    difference, not the kernel's options)."""
    c = []
    name = "digest-signed"
    run = refused_boot(ctx, name, "kho=on kho_skip_digest=1 khot.next=%s khot.segcorrupt=1"
                       % SIGNED)
    g1 = run.gens[0] if run.gens else None
    check(c, "%s: gen 1 loaded the signed image" % name, loaded(g1, SIGNED),
          "%s, %s" % (g1.fact("kexec_load"), g1.fact("kexec_exec") or g1.fact("kexec_failed"))
          if g1 else "no gen 1")
    corrupted(c, name, g1)
    kept_because(c, name, g1, "its signature was verified")
    refused(c, name, run)
    run = ctx.boot(name + "-control", "kho=on kho_skip_digest=1 khot.chain=bzImage.signed,bzImage",
                   gens=3)
    reached = gen_checks(c, run, name + "-control", 3)
    g1 = reached[0] if reached else None
    kept_because(c, name + "-control", g1, "its signature was verified")
    g2 = reached[1] if len(reached) > 1 else None
    m = SKIPPED.search(digest_lines(g2))
    check(c, "%s-control: gen 2 loaded the unsigned image and left the segments in scratch out"
          % name, g2 and g2.fact("kexec_load") == "/boot/bzImage" and m and int(m.group(1)) > 0,
          "%s: %s" % (g2.fact("kexec_load") if g2 else "no gen 2", digest_lines(g2)))
    return c


def digest_ima(ctx):
    """IMA appraises kexec images (a policy rule that requires a signature,
    in log mode so that the unsigned image still loads): kho_skip_digest=1
    keeps every segment, and purgatory refuses the image changed after the
    load. The control: the same policy, the image unchanged, boots."""
    c = []
    name = "digest-ima"
    ima = "kho=on kho_skip_digest=1 ima_appraise=log khot.ima=1"
    run = refused_boot(ctx, name, ima + " khot.segcorrupt=1")
    g1 = run.gens[0] if run.gens else None
    ima_policy(c, name, g1)
    corrupted(c, name, g1)
    kept_because(c, name, g1, "IMA appraises kexec images")
    refused(c, name, run)
    # the control: the same policy, the image unchanged, boots on
    run = ctx.boot(name + "-control", ima, gens=2)
    reached = gen_checks(c, run, name + "-control", 2)
    g1 = reached[0] if reached else None
    ima_policy(c, name + "-control", g1)
    kept_because(c, name + "-control", g1, "IMA appraises kexec images")
    return c


def ima_policy(c, name, g1):
    check(c, "%s: gen 1 set an IMA policy that appraises kexec images" % name,
          g1 and g1.fact("ima_policy") == "kexec-appraise-imasig",
          "ima_policy=%s ima_failed=%s" % (g1.fact("ima_policy"), g1.fact("ima_failed"))
          if g1 else "no gen 1")


SCENARIOS = [("digest-kept", digest_kept), ("digest-lockdown", digest_lockdown),
             ("digest-skipped", digest_skipped)]
# On the sanitizer kernel only: it is the test kernel with KEXEC_SIG, a
# trusted test key and IMA (configs/debug.fragment). See tests/scenarios.py.
DEBUG_SCENARIOS = [("digest-signed", digest_signed), ("digest-ima", digest_ima)]
