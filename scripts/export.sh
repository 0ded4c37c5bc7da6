#!/usr/bin/env bash
# Export the commits on top of kho-base in the tree back to patches/,
# with the cover letter text from docs/cover-letter.txt (first line: subject).
#
#   scripts/export.sh [dir]   (default dir: build/linux)
. "$(dirname "$0")/lib.sh"
dir=${1:-$BUILD/linux}
git -C "$dir" rev-parse -q --verify kho-base >/dev/null || die "$dir has no kho-base tag"
n=$(git -C "$dir" rev-list --count kho-base..HEAD)
[ "$n" -gt 0 ] || die "no commits on top of kho-base in $dir"
tmp=$(mktemp -d)
# The cover letter is from the series' author (that of its last commit).
IFS=$'\t' read -r name email < <(git -C "$dir" log -1 --format='%an%x09%ae' HEAD)
GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email \
git -C "$dir" format-patch -q --cover-letter --no-thread --no-signature \
	--base=kho-base -o "$tmp" kho-base..HEAD
cover=$TOP/docs/cover-letter.txt
python3 - "$tmp/0000-cover-letter.patch" "$cover" <<'PY'
import sys
path, cover = sys.argv[1], sys.argv[2]
text = open(path).read()
lines = open(cover).read().rstrip("\n").split("\n")
subject, body = lines[0], "\n".join(lines[1:]).strip("\n")
text = text.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", body)
open(path, "w").write(text)
PY
# Dates and the leading "From <sha>" line make every export a diff; keep them stable.
sed -i -e '1s/^From [0-9a-f]* /From 0000000000000000000000000000000000000000 /' \
	-e 's/^Date: .*/Date: Mon, 23 Nov 2026 00:00:00 +0000/' "$tmp"/*.patch
rm -f "$TOP"/patches/*.patch
cp "$tmp"/*.patch "$TOP/patches/"
(cd "$TOP/patches" && ls [0-9]*.patch | grep -v '^0000-' > series)
rm -rf "$tmp"
log "exported $n patches to patches/ (series updated)"
