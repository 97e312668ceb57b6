"""Online backup: ``Store.backup`` while threads pay, and ``lnpaystore backup DEST``
(read-only: the source's files stay as they were)."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

import pytest
from builders import open_store, pay

from lnpaystore import InvalidArgument, Io, PaymentStatus, Store
from lnpaystore.cli import main


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def files(directory: Path) -> dict[str, bytes]:
    """Every file of the directory (not its subdirectories) with its SHA-256."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).digest() for p in directory.iterdir() if p.is_file()
    }


def test_backup_while_threads_pay(db_path: Path, tmp_path: Path) -> None:
    acknowledged: list[bytes] = []
    stop = threading.Event()
    with open_store(db_path) as s:
        for _ in range(50):
            pay(s)

        def work() -> None:
            while not stop.is_set():
                acknowledged.append(bytes(pay(s).hash))

        workers = [threading.Thread(target=work) for _ in range(4)]
        for w in workers:
            w.start()
        while len(acknowledged) < 20:
            stop.wait(0.01)
        before = list(acknowledged)
        dest = tmp_path / "copy.db"
        s.backup(dest)
        stop.set()
        for w in workers:
            w.join()
    with Store.open(dest, read_only=True) as copy:
        copy.check_integrity()
        for h in before:
            assert copy.fetch_payment(h).status == PaymentStatus.SUCCEEDED
        assert copy.payment_counts().total >= 50 + len(before)


def test_existing_destination_is_refused(db_path: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"keep")
    with open_store(db_path) as s:
        with pytest.raises(InvalidArgument, match=r"taken\.db"):
            s.backup(taken)
        with pytest.raises(Io):
            s.backup(tmp_path / "missing" / "copy.db")
    assert taken.read_bytes() == b"keep"


def test_cli_backup(mixed_store: Path, tmp_path: Path) -> None:
    sums = files(mixed_store.parent)
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    code, out, err = run("--db", mixed_store, "backup", dest, "--json")
    assert code == 0, err
    assert json.loads(out)["bytes"] == dest.stat().st_size
    assert files(mixed_store.parent) == sums, "the source's files are unchanged"
    code, out, _ = run("--db", dest, "counts", "--json")
    assert code == 0
    assert json.loads(out)["total"] == 7
    code, _, err = run("--db", mixed_store, "backup", dest)
    assert code == 1
    assert "exists" in err
    assert "Traceback" not in err
