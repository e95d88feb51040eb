#!/usr/bin/env bash
# A clone alone is complete and names no machine: checks every tracked file of the repository.
#   1. nothing refers to the shared folder that sits beside a developer's checkout (a user's clone has none);
#   2. no absolute path of a machine (/work/, /home/, /root/, /Users/, /mnt/, /scratch/) in any tracked text file;
#   3. bench/results holds current results only: at most 64 files and 5 MB (a newer run replaces its file);
#   4. no hand-written source file over 600 lines (generated wgmma op tables excepted).
# Exit 0 when all hold, 1 naming each offending file otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  echo "tracked_files_test: not a git checkout: cannot list tracked files" >&2
  exit 1
fi
self=tests/repo/tracked_files_test.sh
fail=0
report() { echo "FAIL: $1"; fail=1; }

beside='\.\./'"shar"'ed'  # spelled in pieces so that this file does not match itself
shared=$(git grep -lI -e "$beside" -- ":!$self")
[ -z "$shared" ] || report "refers to the folder beside the checkout: $(echo $shared)"

abs=$(git grep -lIE -e '(^|[^A-Za-z0-9_.~-])/(work|home|root|Users|mnt|scratch)/[A-Za-z0-9_.-]+' -- ":!$self")
[ -z "$abs" ] || report "absolute machine path in: $(echo $abs)"

n=$(git ls-files bench/results | wc -l)
bytes=$(git ls-files -z bench/results | xargs -0 cat 2>/dev/null | wc -c)
[ "$n" -le 64 ] || report "bench/results tracks $n files (limit 64)"
[ "$bytes" -le $((5 * 1024 * 1024)) ] || report "bench/results tracks $bytes bytes (limit 5 MB)"

big=$(git ls-files -- '*.cc' '*.h' '*.cu' '*.cuh' '*.py' '*.sh' | grep -v -e '_ops\.cuh$' | while read -r f; do
  [ -f "$f" ] && [ "$(wc -l < "$f")" -gt 600 ] && echo "$f"; done)
[ -z "$big" ] || report "hand-written files over 600 lines: $(echo $big)"

[ $fail -eq 0 ] && echo "tracked files: nothing outside the clone, no machine paths, bench/results $n files / $bytes bytes, no file over 600 lines"
exit $fail
