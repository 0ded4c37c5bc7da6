#!/usr/bin/env bash
# Build the distribution-flavoured x86 kernel: Debian's amd64 config of the
# base, modules off, configs/distro.fragment on top (see there what is
# trimmed and why). Output in <tree>/.kho-out-distro: bzImage, kunit.ko and
# the series' KUnit modules in modules/, and config-changes.txt, every option whose value
# differs from Debian's after olddefconfig (the mm ones first).
#
#   scripts/build-distro.sh [tree]
. "$(dirname "$0")/lib.sh"
src=$(cd "${1:-$BUILD/linux}" && pwd)
out=$src/.kho-out-distro
frag=$TOP/configs/distro.fragment
need_pkgs build-essential flex bison bc libelf-dev libssl-dev ccache python3 cpio openssl
deb=$("$TOP/scripts/fetch-config.sh" amd64)
mkdir -p "$out"
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G} CCACHE_BASEDIR=$src \
	KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kho KBUILD_BUILD_HOST=kho
MK=(make -C "$src" O="$out" CC="ccache gcc" HOSTCC=gcc -j"$(nproc)" -s)

cfgsum=$(cat "$deb" "$frag" | sha256sum | cut -d' ' -f1)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.kho-cfgsum" 2>/dev/null)" != "$cfgsum" ]; then
	log "configuring $out (Debian $(cat "$deb.version") amd64, modules off, ${frag##*/})"
	sed 's/^\(CONFIG_[A-Za-z0-9_]*\)=m$/# \1 is not set/' "$deb" > "$out/.config"
	cat "$frag" >> "$out/.config"
	"${MK[@]}" olddefconfig >/dev/null
	check_fragments "$out/.config" "$frag" || { rm -f "$out/.config"; die "configs/distro.fragment not satisfied"; }
	# What differs from Debian's config, mm options (mm/Kconfig) first.
	mmopts=$(sed -n 's/^\(menu\)\{0,1\}config \([A-Za-z0-9_]*\).*/\2/p' "$src/mm/Kconfig" | sort -u)
	python3 - "$deb" "$out/.config" "$mmopts" > "$out/config-changes.txt" <<'PY'
import re, sys
def load(p):
    d = {}
    for l in open(p):
        m = re.match(r"^(CONFIG_\w+)=(.*)$", l) or re.match(r"^# (CONFIG_\w+) is not set", l)
        if m:
            d[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
mm = {"CONFIG_" + o for o in sys.argv[3].split()}
diff = [k for k in sorted(set(a) | set(b)) if a.get(k, "n") != b.get(k, "n")]
# Module options turned off, and options that exist only under them.
gone = [k for k in diff if k not in mm and (a.get(k) == "m" or k not in b)]
print("# options whose value differs from Debian's: option debian -> ours")
print("# mm/Kconfig options (all of them):")
for k in diff:
    if k in mm:
        print("mm %s %s -> %s" % (k, a.get(k, "(absent)"), b.get(k, "(absent)")))
print("# other options, without the %d that are Debian's modules, turned off,"
      " or options only those modules have:" % len(gone))
for k in diff:
    if k not in mm and k not in gone:
        print("%s %s -> %s" % (k, a.get(k, "(absent)"), b.get(k, "(absent)")))
PY
	echo "$cfgsum" > "$out/.kho-cfgsum"
fi
log "building the distro-flavoured kernel in $out"
start=$(date +%s)
( while sleep 60; do log "  ... still building ($(( $(date +%s) - start ))s)"; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
"${MK[@]}" bzImage modules >&2 || die "distro kernel build failed"
rm -rf "$out/modules"; mkdir -p "$out/modules"
cp "$out/lib/kunit/kunit.ko" "$out"/kernel/liveupdate/*.ko "$out/modules/"
log "built $out/arch/x86/boot/bzImage in $(( $(date +%s) - start ))s; modules: $(ls "$out/modules" | tr '\n' ' ')"
