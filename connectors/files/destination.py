"""Where files go: a local folder or any fsspec URL (s3://, sftp://, gcs://, memory://), written so
that the target name only ever holds a whole file.

Local: a hidden temporary file in the target folder, fsync, then os.replace (or os.link, which
refuses to overwrite, for the `never` and `version` policies). fsspec: the file is written locally
first (writers need a seekable file; remote ones often are not), uploaded as `.<name>.<token>.part`
beside the target, then moved onto the name. On any exception the temporary file is removed."""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from connectors.files.options import Overwrite
from ziwo_reports.files import new_file_mode

_MAX_VERSIONS = 10_000


class TargetExistsError(FileExistsError):
    """The target exists and the overwrite policy is `never`."""


class OutsideDestinationError(ValueError):
    """A file name that would land outside the destination folder."""


@dataclass
class Staged:
    """A file being written: `file` while it is open; `path` and `bytes` once it is in place."""

    file: IO[bytes]
    path: str = ""
    bytes: int = 0


def versioned(name: str, number: int) -> str:
    """`report.xlsx` -> `report_v2.xlsx` (number 1 is the name itself)."""
    if number == 1:
        return name
    folder, base = posixpath.split(name)
    stem, dot, suffix = base.rpartition(".")
    base = f"{stem}_v{number}.{suffix}" if dot and stem else f"{base}_v{number}"
    return posixpath.join(folder, base)


class Destination(ABC):
    """A folder that files are written into, atomically, under names relative to it."""

    @abstractmethod
    def target(self, relative: str) -> str:
        """The full path of `relative`, checked to be inside the folder."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def atomic(self, path: str, overwrite: Overwrite) -> AbstractContextManager[Staged]:
        """A context giving a binary file; on a clean exit the file is moved to `path` (or, for
        `version`, the next free name), on an exception it is removed."""

    def check_free(self, path: str, overwrite: Overwrite) -> None:
        if overwrite == "never" and self.exists(path):
            raise TargetExistsError(f"{path} exists and overwrite is 'never'")


class LocalDestination(Destination):
    def __init__(self, folder: Path) -> None:
        self.folder = folder.expanduser().resolve()

    def target(self, relative: str) -> str:
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder) or path == self.folder:
            raise OutsideDestinationError(f"file name {relative!r} leads outside {self.folder}")
        return str(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    @contextmanager
    def atomic(self, path: str, overwrite: Overwrite) -> Iterator[Staged]:
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                staged = Staged(handle)
                yield staged
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, new_file_mode())
            staged.path = self._commit(tmp, path, overwrite)
            staged.bytes = os.path.getsize(staged.path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _commit(self, tmp: str, path: str, overwrite: Overwrite) -> str:
        if overwrite == "replace":
            os.replace(tmp, path)
            return path
        for number in range(1, _MAX_VERSIONS + 1):
            candidate = versioned(path, number)
            try:
                os.link(tmp, candidate)  # fails if the name is taken: no race with another writer
            except FileExistsError:
                if overwrite == "never":
                    raise TargetExistsError(f"{path} exists and overwrite is 'never'") from None
                continue
            except OSError:  # a filesystem without hard links: check, then rename
                if os.path.lexists(candidate):
                    if overwrite == "never":
                        raise TargetExistsError(f"{path} exists and overwrite is 'never'") from None
                    continue
                os.replace(tmp, candidate)
            return candidate
        raise TargetExistsError(f"{path}: versions 2 to {_MAX_VERSIONS} exist too")


class FsspecDestination(Destination):
    def __init__(self, url: str) -> None:
        import fsspec

        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/") or "/"

    def target(self, relative: str) -> str:
        path = posixpath.normpath(posixpath.join(self.root, relative))
        inside = self.root if self.root.endswith("/") else self.root + "/"
        if not path.startswith(inside):
            raise OutsideDestinationError(f"file name {relative!r} leads outside {self.url(self.root)}")
        return path

    def url(self, path: str) -> str:
        return self.fs.unstrip_protocol(path)

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    @contextmanager
    def atomic(self, path: str, overwrite: Overwrite) -> Iterator[Staged]:
        folder, name = posixpath.split(path)
        part = posixpath.join(folder, f".{name}.{secrets.token_hex(4)}.part")
        with tempfile.TemporaryFile() as local:
            staged = Staged(local)
            yield staged
            staged.bytes = local.tell()
            local.seek(0)
            try:
                self.fs.makedirs(folder, exist_ok=True)
                with self.fs.open(part, "wb") as remote:
                    shutil.copyfileobj(local, remote, 1 << 20)
                final = self._free_name(path, overwrite)
                self.fs.mv(part, final)
            except BaseException:
                if self.fs.exists(part):
                    self.fs.rm(part)
                raise
        staged.path = self.url(final)

    def _free_name(self, path: str, overwrite: Overwrite) -> str:
        # fsspec has no portable "create only if absent": exists() then mv() can race with another writer.
        if overwrite == "replace":
            return path
        for number in range(1, _MAX_VERSIONS + 1):
            candidate = versioned(path, number)
            if not self.fs.exists(candidate):
                return candidate
            if overwrite == "never":
                raise TargetExistsError(f"{self.url(path)} exists and overwrite is 'never'")
        raise TargetExistsError(f"{self.url(path)}: versions 2 to {_MAX_VERSIONS} exist too")


def open_destination(location: str | os.PathLike[str]) -> Destination:
    """A local folder for a path or file:// URL, else the fsspec file system of the URL."""
    text = os.fspath(location)
    if "://" not in text:
        return LocalDestination(Path(text))
    protocol = text.split("://", 1)[0].lower()
    if protocol in ("file", "local"):
        return LocalDestination(Path(text.split("://", 1)[1] or "/"))
    return FsspecDestination(text)
