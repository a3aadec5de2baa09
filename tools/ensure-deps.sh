#!/bin/sh
# ensure-deps.sh: installs the Debian 12 packages ipcc-conformance builds
# with, if any is missing. Needs root (or sudo) only when something is missing.
set -eu
# python3 runs the CPython agent; nlohmann-json3-dev speaks its protocol;
# libzmq3-dev and cppzmq-dev are the ZeroMQ adapter's library.
packages="g++ cmake ninja-build libgtest-dev libgmock-dev librapidcheck-dev libboost1.81-dev libbenchmark-dev
  python3 nlohmann-json3-dev libzmq3-dev cppzmq-dev"
missing=""
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  run=""
elif command -v sudo >/dev/null 2>&1; then
  run="sudo"
else
  echo "ensure-deps: missing Debian packages:$missing" >&2
  echo "ensure-deps: install them as root: apt-get install -y$missing" >&2
  exit 1
fi
echo "ensure-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -q
# shellcheck disable=SC2086
$run apt-get install -y -q --no-install-recommends $missing
