"""The payment model as Python values: frozen dataclasses, enums and byte types.

Times are timezone-aware ``datetime`` objects in UTC; the library's "0 ns = unset" is
``None`` here. The library counts nanoseconds and ``datetime`` microseconds, so a time
read back is truncated to the microsecond; a naive ``datetime`` given as input is taken
as UTC. Amounts are ``int`` msat. Fixed-size byte values are :class:`Hash` (32 bytes:
hashes, preimages, identifiers, addresses, keys) and :class:`PubKey` (33 bytes), both
``bytes`` subclasses whose ``str()`` is hex. Input dataclasses also accept plain
``bytes`` or hex strings for those fields, lists for tuples and any mapping for custom
records; they are converted (and checked) on construction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from .errors import InvalidArgument, LnpaystoreError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1

_HB = TypeVar("_HB", bound="HexBytes")


class HexBytes(bytes):
    """``bytes`` whose ``str()`` is lower-case hex. Constructed from bytes-like values or
    hex strings; subclasses fix the length."""

    size: ClassVar[int | None] = None

    def __new__(cls: type[_HB], value: bytes | bytearray | memoryview | str = b"") -> _HB:
        if isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError as e:
                raise InvalidArgument(f"{cls.__name__}: not a hex string: {value!r}") from e
        elif isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
        else:
            raise InvalidArgument(
                f"{cls.__name__}: expected bytes or a hex string, got {type(value).__name__}"
            )
        if cls.size is not None and len(raw) != cls.size:
            raise InvalidArgument(f"{cls.__name__}: need {cls.size} bytes, got {len(raw)}")
        return super().__new__(cls, raw)

    @classmethod
    def _trusted(cls: type[_HB], raw: bytes) -> _HB:
        """No checks: for values the library hands out."""
        return bytes.__new__(cls, raw)

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.hex()}')"


class Hash(HexBytes):
    """A 32-byte value: payment hash, preimage, payment identifier, MPP payment address,
    AMP set id or root share, session key."""

    size = 32

    @classmethod
    def zero(cls) -> Hash:
        return cls._trusted(bytes(32))


class PubKey(HexBytes):
    """A 33-byte compressed public key."""

    size = 33


ZERO_HASH = Hash.zero()
ZERO_PUBKEY = PubKey._trusted(bytes(33))

HashLike = bytes | bytearray | memoryview | str
"""What hash parameters accept: 32 bytes, or 64 hex characters."""


def to_hash(value: HashLike, what: str = "hash") -> Hash:
    if type(value) is Hash:
        return value
    try:
        return Hash(value)
    except InvalidArgument as e:
        raise InvalidArgument(f"{what}: {e}") from None


# -- enums (stored values, stable) ------------------------------------------------------


class PaymentStatus(IntEnum):
    INITIATED = 1
    IN_FLIGHT = 2
    SUCCEEDED = 3
    FAILED = 4


class FailureReason(IntEnum):
    """Why the router gave up on a payment."""

    TIMEOUT = 0
    NO_ROUTE = 1
    ERROR = 2
    INCORRECT_PAYMENT_DETAILS = 3
    INSUFFICIENT_BALANCE = 4
    CANCELED = 5


class HtlcFailReason(IntEnum):
    """Why one HTLC attempt failed."""

    UNKNOWN = 0
    UNREADABLE = 1
    INTERNAL = 2
    MESSAGE = 3


# -- times ------------------------------------------------------------------------------


def time_from_ns(ns: int) -> datetime | None:
    """Library time (unix ns, 0 = unset) to an aware UTC datetime (truncated to µs)."""
    if ns == 0:
        return None
    return EPOCH + timedelta(microseconds=ns // 1000)


def time_to_ns(value: datetime | None, what: str = "time") -> int:
    """An aware (or naive = UTC) datetime to unix ns; None = 0 (unset). ``InvalidArgument``
    outside int64 nanoseconds."""
    if value is None:
        return 0
    if not isinstance(value, datetime):
        raise InvalidArgument(f"{what}: expected a datetime or None, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    ns = ((value - EPOCH) // _ONE_US) * 1000
    # int64 nanoseconds end in 2262 (and begin in 1677): ctypes would wrap a larger
    # value silently into another time.
    if not _I64_MIN <= ns <= _I64_MAX:
        raise InvalidArgument(f"{what}: {value} is out of the library's range (1677 to 2262)")
    return ns


# -- coercion helpers for the input dataclasses ----------------------------------------

BytesLike = bytes | bytearray | memoryview
"""Byte-string inputs."""

Records = dict[int, bytes]
"""Custom TLV records: record type (>= 65536) -> value."""

RecordsLike = Mapping[int, BytesLike]

_E = TypeVar("_E", bound=IntEnum)


def _fixed(cls: type[_HB], value: BytesLike | str, owner: str, name: str) -> _HB:
    if type(value) is cls:
        return value
    try:
        return cls(value)
    except InvalidArgument as e:
        raise InvalidArgument(f"{owner}.{name}: {e}") from None


def _optional_fixed(
    cls: type[_HB], value: BytesLike | str | None, owner: str, name: str
) -> _HB | None:
    return None if value is None else _fixed(cls, value, owner, name)


def _bytes(value: BytesLike, owner: str, name: str) -> bytes:
    if type(value) is bytes:
        return value
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument(f"{owner}.{name}: expected bytes, got {type(value).__name__}")
    return bytes(value)


def _records(value: Mapping[int, BytesLike] | None, owner: str, name: str) -> Records:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{owner}.{name}: expected a mapping of record type to bytes")
    return {int(k): _bytes(v, owner, f"{name}[{k}]") for k, v in value.items()}


def _enum(cls: type[_E], value: int, owner: str, name: str) -> _E:
    if type(value) is cls:
        return value
    try:
        return cls(value)
    except ValueError as e:
        raise InvalidArgument(f"{owner}.{name}: {e}") from None


def _set(obj: object, **values: object) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


# -- value types ------------------------------------------------------------------------
#
# The input types have hand-written constructors: their fields are precisely typed
# (Hash, PubKey, tuple), while the constructors accept what a caller naturally has
# (bytes or hex, lists, any mapping) and convert it, with a type checker's blessing.


@dataclass(frozen=True, slots=True, init=False)
class Mpp:
    """Multi-path payment record of a final hop."""

    payment_addr: Hash
    total_msat: int

    def __init__(self, payment_addr: BytesLike | str, total_msat: int) -> None:
        _set(self, payment_addr=_fixed(Hash, payment_addr, "Mpp", "payment_addr"))
        _set(self, total_msat=total_msat)


@dataclass(frozen=True, slots=True, init=False)
class Amp:
    """Atomic multi-path payment record of a final hop."""

    root_share: Hash
    set_id: Hash
    child_index: int

    def __init__(
        self, root_share: BytesLike | str, set_id: BytesLike | str, child_index: int
    ) -> None:
        _set(
            self,
            root_share=_fixed(Hash, root_share, "Amp", "root_share"),
            set_id=_fixed(Hash, set_id, "Amp", "set_id"),
            child_index=child_index,
        )


@dataclass(frozen=True, slots=True, init=False)
class Hop:
    """One hop of a route. ``encrypted_data`` non-empty makes it a blinded hop;
    ``total_amt_msat`` is the total of a blinded payment (0 = unset)."""

    pub_key: PubKey
    channel_id: int
    outgoing_time_lock: int
    amt_to_forward_msat: int
    legacy_payload: bool
    mpp: Mpp | None
    amp: Amp | None
    encrypted_data: bytes
    blinding_point: PubKey | None
    metadata: bytes
    total_amt_msat: int
    custom_records: Records

    def __init__(
        self,
        pub_key: BytesLike | str,
        channel_id: int,
        outgoing_time_lock: int,
        amt_to_forward_msat: int,
        legacy_payload: bool = False,
        mpp: Mpp | None = None,
        amp: Amp | None = None,
        encrypted_data: BytesLike = b"",
        blinding_point: BytesLike | str | None = None,
        metadata: BytesLike = b"",
        total_amt_msat: int = 0,
        custom_records: RecordsLike | None = None,
    ) -> None:
        _set(
            self,
            pub_key=_fixed(PubKey, pub_key, "Hop", "pub_key"),
            channel_id=channel_id,
            outgoing_time_lock=outgoing_time_lock,
            amt_to_forward_msat=amt_to_forward_msat,
            legacy_payload=legacy_payload,
            mpp=mpp,
            amp=amp,
            encrypted_data=_bytes(encrypted_data, "Hop", "encrypted_data"),
            blinding_point=_optional_fixed(PubKey, blinding_point, "Hop", "blinding_point"),
            metadata=_bytes(metadata, "Hop", "metadata"),
            total_amt_msat=total_amt_msat,
            custom_records=_records(custom_records, "Hop", "custom_records"),
        )

    @property
    def blinded(self) -> bool:
        return bool(self.encrypted_data)


@dataclass(frozen=True, slots=True, init=False)
class Route:
    """A route from the sender to the receiver (``first_hop_amount_msat`` 0 = unset)."""

    total_time_lock: int
    total_amount_msat: int
    source_pub_key: PubKey
    hops: tuple[Hop, ...]
    first_hop_amount_msat: int
    first_hop_wire_custom_records: Records

    def __init__(
        self,
        total_time_lock: int,
        total_amount_msat: int,
        source_pub_key: BytesLike | str,
        hops: Iterable[Hop],
        first_hop_amount_msat: int = 0,
        first_hop_wire_custom_records: RecordsLike | None = None,
    ) -> None:
        _set(
            self,
            total_time_lock=total_time_lock,
            total_amount_msat=total_amount_msat,
            source_pub_key=_fixed(PubKey, source_pub_key, "Route", "source_pub_key"),
            hops=hops if type(hops) is tuple else tuple(hops),
            first_hop_amount_msat=first_hop_amount_msat,
            first_hop_wire_custom_records=_records(
                first_hop_wire_custom_records, "Route", "first_hop_wire_custom_records"
            ),
        )

    @property
    def receiver_amt_msat(self) -> int:
        """The last hop's amount to forward (0 for a route read with ``omit_hops``)."""
        return self.hops[-1].amt_to_forward_msat if self.hops else 0

    @property
    def fees_msat(self) -> int:
        """Total amount minus the receiver's amount (0 without hops)."""
        return self.total_amount_msat - self.receiver_amt_msat if self.hops else 0


