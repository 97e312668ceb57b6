"""lnpaystore: a crash-safe store for a Lightning node's outgoing payments.

Python binding (ctypes) of the C library ``liblnpaystore``. The library ships inside
this package (``$LNPAYSTORE_LIB`` overrides it, see :func:`library_path`) and is loaded
on first use::

    from lnpaystore import Store, CreationInfo

    with Store.open("payments.db") as store:
        store.init_payment(hash, CreationInfo(value_msat=100_000))
        for payment in store.iter_payments():
            print(payment.sequence_num, payment.hash, payment.status.name)
        with store.open_mission_control() as mc:  # see lnpaystore.mc
            for result in mc.fetch_all():
                print(result.time_reply, result.id, result.success)
"""

from __future__ import annotations

import ctypes
from importlib import metadata as _metadata

from . import _convert, _ffi, errors, model
from .errors import *  # noqa: F403  (one exception class per status code, generated)
from .mc import McFailure, McHop, McResult, McRoute, McStats, MissionControl
from .model import (
    Amp,
    AttemptInfo,
    CreationInfo,
    FailInfo,
    FailureReason,
    Hash,
    HashLike,
    HexBytes,
    Hop,
    HtlcAttempt,
    HtlcFailReason,
    ImportPayment,
    ImportRefusal,
    ImportReport,
    Mpp,
    Payment,
    PaymentCounts,
    PaymentState,
    PaymentStatus,
    PubKey,
    QueryResponse,
    Route,
    SettleInfo,
    to_json,
)
from .store import Store, Subscription

try:
    # The installed distribution's version: the crate's (setup.py reads Cargo.toml).
    __version__ = _metadata.version("lnpaystore")
except _metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "unknown"

#: The C ABI version this package was written for.
ABI_VERSION = _ffi.ABI_VERSION

#: The most bytes one operation may store: a payment's creation info, an attempt with
#: its route, a settle or failure, a mission-control result, one imported payment.
#: More raises ``InvalidArgument`` and writes nothing.
MAX_OPERATION_BYTES = _ffi.LPS_MAX_OPERATION_BYTES


def library_version() -> str:
    """The version of the loaded C library (its crate version)."""
    raw: bytes = _ffi.lib().lps_version()
    return raw.decode()


def abi_version() -> int:
    """The ABI version of the loaded C library (checked equal to ``ABI_VERSION``)."""
    return int(_ffi.lib().lps_abi_version())


def library_path() -> str:
    """The path of the loaded C library (loading it if needed)."""
    return str(_ffi.library_path())


def payment_hash(preimage: HashLike) -> Hash:
    """The payment hash a preimage proves (SHA-256, computed by the library)."""
    keep: list[object] = []
    buf = _convert.hash_buffer(model.to_hash(preimage, "preimage"), keep)
    out = (ctypes.c_uint8 * 32)()
    _ffi.lib().lps_payment_hash(buf, out)
    return Hash(bytes(out))


def status_name(code: int) -> str:
    """The library's name for a status number (``"LPS_STATUS_UNKNOWN"`` if none)."""
    raw: bytes = _ffi.lib().lps_status_name(code)
    return raw.decode()


__all__ = [
    "ABI_VERSION",
    "MAX_OPERATION_BYTES",
    "Amp",
    "AttemptInfo",
    "CreationInfo",
    "FailInfo",
    "FailureReason",
    "Hash",
    "HashLike",
    "HexBytes",
    "Hop",
    "HtlcAttempt",
    "HtlcFailReason",
    "ImportPayment",
    "ImportRefusal",
    "ImportReport",
    "McFailure",
    "McHop",
    "McResult",
    "McRoute",
    "McStats",
    "MissionControl",
    "Mpp",
    "Payment",
    "PaymentCounts",
    "PaymentState",
    "PaymentStatus",
    "PubKey",
    "QueryResponse",
    "Route",
    "SettleInfo",
    "Store",
    "Subscription",
    "abi_version",
    "library_path",
    "library_version",
    "payment_hash",
    "status_name",
    "to_json",
]
__all__ += errors.__all__
