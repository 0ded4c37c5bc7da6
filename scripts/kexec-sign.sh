#!/usr/bin/env bash
# A test key for kexec signature verification, and images signed with it.
# The sanitizer kernel (configs/debug.fragment) trusts the key's
# certificate (CONFIG_SYSTEM_TRUSTED_KEYS, a file in its build directory),
# so that tests/purgatory_digest.py can kexec an image whose signature it
# verified. The key is made once per machine, in the cache; it signs
# nothing but test images.
#
#   scripts/kexec-sign.sh cert <file>       write the certificate to <file>
#   scripts/kexec-sign.sh sign <in> <out>   <in> signed (Authenticode, sbsign)
. "$(dirname "$0")/lib.sh"
key=$CACHE/kexec-test-key.pem
make_key() {
	[ -s "$key" ] && return 0
	need_pkgs openssl
	mkdir -p "$CACHE"
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 -sha256 \
		-subj "/CN=KHO series test kexec signing key/" \
		-addext "keyUsage=digitalSignature" -addext "extendedKeyUsage=codeSigning" \
		-keyout "$key.tmp" -out "$key.tmp.crt" 2>/dev/null || die "openssl could not make the test key"
	cat "$key.tmp" "$key.tmp.crt" > "$key.new" && rm -f "$key.tmp" "$key.tmp.crt" && mv "$key.new" "$key"
}
case "${1:-}" in
cert)
	make_key
	out=${2:?file}
	mkdir -p "$(dirname "$out")"
	openssl x509 -in "$key" -out "$out.new" && { cmp -s "$out.new" "$out" 2>/dev/null && rm -f "$out.new" || mv "$out.new" "$out"; };;
sign)
	make_key
	need_pkgs sbsigntool
	sbsign --key "$key" --cert "$key" --output "${3:?out}" "${2:?in}" 2>/dev/null ||
		die "sbsign could not sign $2";;
*)
	die "usage: kexec-sign.sh cert <file> | sign <in> <out>";;
esac
