#!/usr/bin/env bash
# What a Python user does, checked: `pip wheel ./bindings/python` builds a platform
# wheel that carries the stripped library; installed into a fresh virtual environment
# in a directory outside the repository, with no LNPAYSTORE_* variable set, a payment's
# life cycle runs and the `lnpaystore` tool reads the store.
#   tests/install/wheel.sh        (make wheel-check)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
step() { printf '\n== %s\n' "$*"; }
fail() { echo "wheel-check: $*" >&2; exit 1; }
while read -r name; do unset "$name"; done < <(env | sed -n 's/^\(LNPAYSTORE_[A-Z_]*\)=.*/\1/p')

step "pip wheel ./bindings/python"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$tmp/dist" \
    "$root/bindings/python"
wheel="$(echo "$tmp"/dist/lnpaystore-*.whl)"
[ -f "$wheel" ] || fail "no wheel in $tmp/dist"
ls -l "$wheel"
case "$(basename "$wheel")" in
*-py3-none-linux_*.whl | *-py3-none-macosx_*.whl) ;;
*) fail "not a py3-none-<platform> wheel: $(basename "$wheel")" ;;
esac
"$python" - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
shipped="$tmp/unpacked/lnpaystore/_lib/liblnpaystore.so"
[ -f "$shipped" ] || fail "the wheel carries no lnpaystore/_lib/liblnpaystore.so"
if readelf -S "$shipped" | grep -q '\.debug_'; then fail "the shipped library has debug info"; fi

step "fresh venv outside the repository; pip install the wheel"
mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"

step "a payment's life cycle"
"$tmp/venv/bin/python" - <<'PY'
import hashlib
from pathlib import Path

import lnpaystore
from lnpaystore import AttemptInfo, CreationInfo, Hop, PaymentStatus, Route, SettleInfo, Store

lib = Path(lnpaystore.library_path())
assert "site-packages" in lib.parts and lib.parent.name == "_lib", lib
assert lnpaystore.library_version() == lnpaystore.__version__, lnpaystore.__version__
preimage = hashlib.sha256(b"wheel-check").digest()
payment_hash = lnpaystore.payment_hash(preimage)
peer = b"\x02" * 33
route = Route(
    total_time_lock=850_000,
    total_amount_msat=21_010,
    source_pub_key=b"\x03" * 33,
    hops=[Hop(pub_key=peer, channel_id=1, outgoing_time_lock=850_000, amt_to_forward_msat=21_000)],
)
with Store.open("payments.db") as store:
    store.init_payment(payment_hash, CreationInfo(value_msat=21_000, payment_identifier=payment_hash))
    store.register_attempt(payment_hash, AttemptInfo(attempt_id=1, route=route, session_key=bytes(32)))
    payment = store.settle_attempt(payment_hash, 1, SettleInfo(preimage=preimage))
    assert payment.status is PaymentStatus.SUCCEEDED, payment.status
    assert [p.hash for p in store.iter_payments()] == [payment_hash]
print("life cycle:", payment.status.name, "library", lib)
PY

step "the lnpaystore tool"
"$tmp/venv/bin/lnpaystore" --db payments.db counts
"$tmp/venv/bin/lnpaystore" --db payments.db list

step "wheel-check passed: $(basename "$wheel")"