@dataclass(frozen=True, slots=True, init=False)
class AttemptInfo:
    """One HTLC attempt: a route and the session key its onion was built with.
    ``hash`` None = the payment hash applies (AMP shards carry their own)."""

    attempt_id: int
    route: Route
    session_key: Hash
    attempt_time: datetime | None
    hash: Hash | None

    def __init__(
        self,
        attempt_id: int,
        route: Route,
        session_key: BytesLike | str = ZERO_HASH,
        attempt_time: datetime | None = None,
        hash: BytesLike | str | None = None,
    ) -> None:
        _set(
            self,
            attempt_id=attempt_id,
            route=route,
            session_key=_fixed(Hash, session_key, "AttemptInfo", "session_key"),
            attempt_time=attempt_time,
            hash=_optional_fixed(Hash, hash, "AttemptInfo", "hash"),
        )


@dataclass(frozen=True, slots=True, init=False)
class SettleInfo:
    """Proof of payment for one attempt."""

    preimage: Hash
    settle_time: datetime | None

    def __init__(self, preimage: BytesLike | str, settle_time: datetime | None = None) -> None:
        _set(
            self,
            preimage=_fixed(Hash, preimage, "SettleInfo", "preimage"),
            settle_time=settle_time,
        )


@dataclass(frozen=True, slots=True, init=False)
class FailInfo:
    """Outcome of a failed attempt (``message``: the encoded wire failure message, empty
    = none)."""

    reason: HtlcFailReason
    fail_time: datetime | None
    message: bytes
    failure_source_index: int

    def __init__(
        self,
        reason: HtlcFailReason | int = HtlcFailReason.UNKNOWN,
        fail_time: datetime | None = None,
        message: BytesLike = b"",
        failure_source_index: int = 0,
    ) -> None:
        _set(
            self,
            reason=_enum(HtlcFailReason, reason, "FailInfo", "reason"),
            fail_time=fail_time,
            message=_bytes(message, "FailInfo", "message"),
            failure_source_index=failure_source_index,
        )


