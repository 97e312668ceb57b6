"""The ctypes mirror against include/lnpaystore.h: struct layouts (a compiled C program
prints sizeof/offsetof of every field), every function declared with the header's
arity, constants and enum values; library lookup and the ABI version check."""

from __future__ import annotations

import ctypes
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from builders import HEADER, REPO

import lnpaystore
from lnpaystore import _ffi, errors, mc
from lnpaystore.model import FailureReason, HtlcFailReason, PaymentStatus

pytestmark = pytest.mark.skipif(not HEADER.is_file(), reason="needs the repository header")


def header_text() -> str:
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", text)


def header_structs() -> dict[str, list[str]]:
    """struct name -> field names in order (opaque structs excluded)."""
    structs = {}
    for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\} \1;", header_text(), re.DOTALL):
        fields = []
        for decl in body.split(";"):
            decl = decl.strip()
            if decl:
                m = re.search(r"(\w+)\s*(\[[^\]]*\])?$", decl)
                assert m, decl
                fields.append(m.group(1))
        structs[name] = fields
    return structs


def header_functions() -> dict[str, int]:
    """function name -> number of parameters."""
    text = header_text()
    body = text[text.index('extern "C" {') :]
    functions = {}
    for name, params in re.findall(r"(lps_\w+)\(([^()]*)\);", body):
        params = params.strip()
        functions[name] = 0 if params in ("", "void") else params.count(",") + 1
    return functions


def header_enum(prefix: str) -> dict[str, int]:
    return {
        name: int(value) for name, value in re.findall(rf"\b{prefix}(\w+) = (\d+)", header_text())
    }


MC_STRUCTS = {
    "LpsMcOptions",
    "LpsMcHop",
    "LpsMcRoute",
    "LpsMcResult",
    "LpsMcResultList",
    "LpsMcStats",
}


