#!/usr/bin/env bash
# Builds every fuzz target and runs each one; exits non-zero on any crash.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]      CI: 20 s per target by default
#   FUZZ_RUNS=1000000 fuzz/run.sh         extended: a number of executions per target
#
# Environment:
#   FUZZ_TARGETS     targets to run (default: all four)
#   FUZZ_RUNS        run each target for this many executions instead of a time
#   FUZZ_SANITIZER   address (default) or none (about 5x faster for the ffi target;
#                    the decoders are safe Rust, so ASan adds little there)
#   FUZZ_ARGS        extra libFuzzer flags
#
# The targets are built with libfuzzer-sys and the sanitizer-coverage flags that
# cargo-fuzz passes, so no tool needs installing: stable Rust, a C++ compiler (for
# libFuzzer) and crates.io suffice. AddressSanitizer is a nightly flag: RUSTC_BOOTSTRAP=1
# enables it on a stable toolchain, exactly as `cargo fuzz` users do.
set -euo pipefail

seconds=${1:-20}
sanitizer=${FUZZ_SANITIZER:-address}
targets=${FUZZ_TARGETS:-payment_records tlv mc_result ffi}

cd "$(dirname "$0")"
triple=$(rustc -vV | sed -n 's/^host: //p')

rustflags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
rustflags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
rustflags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
rustflags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
rustflags+=" --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
case $sanitizer in
address)
    rustflags+=" -Zsanitizer=address"
    export RUSTC_BOOTSTRAP=1
    ;;
none) ;;
*)
    echo "FUZZ_SANITIZER must be address or none" >&2
    exit 2
    ;;
esac

# One target directory per flavour, so that switching never rebuilds the other; the
# explicit --target keeps build scripts and proc macros uninstrumented.
target_dir=target/$sanitizer
bins=()
for t in $targets; do bins+=(--bin "$t"); done
echo "== building ${targets} (sanitizer: $sanitizer)"
start=$SECONDS
RUSTFLAGS=$rustflags cargo build --release --target "$triple" --target-dir "$target_dir" "${bins[@]}"
echo "== built in $((SECONDS - start)) s"

mkdir -p "$target_dir/logs"
failed=()
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    args=(-artifact_prefix="artifacts/$t/" -print_final_stats=1 -timeout=30 -rss_limit_mb=4096)
    if [[ -n ${FUZZ_RUNS:-} ]]; then
        args+=(-runs="$FUZZ_RUNS")
    else
        args+=(-max_total_time="$seconds")
    fi
    # The ffi target keeps one store open across inputs: its caches grow, so libFuzzer's
    # per-input leak check would fire on every input (10x slower) without finding
    # anything. LeakSanitizer still checks at exit: an output the target forgot to free
    # is reported there.
    [[ $t == ffi ]] && args+=(-detect_leaks=0)
    log=$target_dir/logs/$t.log
    if [[ -n ${FUZZ_RUNS:-} ]]; then budget="$FUZZ_RUNS executions"; else budget="$seconds s"; fi
    echo "== fuzzing $t ($budget), log: fuzz/$log"
    # shellcheck disable=SC2086
    if "$target_dir/$triple/release/$t" "${args[@]}" ${FUZZ_ARGS:-} "corpus/$t" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        echo "   ok: ${execs:-?} executions, ${rate:-?} exec/s"
    else
        echo "   CRASH in $t (see fuzz/$log); the input is under fuzz/artifacts/$t/:"
        grep -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)|^SUMMARY|Test unit written" "$log" | head -8 || true
        ls -1 "artifacts/$t" | head -5
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    echo "reproduce: fuzz/$target_dir/$triple/release/<target> fuzz/artifacts/<target>/<file>" >&2
    exit 1
fi
echo "fuzz: no crash in ${targets}"