@dataclass(frozen=True, slots=True, init=False)
class CreationInfo:
    """Static information recorded once, by ``Store.init_payment``. lnd sets the payment
    identifier to the payment hash (AMP: the set id)."""

    value_msat: int
    payment_identifier: Hash
    creation_time: datetime | None
    payment_request: bytes
    first_hop_custom_records: Records

    def __init__(
        self,
        value_msat: int,
        payment_identifier: BytesLike | str = ZERO_HASH,
        creation_time: datetime | None = None,
        payment_request: BytesLike = b"",
        first_hop_custom_records: RecordsLike | None = None,
    ) -> None:
        _set(
            self,
            value_msat=value_msat,
            payment_identifier=_fixed(
                Hash, payment_identifier, "CreationInfo", "payment_identifier"
            ),
            creation_time=creation_time,
            payment_request=_bytes(payment_request, "CreationInfo", "payment_request"),
            first_hop_custom_records=_records(
                first_hop_custom_records, "CreationInfo", "first_hop_custom_records"
            ),
        )


@dataclass(frozen=True, slots=True)
class HtlcAttempt:
    """One attempt with its outcome (at most one of ``settle`` and ``failure``)."""

    info: AttemptInfo
    settle: SettleInfo | None = None
    failure: FailInfo | None = None

    @property
    def attempt_id(self) -> int:
        return self.info.attempt_id

    @property
    def in_flight(self) -> bool:
        return self.settle is None and self.failure is None

    @property
    def outcome(self) -> str:
        """``"SETTLED"``, ``"FAILED"`` or ``"IN_FLIGHT"``."""
        if self.settle is not None:
            return "SETTLED"
        if self.failure is not None:
            return "FAILED"
        return "IN_FLIGHT"


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Figures derived from the attempts, which the router decides from."""

    num_attempts_in_flight: int
    remaining_amt_msat: int
    fees_paid_msat: int
    has_settled_htlc: bool
    payment_failed: bool


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment with its attempts (ascending attempt id) and derived status."""

    sequence_num: int
    hash: Hash
    info: CreationInfo
    htlcs: tuple[HtlcAttempt, ...]
    failure_reason: FailureReason | None
    status: PaymentStatus
    state: PaymentState

    @property
    def terminated(self) -> bool:
        """SUCCEEDED or FAILED (the library's ``lps_payment_terminated``)."""
        from . import _convert

        return _convert.terminated(self)

    def need_wait_attempts(self) -> bool:
        """Whether the router must wait for in-flight attempts before deciding (lnd's
        ``NeedWaitAttempts``). ``Internal`` for an inconsistent state."""
        from . import _convert

        return _convert.need_wait_attempts(self)

    def allow_more_attempts(self) -> bool:
        """Whether the router may register another attempt (lnd's
        ``AllowMoreAttempts``). ``Internal`` for an inconsistent state."""
        from . import _convert

        return _convert.allow_more_attempts(self)

    @property
    def value_msat(self) -> int:
        return self.info.value_msat

    @property
    def creation_time(self) -> datetime | None:
        return self.info.creation_time

    @property
    def preimage(self) -> Hash | None:
        """The preimage of the first settled attempt: the proof of payment."""
        for htlc in self.htlcs:
            if htlc.settle is not None:
                return htlc.settle.preimage
        return None

    def attempt(self, attempt_id: int) -> HtlcAttempt | None:
        for htlc in self.htlcs:
            if htlc.info.attempt_id == attempt_id:
                return htlc
        return None


