#!/bin/sh
# Builds the native exec helper (agent/runtime/docker/exec/native) into dist/native.
# Without a C compiler the agent still works: exec probes then go through Docker's
# exec (see execHandler in the README), so a missing compiler is a notice, not an error.
set -eu
cd "$(dirname "$0")/.."
src=agent/runtime/docker/exec/native/nsexec-helper.c
out=dist/native/nsexec-helper
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-native: no C compiler ($cc); exec probes will use Docker's exec" >&2
  exit 0
fi
mkdir -p dist/native
# Warnings fail the build in CI only: a newer compiler's new warnings must not keep
# an end user from building (CI sets CI=true).
werror=
case "${CI:-}" in ''|false|0) ;; *) werror=-Werror ;; esac
# Rebuild only when the source is newer: tests run the build before every run.
if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
  "$cc" -O2 -Wall -Wextra $werror -std=gnu11 -o "$out.tmp" "$src"
  mv "$out.tmp" "$out"
fi
