#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format and the repository's .swift-format (the
# conventions of the Swift server projects, lines up to 150). With --check, changes nothing and exits 1
# when a file is not formatted or breaks a lint rule.
#
#   scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
paths=(Sources Tests Package.swift)
if [ "${1:-}" = "--check" ]; then
  before="$(mktemp -d)"
  trap 'rm -rf "$before"' EXIT
  cp -r "${paths[@]}" "$before/"
  (cd "$before" && swift format format -i -r --parallel --configuration "$OLDPWD/.swift-format" "${paths[@]}")
  status=0
  for p in "${paths[@]}"; do diff -ru "$p" "$before/$p" >/dev/null || { echo "not formatted: $p (run scripts/format.sh)"; diff -ru "$p" "$before/$p" | head -40; status=1; }; done
  swift format lint -r --parallel --strict "${paths[@]}" || status=1
  exit $status
fi
swift format format -i -r --parallel "${paths[@]}"
