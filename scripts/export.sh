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
resign= dir=
for a in "$@"; do
	case "$a" in
	--resign) resign=1;;
	-*) die "unknown option $a (usage: scripts/export.sh [--resign] [dir])";;
	*) [ -z "$dir" ] || die "one tree only (usage: scripts/export.sh [--resign] [dir])"; dir=$a;;
	esac
done
if [ -n "$resign" ]; then
	me_name=$(git -C "$TOP" config user.name) || die "--resign: set git config user.name"
	me_email=$(git -C "$TOP" config user.email) || die "--resign: set git config user.email"
fi
dir=${dir:-$BUILD/linux}
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
	[ "$(printf '%s' "$me_email" | tr A-Z a-z)" != "$(printf '%s' "$email" | tr A-Z a-z)" ] ||
		die "--resign: git config user.email is the project's address; set your own"
	python3 - "$name" "$email" "$me_name" "$me_email" "$tmp"/*.patch <<'PY'
import re
import sys
from email.utils import formataddr
old_name, old_email, name, email = sys.argv[1:5]
new_from = "From: " + formataddr((name, email), charset="utf-8")
old_sob = "Signed-off-by: %s <%s>" % (old_name, old_email)
new_sob = "Signed-off-by: %s <%s>" % (name, email)
for path in sys.argv[5:]:
    text = open(path, encoding="utf-8", errors="surrogateescape").read()
    head, sep, body = text.partition("\n\n")
    # The From: header, folded over lines or not, up to the next header;
    # only where it names the project: another author keeps the patch.
    m = re.search(r"^From: .*(\n[ \t].*)*", head, flags=re.M)
    if m and old_email.lower() in m.group(0).lower():
        head = head[:m.start()] + new_from + head[m.end():]
        if not name.isascii() and "\nContent-Type:" not in head:
            # The Signed-off-by line below is UTF-8: say so, as format-patch does.
            head += ("\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8"
                     "\nContent-Transfer-Encoding: 8bit")
    # Trailer lines only (a line of its own in the message), never diff text.
    msg, diff_sep, diff = body.partition("\n---\n")
    msg = "\n".join(new_sob if l == old_sob else l for l in msg.split("\n"))
    # The cover letter's shortlog heads each author's patches with the name.
    msg = re.sub(r"^%s (\(\d+\):)$" % re.escape(old_name),
                 lambda m: "%s %s" % (name, m.group(1)), msg, flags=re.M)
    open(path, "w", encoding="utf-8", errors="surrogateescape").write(
        head + sep + msg + diff_sep + diff)
PY
	# Nothing may still name the project as a person: checked before the
	# series is written anywhere.
	left=$(grep -l -i -F -e "$email" -e "$name" "$tmp"/*.patch || true)
	[ -z "$left" ] || { rm -rf "$tmp"; die "still naming the project ($name <$email>) in: $left"; }
	out=$BUILD/resigned
	rm -rf "$out"
	mkdir -p "$out"
	cp "$tmp"/*.patch "$out/"
	(cd "$out" && ls [0-9]*.patch | grep -v '^0000-' > series)
	rm -rf "$tmp"
	log "exported $n patches to ${out#"$TOP"/}, signed by $me_name <$me_email>; patches/ unchanged"
	exit 0
fi
rm -f "$TOP"/patches/*.patch
cp "$tmp"/*.patch "$TOP/patches/"
(cd "$TOP/patches" && ls [0-9]*.patch | grep -v '^0000-' > series)
rm -rf "$tmp"
log "exported $n patches to patches/ (series updated)"