def test_every_header_struct_is_mirrored_with_the_same_fields() -> None:
    structs = header_structs()
    mirrored = {cls.__name__: [f[0] for f in cls._fields_] for cls in _ffi.STRUCTS}
    assert mirrored == structs
    # The mission-control structs are in both (so the layout test covers them too).
    assert set(structs) >= MC_STRUCTS


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_struct_layouts_match_the_compiled_header(tmp_path: Path) -> None:
    structs = header_structs()
    lines = [
        "#include <stdio.h>",
        "#include <stddef.h>",
        '#include "lnpaystore.h"',
        "int main(void) {",
    ]
    for name, fields in structs.items():
        lines.append(f'  printf("{name} %zu %zu\\n", sizeof({name}), (size_t)_Alignof({name}));')
        for f in fields:
            lines.append(
                f'  printf("{name}.{f} %zu %zu\\n", offsetof({name}, {f}), '
                f"sizeof((({name} *)0)->{f}));"
            )
    lines += ["  return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Werror", f"-I{HEADER.parent}", str(src), "-o", str(exe)],
        check=True,
    )
    c_layout = {
        line.split(" ", 1)[0]: tuple(map(int, line.split()[1:]))
        for line in subprocess.run([str(exe)], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()
    }

    py_layout = {}
    for cls in _ffi.STRUCTS:
        py_layout[cls.__name__] = (ctypes.sizeof(cls), ctypes.alignment(cls))
        for field in cls._fields_:
            descriptor = getattr(cls, field[0])
            py_layout[f"{cls.__name__}.{field[0]}"] = (descriptor.offset, descriptor.size)
    assert py_layout == c_layout
    assert len(c_layout) == len(structs) + sum(map(len, structs.values()))
    assert {name for name in c_layout if "." not in name} >= MC_STRUCTS
    assert c_layout["LpsMcResult.failure_message"] == py_layout["LpsMcResult.failure_message"]


def test_mission_control_defaults_match_the_library() -> None:
    opts = _ffi.LpsMcOptions()
    _ffi.lib().lps_mc_options_default(ctypes.byref(opts))
    assert opts.max_records == mc.DEFAULT_MAX_RECORDS == 1000
    assert opts.flush_interval_ms == mc.DEFAULT_FLUSH_INTERVAL.total_seconds() * 1000 == 1000
    signature = inspect.signature(lnpaystore.Store.open_mission_control)
    assert signature.parameters["namespace"].default == "default"
    assert signature.parameters["max_records"].default == opts.max_records
    assert signature.parameters["flush_interval"].default == mc.DEFAULT_FLUSH_INTERVAL


def test_every_header_function_is_declared_with_its_arity() -> None:
    functions = header_functions()
    assert len(functions) > 25
    assert set(_ffi._FUNCTIONS) == set(functions)
    lib = _ffi.lib()
    for name, arity in functions.items():
        func = getattr(lib, name)
        assert func.argtypes is not None, name
        assert len(func.argtypes) == arity, name
        assert func.restype == _ffi._FUNCTIONS[name][0], name
        # Fallible functions raise through errcheck right after the call.
        assert (func.errcheck is _ffi._errcheck) == (name in _ffi.FALLIBLE), name


def test_status_codes_match_the_header_and_the_library() -> None:
    statuses = header_enum("LPS_STATUS_")
    assert statuses.pop("OK") == 0
    assert {name: cls.code for name, cls in _by_status_name().items()} == statuses
    for name, code in statuses.items():
        assert lnpaystore.status_name(code) == f"LPS_STATUS_{name}"
        assert errors.BY_CODE[code].status_name == f"LPS_STATUS_{name}"
    # Every status the library knows has a class (catches a newer library's codes).
    for code in range(1, 1000):
        if lnpaystore.status_name(code) != "LPS_STATUS_UNKNOWN":
            assert code in errors.BY_CODE, code


def _by_status_name() -> dict[str, type[errors.LnpaystoreError]]:
    return {cls.status_name.removeprefix("LPS_STATUS_"): cls for cls in errors.BY_CODE.values()}


def test_enums_and_constants_match_the_header() -> None:
    assert header_enum("LPS_PAYMENT_STATUS_") == {s.name: s.value for s in PaymentStatus}
    assert header_enum("LPS_FAILURE_REASON_") == {r.name: r.value for r in FailureReason}
    assert header_enum("LPS_HTLC_FAIL_REASON_") == {r.name: r.value for r in HtlcFailReason}
    text = HEADER.read_text()
    assert f"#define LPS_ABI_VERSION {_ffi.ABI_VERSION}\n" in text
    assert "#define LPS_MAX_BYTES_LEN (1 << 20)" in text
    assert f"#define LPS_MAX_ARRAY_LEN {_ffi.LPS_MAX_ARRAY_LEN}" in text
    assert "#define LPS_MAX_OPERATION_BYTES (4 << 20)" in text
    assert lnpaystore.MAX_OPERATION_BYTES == _ffi.LPS_MAX_OPERATION_BYTES == 4 << 20


def test_loaded_library_reports_its_versions() -> None:
    assert lnpaystore.abi_version() == lnpaystore.ABI_VERSION == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", lnpaystore.library_version())
    assert Path(lnpaystore.library_path()).is_file()


# -- finding the library ----------------------------------------------------------------


def test_candidates_are_the_override_or_the_package_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(_ffi.ENV_LIB, raising=False)
    monkeypatch.chdir(tmp_path)
    package_copy = Path(_ffi.__file__).resolve().parent / "_lib" / _ffi.library_file_name()
    assert _ffi.candidates() == [package_copy]
    # An explicit LNPAYSTORE_LIB is the only candidate: no silent fallback.
    monkeypatch.setenv(_ffi.ENV_LIB, "/nowhere/lib.so")
    assert _ffi.candidates() == [Path("/nowhere/lib.so")]


def _run_python(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LNPAYSTORE_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lookup_uses_env_lib_then_reports_it_when_missing(tmp_path: Path) -> None:
    lib = lnpaystore.library_path()
    code = "import lnpaystore; print(lnpaystore.library_path())"
    ok = _run_python(code, tmp_path, {_ffi.ENV_LIB: lib})
    assert ok.stdout.strip() == lib, ok.stderr
    missing = _run_python(code, tmp_path, {_ffi.ENV_LIB: str(tmp_path / "nope.so")})
    assert missing.returncode != 0
    assert "LibraryError" in missing.stderr
    assert "nope.so" in missing.stderr


def test_a_library_under_the_current_directory_is_never_loaded(tmp_path: Path) -> None:
    # A directory that looks like a checkout, with a real library in target/release:
    # loading code from wherever the caller stands would run whatever a directory holds.
    package = Path(lnpaystore.__file__).parent
    site = tmp_path / "site"
    shutil.copytree(
        package, site / "lnpaystore", ignore=shutil.ignore_patterns("__pycache__", "_lib")
    )
    work = tmp_path / "work"
    (work / "target" / "release").mkdir(parents=True)
    (work / "Cargo.toml").touch()
    planted = work / "target" / "release" / _ffi.library_file_name()
    shutil.copy(lnpaystore.library_path(), planted)
    result = _run_python(
        "import lnpaystore; print(lnpaystore.library_path())",
        work / "target",
        {"PYTHONPATH": str(site)},
    )
    assert result.returncode != 0, result.stdout
    assert "LibraryError" in result.stderr
    assert "LNPAYSTORE_LIB" in result.stderr  # says how to choose a library explicitly
    assert str(planted) not in result.stdout


def test_lookup_prefers_a_copy_shipped_in_the_package(tmp_path: Path) -> None:
    package = Path(lnpaystore.__file__).parent
    copy = tmp_path / "site" / "lnpaystore"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "_lib"))
    (copy / "_lib").mkdir()
    shipped = copy / "_lib" / _ffi.library_file_name()
    shutil.copy(lnpaystore.library_path(), shipped)
    result = _run_python(
        "import lnpaystore; print(lnpaystore.library_path())",
        REPO,  # the repository build is reachable too, but comes later
        {"PYTHONPATH": str(tmp_path / "site")},
    )
    assert result.stdout.strip() == str(shipped), result.stderr


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_a_library_of_another_abi_version_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "fake.c"
    src.write_text("unsigned int lps_abi_version(void) { return 2; }\n")
    fake = tmp_path / "libfake.so"
    subprocess.run(["gcc", "-shared", "-fPIC", str(src), "-o", str(fake)], check=True)
    result = _run_python(
        """
        import lnpaystore
        try:
            lnpaystore.Store.open("x.db")
        except lnpaystore.LibraryError as e:
            print(e)
        """,
        tmp_path,
        {_ffi.ENV_LIB: str(fake)},
    )
    assert "has C ABI version 2" in result.stdout, result.stderr
    assert "needs version 1" in result.stdout
    assert not (tmp_path / "x.db").exists()


def test_import_and_help_work_without_the_library(tmp_path: Path) -> None:
    result = _run_python(
        """
        import sys
        from lnpaystore.cli import main
        sys.exit(main(["--help"]))
        """,
        tmp_path,
        {_ffi.ENV_LIB: str(tmp_path / "missing.so")},
    )
    assert result.returncode == 0, result.stderr
    assert "exit codes" in result.stdout
