"""QEMU runner and console-log parser for the KHO VM scenarios.

A VM boots a bzImage with the guest initramfs (guest/init). Each generation
reports facts as "KHOT <gen> <key> <value...>" lines; kernel messages of a
generation are the console lines between its "Linux version" banner and the
next one. Nothing here decides pass/fail: the scenarios do.
"""
import hashlib
import os
import re
import subprocess
import threading
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Gen:
    """What one kernel generation printed."""

    def __init__(self, index):
        self.index = index
        self.dmesg = []
        self.facts = {}
        self.files = {}
        self.filestate = {}
        # the generation numbers its KHOT lines gave (guest/init's
        # khot.gen=): a successor booted with the wrong number, or a log
        # whose generations are out of step, shows up here
        self.khot_gens = set()

    def fact(self, key, default=None):
        v = self.facts.get(key)
        return v[-1] if v else default

    def facts_of(self, key):
        return self.facts.get(key, [])

    def meminfo(self, name):
        for v in self.facts_of("meminfo"):
            k, _, val = v.partition(" ")
            if k == name and val.strip():
                return int(val)
        return None

    def hugepages(self, size_kb):
        for v in self.facts_of("hugepages"):
            k, _, n = v.partition(" ")
            if k == "%dkB" % size_kb:
                return int(n)
        return None

    def node_hugepages(self, node, size_kb):
        for v in self.facts_of("nodehugepages"):
            parts = v.split()
            if parts[0] == str(node) and parts[1] == "%dkB" % size_kb:
                return int(parts[2])
        return None

    def grep(self, pattern):
        r = re.compile(pattern)
        return [l for l in self.dmesg if r.search(l)]


class Run:
    def __init__(self, log, rc, elapsed, timed_out):
        self.log = log
        self.rc = rc
        self.elapsed = elapsed
        self.timed_out = timed_out
        self.stamps = []
        self.gens = parse(log)

    def reached(self):
        """Generations whose init reported a start (booted to userspace)."""
        return [g for g in self.gens if g.fact("start") is not None]


STAMP = re.compile(r"\[\s*\d+\.\d+\] ")


def unsplice(log):
    """The console lines of @log, with init lines put back together.

    The kernel prints to the console while init writes its KHOT lines to
    it, so a kernel message can land in the middle of an init line:
    "KHOT 1 hugepages 10485[    2.11] clocksource: ...", the message's
    own newline, then "76kB 1" on the next line. Here the init line comes
    out whole, followed by the messages printed into it. The rest of an
    init line is the next line that is neither a kernel message nor
    another init line; a new kernel's banner ends the wait.
    """
    head, cut = None, []
    for raw in log.splitlines():
        line = ANSI.sub("", raw).rstrip("\r")
        if head is not None:
            if STAMP.match(line) and "Linux version" not in line:
                cut.append(line)
                continue
            if not STAMP.match(line) and "KHOT " not in line:
                line, head = head + line, None
            else:
                yield head
                head = None
            yield from cut
            cut = []
        k = line.find("KHOT ")
        s = STAMP.search(line, k) if k >= 0 else None
        if s:
            head, cut = line[:s.start()], [line[s.start():]]
            continue
        yield line
    if head is not None:
        yield head
        yield from cut


def parse(log):
    gens = []
    cur = None
    for line in unsplice(log):
        m = re.search(r"KHOT (\d+) (\S+)(?: (.*))?$", line)
        if m and m.start() > 0 and cur is not None and line[:m.start()].strip():
            # a kernel message the init line was printed into the middle
            # of: it stays in dmesg, where the report scan sees it
            cur.dmesg.append(line[:m.start()])
        if m:
            if cur is None:
                cur = Gen(len(gens) + 1)
                gens.append(cur)
            cur.khot_gens.add(int(m.group(1)))
            key, val = m.group(2), m.group(3) or ""
            if key == "file":
                name, _, rest = val.partition(" ")
                cur.files.setdefault(name, []).append(rest)
            elif key == "fileend":
                name, _, state = val.partition(" ")
                cur.filestate[name] = state
                cur.files.setdefault(name, [])
            else:
                cur.facts.setdefault(key, []).append(val)
            continue
        if "Linux version" in line:
            cur = Gen(len(gens) + 1)
            gens.append(cur)
        if cur is not None:
            cur.dmesg.append(line)
    return gens


# arm64: QEMU's virt machine under UEFI (Debian's qemu-efi-aarch64), which
# loads the kernel (an EFI application) QEMU hands it with -kernel. QEMU
# gives the firmware ACPI tables, so the firmware hands over no device tree
# and the kernel boots from ACPI, as arm64 servers do. KHO_ARM64_FW=uefi-dt:
# UEFI with a device tree (QEMU's acpi=off); KHO_ARM64_FW=dt: QEMU's direct
# kernel boot with a device tree, no firmware.
EFI_AARCH64 = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"

