#!/usr/bin/env bash
# What a user of the C library or the Go binding does, checked: `make install` into a
# temporary prefix, then, with nothing but what pkg-config gives, build and run
#   - the C demo (examples/demo.c),
#   - the outside Go module tests/go-consumer: linked to the shared library, with the
#     library linked statically, and fully static (the flags bindings/go/README.md gives),
# and check what each binary needs at run time; a staged install (DESTDIR) and
# `make uninstall`, which must leave nothing behind.
#   tests/install/run.sh          (make install-check; needs the built library: make lib)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
step() { printf '\n== %s\n' "$*"; }
fail() { echo "install-check: $*" >&2; exit 1; }

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
abi="$(sed -n 's/^#define LPS_ABI_VERSION \([0-9]*\)$/\1/p' "$root/include/lnpaystore.h")"

step "make install PREFIX=$prefix"
make -C "$root" --no-print-directory install PREFIX="$prefix" >/dev/null
lib="$prefix/lib"
[ "$(readlink "$lib/liblnpaystore.so")" = "liblnpaystore.so.$abi" ] || fail "dev link"
[ "$(readlink "$lib/liblnpaystore.so.$abi")" = "liblnpaystore.so.$abi.$version" ] || fail "SONAME link"
readelf -d "$lib/liblnpaystore.so.$abi.$version" | grep -q "Library soname: \[liblnpaystore.so.$abi\]" ||
    fail "the shared library's SONAME is not liblnpaystore.so.$abi"
if readelf -S "$lib/liblnpaystore.so.$abi.$version" "$lib/liblnpaystore.a" | grep -q '\.debug_'; then
    fail "installed libraries carry debug info"
fi
ls -l "$lib" "$prefix/include"

# Only the installed prefix: not the repository's uninstalled target/pkgconfig.
export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion lnpaystore)" = "$version" ] || fail "pkg-config --modversion"
cflags="$(pkg-config --cflags lnpaystore)"
libs="$(pkg-config --libs lnpaystore)"
echo "pkg-config --cflags --libs lnpaystore: $cflags $libs"

step "C: examples/demo.c with pkg-config's flags only"
# shellcheck disable=SC2086 # word splitting of the flags is intended
cc -std=c99 -Wall -Wextra -Werror -pedantic $cflags -o "$tmp/demo" "$root/examples/demo.c" $libs
# ldd's output is read whole first: `ldd | grep -q` under pipefail fails when grep stops
# reading before ldd is done writing (SIGPIPE).
needs="$(LD_LIBRARY_PATH="$lib" ldd "$tmp/demo")"
grep -q "liblnpaystore.so.$abi => $lib/" <<<"$needs" ||
    fail "the demo does not load liblnpaystore.so.$abi from the prefix"
LD_LIBRARY_PATH="$lib" "$tmp/demo" "$tmp/demo.db" | tail -n 3

step "C: the static archive, as docs/install.md writes it"
# shellcheck disable=SC2086
cc -std=c99 $cflags -o "$tmp/demo-static" "$root/examples/demo.c" \
    "$(pkg-config --variable=libdir lnpaystore)/liblnpaystore.a" -lutil -lrt -lpthread -lm -ldl
needs="$(ldd "$tmp/demo-static")"
! grep -q lnpaystore <<<"$needs" || fail "demo-static needs liblnpaystore.so"
"$tmp/demo-static" "$tmp/demo-static.db" >/dev/null

step "Go: tests/go-consumer against the installed library"
# A build cache of its own: Go's cache does not notice when pkg-config's answer changes,
# so the binding compiled against the repository's target/ (make gotest) would be
# reused here, rpath and all, and nothing below would test the installed prefix.
export GOCACHE="$tmp/gocache"
cd "$root/tests/go-consumer"
go build -o "$tmp/go-shared" .
LD_LIBRARY_PATH="$lib" "$tmp/go-shared"

step "Go: the library linked statically (libc and libgcc_s stay shared)"
CGO_LDFLAGS="-Wl,-Bstatic -llnpaystore -Wl,-Bdynamic -Wl,--as-needed" go build -o "$tmp/go-static-lib" .
needs="$(ldd "$tmp/go-static-lib")"
echo "$needs"
! grep -q lnpaystore <<<"$needs" || fail "go-static-lib still needs liblnpaystore.so"
"$tmp/go-static-lib" >/dev/null

step "Go: fully static"
# glibc warns that getpwuid_r and getaddrinfo (in Rust's std, never called by the
# library) need its shared libraries at run time; that is the only output allowed.
go build -o "$tmp/go-static" -ldflags '-linkmode external -extldflags -static' . 2>"$tmp/static.log" ||
    { cat "$tmp/static.log"; fail "fully static build"; }
if grep -v "statically linked applications requires at runtime\|^/usr/bin/ld: .*in function\|^# " "$tmp/static.log"; then
    fail "unexpected linker output"
fi
needs="$(ldd "$tmp/go-static" 2>&1 || true)" # ldd fails on a static executable
grep -q "not a dynamic executable" <<<"$needs" || fail "go-static is dynamic: $needs"
"$tmp/go-static" >/dev/null

step "Go: without the library, the build says so"
# A CGO_CFLAGS of its own, so that Go's build cache (which would reuse the builds above
# without asking pkg-config again) does not hide what a user without the library sees.
if PKG_CONFIG_PATH="$tmp/none" CGO_CFLAGS="-O2 -g -DLPS_UNCACHED=$$" \
    go build -o "$tmp/go-none" . 2>"$tmp/none.log"; then
    fail "the build succeeded without lnpaystore.pc"
fi
grep "lnpaystore was not found" "$tmp/none.log" || { cat "$tmp/none.log"; fail "unclear error"; }
cd "$root"

step "staged install: make install PREFIX=/usr DESTDIR=$tmp/stage"
make -C "$root" --no-print-directory install PREFIX=/usr DESTDIR="$tmp/stage" >/dev/null
grep -qx "prefix=/usr" "$tmp/stage/usr/lib/pkgconfig/lnpaystore.pc" || fail "staged .pc prefix"
[ -f "$tmp/stage/usr/include/lnpaystore.h" ] || fail "staged header"

step "make uninstall"
make -C "$root" --no-print-directory uninstall PREFIX="$prefix" >/dev/null
make -C "$root" --no-print-directory uninstall PREFIX=/usr DESTDIR="$tmp/stage" >/dev/null
left="$(find "$prefix" "$tmp/stage" -type f -o -type l)"
[ -z "$left" ] || fail "make uninstall left: $left"

step "install-check passed"
