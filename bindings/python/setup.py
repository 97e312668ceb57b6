"""Builds liblnpaystore with cargo (setuptools-rust) and ships it inside the package.

The binding loads the library with ctypes: it is a plain C library, not a Python
extension module. So the Rust extension uses ``Binding.NoBinding``, the library keeps
its own file name (``lnpaystore/_lib/liblnpaystore.so``) and the wheel is tagged
``py3-none-<platform>``: any Python 3, one platform. Everything else (metadata, the
console script) is in pyproject.toml; the version is the crate's, read from Cargo.toml.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext
from setuptools_rust import Binding, RustExtension, Strip

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LIBRARY = "lnpaystore._lib.liblnpaystore"


def crate_version() -> str:
    """The one place the version is written: the [package] table of Cargo.toml."""
    text = (REPO / "Cargo.toml").read_text()
    match = re.search(r'^\[package\][^\[]*?^version = "([^"]+)"', text, re.M | re.S)
    if match is None:
        raise RuntimeError(f"no version in {REPO / 'Cargo.toml'}")
    return match.group(1)


def shared_library_suffix() -> str:
    return {"darwin": ".dylib", "win32": ".dll"}.get(sys.platform, ".so")


class BuildLibrary(build_ext):
    """Names the library file as the loader expects it, without Python's extension
    suffix (``.cpython-311-x86_64-linux-gnu.so``): ctypes loads it, Python never imports
    it."""

    def get_ext_filename(self, fullname: str) -> str:
        # Called with the dotted name or its last part, depending on the caller.
        if fullname in (LIBRARY, LIBRARY.rsplit(".", 1)[1]):
            return str(Path(*fullname.split("."))) + shared_library_suffix()
        return str(super().get_ext_filename(fullname))


class PlatformWheel(bdist_wheel):
    """Tags the wheel py3-none-<platform>: the library depends on the platform, not on
    the Python version or its ABI."""

    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


# A target directory of its own (unless CARGO_TARGET_DIR says otherwise): cargo builds
# the library here with other flags (`cargo rustc --crate-type cdylib`) than
# `cargo build --release` does, and sharing target/release would rebuild it each time one
# follows the other.
cargo_env = dict(os.environ)
cargo_env.setdefault("CARGO_TARGET_DIR", str(REPO / "target" / "python"))

setup(
    version=crate_version(),
    rust_extensions=[
        RustExtension(
            LIBRARY,
            path=os.path.relpath(REPO / "Cargo.toml", HERE),
            binding=Binding.NoBinding,
            features=["postgres"],  # the library's cargo features: the Makefile's FEATURES
            debug=False,  # also for editable installs, whose default is a debug build
            strip=Strip.All,
            env=cargo_env,
        )
    ],
    cmdclass={"build_ext": BuildLibrary, "bdist_wheel": PlatformWheel},
    zip_safe=False,
)
