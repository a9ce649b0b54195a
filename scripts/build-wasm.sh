#!/usr/bin/env bash
# Rebuilds src/engine/wasm/resample.wasm from resample.c. The .wasm is committed, so installing
# and running the project needs no compiler; this is only for changing the C source.
# Needs clang and wasm-ld (Debian: apt-get install clang lld).
set -euo pipefail
cd "$(dirname "$0")/../src/engine/wasm"
clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin \
  -Wl,--no-entry -Wl,--export=__heap_base -Wl,--strip-all \
  -o resample.wasm resample.c
echo "built $(pwd)/resample.wasm ($(stat -c %s resample.wasm) bytes)"
