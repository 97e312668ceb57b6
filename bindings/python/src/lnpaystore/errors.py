"""Exceptions: one class per status code of the C API, grouped by kind.

::

    LnpaystoreError                 .code (status number), .message, .status_name
    ├── ArgumentError (ValueError)  NullArgument (1), InvalidArgument (2)
    ├── StorageError                Io (3), Corrupt (4), Locked (5), Version (6),
    │                               Closed (7), Internal (10)
    ├── Timeout (8)                 a subscription had no event in time
    ├── EndOfStream (9)             a subscription ended (iteration just stops)
    ├── PaymentError                the domain answers, 100 and up: PaymentExists,
    │                               PaymentInFlight, AlreadyPaid, ...
    └── LibraryError                the shared library is missing or has the wrong ABI

A status number this package does not know yet (a newer library) still raises: a
``PaymentError`` for 100 and up, else an ``LnpaystoreError``, with that ``.code``.
"""

from __future__ import annotations


class LnpaystoreError(Exception):
    """Base class. ``code`` is the stable status number (API.md), ``message`` the
    library's message from ``lps_last_error()`` (or the binding's own, for failures it
    detects before calling the library)."""

    code: int = -1
    status_name: str = "LPS_STATUS_UNKNOWN"

    def __init__(self, message: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message or self.status_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class LibraryError(LnpaystoreError):
    """The shared library could not be found or loaded, or has another ABI version."""


# -- groups -----------------------------------------------------------------------------


class ArgumentError(LnpaystoreError, ValueError):
    """The call was malformed (status 1 and 2)."""


class StorageError(LnpaystoreError):
    """The store file or handle cannot serve the call (I/O, corruption, lock, version,
    closed handle, internal error)."""


class PaymentError(LnpaystoreError):
    """A payment life-cycle rule refused the operation (status 100 and up)."""


# -- one class per status ---------------------------------------------------------------


class NullArgument(ArgumentError):
    code = 1
    status_name = "LPS_STATUS_NULL_ARGUMENT"


class InvalidArgument(ArgumentError):
    code = 2
    status_name = "LPS_STATUS_INVALID_ARGUMENT"


class Io(StorageError):
    code = 3
    status_name = "LPS_STATUS_IO"


class Corrupt(StorageError):
    code = 4
    status_name = "LPS_STATUS_CORRUPT"


class Locked(StorageError):
    code = 5
    status_name = "LPS_STATUS_LOCKED"


class Version(StorageError):
    code = 6
    status_name = "LPS_STATUS_VERSION"


VersionMismatch = Version


class Closed(StorageError):
    code = 7
    status_name = "LPS_STATUS_CLOSED"


class Timeout(LnpaystoreError):
    code = 8
    status_name = "LPS_STATUS_TIMEOUT"


class EndOfStream(LnpaystoreError):
    code = 9
    status_name = "LPS_STATUS_END_OF_STREAM"


class Internal(StorageError):
    code = 10
    status_name = "LPS_STATUS_INTERNAL"


class PaymentExists(PaymentError):
    code = 100
    status_name = "LPS_STATUS_PAYMENT_EXISTS"


class PaymentInFlight(PaymentError):
    code = 101
    status_name = "LPS_STATUS_PAYMENT_IN_FLIGHT"


class AlreadyPaid(PaymentError):
    code = 102
    status_name = "LPS_STATUS_ALREADY_PAID"


class PaymentNotInitiated(PaymentError):
    code = 103
    status_name = "LPS_STATUS_PAYMENT_NOT_INITIATED"


class PaymentAlreadySucceeded(PaymentError):
    code = 104
    status_name = "LPS_STATUS_PAYMENT_ALREADY_SUCCEEDED"


class PaymentAlreadyFailed(PaymentError):
    code = 105
    status_name = "LPS_STATUS_PAYMENT_ALREADY_FAILED"


class PaymentPendingSettled(PaymentError):
    code = 106
    status_name = "LPS_STATUS_PAYMENT_PENDING_SETTLED"


class PaymentPendingFailed(PaymentError):
    code = 107
    status_name = "LPS_STATUS_PAYMENT_PENDING_FAILED"


class AttemptNotFound(PaymentError):
    code = 108
    status_name = "LPS_STATUS_ATTEMPT_NOT_FOUND"


class AttemptExists(PaymentError):
    code = 109
    status_name = "LPS_STATUS_ATTEMPT_EXISTS"


class AttemptAlreadySettled(PaymentError):
    code = 110
    status_name = "LPS_STATUS_ATTEMPT_ALREADY_SETTLED"


class AttemptAlreadyFailed(PaymentError):
    code = 111
    status_name = "LPS_STATUS_ATTEMPT_ALREADY_FAILED"


class ValueMismatch(PaymentError):
    code = 112
    status_name = "LPS_STATUS_VALUE_MISMATCH"


class ValueExceedsAmt(PaymentError):
    code = 113
    status_name = "LPS_STATUS_VALUE_EXCEEDS_AMT"


class NonMpPayment(PaymentError):
    code = 114
    status_name = "LPS_STATUS_NON_MP_PAYMENT"


class MpPayment(PaymentError):
    code = 115
    status_name = "LPS_STATUS_MP_PAYMENT"


class MppPaymentAddrMismatch(PaymentError):
    code = 116
    status_name = "LPS_STATUS_MPP_PAYMENT_ADDR_MISMATCH"


class MppTotalAmountMismatch(PaymentError):
    code = 117
    status_name = "LPS_STATUS_MPP_TOTAL_AMOUNT_MISMATCH"


class MppRecordInBlindedPayment(PaymentError):
    code = 118
    status_name = "LPS_STATUS_MPP_RECORD_IN_BLINDED_PAYMENT"


class BlindedTotalAmountMismatch(PaymentError):
    code = 119
    status_name = "LPS_STATUS_BLINDED_TOTAL_AMOUNT_MISMATCH"


class MixedBlindedAndNonBlinded(PaymentError):
    code = 120
    status_name = "LPS_STATUS_MIXED_BLINDED_AND_NON_BLINDED"


class BlindedMissingTotalAmount(PaymentError):
    code = 121
    status_name = "LPS_STATUS_BLINDED_MISSING_TOTAL_AMOUNT"


class SentExceedsTotal(PaymentError):
    code = 122
    status_name = "LPS_STATUS_SENT_EXCEEDS_TOTAL"


class PreimageMismatch(PaymentError):
    code = 123
    status_name = "LPS_STATUS_PREIMAGE_MISMATCH"


#: Status number -> exception class, for every status the package knows.
BY_CODE: dict[int, type[LnpaystoreError]] = {
    cls.code: cls
    for cls in (
        NullArgument,
        InvalidArgument,
        Io,
        Corrupt,
        Locked,
        Version,
        Closed,
        Timeout,
        EndOfStream,
        Internal,
        PaymentExists,
        PaymentInFlight,
        AlreadyPaid,
        PaymentNotInitiated,
        PaymentAlreadySucceeded,
        PaymentAlreadyFailed,
        PaymentPendingSettled,
        PaymentPendingFailed,
        AttemptNotFound,
        AttemptExists,
        AttemptAlreadySettled,
        AttemptAlreadyFailed,
        ValueMismatch,
        ValueExceedsAmt,
        NonMpPayment,
        MpPayment,
        MppPaymentAddrMismatch,
        MppTotalAmountMismatch,
        MppRecordInBlindedPayment,
        BlindedTotalAmountMismatch,
        MixedBlindedAndNonBlinded,
        BlindedMissingTotalAmount,
        SentExceedsTotal,
        PreimageMismatch,
    )
}


def error_for(code: int, message: str) -> LnpaystoreError:
    """The exception for a status returned by the library."""
    cls = BY_CODE.get(code)
    if cls is not None:
        return cls(message)
    if code >= 100:
        return PaymentError(message, code)
    return LnpaystoreError(message, code)


__all__ = [
    "AlreadyPaid",
    "ArgumentError",
    "AttemptAlreadyFailed",
    "AttemptAlreadySettled",
    "AttemptExists",
    "AttemptNotFound",
    "BlindedMissingTotalAmount",
    "BlindedTotalAmountMismatch",
    "Closed",
    "Corrupt",
    "EndOfStream",
    "Internal",
    "InvalidArgument",
    "Io",
    "LibraryError",
    "LnpaystoreError",
    "Locked",
    "MixedBlindedAndNonBlinded",
    "MpPayment",
    "MppPaymentAddrMismatch",
    "MppRecordInBlindedPayment",
    "MppTotalAmountMismatch",
    "NonMpPayment",
    "NullArgument",
    "PaymentAlreadyFailed",
    "PaymentAlreadySucceeded",
    "PaymentError",
    "PaymentExists",
    "PaymentInFlight",
    "PaymentNotInitiated",
    "PaymentPendingFailed",
    "PaymentPendingSettled",
    "PreimageMismatch",
    "SentExceedsTotal",
    "StorageError",
    "Timeout",
    "ValueExceedsAmt",
    "ValueMismatch",
    "Version",
    "VersionMismatch",
]
