#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan+UBSan) in build-fuzz and runs each for a time budget on its seed
# corpus, printing one line per target: executions, coverage, corpus size and whether it found anything.
#   scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]
# A finding leaves its reproducer as build-fuzz/findings/<target>/crash-* (rerun: build-fuzz/viz/fuzz/<target> FILE)
# and makes the script exit 1. New inputs the runs find go to build-fuzz/corpus/<target> (the committed seeds stay
# as they are; merge by hand with -merge=1 when worth keeping).
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(viz_loader_fuzz sim_profile_fuzz calibrate_samples_fuzz)
B=build-fuzz
JOBS=${JOBS:-2}

declare -A SEEDS=([viz_loader_fuzz]=viz/fuzz/corpus [sim_profile_fuzz]=viz/fuzz/corpus_profile
                  [calibrate_samples_fuzz]=viz/fuzz/corpus_samples)
declare -A MAXLEN=([viz_loader_fuzz]=8192 [sim_profile_fuzz]=16384 [calibrate_samples_fuzz]=16384)

mkdir -p "$B"
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DRINGLAB_FUZZ=ON -DRINGLAB_CUDA=OFF -DRINGLAB_VIEWER=ON > "$B/configure.log" 2>&1 \
  || { echo "fuzz: configure failed (see $B/configure.log)"; exit 2; }
cmake --build "$B" -j"$JOBS" --target "${TARGETS[@]}" > "$B/build.log" 2>&1 \
  || { echo "fuzz: build failed (see $B/build.log)"; exit 2; }

status=0
for t in "${TARGETS[@]}"; do
  corpus=$B/corpus/$t findings=$B/findings/$t log=$B/fuzz-$t.log
  mkdir -p "$corpus" "$findings"
  start=$(date +%s)
  "$B/viz/fuzz/$t" "$corpus" "${SEEDS[$t]}" -max_total_time="$SECONDS_EACH" -max_len="${MAXLEN[$t]}" -timeout=10 \
    -rss_limit_mb=4096 -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  files=$(ls "$corpus" | wc -l)
  found=$(ls "$findings" | wc -l)
  if [ $rc -eq 0 ] && [ "$found" -eq 0 ]; then verdict="no findings"
  else verdict="FINDING (exit $rc): $(grep -m1 -E 'ERROR|runtime error|deadly signal|timeout' "$log" | cut -c1-160)"; status=1; fi
  printf '%-24s %4ss  %9s execs  cov %5s  corpus %5s  %s\n' "$t" "$took" "${execs:-?}" "${cov:-?}" "$files" "$verdict"
done
exit $status
