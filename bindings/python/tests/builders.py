"""Builders shared by the tests: stores in tmp_path (no_sync), payments
with real preimages, routes shaped like the demo's (3 hops, 1 sat fee per forwarding
hop)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lnpaystore import (
    AttemptInfo,
    CreationInfo,
    FailInfo,
    Hash,
    Hop,
    HtlcFailReason,
    McFailure,
    McHop,
    McResult,
    McRoute,
    Mpp,
    Route,
    SettleInfo,
    Store,
)

REPO = Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "lnpaystore.h"


@dataclass(frozen=True)
class Secret:
    """A preimage and the payment hash it proves."""

    preimage: Hash
    hash: Hash


def new_secret() -> Secret:
    preimage = os.urandom(32)
    return Secret(Hash(preimage), Hash(hashlib.sha256(preimage).digest()))


def hop(i: int, amt: int, *, mpp: Mpp | None = None, **extra: object) -> Hop:
    return Hop(
        pub_key=bytes([2 + i]) * 33,
        channel_id=800_000 << 40 | i,
        outgoing_time_lock=850_000 - 40 * i,
        amt_to_forward_msat=amt,
        mpp=mpp,
        **extra,  # type: ignore[arg-type]
    )


def route(amt: int, *, mpp: Mpp | None = None, **last_hop: object) -> Route:
    """Three hops delivering ``amt`` to the receiver; 2,000 msat of fees."""
    return Route(
        total_time_lock=850_100,
        total_amount_msat=amt + 2000,
        source_pub_key=b"\x03" * 33,
        hops=(hop(0, amt + 1000), hop(1, amt), hop(2, amt, mpp=mpp, **last_hop)),
    )


def attempt(attempt_id: int, amt: int, *, mpp: Mpp | None = None, **kw: object) -> AttemptInfo:
    return AttemptInfo(
        attempt_id=attempt_id,
        route=route(amt, mpp=mpp),
        session_key=bytes([attempt_id % 256]) * 32,
        attempt_time=now(),
        **kw,  # type: ignore[arg-type]
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


def settle(secret: Secret) -> SettleInfo:
    return SettleInfo(preimage=secret.preimage, settle_time=now())


def failure(reason: HtlcFailReason = HtlcFailReason.MESSAGE) -> FailInfo:
    return FailInfo(reason=reason, fail_time=now(), message=b"\x10\x07", failure_source_index=1)


def creation(value: int, secret: Secret | None = None, **kw: object) -> CreationInfo:
    return CreationInfo(
        value_msat=value,
        payment_identifier=secret.hash if secret else bytes(32),
        creation_time=kw.pop("creation_time", now()),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def open_store(path: Path) -> Store:
    return Store.open(path, no_sync=True)


def pay(store: Store, value: int = 100_000, *, created: datetime | None = None) -> Secret:
    """A SUCCEEDED single-shot payment."""
    s = new_secret()
    store.init_payment(s.hash, creation(value, s, creation_time=created or now()))
    store.register_attempt(s.hash, attempt(1, value))
    store.settle_attempt(s.hash, 1, settle(s))
    return s


def fail(store: Store, value: int = 100_000, *, created: datetime | None = None) -> Secret:
    """A FAILED payment with one failed attempt."""
    from lnpaystore import FailureReason

    s = new_secret()
    store.init_payment(s.hash, creation(value, s, creation_time=created or now()))
    store.register_attempt(s.hash, attempt(1, value))
    store.fail_attempt(s.hash, 1, failure())
    store.fail_payment(s.hash, FailureReason.NO_ROUTE)
    return s


def in_flight(store: Store, value: int = 100_000, *, created: datetime | None = None) -> Secret:
    """An IN_FLIGHT payment with one attempt out."""
    s = new_secret()
    store.init_payment(s.hash, creation(value, s, creation_time=created or now()))
    store.register_attempt(s.hash, attempt(1, value))
    return s


def initiated(store: Store, value: int = 100_000, *, created: datetime | None = None) -> Secret:
    s = new_secret()
    store.init_payment(s.hash, creation(value, s, creation_time=created or now()))
    return s


Maker = Callable[..., Secret]


# -- mission control --------------------------------------------------------------------

MC_T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def mc_result(
    n: int,
    *,
    failure: McFailure | None = None,
    source: bytes = b"\x02" * 33,
    hops: int = 3,
    reply: datetime | None = None,
) -> McResult:
    """Result ``n``: replied ``n`` seconds (and 250 ms) after MC_T0, so key order is
    ``n`` order; ``n`` is also its id."""
    return McResult(
        id=n,
        time_forwarded=MC_T0 + timedelta(seconds=n),
        time_reply=reply or MC_T0 + timedelta(seconds=n, milliseconds=250),
        route=McRoute(
            source_pub_key=source,
            total_amount_msat=100_000 + n,
            hops=[
                McHop(
                    channel_id=800_000 << 40 | n << 16 | i,
                    pub_key=bytes([3 + i]) * 33,
                    amt_to_forward_msat=100_000 - 1000 * i,
                )
                for i in range(hops)
            ],
        ),
        failure=failure,
    )


def write_newer_schema_store(path: Path) -> None:
    """A store whose schema version is one above what the library supports.

    Test-only surgery on redb's format: create an empty store, then rewrite the
    ``schema_version`` value (a big-endian u64 in the ``meta`` table's leaf page: a
    4-byte header with the entry count, the key end offsets, the value end offsets, the
    keys, the values). redb does not verify page checksums on a normal open, so the
    library reads the new value and must refuse the file with ``Version``."""
    with open_store(path):
        pass
    data = bytearray(path.read_bytes())
    key = b"schema_version"
    at = data.find(key)
    assert at > 0, "schema_version not found"
    assert data.find(key, at + 1) == -1, "schema_version found twice"
    page = at - at % 4096
    assert data[page] == 1, "not a leaf page"
    entries = int.from_bytes(data[page + 2 : page + 4], "little")
    ends = [
        int.from_bytes(data[page + 4 + 4 * i : page + 8 + 4 * i], "little")
        for i in range(2 * entries)
    ]
    key_ends, value_ends = ends[:entries], ends[entries:]
    key_starts = [4 + 8 * entries, *key_ends[:-1]]
    index = next(
        i for i in range(entries) if data[page + key_starts[i] : page + key_ends[i]] == key
    )
    start = key_ends[-1] if index == 0 else value_ends[index - 1]
    value = data[page + start : page + value_ends[index]]
    assert len(value) == 8
    newer = int.from_bytes(value, "big") + 1
    data[page + start : page + value_ends[index]] = newer.to_bytes(8, "big")
    path.write_bytes(bytes(data))
