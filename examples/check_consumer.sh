#!/bin/sh
# check_consumer.sh installed|fetchcontent BUILD_DIR SOURCE_DIR WORK_DIR
# Builds examples/consumer against ipcc-conformance the way a user would and
# runs its conformance tests:
#   installed     cmake --install BUILD_DIR into WORK_DIR/prefix, then
#                 find_package(IpcConformance) from there;
#   fetchcontent  FetchContent of SOURCE_DIR (the add_subdirectory path).
set -eu
mode=$1 build=$2 source=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
generator=""
command -v ninja >/dev/null 2>&1 && generator="-G Ninja"
case $mode in
  installed)
    cmake --install "$build" --prefix "$work/prefix" >/dev/null
    # shellcheck disable=SC2086
    cmake -S "$source/examples/consumer" -B "$work/consumer" $generator -DCMAKE_PREFIX_PATH="$work/prefix" ;;
  fetchcontent)
    # shellcheck disable=SC2086
    cmake -S "$source/examples/consumer" -B "$work/consumer" $generator -DIPCC_SOURCE_DIR="$source" ;;
  *) echo "check_consumer.sh: unknown mode '$mode' (installed or fetchcontent)" >&2; exit 2 ;;
esac
cmake --build "$work/consumer" -j2
ctest --test-dir "$work/consumer" -j2 --output-on-failure
