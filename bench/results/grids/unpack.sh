#!/usr/bin/env bash
# Unpacks the committed measurement archives beside this script into DEST (default: out/grids under the repository
# root), one folder per archive, as they were measured. Idempotent: an archive already unpacked is skipped.
#   bench/results/grids/unpack.sh [DEST]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
dest=${1:-$root/out/grids}
mkdir -p "$dest"
for archive in "$here"/*.tar.xz; do
  name=$(basename "$archive" .tar.xz)
  stamp="$dest/.$name.unpacked"
  [ -f "$stamp" ] && [ "$stamp" -nt "$archive" ] && continue
  tmp=$(mktemp -d "$dest/.unpack.XXXXXX")
  tar -xJf "$archive" -C "$tmp"
  for d in "$tmp"/*; do rm -rf "$dest/$(basename "$d")"; mv "$d" "$dest/"; done
  rmdir "$tmp"
  touch "$stamp"
done
echo "$dest"
