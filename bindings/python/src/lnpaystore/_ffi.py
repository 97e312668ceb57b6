"""The C ABI of liblnpaystore: finding and loading the library, the ctypes mirrors of
``include/lnpaystore.h`` and the declaration (``argtypes``/``restype``) of every function.

Nothing here is public API: the rest of the package builds on it, and tests check it
against the header (``tests/test_abi.py``). Keep the order of ``_fields_`` exactly as in
the header; new header functions get a line in ``_FUNCTIONS``.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
)
from pathlib import Path
from typing import Any

from .errors import LibraryError, error_for

#: The ABI version this package was written against (``LPS_ABI_VERSION`` in the header).
ABI_VERSION = 1

#: The environment variable that names the library to load instead of the package's own.
ENV_LIB = "LNPAYSTORE_LIB"

LPS_MAX_BYTES_LEN = 1 << 20
LPS_MAX_ARRAY_LEN = 65535
LPS_MAX_IMPORT_PAYMENTS = 1 << 20
LPS_MAX_OPERATION_BYTES = 4 << 20

# LpsStatus is a C enum: an int in every ABI we target.
LpsStatus = c_int

# --------------------------------------------------------------------------------------
# Structures (same names, fields and order as the header)
# --------------------------------------------------------------------------------------


class LpsStore(Structure):
    """Opaque."""


class LpsSubscription(Structure):
    """Opaque."""


class LpsMissionControl(Structure):
    """Opaque."""


class LpsBytes(Structure):
    _fields_ = (("ptr", POINTER(c_uint8)), ("len", c_size_t))


class LpsRecord(Structure):
    _fields_ = (("type", c_uint64), ("value", LpsBytes))


class LpsCreationInfo(Structure):
    _fields_ = (
        ("payment_identifier", c_uint8 * 32),
        ("value_msat", c_uint64),
        ("creation_time_ns", c_int64),
        ("payment_request", LpsBytes),
        ("first_hop_custom_records", POINTER(LpsRecord)),
        ("first_hop_custom_records_len", c_size_t),
    )


class LpsMpp(Structure):
    _fields_ = (("payment_addr", c_uint8 * 32), ("total_msat", c_uint64))


class LpsAmp(Structure):
    _fields_ = (
        ("root_share", c_uint8 * 32),
        ("set_id", c_uint8 * 32),
        ("child_index", c_uint32),
    )


class LpsHop(Structure):
    _fields_ = (
        ("pub_key", c_uint8 * 33),
        ("channel_id", c_uint64),
        ("outgoing_time_lock", c_uint32),
        ("amt_to_forward_msat", c_uint64),
        ("legacy_payload", c_bool),
        ("mpp", POINTER(LpsMpp)),
        ("amp", POINTER(LpsAmp)),
        ("encrypted_data", LpsBytes),
        ("blinding_point", POINTER(c_uint8)),
        ("metadata", LpsBytes),
        ("total_amt_msat", c_uint64),
        ("custom_records", POINTER(LpsRecord)),
        ("custom_records_len", c_size_t),
    )


class LpsRoute(Structure):
    _fields_ = (
        ("total_time_lock", c_uint32),
        ("total_amount_msat", c_uint64),
        ("source_pub_key", c_uint8 * 33),
        ("hops", POINTER(LpsHop)),
        ("hops_len", c_size_t),
        ("first_hop_amount_msat", c_uint64),
        ("first_hop_wire_custom_records", POINTER(LpsRecord)),
        ("first_hop_wire_custom_records_len", c_size_t),
    )


class LpsAttemptInfo(Structure):
    _fields_ = (
        ("attempt_id", c_uint64),
        ("session_key", c_uint8 * 32),
        ("route", LpsRoute),
        ("attempt_time_ns", c_int64),
        ("hash", POINTER(c_uint8)),
    )


class LpsSettleInfo(Structure):
    _fields_ = (("preimage", c_uint8 * 32), ("settle_time_ns", c_int64))


class LpsFailInfo(Structure):
    _fields_ = (
        ("fail_time_ns", c_int64),
        ("message", LpsBytes),
        ("reason", c_uint8),
        ("failure_source_index", c_uint32),
    )


class LpsHtlcAttempt(Structure):
    _fields_ = (
        ("info", LpsAttemptInfo),
        ("settle", POINTER(LpsSettleInfo)),
        ("failure", POINTER(LpsFailInfo)),
    )


class LpsPaymentState(Structure):
    _fields_ = (
        ("num_attempts_in_flight", c_uint32),
        ("remaining_amt_msat", c_uint64),
        ("fees_paid_msat", c_uint64),
        ("has_settled_htlc", c_bool),
        ("payment_failed", c_bool),
    )


class LpsPayment(Structure):
    _fields_ = (
        ("sequence_num", c_uint64),
        ("payment_hash", c_uint8 * 32),
        ("info", LpsCreationInfo),
        ("htlcs", POINTER(LpsHtlcAttempt)),
        ("htlcs_len", c_size_t),
        ("has_failure_reason", c_bool),
        ("failure_reason", c_uint8),
        ("status", c_uint8),
        ("state", LpsPaymentState),
    )


class LpsImportPayment(Structure):
    _fields_ = (
        ("sequence_num", c_uint64),
        ("payment_hash", c_uint8 * 32),
        ("info", LpsCreationInfo),
        ("htlcs", POINTER(LpsHtlcAttempt)),
        ("htlcs_len", c_size_t),
        ("has_failure_reason", c_bool),
        ("failure_reason", c_uint8),
    )


class LpsImportRefusal(Structure):
    _fields_ = (
        ("index", c_size_t),
        ("sequence_num", c_uint64),
        ("payment_hash", c_uint8 * 32),
        ("status", LpsStatus),
        ("message", c_char_p),
    )


class LpsImportReport(Structure):
    _fields_ = (
        ("imported", c_uint64),
        ("refused", POINTER(LpsImportRefusal)),
        ("refused_len", c_size_t),
    )


class LpsPaymentList(Structure):
    _fields_ = (("payments", POINTER(LpsPayment)), ("len", c_size_t))


class LpsQuery(Structure):
    _fields_ = (
        ("index_offset", c_uint64),
        ("max_payments", c_uint64),
        ("reversed", c_bool),
        ("include_incomplete", c_bool),
        ("count_total", c_bool),
        ("creation_date_start", c_int64),
        ("creation_date_end", c_int64),
        ("omit_hops", c_bool),
    )


class LpsQueryResponse(Structure):
    _fields_ = (
        ("payments", POINTER(LpsPayment)),
        ("payments_len", c_size_t),
        ("first_index_offset", c_uint64),
        ("last_index_offset", c_uint64),
        ("total_count", c_uint64),
    )


class LpsPaymentCounts(Structure):
    _fields_ = (
        ("total", c_uint64),
        ("initiated", c_uint64),
        ("in_flight", c_uint64),
        ("succeeded", c_uint64),
        ("failed", c_uint64),
    )


class LpsOptions(Structure):
    _fields_ = (
        ("max_batch_size", c_uint32),
        ("max_batch_delay_us", c_uint32),
        ("cache_size_bytes", c_uint64),
        ("no_sync", c_bool),
    )


class LpsCommitStats(Structure):
    _fields_ = (
        ("commits", c_uint64),
        ("operations", c_uint64),
        ("max_batch", c_uint64),
    )


# Mission control (the Python API on top of it: ``lnpaystore.mc``).


class LpsMcOptions(Structure):
    _fields_ = (("max_records", c_uint32), ("flush_interval_ms", c_uint32))


class LpsMcHop(Structure):
    _fields_ = (
        ("channel_id", c_uint64),
        ("pub_key", c_uint8 * 33),
        ("amt_to_fwd_msat", c_uint64),
        ("has_blinding_point", c_bool),
        ("has_custom_records", c_bool),
    )


class LpsMcRoute(Structure):
    _fields_ = (
        ("source_pub_key", c_uint8 * 33),
        ("total_amount_msat", c_uint64),
        ("hops", POINTER(LpsMcHop)),
        ("hops_len", c_size_t),
    )


class LpsMcResult(Structure):
    _fields_ = (
        ("id", c_uint64),
        ("time_fwd_ns", c_int64),
        ("time_reply_ns", c_int64),
        ("route", LpsMcRoute),
        ("success", c_bool),
        ("has_failure_source_index", c_bool),
        ("failure_source_index", c_uint8),
        ("failure_message", LpsBytes),
    )


class LpsMcResultList(Structure):
    _fields_ = (("results", POINTER(LpsMcResult)), ("len", c_size_t))


class LpsMcStats(Structure):
    _fields_ = (
        ("queued", c_uint64),
        ("stored", c_uint64),
        ("flushes", c_uint64),
        ("wakeups", c_uint64),
        ("evicted", c_uint64),
        ("corrupted_removed", c_uint64),
    )


#: Every non-opaque struct of the header, for the layout test.
STRUCTS: tuple[type[Structure], ...] = (
    LpsBytes,
    LpsRecord,
    LpsCreationInfo,
    LpsMpp,
    LpsAmp,
    LpsHop,
    LpsRoute,
    LpsAttemptInfo,
    LpsSettleInfo,
    LpsFailInfo,
    LpsHtlcAttempt,
    LpsPaymentState,
    LpsPayment,
    LpsPaymentList,
    LpsQuery,
    LpsQueryResponse,
    LpsPaymentCounts,
    LpsOptions,
    LpsCommitStats,
    LpsMcOptions,
    LpsMcHop,
    LpsMcRoute,
    LpsMcResult,
    LpsMcResultList,
    LpsMcStats,
    LpsImportPayment,
    LpsImportRefusal,
    LpsImportReport,
)

# --------------------------------------------------------------------------------------
# Functions: name -> (restype, argtypes). A restype of LpsStatus marks a fallible
# function: its status is turned into an exception right after the call, on the calling
# thread (``errcheck``), which is where lps_last_error() is valid.
# --------------------------------------------------------------------------------------

_P = POINTER
_STATUS = LpsStatus
_HASH = _P(c_uint8)  # const uint8_t hash[32]

_FUNCTIONS: dict[str, tuple[Any, tuple[Any, ...]]] = {
    # Library
    "lps_abi_version": (c_uint32, ()),
    "lps_version": (c_char_p, ()),
    "lps_status_name": (c_char_p, (LpsStatus,)),
    "lps_last_error": (c_char_p, ()),
    # Payments as outputs
    "lps_payment_free": (None, (_P(LpsPayment),)),
    "lps_payment_list_free": (None, (_P(LpsPaymentList),)),
    "lps_payment_terminated": (c_bool, (_P(LpsPayment),)),
    "lps_payment_need_wait_attempts": (_STATUS, (_P(LpsPayment), _P(c_bool))),
    "lps_payment_allow_more_attempts": (_STATUS, (_P(LpsPayment), _P(c_bool))),
    "lps_payment_hash": (_STATUS, (_P(c_uint8), _P(c_uint8))),
    # Queries
    "lps_query_payments": (
        _STATUS,
        (_P(LpsStore), _P(LpsQuery), _P(_P(LpsQueryResponse))),
    ),
    "lps_query_response_free": (None, (_P(LpsQueryResponse),)),
    "lps_payment_counts": (_STATUS, (_P(LpsStore), _P(LpsPaymentCounts))),
    # Store
    "lps_options_default": (None, (_P(LpsOptions),)),
    "lps_store_open": (_STATUS, (c_char_p, _P(LpsOptions), _P(_P(LpsStore)))),
    "lps_store_open_read_only": (_STATUS, (c_char_p, _P(LpsOptions), _P(_P(LpsStore)))),
    "lps_store_compact": (_STATUS, (_P(LpsStore),)),
    "lps_store_backup": (_STATUS, (_P(LpsStore), c_char_p)),
    "lps_store_close": (_STATUS, (_P(LpsStore),)),
    "lps_commit_stats": (_STATUS, (_P(LpsStore), _P(LpsCommitStats))),
    "lps_check_integrity": (_STATUS, (_P(LpsStore),)),
    # Subscriptions
    "lps_subscribe_payment": (_STATUS, (_P(LpsStore), _HASH, _P(_P(LpsSubscription)))),
    "lps_subscribe_all_payments": (_STATUS, (_P(LpsStore), _P(_P(LpsSubscription)))),
    "lps_subscription_next": (_STATUS, (_P(LpsSubscription), c_int32, _P(_P(LpsPayment)))),
    "lps_subscription_close": (None, (_P(LpsSubscription),)),
    "lps_subscription_free": (None, (_P(LpsSubscription),)),
    # Control tower
    "lps_init_payment": (_STATUS, (_P(LpsStore), _HASH, _P(LpsCreationInfo))),
    "lps_register_attempt": (
        _STATUS,
        (_P(LpsStore), _HASH, _P(LpsAttemptInfo), _P(_P(LpsPayment))),
    ),
    "lps_settle_attempt": (
        _STATUS,
        (_P(LpsStore), _HASH, c_uint64, _P(LpsSettleInfo), _P(_P(LpsPayment))),
    ),
    "lps_fail_attempt": (
        _STATUS,
        (_P(LpsStore), _HASH, c_uint64, _P(LpsFailInfo), _P(_P(LpsPayment))),
    ),
    "lps_fail_payment": (_STATUS, (_P(LpsStore), _HASH, c_uint8, _P(_P(LpsPayment)))),
    "lps_fetch_payment": (_STATUS, (_P(LpsStore), _HASH, _P(_P(LpsPayment)))),
    "lps_fetch_inflight_payments": (_STATUS, (_P(LpsStore), _P(_P(LpsPaymentList)))),
    "lps_delete_failed_attempts": (_STATUS, (_P(LpsStore), _HASH)),
    "lps_delete_payment": (_STATUS, (_P(LpsStore), _HASH, c_bool)),
    "lps_delete_payments": (_STATUS, (_P(LpsStore), c_bool, c_bool, _P(c_uint64))),
    # Bulk import
    "lps_import_payments": (
        _STATUS,
        (_P(LpsStore), _P(LpsImportPayment), c_size_t, _P(_P(LpsImportReport))),
    ),
    "lps_import_report_free": (None, (_P(LpsImportReport),)),
    "lps_mc_add_encoded_result": (_STATUS, (_P(LpsMissionControl), LpsBytes, LpsBytes)),
    # Mission control
    "lps_mc_options_default": (None, (_P(LpsMcOptions),)),
    "lps_mc_open": (
        _STATUS,
        (_P(LpsStore), c_char_p, _P(LpsMcOptions), _P(_P(LpsMissionControl))),
    ),
    "lps_mc_add_result": (_STATUS, (_P(LpsMissionControl), _P(LpsMcResult))),
    "lps_mc_flush": (_STATUS, (_P(LpsMissionControl),)),
    "lps_mc_fetch_all": (_STATUS, (_P(LpsMissionControl), _P(_P(LpsMcResultList)))),
    "lps_mc_clear": (_STATUS, (_P(LpsMissionControl),)),
    "lps_mc_stats": (_STATUS, (_P(LpsMissionControl), _P(LpsMcStats))),
    "lps_mc_close": (_STATUS, (_P(LpsMissionControl),)),
    "lps_mc_result_list_free": (None, (_P(LpsMcResultList),)),
}

#: Fallible functions (those returning LpsStatus).
FALLIBLE = frozenset(name for name, (res, _) in _FUNCTIONS.items() if res is _STATUS)


# --------------------------------------------------------------------------------------
# Finding and loading the library
# --------------------------------------------------------------------------------------


def library_file_name() -> str:
    if sys.platform == "darwin":
        return "liblnpaystore.dylib"
    if sys.platform == "win32":
        return "lnpaystore.dll"
    return "liblnpaystore.so"


def candidates() -> list[Path]:
    """Where the library is looked for: ``$LNPAYSTORE_LIB`` alone when it is set (an
    explicit choice is never silently replaced), else the copy built into the package,
    ``lnpaystore/_lib/`` (by ``pip install`` or ``pip wheel``; an editable install builds
    it into the source tree). Never the current directory or its parents: that would load
    whatever library the directory a program runs in happens to hold."""
    env_lib = os.environ.get(ENV_LIB)
    if env_lib:
        return [Path(env_lib)]
    return [Path(__file__).resolve().parent / "_lib" / library_file_name()]


def find_library() -> Path:
    tried = candidates()
    for path in tried:
        if path.is_file():
            return path
    if os.environ.get(ENV_LIB):
        raise LibraryError(f"{tried[0]} (from {ENV_LIB}) does not exist")
    raise LibraryError(
        f"{tried[0]} not found: this lnpaystore package was installed without its "
        f"library. Install it with `pip install <repository>/bindings/python` (builds the "
        f"library; needs a Rust toolchain), or set {ENV_LIB} to the library's path."
    )


def _errcheck(result: int, func: Any, _args: tuple[Any, ...]) -> int:
    if result != 0:
        # Same thread, right after the call: this is the failing call's message.
        raw = _lib_unchecked().lps_last_error()
        message = raw.decode("utf-8", "replace") if raw else ""
        raise error_for(int(result), message or f"{func.__name__} failed")
    return result


def declare(lib: ctypes.CDLL) -> None:
    """Sets argtypes and restype (and errcheck for fallible functions) on every function
    of the header."""
    for name, (restype, argtypes) in _FUNCTIONS.items():
        func = getattr(lib, name)
        func.restype = restype
        func.argtypes = argtypes
        if name in FALLIBLE:
            func.errcheck = _errcheck


_LOCK = threading.Lock()
_LIB: ctypes.CDLL | None = None
_PATH: Path | None = None


def _load(path: Path) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise LibraryError(f"cannot load {path}: {e}") from e
    # The version first: a library of another ABI may lack or change functions, and
    # "wrong version" is the message that helps.
    try:
        abi_version = lib.lps_abi_version
    except AttributeError:
        raise LibraryError(f"{path} is not liblnpaystore (no lps_abi_version)") from None
    abi_version.restype = c_uint32
    abi_version.argtypes = ()
    found = int(abi_version())
    if found != ABI_VERSION:
        raise LibraryError(
            f"{path} has C ABI version {found}; this lnpaystore package needs version "
            f"{ABI_VERSION}. Install the package and the library from the same release."
        )
    try:
        declare(lib)
    except AttributeError as e:
        raise LibraryError(f"{path} lacks a function of ABI version {ABI_VERSION}: {e}") from e
    return lib


def lib() -> Any:
    """The loaded, declared and version-checked library (loaded on first use, so that
    ``lnpaystore --help`` works without it)."""
    global _LIB, _PATH
    if _LIB is None:
        with _LOCK:
            if _LIB is None:
                path = find_library()
                _LIB = _load(path)
                _PATH = path
    return _LIB


def _lib_unchecked() -> Any:
    assert _LIB is not None
    return _LIB


def library_path() -> Path:
    """Path of the library in use (loading it if needed)."""
    lib()
    assert _PATH is not None
    return _PATH