# x86: an early console on the first serial port. A successor that panics
# before its console is set up (out of scratch in setup_per_cpu_areas(),
# say) spins in panic() without a line, panic=-1 not parsed yet, and the
# run only sees a timeout; with the early console its log is on the serial
# port from the first message. The command line is handed on to every
# generation by guest/init. The benchmarks set it to "": the early
# console writes every early line synchronously, which the blackout would
# include.
EARLYCON_X86 = "earlycon=uart8250,io,0x3f8,115200"


def qemu_cmd(kernel, initrd, append, mem="1G", smp=2, numa=None, accel=None, arch="x86_64", fw=None,
             monitor=None):
    accel = accel or os.environ.get("KHO_ACCEL", "tcg")
    mon = "unix:%s,server,nowait" % monitor if monitor else "none"
    common = ["-smp", str(smp), "-m", mem, "-nographic", "-no-reboot", "-monitor", mon,
              "-serial", "stdio", "-display", "none", "-nodefaults",
              "-kernel", kernel, "-initrd", initrd]
    # retain_initrd: guest/init passes the initramfs it booted from to the
    # next kernel as it is (/sys/firmware/initrd), not packed again
    opts = "panic=-1 oops=panic loglevel=7 retain_initrd " + append
    if arch == "arm64":
        # pauth-impdef: TCG's architected pointer authentication is slow
        fw = fw or os.environ.get("KHO_ARM64_FW", "uefi")
        machine = "virt,acpi=off" if fw == "uefi-dt" else "virt"
        bios = ["-bios", EFI_AARCH64] if fw in ("uefi", "uefi-dt") else []
        cmd = (["qemu-system-aarch64", "-M", machine, "-accel", "tcg", "-cpu", "max,pauth-impdef=on"]
               + bios + common + ["-append", "console=ttyAMA0 " + opts])
    else:
        cmd = (["qemu-system-x86_64", "-accel", accel, "-cpu", "max" if accel == "tcg" else "host"]
               + common + ["-append", " ".join(w for w in ("console=ttyS0", EARLYCON_X86, opts) if w)])
    # KHO_QEMU_EXTRA: more QEMU arguments for every VM (for a manual
    # experiment, e.g. "-mem-prealloc"; no test sets it)
    cmd += os.environ.get("KHO_QEMU_EXTRA", "").split()
    if numa:
        # numa: list of memory sizes, one per node, e.g. ["3G", "3G"]; a
        # size of "0" is a node with a CPU and no memory. With a memoryless
        # node every node gets a CPU of its own (-smp raised to match),
        # each in a socket of its own: CPUs of one socket on two nodes make
        # the guest warn that a sibling is not on its node (a WARN_ONCE in
        # x86's topology code, seen since the test kernels print WARNs).
        cpus = any(size == "0" for size in numa)
        if cpus:
            n = max(smp, len(numa))
            cmd[cmd.index("-smp") + 1] = "%d,sockets=%d" % (n, n)
        for i, size in enumerate(numa):
            node = "node,nodeid=%d" % i + (",cpus=%d" % i if cpus else "")
            if size == "0":
                cmd += ["-numa", node]
            else:
                cmd += ["-object", "memory-backend-ram,id=m%d,size=%s" % (i, size),
                        "-numa", node + ",memdev=m%d" % i]
    return cmd


