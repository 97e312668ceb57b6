#!/usr/bin/env bash
# The lnd importer's checks, as CI runs them (make lndtest): builds the Rust library and
# its uninstalled pkg-config file (`make lib`: the Go binding finds the library through
# pkg-config, here target/pkgconfig/lnpaystore.pc), downloads lnd's modules through the Go module proxy (timed:
# the first run on a fresh module cache takes minutes), then gofmt, go vet and the
# tests, which build channel.db files with lnd's own code and import them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
start=$SECONDS
step() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - start)); }

step "make lib (the library and target/pkgconfig/lnpaystore.pc)"
make -C "$root" --no-print-directory lib
export PKG_CONFIG_PATH="$root/target/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

cd "$here"
step "go mod download (lnd and its dependencies)"
t=$SECONDS
go mod download
echo "modules ready in $((SECONDS - t)) s"

step "gofmt"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test"
go test -count=1 ./...

step "all lnd importer checks passed"
