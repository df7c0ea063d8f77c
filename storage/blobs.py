"""Message bodies: inline in the database when small, content-addressed files when large.

DESIGN.md "Storage": bodies are immutable and stored once.  ``prepare`` (run in a worker
thread, before the write transaction) hashes the body and, for a large one, writes it to
a unique temporary file under ``blobs/tmp/`` and fsyncs it.  ``install`` runs *inside*
the write transaction on the writer thread: it renames the temporary file to
``blobs/<2 hex>/<sha256 hex>`` (or drops it if that file is already there) and fsyncs the
directory, so the file is durable before the row that references it commits.

Files are unlinked only by ``reclaim.unlink_orphans``, inside a write transaction that first
checks no row references the path.  Because installs and unlinks both happen on the
serialised writer, an append can never end up referencing a file a sweep removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

INLINE_MAX = 256 * 1024
"""Bodies up to this size live in the database row (covered by the commit's fsync)."""

BLOB_DIR = "blobs"
TMP_DIR = "tmp"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PreparedBody:
    """A hashed body, ready for the write transaction."""

    sha256: bytes
    size: int
    inline: bytes | None
    tmp_path: Path | None

    @property
    def relpath(self) -> str | None:
        """Where a large body lives, relative to the data directory."""
        return None if self.inline is not None else relpath_for(self.sha256)


def relpath_for(sha256: bytes) -> str:
    digest = sha256.hex()
    return f"{BLOB_DIR}/{digest[:2]}/{digest}"


def prepare(data_dir: Path, source: bytes | Path, inline_max: int = INLINE_MAX) -> PreparedBody:
    """Hash ``source`` (bytes, or a file the caller keeps and may delete afterwards)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        sha = hashlib.sha256(data).digest()
        if len(data) <= inline_max:
            return PreparedBody(sha, len(data), data, None)
        tmp = _tmp_file(data_dir)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return PreparedBody(sha, len(data), None, tmp)
    path = Path(source)
    if path.stat().st_size <= inline_max:
        data = path.read_bytes()
        if len(data) <= inline_max:  # the file could have grown since stat
            return PreparedBody(hashlib.sha256(data).digest(), len(data), data, None)
    hasher = hashlib.sha256()
    size = 0
    tmp = _tmp_file(data_dir)
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while chunk := src.read(_CHUNK):
            hasher.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return PreparedBody(hasher.digest(), size, None, tmp)


class SpoolWriter:
    """A large body arriving in pieces (APPEND, issue 10.4): written straight to a temporary
    file under ``blobs/tmp/`` and hashed as it comes, so :meth:`finish` gives a
    :class:`PreparedBody` whose file ``install`` moves into place: never read back, never
    copied. Blocking: call its methods from a worker thread."""

    def __init__(self, data_dir: Path) -> None:
        self.path = _tmp_file(data_dir)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by finish()/discard()
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._file.write(data)
        self.size += len(data)

    def finish(self) -> PreparedBody:
        """Flush and fsync the file; it now belongs to the returned body."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return PreparedBody(self._hash.digest(), self.size, None, self.path)

    def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def install(data_dir: Path, body: PreparedBody) -> None:
    """Writer thread, inside the transaction: move a large body to its final name."""
    if body.tmp_path is None:
        return
    relpath = body.relpath
    assert relpath is not None
    target = data_dir / relpath
    if target.exists():
        discard(body)
        return
    _mkdir_synced(target.parent)
    os.replace(body.tmp_path, target)
    _fsync_dir(target.parent)


def discard(body: PreparedBody) -> None:
    """Drop the temporary file of a body that was not installed."""
    if body.tmp_path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(body.tmp_path)


def read(data_dir: Path, relpath: str) -> bytes:
    return (data_dir / relpath).read_bytes()


def read_header(data_dir: Path, body: PreparedBody, header_size: object) -> bytes | None:
    """The first ``header_size`` bytes of an installed body file (its header block), or
    None if the size is unknown or the file cannot be read."""
    relpath = body.relpath
    if relpath is None or not isinstance(header_size, int):
        return None
    try:
        with open(data_dir / relpath, "rb") as f:
            return f.read(header_size)
    except OSError:
        return None


@dataclass(frozen=True)
class BlobFile:
    """A large body kept in a file, not read yet: FETCH reads only the range it answers
    and streams big ranges in chunks (issue 10.2, 10.3)."""

    path: Path

    def read(self, start: int, length: int) -> bytes:
        """Blocking (run it in a thread): ``length`` bytes from ``start``, fewer at the
        end of the file."""
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(max(0, length))


def unlink(data_dir: Path, relpath: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(data_dir / relpath)


def _tmp_file(data_dir: Path) -> Path:
    tmp_dir = data_dir / BLOB_DIR / TMP_DIR
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = tmp_dir / f"{uuid.uuid4().hex}.tmp"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    return path


def _mkdir_synced(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _fsync_dir(directory.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
