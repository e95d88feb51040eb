#!/usr/bin/env bash
# The CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer: configures build-asan (no CUDA, viewer on),
# builds the test binaries and runs ctest, then prints the duration and the findings (sanitizer reports and failing
# tests). Record a run in bench/results/sanitizers.md.
#   scripts/sanitize.sh            every CPU test (core, cpu executor, sim, cli, viz)
#   scripts/sanitize.sh core sim   only these test binaries' labels/names (core_tests, sim_test, viz_*), for a
#                                  slow machine: the words are matched against the test binaries' names
#   scripts/sanitize.sh viz        the viewer set: viz_model_test, viz_views_test and, with ringlab-view under ASan
#                                  run headless by xvfb-run (Mesa's software GL), viz_screenshot_test and
#                                  viz_view_errors_test. Known tool artifacts (bench/results/sanitizers.md): every
#                                  ringlab-view process reports 240 bytes "leaked" from "<unknown module>" (Mesa's DRI
#                                  driver, unloaded by glX before LeakSanitizer looks; with it kept mapped there is no
#                                  report), and the ulimit -v test cannot start an ASan binary. Run it with JOBS=1:
#                                  the viewer tests share scratch file names.
# Environment: JOBS (default 2), B (build folder, default build-asan).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${B:-build-asan}
JOBS=${JOBS:-2}
ALL=(core_tests cpu_executor_tests sim_test cli_tests viz_model_test viz_views_test viz_screenshot_test
     viz_view_errors_test)
if [ $# -gt 0 ]; then
  TARGETS=()
  for want in "$@"; do for t in "${ALL[@]}"; do [[ $t == *"$want"* ]] && TARGETS+=("$t"); done; done
else
  TARGETS=("${ALL[@]}")
fi
[ ${#TARGETS[@]} -gt 0 ] || { echo "sanitize: no test binary matches: $*"; exit 2; }
start=$(date +%s)
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
mkdir -p "$B"
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGLAB_CUDA=OFF -DRINGLAB_VIEWER=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > "$B/configure.log" 2>&1 \
  || { echo "sanitize: configure failed (see $B/configure.log)"; exit 2; }
# ringlab and ringlab-view too where tests run them (cli_tests; the viewer's screenshot and error tests).
extra=()
[[ " ${TARGETS[*]} " == *" cli_tests "* ]] && extra+=(ringlab)
[[ " ${TARGETS[*]} " == *" viz_screenshot_test "* || " ${TARGETS[*]} " == *" viz_view_errors_test "* ]] && extra+=(ringlab-view)
cmake --build "$B" -j"$JOBS" --target "${TARGETS[@]}" "${extra[@]}" > "$B/build.log" 2>&1 \
  || { echo "sanitize: build failed (see $B/build.log)"; exit 2; }
built=$(date +%s)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The ulimit -v tests of cli_tests skip themselves under ASan (its shadow mapping cannot start under that limit).
# Tests of binaries not built here show up as <target>_NOT_BUILT: left out, as are GPU and CUDA labels and the
# robustness harness (scripts/robustness, run on the normal build).
(cd "$B" && ctest -LE 'gpu|cuda' -E 'NOT_BUILT|robustness_quick' --output-on-failure -j"$JOBS" --timeout 900) > "$B/ctest.log" 2>&1
rc=$?
end=$(date +%s)
reports=$(grep -cE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$B/ctest.log")
summary=$(grep -E 'tests passed|tests failed' "$B/ctest.log" | tail -1)
echo "sanitize: $(date -u +%F) commit $(git rev-parse --short HEAD), binaries: ${TARGETS[*]}"
echo "sanitize: build $((built - start)) s, tests $((end - built)) s; ctest: ${summary:-no summary} (exit $rc)"
echo "sanitize: sanitizer reports: $reports"
grep -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|\*\*\*Failed|Not Run' "$B/ctest.log" | sort | uniq -c | head -20
[ $rc -eq 0 ] && [ "$reports" -eq 0 ]
