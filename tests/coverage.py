#!/usr/bin/env python3
"""Scratch coverage arithmetic for the VM scenarios (pure functions, no VM).

Compares how much memory a successor kernel adds to KHO scratch with what it
could add on the same layout: the target is the RAM less the busy granules
(2 MiB by default: those that hold preserved memory) less the scratch areas
handed over. Ranges are (start, size) in bytes; the arithmetic is on sorted,
merged half-open intervals, never per page.

The gained ranges of stock 7.3 come from the harness instrument
scripts/v73-instrument.patch ("KHO-73-EXT: 0x<start> 0x<size>" lines, the
raw ranges passed to memblock_mark_kho_scratch(): 1 GiB aligned, holes
included; coverage() keeps only what lies in the target).
"""
import re

_IOMEM = re.compile(r"^([0-9a-fA-F]+)-([0-9a-fA-F]+) : System RAM\s*$")
_EXT73 = re.compile(r"KHO-73-EXT: 0x([0-9a-fA-F]+) 0x([0-9a-fA-F]+)")
_EXT73_TOTAL = re.compile(r"KHO-73-EXT: total (\d+) MiB in (\d+) ranges")


def _intervals(ranges):
    """(start, size) list -> sorted, merged [start, end) list."""
    out = []
    for a, e in sorted((a, a + n) for a, n in ranges if n > 0):
        if out and a <= out[-1][1]:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([a, e])
    return [(a, e) for a, e in out]


def _subtract(xs, ys):
    """Merged intervals xs less merged intervals ys."""
    out, j = [], 0
    for a, e in xs:
        while j < len(ys) and ys[j][1] <= a:
            j += 1
        k = j
        while k < len(ys) and ys[k][0] < e:
            if ys[k][0] > a:
                out.append((a, ys[k][0]))
            a = max(a, ys[k][1])
            k += 1
        if a < e:
            out.append((a, e))
    return out


def _overlap(xs, ys):
    """Bytes in both of two merged interval lists."""
    total, i, j = 0, 0, 0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if lo < hi:
            total += hi - lo
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


def ram_ranges(iomem_lines):
    """Top-level "System RAM" ranges of /proc/iomem as sorted (start, size)."""
    out = []
    for line in iomem_lines:
        m = _IOMEM.match(line.rstrip("\r\n"))
        if m:
            a, e = int(m.group(1), 16), int(m.group(2), 16)
            out.append((a, e - a + 1))
    return sorted(out)


def busy_granules(ranges, shift=21):
    """Set of the granule indices (address >> shift) touched by the ranges."""
    out = set()
    for a, n in ranges:
        if n > 0:
            out.update(range(a >> shift, ((a + n - 1) >> shift) + 1))
    return out


def _granule_intervals(granules, shift):
    out = []
    for g in sorted(granules):
        a = g << shift
        if out and out[-1][1] == a:
            out[-1][1] = a + (1 << shift)
        else:
            out.append([a, a + (1 << shift)])
    return [(a, e) for a, e in out]


def coverage(ram, busy_ranges, scratch_ranges, gained_ranges, shift=21):
    """(gained_bytes, target_bytes): target is RAM less the granules touched
    by busy_ranges less scratch_ranges; gained is the part of gained_ranges
    (overlaps counted once) that lies in the target. All (start, size)."""
    busy = _granule_intervals(busy_granules(busy_ranges, shift), shift)
    target = _subtract(_subtract(_intervals(ram), busy), _intervals(scratch_ranges))
    return _overlap(_intervals(gained_ranges), target), sum(e - a for a, e in target)


def parse_73_ext(lines):
    """(start, size) of each range from the "KHO-73-EXT: 0x.. 0x.." lines
    (any prefix, e.g. a timestamp and "KHO: ", is allowed)."""
    out = []
    for line in lines:
        m = _EXT73.search(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16)))
    return out


def parse_73_ext_total(lines):
    """(MiB, ranges) from the "KHO-73-EXT: total" line, or None."""
    for line in lines:
        m = _EXT73_TOTAL.search(line)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


if __name__ == "__main__":
    MiB, GiB = 1 << 20, 1 << 30
    iomem = """\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000f0000-000fffff : System ROM
00100000-bfffffff : System RAM
  01000000-01ffffff : Kernel code
  50000000-5fffffff : System RAM
c0000000-feffffff : PCI Bus 0000:00
100000000-17fffffff : System RAM
""".splitlines()
    ram = ram_ranges(iomem)
    # 0x1000..0x9fbff, 1 MiB..3 GiB, 4..6 GiB; the indented line is nested
    assert ram == [(0x1000, 0x9ec00), (MiB, 3 * GiB - MiB), (4 * GiB, 2 * GiB)], ram

    busy = [(0x1000, 0x1000),                  # granule 0
            (100 * MiB + 0x1000, 0x2000),      # granule 50
            (5 * GiB - 0x1000, 0x2000)]        # granules 2559 and 2560
    assert busy_granules(busy) == {0, 50, 2559, 2560}
    assert busy_granules(busy, shift=30) == {0, 4, 5}
    scratch = [(2 * GiB, 256 * MiB), (4 * GiB, 64 * MiB), (3 * GiB, 0)]

    # By hand: RAM1 lies in busy granule 0 -> 0. RAM2 [1 MiB, 3 GiB) less
    # [1, 2) MiB, [100, 102) MiB, 256 MiB scratch = 3071 - 1 - 2 - 256 =
    # 2812 MiB. RAM3 [4, 6) GiB less [5 GiB - 2 MiB, 5 GiB + 2 MiB) and
    # 64 MiB scratch = 2048 - 4 - 64 = 1980 MiB. Target 4792 MiB.
    # 7.3 with busy 1 GiB blocks 0, 4, 5 marks [1 GiB, 4 GiB): in target
    # [1, 3) GiB less 256 MiB scratch = 1792 MiB; the hole [3, 4) GiB adds
    # nothing. A repeated piece adds nothing; [98, 106) MiB adds 6 MiB
    # (busy [100, 102) MiB left out): 1798 MiB.
    log = ["[    0.012345] KHO: KHO-73-EXT: 0x40000000 0xc0000000",
           "[    0.012346] KHO: KHO-73-EXT: total 3072 MiB in 1 ranges"]
    gained = parse_73_ext(log)
    assert gained == [(GiB, 3 * GiB)], gained
    assert parse_73_ext_total(log) == (3072, 1)
    assert parse_73_ext_total([]) is None
    g, t = coverage(ram, busy, scratch, gained)
    assert (g, t) == (1792 * MiB, 4792 * MiB), (g >> 20, t >> 20)
    g, t = coverage(ram, busy, scratch, gained + [(GiB + 512 * MiB, MiB), (98 * MiB, 8 * MiB)])
    assert (g, t) == (1798 * MiB, 4792 * MiB), (g >> 20, t >> 20)
    # nothing gained, nothing busy: target is RAM less scratch
    assert coverage(ram, [], scratch, []) == (0, 0x9ec00 + (3 * GiB - MiB) + 2 * GiB - 320 * MiB)
    # a 12 GiB machine with thousands of ranges stays fast (no per-page loop)
    big_ram = [(0, 12 * GiB)]
    many = [(i * 4 * MiB, 0x1000) for i in range(3072)]       # every other granule
    g, t = coverage(big_ram, many, [], [(0, 12 * GiB)])
    assert g == t == 6 * GiB, (g, t)
    print("coverage self-test: ok")
