#!/usr/bin/env bash
# Export the commits on top of kho-base in the tree back to patches/,
# with the cover letter text from docs/cover-letter.txt (first line: subject).
#
#   scripts/export.sh [dir]   (default dir: build/linux)
#   scripts/export.sh --resign [dir]
#
# --resign: for whoever sends the series. The committed series carries the
# project's identity, and a Signed-off-by is a person's certification (DCO):
# this writes the series to build/resigned/ instead of patches/, with From:
# and the project's Signed-off-by lines replaced by the sender's
# git config user.name and user.email. patches/ is left alone.
. "$(dirname "$0")/lib.sh"
resign=
if [ "${1:-}" = --resign ]; then
	resign=1
	shift
	me_name=$(git -C "$TOP" config user.name) || die "--resign: set git config user.name"
	me_email=$(git -C "$TOP" config user.email) || die "--resign: set git config user.email"
fi
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
if [ -n "$resign" ]; then
	python3 - "$name" "$email" "$me_name" "$me_email" "$tmp"/*.patch <<'PY'
import re
import sys
from email.header import Header
old_name, old_email, name, email = sys.argv[1:5]
try:
    name.encode("ascii")
    shown = name
except UnicodeEncodeError:
    shown = Header(name, "utf-8").encode()
for path in sys.argv[5:]:
    text = open(path, encoding="utf-8").read()
    head, sep, body = text.partition("\n\n")
    # The From: header, folded over lines or not, up to the next header.
    head = re.sub(r"^From: .*(\n[ \t].*)*", "From: %s <%s>" % (shown, email), head,
                  count=1, flags=re.M)
    if shown != name and "\nContent-Type:" not in head:
        # The Signed-off-by line below is UTF-8: say so, as format-patch does.
        head += ("\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8"
                 "\nContent-Transfer-Encoding: 8bit")
    body = body.replace("Signed-off-by: %s <%s>" % (old_name, old_email),
                        "Signed-off-by: %s <%s>" % (name, email))
    open(path, "w", encoding="utf-8").write(head + sep + body)
PY
	out=$BUILD/resigned
	rm -rf "$out"
	mkdir -p "$out"
	cp "$tmp"/*.patch "$out/"
	(cd "$out" && ls [0-9]*.patch | grep -v '^0000-' > series)
	rm -rf "$tmp"
	left=$(grep -l -F "$email" "$out"/*.patch || true)
	[ -z "$left" ] || die "still naming $email outside From: and Signed-off-by: in $left"
	log "exported $n patches to ${out#"$TOP"/}, signed by $me_name <$me_email>; patches/ unchanged"
	exit 0
fi
rm -f "$TOP"/patches/*.patch
cp "$tmp"/*.patch "$TOP/patches/"
(cd "$TOP/patches" && ls [0-9]*.patch | grep -v '^0000-' > series)
rm -rf "$tmp"
log "exported $n patches to patches/ (series updated)"
