#!/usr/bin/env python3
"""Print those of the given objects that a kernel config builds.

    scripts/kbuild-built.py <srctree> <.config> <dir/file.o>...

Reads each object's directory Makefile the way Kbuild would for the
common forms: obj-y, obj-$(CONFIG_X), obj-$(subst m,y,$(CONFIG_X)),
composite objects (foo-y += file.o with foo.o built), inside ifdef
CONFIG_X / ifeq ($(CONFIG_X),y) blocks. A single-object make (make
dir/file.o) compiles a file whatever the config says, so the matrix asks
this first. A form it does not know counts as built (the compile then
says what is wrong).
"""
import os
import re
import sys


def config(path):
    c = {}
    for line in open(path):
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            c[m.group(1)] = m.group(2)
    return c


def value(expr, cfg):
    """Value of a Kbuild suffix: y, m, $(CONFIG_X), $(subst m,y,$(CONFIG_X))."""
    m = re.fullmatch(r"\$\(subst m,y,\$\((CONFIG_\w+)\)\)", expr)
    if m:
        return "y" if cfg.get(m.group(1)) in ("y", "m") else ""
    m = re.fullmatch(r"\$\((CONFIG_\w+)\)", expr)
    if m:
        return cfg.get(m.group(1), "")
    return expr


def assignments(makefile, cfg):
    """(name, suffix value, objects) of every += / := line whose ifdef and
    ifeq conditions hold."""
    text = re.sub(r"\\\n", " ", open(makefile).read())
    out, stack = [], []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"ifdef\s+(CONFIG_\w+)$", line)
        if m:
            stack.append(cfg.get(m.group(1)) in ("y", "m"))
            continue
        m = re.match(r"ifndef\s+(CONFIG_\w+)$", line)
        if m:
            stack.append(cfg.get(m.group(1)) not in ("y", "m"))
            continue
        m = re.match(r"if(n?)eq\s*\(\$\((CONFIG_\w+)\),\s*(\w*)\)$", line)
        if m:
            same = cfg.get(m.group(2), "") == m.group(3)
            stack.append(same != bool(m.group(1)))
            continue
        if re.match(r"if(n?eq|n?def)\b", line):
            stack.append(True)
            continue
        if line == "else" and stack:
            stack[-1] = not stack[-1]
            continue
        if line == "endif" and stack:
            stack.pop()
            continue
        if not all(stack):
            continue
        m = re.match(r"([\w.-]+?)-(\$\(.*?\)\)?|y|m|objs)\s*[+:]?=\s*(.*)$", line)
        if m:
            out.append((m.group(1), value(m.group(2), cfg), m.group(3).split()))
    return out


def built(srctree, cfg, obj, depth=0):
    d, base = os.path.split(obj)
    mk = os.path.join(srctree, d, "Makefile")
    if not os.path.exists(mk) or depth > 3:
        return True
    found = False
    for name, val, objs in assignments(mk, cfg):
        if base not in objs:
            continue
        found = True
        if name == "obj" and val in ("y", "m"):
            return True
        if name not in ("obj", "lib", "always") and val in ("y", "m", "objs"):
            if built(srctree, cfg, os.path.join(d, name + ".o"), depth + 1):
                return True
        if name == "lib" and val == "y":
            return True
    return not found and depth > 0


if __name__ == "__main__":
    src, cfgpath = sys.argv[1], sys.argv[2]
    cfg = config(cfgpath)
    for o in sys.argv[3:]:
        if built(src, cfg, o):
            print(o)
