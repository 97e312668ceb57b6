"""Fixtures: a store in tmp_path (no_sync) and a closed store with one payment of each
kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import fail, in_flight, initiated, open_store, pay

from lnpaystore import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "payments.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with open_store(db_path) as s:
        yield s


@pytest.fixture
def mixed_store(db_path: Path) -> Path:
    """A closed store with 3 succeeded, 2 failed, 1 in-flight and 1 initiated payments
    (sequence numbers 1..7 in that order)."""
    with open_store(db_path) as s:
        for make in (pay, pay, pay, fail, fail, in_flight, initiated):
            make(s)
    return db_path
