"""Ownership of library handles (wasmtime-py's ``Managed`` pattern).

A ``Managed`` object owns one C pointer. ``close()`` releases it exactly once and is
idempotent; ``with`` closes on exit; ``__del__`` closes as a safety net only (never rely
on it: a store holds a file lock until closed). Using the object after ``close()`` raises
``Closed`` from ``_ptr()`` instead of handing a dangling pointer to C.

Calls that use the pointer run inside ``with self._use() as ptr:``. ``close()`` marks
the handle closed at once (new calls raise ``Closed``), lets subclasses interrupt calls
that may block (``_interrupt``: a subscription wakes its reader), waits for the calls in
progress to return, then releases the pointer. So closing from one thread while another
thread is inside a call is safe, which the C contract alone does not promise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any, Generic, TypeVar

from .errors import Closed

P = TypeVar("P")
_M = TypeVar("_M", bound="Managed[Any]")


class Managed(Generic[P]):
    """Base class of the objects that own a library handle."""

    _raw: P | None

    def __init__(self, raw: P) -> None:
        self._raw = raw
        self._cond = threading.Condition(threading.Lock())
        self._active = 0
        self._closing = False

    # -- subclass hooks -------------------------------------------------------------

    def _delete(self, raw: P) -> None:
        """Releases the handle; called once, when no call is using it."""
        raise NotImplementedError

    def _interrupt(self, raw: P) -> None:
        """Wakes calls that may block on the handle (default: nothing to wake)."""

    # -- ownership ------------------------------------------------------------------

    def _ptr(self) -> P:
        """The live pointer; ``Closed`` once ``close()`` has begun."""
        raw = self._raw
        if raw is None or self._closing:
            raise Closed(f"{type(self).__name__} is closed")
        return raw

    @contextmanager
    def _use(self) -> Iterator[P]:
        """The pointer, kept valid until the block ends even if another thread closes."""
        with self._cond:
            raw = self._ptr()
            self._active += 1
        try:
            yield raw
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._raw is None or self._closing

    def close(self) -> None:
        """Releases the handle. Idempotent and safe from any thread: a second caller
        returns once the first one has released the handle."""
        cond = getattr(self, "_cond", None)
        if cond is None:  # __init__ did not run to the end
            return
        with cond:
            if self._closing:
                while self._raw is not None:
                    cond.wait()
                return
            raw = self._raw
            if raw is None:
                return
            self._closing = True
        try:
            self._interrupt(raw)
            with cond:
                while self._active:
                    cond.wait()
            self._delete(raw)
        finally:
            with cond:
                self._raw = None
                cond.notify_all()

    def __enter__(self: _M) -> _M:
        self._ptr()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A safety net only; a finalizer has no one to report an error to.
        with suppress(Exception):
            self.close()
