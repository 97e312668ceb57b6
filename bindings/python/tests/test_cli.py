"""The command-line tool: every command's output (text and --json), exit codes, the
confirmation prompt, export formats, mission control (mc list/export), and the
unusable-file cases."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from builders import (
    fail,
    in_flight,
    initiated,
    mc_result,
    open_store,
    pay,
    write_newer_schema_store,
)

from lnpaystore import McFailure, PaymentStatus, Store
from lnpaystore.cli import main
from lnpaystore.cli._output import CSV_FIELDS, MC_CSV_FIELDS, Progress


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    def json(self) -> Any:
        return json.loads(self.out)

    def table(self) -> list[list[str]]:
        """Rows of a text table, split on runs of two or more spaces."""
        import re

        return [re.split(r"\s{2,}", line.strip()) for line in self.out.splitlines()]


def run(*argv: str | Path, stdin: str = "") -> Result:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main([str(a) for a in argv], stdout=out, stderr=err)
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


def hashes(db: Path) -> list[str]:
    with open_store(db) as s:
        return [str(p.hash) for p in s.iter_payments()]


# -- list -------------------------------------------------------------------------------


def test_list_table(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "list")
    assert r.code == 0, r.err
    rows = r.table()
    assert rows[0] == [
        "SEQ",
        "CREATED (UTC)",
        "STATUS",
        "VALUE (msat)",
        "FEES (msat)",
        "HTLCS",
        "HASH",
    ]
    # Newest first by default, as lncli listpayments.
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(7, 0, -1)]
    assert [row[2] for row in rows[1:]] == [
        "INITIATED",
        "IN_FLIGHT",
        *["FAILED"] * 2,
        *["SUCCEEDED"] * 3,
    ]
    assert rows[7][3] == "100,000"
    assert rows[7][4] == "2,000"
    assert [row[6] for row in rows[1:]] == hashes(mixed_store)[::-1]
    assert r.err == ""
    oldest = run("--db", mixed_store, "list", "--oldest-first").table()
    assert [row[0] for row in oldest[1:]] == [str(i) for i in range(1, 8)]


def payment_keys() -> set[str]:
    return {
        "payment_hash",
        "value_sat",
        "value_msat",
        "payment_preimage",
        "payment_request",
        "status",
        "fee_sat",
        "fee_msat",
        "creation_time_ns",
        "htlcs",
        "payment_index",
        "failure_reason",
        "first_hop_custom_records",
        "creation_time",
        "payment_identifier",
        "payment_request_hex",
    }


def test_payment_json_uses_lncli_names(mixed_store: Path) -> None:
    with open_store(mixed_store) as s:
        paid = next(p for p in s.iter_payments() if p.sequence_num == 1)
    data = run("--db", mixed_store, "--json", "show", str(paid.hash)).json()
    assert set(data) == payment_keys()
    assert data["payment_hash"] == str(paid.hash)
    assert data["payment_index"] == "1"
    assert data["status"] == "SUCCEEDED"
    assert data["failure_reason"] == "FAILURE_REASON_NONE"
    # 64-bit integers are strings, as in lnd's JSON; 32-bit ones numbers.
    assert (data["value_msat"], data["value_sat"]) == ("100000", "100")
    assert (data["fee_msat"], data["fee_sat"]) == ("2000", "2")
    assert data["payment_preimage"] == str(paid.preimage)
    assert paid.info.creation_time is not None
    created_us = int(paid.info.creation_time.timestamp() * 1_000_000)
    assert abs(int(data["creation_time_ns"]) - created_us * 1000) < 1000
    assert data["creation_time"].endswith("Z")

    (htlc,) = data["htlcs"]
    assert htlc["attempt_id"] == "1"
    assert htlc["status"] == "SUCCEEDED"
    assert htlc["preimage"] == str(paid.preimage)
    assert htlc["failure"] is None
    assert int(htlc["resolve_time_ns"]) >= int(htlc["attempt_time_ns"]) > 0
    route = htlc["route"]
    assert route["total_time_lock"] == 850_100
    assert (route["total_amt_msat"], route["total_fees_msat"]) == ("102000", "2000")
    assert route["source_pub_key"] == "03" * 33
    hops = route["hops"]
    assert [h["chan_id"] for h in hops] == [str(800_000 << 40 | i) for i in range(3)]
    assert [h["fee_msat"] for h in hops] == ["1000", "1000", "0"]
    assert [h["amt_to_forward_msat"] for h in hops] == ["101000", "100000", "100000"]
    assert hops[0]["expiry"] == 850_000
    assert hops[0]["pub_key"] == "02" * 33
    assert hops[0]["tlv_payload"] is True
    assert hops[0]["mpp_record"] is None

    with open_store(mixed_store) as s:
        failed = next(p for p in s.iter_payments() if p.sequence_num == 4)
    data = run("--db", mixed_store, "--json", "show", str(failed.hash)).json()
    assert data["status"] == "FAILED"
    assert data["failure_reason"] == "FAILURE_REASON_NO_ROUTE"
    assert data["payment_preimage"] is None
    assert data["htlcs"][0]["status"] == "FAILED"
    assert data["htlcs"][0]["failure"] == {
        "code": "TEMPORARY_CHANNEL_FAILURE",
        "failure_source_index": 1,
        "reason": "MESSAGE",
        "message": "1007",
    }


def test_one_payment_shape_everywhere(mixed_store: Path) -> None:
    """list, show, inflight and every export format print the same fields for a
    payment; the containers are {"payments": [...]} (list, inflight, export json) or
    one payment per line (export jsonl)."""
    listed = run("--db", mixed_store, "--json", "list").json()["payments"]
    assert len(listed) == 7
    by_index = {p["payment_index"]: p for p in listed}
    exported = json.loads(run("--db", mixed_store, "export", "--format", "json").out)
    assert set(exported) == {"payments"}
    lines = run("--db", mixed_store, "export").out.splitlines()
    inflight = run("--db", mixed_store, "--json", "inflight").json()
    assert set(inflight) == {"payments"}
    for p in [*exported["payments"], *map(json.loads, lines), *inflight["payments"]]:
        assert p == by_index[p["payment_index"]]
    for p in listed:
        assert set(p) == payment_keys()
        assert run("--db", mixed_store, "--json", "show", p["payment_hash"]).json() == p
    rows = list(
        csv.DictReader(io.StringIO(run("--db", mixed_store, "export", "--format", "csv").out))
    )
    for row in rows:
        p = by_index[row["payment_index"]]
        for name in CSV_FIELDS:
            if name in p:
                assert row[name] == ("" if p[name] is None else str(p[name])), name


def test_list_json(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "list", "--json")  # --json after the command works too
    assert r.code == 0, r.err
    data = r.json()
    assert set(data) == {"payments", "first_index_offset", "last_index_offset", "next_index_offset"}
    assert data["next_index_offset"] is None
    assert (data["first_index_offset"], data["last_index_offset"]) == ("1", "7")
    assert [p["payment_hash"] for p in data["payments"]] == hashes(mixed_store)[::-1]
    assert data["payments"][3]["failure_reason"] == "FAILURE_REASON_NO_ROUTE"


def indexes(r: Result) -> list[int]:
    assert r.code == 0, r.err
    return [int(p["payment_index"]) for p in r.json()["payments"]]


def test_list_limit_offset_and_order(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "--json", "list", "--limit", "2")
    assert indexes(r) == [7, 6]
    assert r.json()["next_index_offset"] == "6"
    r = run("--db", mixed_store, "--json", "list", "--limit", "2", "--index-offset", "6")
    assert indexes(r) == [5, 4]
    r = run("--db", mixed_store, "--json", "list", "--oldest-first", "--limit", "3")
    assert indexes(r) == [1, 2, 3]
    assert r.json()["next_index_offset"] == "3"
    r = run("--db", mixed_store, "--json", "list", "--oldest-first", "--offset", "3")
    assert indexes(r) == [4, 5, 6, 7]
    # --reverse asked for newest first before it became the default.
    assert indexes(run("--db", mixed_store, "--json", "list", "--reverse", "--limit", "1")) == [7]
    assert run("--db", mixed_store, "list", "--reverse", "--oldest-first").code == 2
    assert len(run("--db", mixed_store, "--json", "list", "--limit", "0").json()["payments"]) == 7
    # Text mode: the hint goes to stderr, the table stays clean.
    r = run("--db", mixed_store, "list", "--limit", "2")
    assert len(r.table()) == 3
    assert "lnpaystore list --limit 2 --index-offset 6" in r.err


def test_next_page_hint_keeps_every_filter(db_path: Path) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with open_store(db_path) as s:
        for day in range(6):
            for _ in range(3):
                fail(s, created=t0 + timedelta(days=day, hours=1))
                pay(s, created=t0 + timedelta(days=day, hours=2))
    argv = [
        "list",
        "--status",
        "failed",
        "--since",
        "2024-01-02",
        "--until",
        "2024-01-05T23:00:00Z",
        "--oldest-first",
        "--limit",
        "4",
    ]
    seen: list[int] = []
    for _ in range(10):
        r = run("--db", db_path, *argv)
        assert r.code == 0, r.err
        seen += [int(row[0]) for row in r.table()[1:]]
        if not r.err:
            break
        assert r.err.startswith("(first 4 shown; for more: lnpaystore list ")
        hint = shlex.split(r.err.split("for more: ", 1)[1].rstrip(")\n"))
        assert hint[:2] == ["lnpaystore", "list"]
        argv = hint[1:]
        for kept in ("--status", "--since", "--until", "--oldest-first", "--limit"):
            assert kept in argv
    # Days 2 to 5, three failed payments each, oldest first, every page followed.
    want = [6 * day + 2 * i + 1 for day in range(1, 5) for i in range(3)]
    assert seen == want
    # The same in JSON, newest first.
    r = run(
        "--db",
        db_path,
        "--json",
        "list",
        "--status",
        "failed",
        "--since",
        "2024-01-02",
        "--until",
        "2024-01-05T23:00:00Z",
        "--limit",
        "4",
    )
    assert indexes(r) == want[::-1][:4]
    assert r.json()["next_index_offset"] == str(want[::-1][3])


def test_list_status_filter(mixed_store: Path) -> None:
    def seqs(*status: str) -> list[int]:
        argv = ["--db", str(mixed_store), "--json", "list", "--oldest-first"]
        for s in status:
            argv += ["--status", s]
        return indexes(run(*argv))

    assert seqs("failed") == [4, 5]
    assert seqs("succeeded") == [1, 2, 3]
    assert seqs("in-flight", "INITIATED") == [6, 7]
    assert seqs("in_flight") == [6]
    assert seqs("initiated", "failed") == [4, 5, 7]
    r = run("--db", mixed_store, "list", "--status", "done")
    assert r.code == 2


def test_list_in_flight_reads_the_index(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with open_store(db_path) as s:
        for day in range(4):
            pay(s, created=t0 + timedelta(days=day))
            in_flight(s, created=t0 + timedelta(days=day, hours=1))
            initiated(s, created=t0 + timedelta(days=day, hours=2))

    # No page of the whole store may be read for non-terminal statuses.
    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("scanned the store")

    monkeypatch.setattr(Store, "query_payments", no_scan)
    assert indexes(run("--db", db_path, "--json", "list", "--status", "in_flight")) == [11, 8, 5, 2]
    # In flight or initiated, days 1 and 2, three a page.
    page = (
        "--db",
        db_path,
        "--json",
        "list",
        "--status",
        "in-flight",
        "--status",
        "initiated",
        "--since",
        "2024-01-02",
        "--until",
        "2024-01-03",
        "--limit",
        "3",
    )
    r = run(*page)
    assert indexes(r) == [9, 8, 6]  # days 1 and 2: 4..6 and 7..9, paid ones left out
    assert r.json()["next_index_offset"] == "6"
    r = run(*page, "--offset", "6")
    assert indexes(r) == [5]
    r = run(
        "--db",
        db_path,
        "--json",
        "list",
        "--status",
        "in_flight",
        "--oldest-first",
        "--offset",
        "5",
    )
    assert indexes(r) == [8, 11]
    r = run("--db", db_path, "list", "--status", "in_flight", "--limit", "1")
    assert "--status in_flight --limit 1 --index-offset 11" in r.err


def test_list_date_window(db_path: Path) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with open_store(db_path) as s:
        for day in range(5):
            pay(s, created=t0 + timedelta(days=day, hours=12))

    def seqs(*args: str) -> list[int]:
        return indexes(run("--db", db_path, "--json", "list", "--oldest-first", *args))

    assert seqs("--since", "2024-01-02", "--until", "2024-01-03") == [2, 3]
    assert seqs("--since", "2024-01-04T00:00:00Z") == [4, 5]
    assert seqs("--until", str(int((t0 + timedelta(days=1)).timestamp()))) == [1]
    assert seqs("--since", "2024-01-02T13:00:00+01:00", "--until", "2024-01-02T12:00:00") == [2]
    r = run("--db", db_path, "list", "--since", "yesterday")
    assert r.code == 2


def test_list_empty_store(db_path: Path) -> None:
    open_store(db_path).close()
    r = run("--db", db_path, "list")
    assert (r.code, r.out) == (0, "no payments\n")
    assert run("--db", db_path, "--json", "list").json() == {
        "payments": [],
        "first_index_offset": "0",
        "last_index_offset": "0",
        "next_index_offset": None,
    }


# -- show, inflight, counts -------------------------------------------------------------


def test_show(mixed_store: Path) -> None:
    with open_store(mixed_store) as s:
        paid, failed = (p for p in s.iter_payments() if p.sequence_num in (1, 4))
    r = run("--db", mixed_store, "show", str(paid.hash))
    assert r.code == 0, r.err
    assert r.out.startswith(f"payment {paid.hash}\n")
    assert "status:            SUCCEEDED" in r.out
    assert f"preimage:          {paid.preimage}" in r.out
    assert "attempt 1: SETTLED" in r.out
    assert "channel 800000x0x0 (879609302220800000)" in r.out
    assert "route amounts:     total 102,000 msat, receiver 100,000 msat" in r.out

    r = run("--db", mixed_store, "show", str(failed.hash))
    assert "failure reason:    NO_ROUTE" in r.out
    assert "attempt 1: FAILED" in r.out
    assert "failure:           MESSAGE, source hop index 1, message 1007" in r.out

    data = run("--db", mixed_store, "--json", "show", str(paid.hash).upper()).json()
    assert data["payment_hash"] == str(paid.hash)


def test_show_errors(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "show", "abcd")
    assert r.code == 2
    assert "64 hex characters" in r.err
    r = run("--db", mixed_store, "show", "00" * 32)
    assert r.code == 7
    assert "no payment with that hash" in r.err


def test_inflight(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "inflight")
    assert r.code == 0, r.err
    rows = r.table()
    assert rows[0][:3] == ["SEQ", "CREATED (UTC)", "STATUS"]
    assert [(row[0], row[2]) for row in rows[1:]] == [("6", "IN_FLIGHT"), ("7", "INITIATED")]
    data = run("--db", mixed_store, "inflight", "--json").json()
    assert [p["payment_index"] for p in data["payments"]] == ["6", "7"]
    assert data["payments"][0]["htlcs"][0]["status"] == "IN_FLIGHT"


def test_counts(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "counts")
    assert r.code == 0, r.err
    assert {row[0]: row[1] for row in r.table()[1:]} == {
        "initiated": "1",
        "in_flight": "1",
        "succeeded": "3",
        "failed": "2",
        "total": "7",
    }
    assert run("--json", "--db", mixed_store, "counts").json() == {
        "initiated": 1,
        "in_flight": 1,
        "succeeded": 3,
        "failed": 2,
        "total": 7,
    }


# -- export -----------------------------------------------------------------------------


def test_export_formats(mixed_store: Path, tmp_path: Path) -> None:
    expected = hashes(mixed_store)
    r = run("--db", mixed_store, "export", "--format", "jsonl")
    assert r.code == 0, r.err
    lines = [json.loads(line) for line in r.out.splitlines()]
    assert [p["payment_hash"] for p in lines] == expected  # oldest first
    assert lines[0]["htlcs"][0]["route"]["hops"]  # full detail

    r = run("--db", mixed_store, "export", "--format", "json")
    data = json.loads(r.out)
    assert [p["payment_hash"] for p in data["payments"]] == expected
    assert data["payments"][3]["failure_reason"] == "FAILURE_REASON_NO_ROUTE"

    r = run("--db", mixed_store, "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert list(rows[0]) == list(CSV_FIELDS)
    assert [row["payment_hash"] for row in rows] == expected
    assert rows[0]["payment_index"] == "1"
    assert rows[0]["status"] == "SUCCEEDED"
    assert rows[0]["fee_msat"] == "2000"
    assert rows[0]["num_htlcs_succeeded"] == "1"
    assert len(rows[0]["payment_preimage"]) == 64
    assert rows[3]["num_htlcs_failed"] == "1"
    assert rows[3]["failure_reason"] == "FAILURE_REASON_NO_ROUTE"
    assert rows[5]["num_htlcs_in_flight"] == "1"
    assert rows[6]["status"] == "INITIATED"
    assert rows[6]["payment_preimage"] == ""
    assert r.err == ""  # no progress bar when stderr is not a terminal


def test_export_to_a_file(mixed_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    r = run("--db", mixed_store, "export", "--format", "csv", "--out", out)
    assert r.code == 0, r.err
    assert r.out == ""
    assert "exported 7 payments" in r.err
    assert len(list(csv.DictReader(out.open()))) == 7
    r = run("--db", mixed_store, "--json", "export", "--format", "jsonl", "--out", out)
    assert r.json() == {"exported": 7, "format": "jsonl", "out": str(out)}
    assert len(out.read_text().splitlines()) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "payments.db"]


def test_export_pages_through_the_store(db_path: Path) -> None:
    with open_store(db_path) as s:
        for _ in range(25):
            pay(s)
    r = run("--db", db_path, "export", "--format", "jsonl", "--page-size", "4")
    assert [json.loads(line)["payment_index"] for line in r.out.splitlines()] == [
        str(i) for i in range(1, 26)
    ]


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = Progress(10, tty)
    for _ in range(10):
        bar.advance()
    bar.finish()
    assert "[##############################] 100% 10/10 payments" in tty.getvalue()
    assert tty.getvalue().endswith("\n")
    pipe = io.StringIO()
    bar = Progress(10, pipe)
    bar.advance(10)
    bar.finish()
    assert pipe.getvalue() == ""


# -- delete, compact --------------------------------------------------------------------


def test_delete_asks_first(mixed_store: Path) -> None:
    r = run("--db", mixed_store, "delete", "--failed-only", stdin="n\n")
    assert r.code == 9
    assert "Delete the 2 FAILED payments" in r.err
    assert "aborted" in r.err
    r = run("--db", mixed_store, "delete", "--failed-only", stdin="")  # EOF: no
    assert r.code == 9
    with open_store(mixed_store) as s:
        assert s.payment_counts().failed == 2

    r = run("--db", mixed_store, "delete", "--failed-only", stdin="y\n")
    assert r.code == 0, r.err
    assert r.out == "deleted 2 failed payments; 5 payments left\n"
    with open_store(mixed_store) as s:
        assert s.payment_counts().failed == 0


def test_delete_yes_and_json(db_path: Path) -> None:
    with open_store(db_path) as s:
        fail(s)
        pay(s)
    r = run("--db", db_path, "--json", "delete", "--failed-attempts-only", "--yes")
    assert r.code == 0, r.err
    assert r.json() == {
        "deleted_payments": 0,
        "failed_only": False,
        "failed_attempts_only": True,
        "payments_left": 2,
    }
    assert r.err == ""
    with open_store(db_path) as s:
        failed = next(p for p in s.iter_payments() if p.status is PaymentStatus.FAILED)
        assert failed.htlcs == ()
    r = run("--db", db_path, "delete", "-y", "--failed-only")
    assert r.out == "deleted 1 failed payments; 1 payments left\n"


def test_delete_needs_exactly_one_mode(mixed_store: Path) -> None:
    assert run("--db", mixed_store, "delete", "--yes").code == 2
    assert run("--db", mixed_store, "delete", "--failed-only", "--failed-attempts-only").code == 2


def test_compact(db_path: Path) -> None:
    with open_store(db_path) as s:
        for _ in range(300):
            fail(s)
        s.delete_payments(failed_only=True)
    assert run("--db", db_path, "compact", stdin="no\n").code == 9
    r = run("--db", db_path, "compact", stdin="yes\n")
    assert r.code == 0, r.err
    assert "compacted" in r.out
    r = run("--db", db_path, "--json", "compact", "--yes")
    sizes = r.json()
    assert sizes["bytes_after"] <= sizes["bytes_before"]


# -- mission control --------------------------------------------------------------------


@pytest.fixture
def mc_store(db_path: Path) -> Path:
    """A closed store with 4 results in "default" (ids 1..4: success, failure at source
    index 1, success, failure without index) and 2 in "other"."""
    with open_store(db_path) as s:
        with s.open_mission_control() as mc:
            mc.add_results(
                [
                    mc_result(3),
                    mc_result(1),
                    mc_result(2, failure=McFailure(1, b"\x10\x07")),
                    mc_result(4, failure=McFailure(message=b"\x20\x02"), hops=1),
                ]
            )
        with s.open_mission_control("other") as mc:
            mc.add_results([mc_result(10), mc_result(11)])
    return db_path


def test_mc_list_table(mc_store: Path) -> None:
    r = run("--db", mc_store, "mc", "list")
    assert r.code == 0, r.err
    rows = r.table()
    assert rows[0] == ["REPLIED (UTC)", "ID", "SOURCE KEY", "AMOUNT (msat)", "HOPS", "RESULT"]
    assert rows[1] == [
        "2024-05-01 12:00:01.250000",
        "1",
        "02" * 8,
        "100,001",
        "3",
        "success",
    ]
    assert [row[1] for row in rows[1:]] == ["1", "2", "3", "4"]
    assert [row[4] for row in rows[1:]] == ["3", "3", "3", "1"]
    assert [row[5] for row in rows[1:]] == [
        "success",
        "failure (source index 1)",
        "success",
        "failure",
    ]
    assert r.err == ""
    r = run("--db", mc_store, "mc", "list", "--namespace", "other")
    assert [row[1] for row in r.table()[1:]] == ["10", "11"]


def test_mc_list_json(mc_store: Path) -> None:
    for argv in (("--json", "mc", "list"), ("mc", "--json", "list"), ("mc", "list", "--json")):
        r = run("--db", mc_store, *argv)
        assert r.code == 0, (argv, r.err)
        data = r.json()
        assert data["namespace"] == "default"
        assert data["count"] == 4
        assert [x["id"] for x in data["results"]] == [1, 2, 3, 4]
    first, failed = data["results"][0], data["results"][1]
    assert first["success"] is True
    assert first["failure"] is None
    assert first["time_reply"] == "2024-05-01T12:00:01.250000Z"
    assert first["time_forwarded"] == "2024-05-01T12:00:01Z"
    assert first["route"]["source_pub_key"] == "02" * 33
    assert first["route"]["total_amount_msat"] == 100_001
    assert first["route"]["hops"][0] == {
        "channel_id": 800_000 << 40 | 1 << 16,
        "pub_key": "03" * 33,
        "amt_to_forward_msat": 100_000,
        "has_blinding_point": False,
        "has_custom_records": False,
    }
    assert failed["success"] is False
    assert failed["failure"] == {"source_index": 1, "message": "1007"}
    assert data["results"][3]["failure"] == {"source_index": None, "message": "2002"}


def test_mc_list_of_an_empty_namespace(mc_store: Path) -> None:
    r = run("--db", mc_store, "mc", "list", "--namespace", "never-written")
    assert (r.code, r.out, r.err) == (
        0,
        "no mission-control results in namespace 'never-written'\n",
        "",
    )
    r = run("--db", mc_store, "--json", "mc", "list", "--namespace", "never-written")
    assert r.json() == {"namespace": "never-written", "results": [], "count": 0}


def test_mc_commands_do_not_trim_a_namespace(db_path: Path) -> None:
    # More than the library's default limit (1000): opening with the default would
    # evict the oldest at once.
    with open_store(db_path) as s, s.open_mission_control(max_records=0) as mc:
        mc.add_results(mc_result(n, hops=1) for n in range(1, 1101))
    r = run("--db", db_path, "--json", "mc", "list")
    assert r.json()["count"] == 1100
    r = run("--db", db_path, "mc", "export", "--format", "jsonl")
    assert len(r.out.splitlines()) == 1100
    with open_store(db_path) as s, s.open_mission_control(max_records=0) as mc:
        assert mc.stats().stored == 1100


def test_mc_export_formats(mc_store: Path) -> None:
    r = run("--db", mc_store, "mc", "export", "--format", "jsonl")
    assert r.code == 0, r.err
    lines = [json.loads(line) for line in r.out.splitlines()]
    assert [x["id"] for x in lines] == [1, 2, 3, 4]
    assert lines[1]["failure"] == {"source_index": 1, "message": "1007"}
    assert len(lines[0]["route"]["hops"]) == 3  # full detail

    r = run("--db", mc_store, "mc", "export", "--format", "json", "--namespace", "other")
    data = json.loads(r.out)
    # The shape of mc list --json.
    assert data == run("--db", mc_store, "--json", "mc", "list", "--namespace", "other").json()
    assert [x["id"] for x in data["results"]] == [10, 11]
    assert data["results"][0]["success"] is True

    r = run("--db", mc_store, "mc", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0] == {
        "time_reply": "2024-05-01T12:00:01.250000Z",
        "time_forwarded": "2024-05-01T12:00:01Z",
        "id": "1",
        "source_pub_key": "02" * 33,
        "total_amount_msat": "100001",
        "num_hops": "3",
        "channel_ids": " ".join(str(800_000 << 40 | 1 << 16 | i) for i in range(3)),
        "success": "true",
        "failure_source_index": "",
        "failure_message": "",
    }
    assert (rows[1]["success"], rows[1]["failure_source_index"], rows[1]["failure_message"]) == (
        "false",
        "1",
        "1007",
    )
    assert (rows[3]["failure_source_index"], rows[3]["failure_message"]) == ("", "2002")
    assert r.err == ""

    empty = run("--db", mc_store, "mc", "export", "--format", "json", "--namespace", "none")
    assert json.loads(empty.out) == {"namespace": "none", "results": [], "count": 0}
    empty = run("--db", mc_store, "mc", "export", "--format", "csv", "--namespace", "none")
    assert empty.out.splitlines() == [",".join(MC_CSV_FIELDS)]


def test_mc_export_to_a_file(mc_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "mc.csv"
    r = run("--db", mc_store, "mc", "export", "--format", "csv", "--out", out)
    assert r.code == 0, r.err
    assert r.out == ""
    assert "exported 4 mission-control results of namespace 'default'" in r.err
    assert len(list(csv.DictReader(out.open()))) == 4
    r = run("--db", mc_store, "--json", "mc", "export", "--namespace", "other", "--out", out)
    assert r.json() == {"exported": 2, "format": "jsonl", "namespace": "other", "out": str(out)}
    assert len(out.read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mc.csv", "payments.db"]
    # A store that cannot be read leaves no file behind.
    missing = tmp_path / "missing.json"
    r = run("--db", tmp_path / "nope.db", "mc", "export", "--out", missing)
    assert r.code == 3
    assert not missing.exists()


def test_mc_errors(mc_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--db", mc_store, "mc").code == 2
    r = run("--db", mc_store, "mc", "list", "--namespace", "")
    assert r.code == 2
    assert "namespace must have 1 to 255 bytes" in capsys.readouterr().err  # argparse's
    assert run("--db", mc_store, "mc", "list", "--namespace", "x" * 256).code == 2
    assert run("--db", mc_store, "mc", "export", "--format", "xml").code == 2
    assert run("--db", tmp_path / "nope.db", "mc", "list").code == 3
    assert not (tmp_path / "nope.db").exists()
    with open_store(mc_store):
        r = run("--db", mc_store, "mc", "list")
    assert r.code == 4
    assert "node running" in r.err


# -- unusable stores ------------------------------------------------------------------


def test_missing_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    for command in ("list", "counts", "inflight", "compact"):
        r = run("--db", missing, command, "--yes" if command == "compact" else "--json")
        assert r.code == 3, (command, r.err)
        assert "no such file" in r.err
    assert not missing.exists()


def test_locked_store(mixed_store: Path) -> None:
    with open_store(mixed_store):
        r = run("--db", mixed_store, "counts")
    assert r.code == 4
    assert "locked" in r.err
    assert "node running" in r.err


def test_locked_by_another_process(mixed_store: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, lnpaystore; s = lnpaystore.Store.open(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(mixed_store),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        assert run("--db", mixed_store, "list").code == 4
    finally:
        holder.communicate("", timeout=30)
    assert run("--db", mixed_store, "list").code == 0


def test_newer_schema_version(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    write_newer_schema_store(newer)
    r = run("--db", newer, "list")
    assert r.code == 5
    assert "newer lnpaystore" in r.err
    assert "schema version 2" in r.err
    # Refused without a migration: still the newer version. (redb itself rewrites its
    # header on open and close, so the bytes are not identical.)
    assert run("--db", newer, "counts").code == 5


def test_corrupt_and_empty_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(64 * 1024))
    r = run("--db", junk, "counts")
    assert r.code == 6
    assert "corrupt" in r.err
    empty = tmp_path / "empty.db"
    empty.touch()
    r = run("--db", empty, "counts")
    assert r.code == 6
    assert "empty file" in r.err
    assert empty.stat().st_size == 0  # not turned into a store
    r = run("--db", tmp_path, "counts")
    assert r.code == 1
    assert "directory" in r.err


def test_db_option_and_environment(mixed_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("counts").code == 2
    assert run("counts", "--db", mixed_store).code == 0
    monkeypatch.setenv("LNPAYSTORE_DB", str(mixed_store))
    assert run("--json", "counts").json()["total"] == 7


def test_user_errors_give_a_message_not_a_traceback(mixed_store: Path, tmp_path: Path) -> None:
    nowhere = tmp_path / "no" / "such" / "dir" / "x.csv"
    r = run("--db", mixed_store, "export", "--format", "csv", "--out", nowhere)
    assert r.code == 1
    assert r.err == (f"lnpaystore: {nowhere}: cannot write the export: No such file or directory\n")
    r = run("--db", mixed_store, "mc", "export", "--out", tmp_path)  # a directory
    assert r.code == 1
    assert f"{tmp_path}: cannot write the export" in r.err
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir(mode=0)
    try:
        r = run("--db", unreadable / "payments.db", "counts")
        assert r.code in (1, 3), r.err
        assert "Traceback" not in r.err
    finally:
        unreadable.chmod(0o700)
    # As a program: every user error ends with one line on stderr.
    cases: list[list[str]] = [
        ["--db", str(mixed_store), "export", "--out", str(nowhere)],
        ["--db", str(mixed_store), "list", "--since", "soon"],
        ["--db", str(mixed_store), "list", "--limit", "-1"],
        ["--db", str(mixed_store), "show", "xyz"],
        ["--db", str(tmp_path), "counts"],
        ["--db", str(tmp_path / "missing.db"), "list"],
        ["--db", str(mixed_store), "delete", "--yes"],
        ["list"],
    ]
    for argv in cases:
        p = subprocess.run(
            [sys.executable, "-m", "lnpaystore", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "LNPAYSTORE_DB": ""},
        )
        assert p.returncode != 0, argv
        assert "Traceback" not in p.stderr, (argv, p.stderr)
        assert p.stderr.strip(), argv


def test_help_names_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    def help_of(*argv: str) -> str:
        assert run(*argv, "--help").code == 0
        return " ".join(capsys.readouterr().out.split())

    text = help_of("export")
    assert "(default: jsonl)" in text
    assert "(default: standard output)" in text
    text = help_of("list")
    for default in ("newest first", "(default: 100; 0 = all)", "default: every status"):
        assert default in text, default
    assert "(default: default)" in help_of("mc", "list")
    assert "default: $LNPAYSTORE_DB" in help_of()


def test_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--help").code == 0
    text = capsys.readouterr().out
    for word in ("list", "show", "inflight", "counts", "export", "delete", "compact", "mc"):
        assert word in text
    assert "exit codes" in text
    assert "store locked" in text


# -- as installed -----------------------------------------------------------------------


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("lnpaystore")
    return str(beside) if beside.exists() else shutil.which("lnpaystore")


@pytest.mark.parametrize("how", ["module", "script"])
def test_entry_points(how: str, mixed_store: Path) -> None:
    if how == "module":
        cmd = [sys.executable, "-m", "lnpaystore"]
    else:
        script = _console_script()
        if script is None:
            pytest.skip("the lnpaystore console script is not installed")
        cmd = [script]
    r = subprocess.run(
        [*cmd, "--db", str(mixed_store), "--json", "counts"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total"] == 7
    missing = subprocess.run([*cmd, "--db", f"{mixed_store}.nope", "list"], capture_output=True)
    assert missing.returncode == 3


def test_a_closed_pipe_is_not_an_error(db_path: Path) -> None:
    with open_store(db_path) as s:
        for _ in range(300):
            pay(s)
    r = subprocess.run(
        f'"{sys.executable}" -m lnpaystore --db "{db_path}" export --format jsonl | head -1',
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(r.stdout)["payment_index"] == "1"
    assert "Traceback" not in r.stderr
