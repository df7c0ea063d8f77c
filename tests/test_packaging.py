"""What ``pip install crispin`` puts into site-packages (issue 10 point 13): one top-level
package, ``crispin``, whose layers are ``crispin.protocol``, ``crispin.storage`` and
``crispin.server`` -- never a ``server`` or ``storage`` of its own beside other projects'.

The wheel is built from this checkout (no network: ``--no-build-isolation`` uses the
setuptools already installed) and imported from a folder of its own with ``-I`` (isolated
mode: neither the checkout nor the current folder is on ``sys.path``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("protocol", "storage", "server")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wheel of what the Dockerfile copies (symlinks kept as symlinks), built in a copy
    so that setuptools' build/ and egg-info stay out of the checkout."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("crispin", *LAYERS):
        shutil.copytree(ROOT / name, src / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-cache-dir", "--no-index", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [path] = out.glob("crispin-*.whl")
    yield path


def test_the_wheel_installs_only_crispin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"crispin"}, sorted(tops)
    for layer in LAYERS:
        assert f"crispin/{layer}/__init__.py" in names, layer
    # Every module of the layers is in the wheel, under crispin/ (through the symlinks).
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if "__pycache__" not in path.parts:
                rel = path.relative_to(ROOT).as_posix()
                assert f"crispin/{rel}" in names, rel
    assert "crispin/server/http/inbox_page.html" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(entry_points).decode()
    assert "crispin = crispin.server.cli:main" in text
    assert "crispin = crispin.server.testing.pytest_plugin" in text


def test_the_layers_import_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    code = (
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import crispin.protocol, crispin.storage, crispin.server.cli, crispin.server.http\n"
        "from crispin.server.testing import pytest_plugin\n"
        "for name in ('crispin.protocol', 'crispin.storage', 'crispin.server.cli'):\n"
        "    print(sys.modules[name].__file__)\n"
        "for name in ('protocol', 'storage', 'server'):\n"
        "    print(name, importlib.util.find_spec(name) is None)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for line in lines[:3]:
        assert Path(line).is_relative_to(site / "crispin"), line
    # Isolated from the checkout, nothing answers to the old top-level names.
    assert lines[3:] == ["protocol True", "storage True", "server True"]
    version = subprocess.run(
        [sys.executable, "-I", "-c",
         f"import sys; sys.path.insert(0, {str(site)!r}); sys.argv = ['crispin', '--version'];"
         " import runpy; runpy.run_module('crispin', run_name='__main__')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("crispin "), version
