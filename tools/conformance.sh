#!/bin/sh
# conformance.sh: the main job. Installs what is missing, builds, runs the
# conformance suite against every bundled adapter (the reference; CPython's
# multiprocessing through the agent, under fork and spawn; Boost.Interprocess,
# POSIX and ZeroMQ) and prints the clause x adapter matrix. Writes under the
# build folder (default ./build, or $IPCC_BUILD_DIR):
#   report/conformance-matrix.md, report/conformance-matrix.json  the matrix
#   report/junit-conformance.xml                                   CTest's JUnit XML
#   junit/<adapter>/*.xml                                          GoogleTest's XML per test
# Exit status: 0 when every result is what the adapters' manifests expect.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IPCC_BUILD_DIR:-$root/build}
"$root/tools/ensure-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2 --target ipcc_conformance_adapters ipcc_report
rm -rf "$build/ipcc-results" "$build/junit"
mkdir -p "$build/ipcc-results" "$build/report"
status=0
ctest --test-dir "$build" -L '^(bundled|agent|library)$' -j2 --output-on-failure --no-tests=error \
  --output-junit "$build/report/junit-conformance.xml" || status=1
echo
echo "Conformance matrix (spec $(sed -n 's/.*Spec version[^0-9]*\([0-9.]*\).*/\1/p' "$root/spec/README.md" | head -n 1)):"
"$build/conformance/ipcc_report" matrix --spec "$root/spec" --results "$build/ipcc-results" \
  --out "$build/report" || status=1
exit $status
