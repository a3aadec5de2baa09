#!/bin/sh
# expect_status.sh STATUS TEXT COMMAND [ARGS...]
# Runs COMMAND and passes only if it exits with STATUS and its output
# (stdout and stderr) contains TEXT.
expected_status=$1 text=$2
shift 2
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne "$expected_status" ]; then
  echo "expect_status: exit status $status, expected $expected_status" >&2
  exit 1
fi
case $output in
  *"$text"*) exit 0 ;;
esac
echo "expect_status: output lacks: $text" >&2
exit 1
