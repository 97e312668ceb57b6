"""Export streams page by page: its peak memory does not grow with the store.

A million-payment store is too slow to build in a unit test; instead the same store is
exported at 1,000 and at 5,000 payments with pages of 50, and the peak Python memory
(tracemalloc) is compared: exporting 5,000 payments must take less than a tenth of what
holding them all in a list takes, and no more than a few times what exporting 1,000
took (allocator free lists make the figure noisy)."""

from __future__ import annotations

import io
import shutil
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from builders import attempt, creation, new_secret, open_store, settle

from lnpaystore import Store
from lnpaystore.cli import main


class Sink(io.TextIOBase):
    """Counts what is written and keeps none of it."""

    def __init__(self) -> None:
        self.chars = 0
        self.lines = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        self.lines += s.count("\n")
        return len(s)


def add_payments(store: Store, n: int) -> None:
    def one(i: int) -> None:
        s = new_secret()
        store.init_payment(s.hash, creation(10_000 + i, s))
        store.register_attempt(s.hash, attempt(1, 10_000 + i))
        if i % 3:
            store.settle_attempt(s.hash, 1, settle(s))

    # Concurrent callers share commits (group commit): much faster than one by one.
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(n)))


def export_peak(db: Path, fmt: str) -> tuple[int, int]:
    sink = Sink()
    tracemalloc.start()
    try:
        code = main(
            ["--db", str(db), "export", "--format", fmt, "--page-size", "50"],
            stdout=sink,  # type: ignore[arg-type]
            stderr=io.StringIO(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0
    return peak, sink.lines


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same store at 1,000 and at 5,000 payments."""
    tmp = tmp_path_factory.mktemp("export")
    small, large = tmp / "small.db", tmp / "large.db"
    with open_store(large) as store:
        add_payments(store, 1000)
    shutil.copy(large, small)
    with open_store(large) as store:
        add_payments(store, 4000)
    return small, large


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_export_takes_a_fraction_of_the_store(stores: tuple[Path, Path], fmt: str) -> None:
    peak, lines = export_peak(stores[1], fmt)
    extra = {"csv": 1, "json": 2, "jsonl": 0}[fmt]  # header; brackets
    assert lines == 5000 + extra
    # The whole store in a list: five times the 1,000-payment store's (cheaper to trace).
    everything = 5 * list_bytes(stores[0], omit_hops=fmt == "csv")
    assert peak < everything / 10, (peak, everything)


def test_export_memory_does_not_grow_with_the_store(stores: tuple[Path, Path]) -> None:
    small_peak, _ = export_peak(stores[0], "jsonl")
    large_peak, _ = export_peak(stores[1], "jsonl")
    # Five times the payments, about the same peak (allocator free lists add noise).
    assert large_peak < small_peak * 3, (small_peak, large_peak)


def list_bytes(db: Path, *, omit_hops: bool) -> int:
    """Memory taken by every payment of the store held in a list."""
    with open_store(db) as store:
        tracemalloc.start()
        try:
            payments = list(store.iter_payments(omit_hops=omit_hops))
            used, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert payments
    return used
