#!/usr/bin/env bash
# Every check of the Go binding, as CI runs them, from a fresh clone:
#   bindings/go/test.sh
# Builds the Rust library and its uninstalled pkg-config file (`make lib`: the binding
# finds the library through pkg-config, here target/pkgconfig/lnpaystore.pc, which links
# target/release/liblnpaystore.so with an rpath), then gofmt, go vet, the tests under
# the race detector, the tests again with a tiny GC target and cgo pointer checks
# (default and strict), and finally a separate Go module that imports the binding
# through a replace directive.
#
# -count=1 everywhere: Go's test cache does not know about the Rust library, so a
# rebuilt library must not be hidden behind cached results.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
start=$SECONDS
step() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - start)); }

step "make lib (the library and target/pkgconfig/lnpaystore.pc)"
make -C "$root" --no-print-directory lib
export PKG_CONFIG_PATH="$root/target/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

cd "$here"
step "gofmt"
unformatted="$(gofmt -l . "$root/tests/go-consumer")"
if [ -n "$unformatted" ]; then
    echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
go test -count=1 -race ./...

step "GOGC=1 GODEBUG=cgocheck=1 go test"
GOGC=1 GODEBUG=cgocheck=1 go test -count=1 ./...

step "GOEXPERIMENT=cgocheck2 go test (every pointer store checked)"
GOEXPERIMENT=cgocheck2 go test -count=1 ./...

step "outside consumer (tests/go-consumer)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root/tests/go-consumer" && go vet ./... && go build -o "$tmp/go-consumer" .)
"$tmp/go-consumer"

step "all Go checks passed"
