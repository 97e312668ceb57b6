"""What a refused open says and leaves behind: the message names the path, in the
library's words (no storage-engine internals), and a refused file keeps every byte and
gets no log beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import write_newer_schema_store

from lnpaystore import Store, errors


def _refused(path: Path, expected: type[errors.LnpaystoreError]) -> str:
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(expected) as info:
        Store.open(path)
    message = info.value.message
    assert str(path) in message
    assert "redb" not in message.lower()
    if before is not None:
        assert path.read_bytes() == before
        assert not Path(f"{path}-log").exists()
    return message


def test_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    _refused(tmp_path / "missing-dir" / "x.db", errors.Io)


def test_a_file_of_another_kind_is_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a store" * 1000)
    assert "not an lnpaystore store" in _refused(junk, errors.Corrupt)


def test_a_newer_store_is_refused_untouched(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    write_newer_schema_store(newer)
    _refused(newer, errors.Version)
