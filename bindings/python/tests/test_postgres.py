"""A store in PostgreSQL through the binding and the tool: ``Store.open`` and ``--db``
take a ``postgres://`` URL. Runs where ci/with-postgres.sh set LNPAYSTORE_TEST_PG_URL
(make pytest runs inside one); skipped elsewhere."""

from __future__ import annotations

import io
import json
import os
import subprocess

import pytest
from builders import creation, new_secret, pay

from lnpaystore import InvalidArgument, Io, Locked, PaymentStatus, ReadOnly, Store
from lnpaystore.cli import main

SERVER = os.environ.get("LNPAYSTORE_TEST_PG_URL", "")
# The test cluster's certificates (ca.crt, other-ca.crt), where it has TLS.
TLS = os.environ.get("LNPAYSTORE_TEST_PG_TLS", "")

pytestmark = pytest.mark.skipif(
    not SERVER, reason="LNPAYSTORE_TEST_PG_URL is not set (run under ci/with-postgres.sh)"
)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """A URL whose tables live in a new schema of the test cluster."""
    schema = f"py_{request.node.name.lower()}_{os.getpid()}"
    subprocess.run(
        ["psql", SERVER, "-qc", f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"],
        check=True,
    )
    sep = "&" if "?" in SERVER else "?"
    return f"{SERVER}{sep}options=-csearch_path%3D{schema}"


def test_open_a_database_url(database_url: str) -> None:
    with Store.open(database_url) as store:
        secret = pay(store)
        with pytest.raises(Locked, match="lease"):
            Store.open(database_url)
    again_url = database_url.replace("postgres://", "postgresql://", 1)
    with Store.open(again_url) as again:
        assert again.fetch_payment(secret.hash).status == PaymentStatus.SUCCEEDED


def test_the_tool_takes_a_database_url(database_url: str) -> None:
    with Store.open(database_url) as store:
        secret = pay(store)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", database_url, "--json", "list"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert str(secret.hash) in out.getvalue()
    assert json.loads(out.getvalue())["payments"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_read_only_beside_the_writer(database_url: str) -> None:
    with Store.open(database_url) as writer:
        secret = pay(writer)
        with Store.open(database_url, read_only=True) as reader:
            assert reader.fetch_payment(secret.hash).status == PaymentStatus.SUCCEEDED
            with pytest.raises(ReadOnly, match="init_payment"):
                reader.init_payment(new_secret().hash, creation(1000))
            later = pay(writer)
            assert reader.payment_counts().succeeded == 2
        # The tool's read commands take no lease: they run while the node writes.
        for argv in (["counts"], ["list"], ["show", str(later.hash)], ["inflight"], ["export"]):
            code, _, err = run("--db", database_url, *argv)
            assert code == 0, (argv, err)
        assert str(later.hash) in run("--db", database_url, "export")[1]
        code, _, err = run("--db", database_url, "delete", "--failed-only", "--yes")
        assert code != 0
        assert "locked" in err
        code, _, err = run("--db", database_url, "backup", "copy.db")
        assert code != 0
        assert "pg_dump" in err


def test_a_bad_url_names_the_problem_without_the_password() -> None:
    with pytest.raises(InvalidArgument, match="sslrootcert") as e:
        Store.open("postgres://u:s3cret@127.0.0.1:1/d?sslmode=verify-full")
    assert "s3cret" not in str(e.value)
    with pytest.raises(InvalidArgument, match=r"lease_duration=0\.2"):
        Store.open("postgres://u:s3cret@127.0.0.1:1/d?lease_duration=0.2")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--db", "postgres://u:s3cret@127.0.0.1:1/d?connect_timeout=2", "counts"],
        stdout=out,
        stderr=err,
    )
    assert code != 0
    assert "s3cret" not in err.getvalue()
    assert "u:***@" in err.getvalue()


def test_the_tool_refuses_to_compact_a_database(database_url: str) -> None:
    with Store.open(database_url) as store:
        pay(store)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", database_url, "compact", "--yes"], stdout=out, stderr=err)
    assert code != 0
    assert "nothing to compact" in err.getvalue()


@pytest.mark.skipif(not TLS, reason="the test cluster has no TLS (LNPAYSTORE_TEST_PG_TLS)")
def test_verify_full_with_the_clusters_root(database_url: str) -> None:
    url = database_url.replace("@127.0.0.1:", "@localhost:", 1)
    with Store.open(f"{url}&sslmode=verify-full&sslrootcert={TLS}/ca.crt") as store:
        secret = pay(store)
    wrong = f"{url}&sslmode=verify-full&sslrootcert={TLS}/other-ca.crt"
    with pytest.raises(Io, match=r"@localhost:.*certificate"):
        Store.open(wrong)
    with Store.open(database_url) as store:
        assert store.fetch_payment(secret.hash).status == PaymentStatus.SUCCEEDED
