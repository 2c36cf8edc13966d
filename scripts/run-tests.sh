#!/usr/bin/env bash
# Runs the compiled tests one file at a time: most of them create network
# namespaces, load BPF programs and start DPDK, which must not overlap.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" "$@"
