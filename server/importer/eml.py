""".eml reader: one message file, or a directory of them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from crispin.server.importer.common import (
    ImportedMessage,
    ImportError_,
    SkipCallback,
    mtime,
    to_crlf,
)


def _natural_key(name: str) -> tuple[str, ...]:
    return tuple(p.zfill(40) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", name)))


def eml_files(path: Path) -> list[Path]:
    try:
        entries = list(os.scandir(path))
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read directory: {exc.strerror}") from exc
    files = [Path(e.path) for e in entries
             if e.name.lower().endswith(".eml") and not e.name.startswith(".") and e.is_file()]
    return sorted(files, key=lambda p: _natural_key(p.name))


def read_eml(path: Path, *, on_skip: SkipCallback | None = None) -> Iterator[ImportedMessage]:
    """One .eml file, or every ``*.eml`` file in a directory (natural name order)."""
    path = Path(path)
    for file in (eml_files(path) if path.is_dir() else [path]):
        try:
            st = file.stat()
            data = file.read_bytes()
        except OSError as exc:
            if on_skip:
                on_skip(str(file), f"cannot read: {exc.strerror}")
            continue
        if data.startswith(b"From "):  # an mbox envelope line, not a header
            data = data.partition(b"\n")[2]
        if not data.strip():
            if on_skip:
                on_skip(str(file), "empty file")
            continue
        yield ImportedMessage(to_crlf(data), (), mtime(st), str(file))


