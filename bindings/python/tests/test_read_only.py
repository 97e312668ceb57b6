"""Read-only opens: ``Store.open(read_only=True)`` refuses every change with ``ReadOnly``,
and the CLI's read commands never change a byte of the store or its log, also when a
killed node left a log to replay."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from builders import creation, mc_result, new_secret, open_store, pay

from lnpaystore import Io, Locked, ReadOnly, Store
from lnpaystore.cli import main

TESTS = Path(__file__).resolve().parent


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file of the directory with its SHA-256."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_read_only_store_refuses_every_change(db_path: Path) -> None:
    with open_store(db_path) as s:
        paid = pay(s)
        with s.open_mission_control() as mc:
            mc.add_result(mc_result(1))
    before = fingerprint(db_path.parent)
    with Store.open(db_path, read_only=True) as s:
        assert s.payment_counts().succeeded == 1
        assert s.fetch_payment(paid.hash).hash == paid.hash
        with pytest.raises(ReadOnly, match="read-only: init_payment refused"):
            s.init_payment(new_secret().hash, creation(1000))
        with pytest.raises(ReadOnly):
            s.delete_payment(paid.hash)
        with pytest.raises(ReadOnly):
            s.delete_payments(all_payments=True)
        with pytest.raises(ReadOnly):
            s.compact()
        with s.open_mission_control() as mc:
            assert [r.id for r in mc.fetch_all()] == [1]
            with pytest.raises(ReadOnly):
                mc.add_result(mc_result(2))
    assert fingerprint(db_path.parent) == before
    with Store.open(db_path, read_only=True), pytest.raises(Locked):
        Store.open(db_path)


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(Io, match=r"missing\.db"):
        Store.open(missing, read_only=True)
    assert list(tmp_path.iterdir()) == []


def _read_commands(hash_hex: str, export_dir: Path) -> list[list[str]]:
    return [
        ["counts"],
        ["counts", "--json"],
        ["list"],
        ["list", "--json", "--status", "in-flight"],
        ["show", hash_hex],
        ["inflight", "--json"],
        ["export"],
        ["export", "--format", "csv", "--out", str(export_dir / "all.csv")],
        ["mc", "list"],
        ["mc", "export", "--format", "json"],
    ]


def _check_read_commands(db: Path, hash_hex: str, export_dir: Path) -> None:
    before = fingerprint(db.parent)
    for command in _read_commands(hash_hex, export_dir):
        code, out, err = run("--db", db, *command)
        assert code == 0, (command, err)
        assert out or command[0] == "export", command
        assert fingerprint(db.parent) == before, f"{command} changed the store's files"


def test_read_commands_never_write(mixed_store: Path, tmp_path: Path) -> None:
    with open_store(mixed_store) as s:
        hash_hex = str(next(iter(s.iter_payments())).hash)
        with s.open_mission_control() as mc:
            mc.add_result(mc_result(1))
    exports = tmp_path / "exports"
    exports.mkdir()
    _check_read_commands(mixed_store, hash_hex, exports)


CHILD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from builders import pay, in_flight, mc_result
from lnpaystore import Store
s = Store.open(sys.argv[1])
with s.open_mission_control() as mc:
    mc.add_result(mc_result(1))
first = pay(s)
for _ in range(20):
    pay(s)
in_flight(s)
print(first.hash, flush=True)
time.sleep(3600)
"""


def test_read_commands_after_a_kill_replay_in_memory(tmp_path: Path) -> None:
    db = tmp_path / "store" / "payments.db"
    db.parent.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(TESTS)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None
    hash_hex = child.stdout.readline().strip()
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(hash_hex) == 64, "the child acknowledged its payments"
    log = Path(str(db) + "-log")
    assert log.exists()
    assert log.stat().st_size > 0, "a log to replay"
    exports = tmp_path / "exports"
    exports.mkdir()
    _check_read_commands(db, hash_hex, exports)
    # Every acknowledged payment is there, from the log replayed in memory.
    code, out, _ = run("--db", db, "counts", "--json")
    assert code == 0
    assert json.loads(out)["succeeded"] == 21
    # A writable open replays it for good.
    with Store.open(db) as s:
        assert s.payment_counts().succeeded == 21
    assert not log.exists() or log.stat().st_size == 0
