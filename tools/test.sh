#!/bin/sh
# test.sh: the project's own tests. Installs what is missing, builds
# everything and runs every CTest test: unit tests of the harness, checkers,
# tooling and reference; the conformance suite on the bundled adapters; the
# proof that every clause's tests fail on a faulty variant; traceability; and
# the package consumer example (installed and through FetchContent). The
# conformance runs of the third-party adapters are tools/conformance.sh's.
#   tools/test.sh              into ./build (or $IPCC_BUILD_DIR)
#   tools/test.sh --sanitize   AddressSanitizer + UBSan build into ./build-asan
#                              (unit, bundled conformance and faulty tests, less
#                              the variants expected to time out)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/ensure-deps.sh"
if [ "${1:-}" = "--sanitize" ]; then
  build=${IPCC_BUILD_DIR:-$root/build-asan}
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIPCC_SANITIZE=ON \
    -DIPCC_BUILD_BENCH=OFF -DIPCC_INSTALL=OFF -DIPCC_BUILD_THIRD_PARTY_ADAPTERS=OFF
  labels="unit|bundled|faulty"
  # Sanitizers slow everything down; stretch every harness deadline alike.
  export IPCC_TIMEOUT_MULTIPLIER=${IPCC_TIMEOUT_MULTIPLIER:-4}
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  build=${IPCC_BUILD_DIR:-$root/build}
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPCC_INSTALL=ON
  labels=""
fi
cmake --build "$build" -j2
rm -rf "$build/ipcc-results" "$build/ipcc-results-faulty"
mkdir -p "$build/ipcc-results" "$build/ipcc-results-faulty"
if [ -n "$labels" ]; then
  # Variants whose manifest expects a TIMEOUT spend their time waiting out
  # deadlines that the multiplier stretches 4x (20 to 40 s each) and reach no
  # code the other variants do not; the normal build runs them.
  hangs=$(grep -l TIMEOUT "$root"/adapters/faulty/expectations/*.txt | xargs -n1 basename | sed 's/\.txt$//' | paste -sd'|' -)
  ctest --test-dir "$build" -j2 --output-on-failure --no-tests=error -L "$labels" \
    ${hangs:+-E "^faulty\.($hangs)\.caught\$"}
else
  # The third-party adapters' conformance runs (labels agent and library)
  # are the main job's, tools/conformance.sh: minutes of case deadlines
  # against libraries without end of stream. Their protocol and unit tests
  # run here.
  ctest --test-dir "$build" -j2 --output-on-failure --no-tests=error -LE '^(agent|library)$'
fi