@dataclass(frozen=True, slots=True)
class ImportPayment:
    """A whole payment in its final state, for ``Store.import_payments``: its sequence
    number is kept as given; its status is derived from the attempts and the failure
    reason."""

    sequence_num: int
    hash: Hash
    info: CreationInfo
    htlcs: tuple[HtlcAttempt, ...] = ()
    failure_reason: FailureReason | None = None


@dataclass(frozen=True, slots=True)
class ImportRefusal:
    """A payment the import refused: its position in the input and why (``error`` is
    the exception the status maps to, e.g. ``PaymentExists``, ``SequenceNumExists``)."""

    index: int
    sequence_num: int
    hash: Hash
    error: LnpaystoreError


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did: every input payment was imported or refused."""

    imported: int
    refused: tuple[ImportRefusal, ...]


@dataclass(frozen=True, slots=True)
class QueryResponse:
    """One page of payments, in ascending sequence order (also for reversed queries)."""

    payments: tuple[Payment, ...]
    first_index_offset: int
    last_index_offset: int
    total_count: int | None
    """Payments in the store, when the query asked for ``count_total``."""


@dataclass(frozen=True, slots=True)
class PaymentCounts:
    """Payments per status and in total."""

    total: int
    initiated: int
    in_flight: int
    succeeded: int
    failed: int

    def for_status(self, status: PaymentStatus) -> int:
        return {
            PaymentStatus.INITIATED: self.initiated,
            PaymentStatus.IN_FLIGHT: self.in_flight,
            PaymentStatus.SUCCEEDED: self.succeeded,
            PaymentStatus.FAILED: self.failed,
        }[status]


# -- JSON -------------------------------------------------------------------------------


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_json(value: Any) -> Any:
    """A JSON-ready view of any model value: dataclasses become objects, byte strings
    hex, enums their names, times ISO 8601 strings (UTC), custom records objects keyed
    by the decimal record type. Properties are not included."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, IntEnum):
        return value.name
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    names = _FIELD_NAMES.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [to_json(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")
