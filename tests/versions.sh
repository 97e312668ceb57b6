#!/usr/bin/env bash
# The versions are each written in one place and derived everywhere else:
#   - the package version in Cargo.toml: lps_version() (CARGO_PKG_VERSION), the Python
#     distribution (setup.py reads it), lnpaystore.pc and the installed file name (the
#     Makefile reads it);
#   - the C ABI version in src/ffi/library.rs: the header (generated), the SONAME
#     (build.rs), the Go binding's check (the header's constant).
# This checks the copies that cannot be derived, and fails on drift:
#   - CHANGELOG.md's newest release is the package version;
#   - Cargo.lock agrees with Cargo.toml;
#   - the Python binding's ABI_VERSION is the library's;
#   - no version is written in pyproject.toml or lnpaystore.pc.in.
# The built artifacts are checked too: install-check (pkg-config --modversion, SONAME)
# and wheel-check (the wheel's version, lnpaystore.__version__ == lps_version()).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "versions: $*" >&2; status=1; }
status=0
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
abi="$(sed -n 's/^pub const LPS_ABI_VERSION: u32 = \([0-9]*\);$/\1/p' src/ffi/library.rs)"
[ -n "$version" ] || fail "no version in Cargo.toml"
[ -n "$abi" ] || fail "no LPS_ABI_VERSION in src/ffi/library.rs"

changelog="$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1)"
[ "$changelog" = "$version" ] ||
    fail "CHANGELOG.md's newest release is [$changelog], Cargo.toml says $version"

locked="$(grep -A1 '^name = "lnpaystore"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')"
[ "$locked" = "$version" ] || fail "Cargo.lock has lnpaystore $locked, Cargo.toml $version"

py_abi="$(sed -n 's/^ABI_VERSION = \([0-9]*\)$/\1/p' bindings/python/src/lnpaystore/_ffi.py)"
[ "$py_abi" = "$abi" ] ||
    fail "bindings/python/src/lnpaystore/_ffi.py has ABI_VERSION $py_abi, src/ffi/library.rs $abi"

if grep -n '^version *=' bindings/python/pyproject.toml; then
    fail "bindings/python/pyproject.toml writes a version (it is dynamic: setup.py reads Cargo.toml)"
fi
grep -q '^Version: @VERSION@$' lnpaystore.pc.in || fail "lnpaystore.pc.in must take @VERSION@"

[ "$status" = 0 ] && echo "versions: package $version, C ABI $abi, consistent"
exit "$status"
