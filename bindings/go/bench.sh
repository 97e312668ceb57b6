#!/usr/bin/env bash
# Life-cycle throughput from Go next to the Rust benchmark's, measured in one run
# (docs/performance.md: compare ratios measured side by side, not absolute figures).
#   bindings/go/bench.sh [payments]       (default 20000, as the Rust benchmark)
# Both drive 64 threads/goroutines of full single-shard payments (init → register a
# 3-hop attempt → settle) with durable commits and default options.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
payments="${1:-20000}"

(cd "$root" && cargo build --release --example bench)
make -C "$root" --no-print-directory lib
export PKG_CONFIG_PATH="$root/target/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

cd "$here"
go_line="$(go test -count=1 -run '^$' -bench '^BenchmarkLifecycle$' -benchtime "${payments}x" . | grep '^BenchmarkLifecycle')"
go_rate="$(awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "payments/s") print $i}' <<<"$go_line")"
rust_json="$("$root/target/release/examples/bench" lifecycle --payments "$payments" --json)"
rust_rate="$(sed -n 's/.*"batched_payments_per_s":\([0-9.]*\).*/\1/p' <<<"$rust_json")"

printf 'lifecycle, 64 threads, durable, %s payments\n' "$payments"
printf '  %-28s %10.0f payments/s\n' "Go binding (cgo, C ABI)" "$go_rate" "Rust (examples/bench, C ABI)" "$rust_rate"
awk -v g="$go_rate" -v r="$rust_rate" 'BEGIN { printf "  Go / Rust: %.2f\n", g / r }'
