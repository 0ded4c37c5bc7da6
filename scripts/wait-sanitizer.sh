#!/usr/bin/env bash
# Wait for the sanitizer kernel that ./kho test builds in the background
# (scripts/build-sanitizer.sh): until its status file exists, its process
# has ended without one, or 3 hours have passed. Exit 0 when it was built;
# otherwise print why not and exit 1. Without a status file named, there
# is nothing to wait for (exit 0).
#
#   scripts/wait-sanitizer.sh [status file] [pid]
# (default: $KHO_DEBUG_READY and $KHO_DEBUG_PID, set by scripts/test-all.sh)
set -euo pipefail
rcf=${1:-${KHO_DEBUG_READY:-}} pid=${2:-${KHO_DEBUG_PID:-}}
[ -n "$rcf" ] || exit 0
running() { # a zombie, not yet waited for, has ended
	[ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
end=$(( $(date +%s) + 3 * 3600 ))
while [ ! -f "$rcf" ] && [ "$(date +%s)" -lt "$end" ]; do
	if [ -n "$pid" ] && ! running "$pid"; then
		sleep 1  # (it may have written the file as it ended)
		break
	fi
	sleep 5
done
[ -f "$rcf" ] || { echo "its build ended without a status, or took 3 hours"; exit 1; }
st=$(cat "$rcf")
[ "$st" = 0 ] || { echo "its build's exit status is $st (see build/debug-build.log)"; exit 1; }