def monitor_cmd(path, line, wait=2.0):
    """Send one command to QEMU's human monitor on the unix socket path."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as so:
        so.settimeout(5)
        so.connect(path)
        time.sleep(0.3)
        so.sendall(line.encode() + b"\n")
        time.sleep(wait)


def printk_text(blob):
    """The message texts in a dump of the printk buffer: runs of printable
    characters, one per record (the binary record headers separate them)."""
    out = []
    for m in re.finditer(rb"[\x20-\x7e]{6,}", blob):
        out.append(m.group(0).decode())
    return out


def newc(name, data, mode=0o100644):
    """One entry of a "newc" cpio archive."""
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def with_images(initrd, images, outdir, label):
    """The initramfs @initrd with the files of @images, a list of
    (path in the archive, file on the host), appended as an uncompressed
    cpio archive: the kernel unpacks concatenated archives in order, and
    kernel images do not compress. The copy is made in @outdir, named by
    @label and by the paths, sizes and times of its inputs, so that a copy
    made from other files is never taken for it; returns its path."""
    inputs = [initrd] + [f for _, f in images]
    key = hashlib.sha1(repr([(os.path.abspath(p), os.stat(p).st_size, os.stat(p).st_mtime_ns)
                             for p in inputs]).encode()).hexdigest()[:10]
    out = os.path.join(outdir, "%s-%s.cpio.gz" % (label, key))
    if not os.path.exists(out):
        arc = b"".join(newc(path, open(f, "rb").read()) for path, f in images)
        arc += newc("TRAILER!!!", b"", 0)
        with open(out + ".tmp", "wb") as f:
            data = open(initrd, "rb").read()
            f.write(data + b"\0" * (-len(data) % 4))
            f.write(arc)
        os.replace(out + ".tmp", out)
    return out


def images_named(append):
    """The kernel images (names in the guest's /boot) a command line of
    guest/init kexecs into: khot.next=/boot/NAME and khot.chain=A,B,..."""
    names = set(re.findall(r"(?:^|\s)khot\.next=/boot/(\S+)", append))
    for chain in re.findall(r"(?:^|\s)khot\.chain=(\S+)", append):
        names.update(n for n in chain.split(",") if n)
    return sorted(names)


def run_vm(kernel, initrd, append, logpath, timeout=300, stamps=False, logbuf=None, end_after=None,
           **kw):
    """Boot QEMU and wait for it to end. stamps=True: read the console as
    it comes and keep the host's monotonic clock for each line (seconds
    since QEMU started), in Run.stamps as (seconds, line) and in
    logpath + ".t"; the log itself stays the same.

    end_after=(text, seconds), with stamps=True: a run that is still going
    that many seconds after the first console line containing text ends
    there, as at the timeout (timed_out set). For a run expected to hang
    at a known point (purgatory refusing an image): it need not wait for
    the whole timeout once the point is passed.

    logbuf: the virtual address of __log_buf in a kernel of the chain that
    may hang before its console is up (booted with nokaslr, so the address
    is the one in its System.map). At a timeout its printk buffer is read
    from guest memory through QEMU's monitor and appended to the log,
    after a line saying so, before QEMU is stopped."""
    mon = logpath + ".mon" if logbuf else None
    if mon and os.path.exists(mon):
        os.unlink(mon)
    cmd = qemu_cmd(kernel, initrd, append, monitor=mon, **kw)
    t0 = time.time()
    timed_out = False
    got = []
    with open(logpath, "w") as out:
        out.write("# " + " ".join(cmd) + "\n")
        out.flush()
        if not stamps:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        else:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
            m0 = time.monotonic()
            seen = []

            def read():
                for raw in iter(p.stdout.readline, b""):
                    t = time.monotonic() - m0
                    line = raw.decode(errors="replace")
                    out.write(line)
                    got.append((t, line.rstrip("\r\n")))
                    if end_after and not seen and end_after[0] in line:
                        seen.append(t)
            reader = threading.Thread(target=read, daemon=True)
            reader.start()
        try:
            if not (stamps and end_after):
                rc = p.wait(timeout=timeout)
            else:
                while True:
                    now = time.monotonic() - m0
                    left = timeout - now
                    if seen:
                        left = min(left, seen[0] + end_after[1] - now)
                    if left <= 0:
                        raise subprocess.TimeoutExpired(cmd, timeout)
                    try:
                        rc = p.wait(timeout=min(left, 1))
                        break
                    except subprocess.TimeoutExpired:
                        pass
        except subprocess.TimeoutExpired:
            dump = None
            if mon:
                dump = logpath + ".logbuf"
                try:
                    monitor_cmd(mon, 'memsave %#x %d "%s"' % (logbuf, 1 << 20, dump))
                except OSError as e:
                    dump = None
                    out.write("\n# could not read the printk buffer: %s\n" % e)
            p.kill()
            p.wait()
            rc, timed_out = -9, True
            if dump and os.path.exists(dump):
                out.write("\n# KHOVM printk buffer of the hung kernel, read from guest memory:\n")
                for line in printk_text(open(dump, "rb").read()):
                    out.write(line + "\n")
        finally:
            if mon and os.path.exists(mon):
                os.unlink(mon)
        if stamps:
            reader.join(timeout=10)
    with open(logpath, errors="replace") as f:
        log = f.read()
    if stamps:
        with open(logpath + ".t", "w") as f:
            for t, line in got:
                f.write("%.3f %s\n" % (t, line))
    r = Run(log, rc, time.time() - t0, timed_out)
    r.stamps = got
    return r


def read_stamps(path):
    """The (seconds, line) list run_vm(stamps=True) wrote to path."""
    out = []
    with open(path, errors="replace") as f:
        for l in f:
            t, _, line = l.rstrip("\n").partition(" ")
            out.append((float(t), line))
    return out
