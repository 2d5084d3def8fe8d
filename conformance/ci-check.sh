#!/bin/bash
# Run the conformance suite against nook and fail on any regression: a check
# that fails but is not listed in conformance/expected-failures/nook.txt.
# Usage: conformance/ci-check.sh [NOOK_BINARY]   (default target/debug/nook)
set -euo pipefail
cd "$(dirname "$0")/.."
nook=$(realpath "${1:-target/debug/nook}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The suite exits 1 when anything failed; the expected list decides here.
cargo run --quiet --release --manifest-path conformance/Cargo.toml -- --runtime "$nook" \
    > "$work/tap" 2>&1 || true
grep -E '^(ok|not ok) ' "$work/tap" | grep -v '^ok' || true
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/tap" | tail -n 1 || true)
if [ -z "$summary" ]; then
    echo "conformance: the suite did not finish:" >&2
    tail -n 30 "$work/tap" >&2
    exit 1
fi
grep '^not ok' "$work/tap" | sed -E 's/^not ok [0-9]+ - \[[^]]*\] ([^ ]+).*/\1/' | sort -u > "$work/failed"
grep -vE '^\s*(#|$)' conformance/expected-failures/nook.txt | awk '{print $1}' | sort -u > "$work/expected"
new=$(comm -23 "$work/failed" "$work/expected")
fixed=$(comm -13 "$work/failed" "$work/expected")
echo "conformance against nook: $summary"
if [ -n "$fixed" ]; then
    echo "conformance: now passing, remove from expected-failures/nook.txt:"
    echo "$fixed" | sed 's/^/  /'
fi
if [ -n "$new" ]; then
    echo "conformance: REGRESSIONS (failing, not expected):" >&2
    echo "$new" | sed 's/^/  /' >&2
    exit 1
fi
echo "conformance: no regressions"
