#!/usr/bin/env bash
# The README's test command: set up (idempotent), then build and run every test in release mode
# (the learning tests train real models on real data; debug builds are ~20× slower at that).
# Integration tests start their own local broker; librdkafka 2.16 goes first on the library path
# because Debian's 2.0.2 cannot talk to the test broker (shared/docs/kafka.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export LD_LIBRARY_PATH="$root/.tools/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TACIT_BROKER_BIN="$root/.tools/bin/tansu"
swift build -c release --build-tests -Xswiftc -enable-testing
swift test -c release --skip-build -Xswiftc -enable-testing "$@"
