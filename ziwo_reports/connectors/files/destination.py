"""Where files go: a local folder or any fsspec URL (s3://, sftp://, gcs://, memory://), written so
that the target name only ever holds a whole file.

A file is first *staged*, then *committed*. Local: staged as a hidden temporary file in the target
folder, committed with fsync and os.replace (or os.link, which refuses to overwrite, for the `never`
and `version` policies). fsspec: staged in a local temporary file (writers need a seekable file;
remote ones often are not), committed by an upload as `.<name>.<token>.part` beside the target and
a move onto the name. Whatever is not committed is discarded: the temporary file, and the folders
staging made. Temporary names keep at most 100 bytes of the final name, so they are never the
reason a legal name fails."""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ziwo_reports.connectors.files.options import Overwrite
from ziwo_reports.files import check_folder, new_file_mode, part_prefix

_MAX_VERSIONS = 10_000


class TargetExistsError(FileExistsError):
    """The target exists and the overwrite policy is `never`."""


class OutsideDestinationError(ValueError):
    """A file name that would land outside the destination folder."""


class DestinationError(ValueError):
    """A destination that cannot hold files, such as a local path that is a file."""


@dataclass
class Staged:
    """A file being written: `file` while it is open; `path` and `bytes` once it is in place."""

    file: IO[bytes]
    path: str = ""
    bytes: int = 0
    target: str = ""  # where it goes
    tmp: str = ""  # local: the temporary file beside the target
    created: list[Path] = field(default_factory=list)  # local: folders made for it, outermost first
    committed: bool = False


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

    def check(self) -> None:  # noqa: B027 (remote destinations have nothing to check up front)
        """Refuse, before anything is written, a destination that cannot hold files."""

    @abstractmethod
    def stage(self, path: str) -> Staged:
        """A temporary file for `path`, open for writing."""

    @abstractmethod
    def commit(self, staged: Staged, overwrite: Overwrite) -> None:
        """Move a staged file to its target (or, for `version`, the next free name); sets its
        `path` and `bytes`."""

    @abstractmethod
    def discard(self, staged: Staged) -> None:
        """Close a staged file and remove what is left of it (nothing, once committed)."""

    @contextmanager
    def atomic(self, path: str, overwrite: Overwrite) -> Iterator[Staged]:
        """A context giving a binary file; on a clean exit the file is moved to `path` (or, for
        `version`, the next free name), on an exception it is removed."""
        staged = self.stage(path)
        try:
            yield staged
            self.commit(staged, overwrite)
        finally:
            self.discard(staged)

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

    def check(self) -> None:
        try:
            check_folder(self.folder)
        except ValueError as problem:
            raise DestinationError(str(problem)) from None

    def stage(self, path: str) -> Staged:
        final = Path(path)
        created = [folder for folder in reversed(final.parents) if not os.path.lexists(folder)]
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=part_prefix(final.name), suffix=".part", dir=final.parent)
        return Staged(os.fdopen(fd, "wb"), target=path, tmp=tmp, created=created)

    def commit(self, staged: Staged, overwrite: Overwrite) -> None:
        staged.file.flush()
        os.fsync(staged.file.fileno())
        staged.file.close()
        os.chmod(staged.tmp, new_file_mode())
        staged.path = self._commit(staged.tmp, staged.target, overwrite)
        staged.bytes = os.path.getsize(staged.path)
        staged.committed = True

    def discard(self, staged: Staged) -> None:
        staged.file.close()
        Path(staged.tmp).unlink(missing_ok=True)
        if not staged.committed:
            for folder in reversed(staged.created):  # innermost first; a folder others use stays
                with suppress(OSError):
                    folder.rmdir()

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

    def stage(self, path: str) -> Staged:
        return Staged(tempfile.TemporaryFile(), target=path)

    def commit(self, staged: Staged, overwrite: Overwrite) -> None:
        folder, name = posixpath.split(staged.target)
        part = posixpath.join(folder, f"{part_prefix(name)}{secrets.token_hex(4)}.part")
        local = staged.file
        size = local.tell()
        local.seek(0)
        try:
            self.fs.makedirs(folder, exist_ok=True)
            with self.fs.open(part, "wb") as remote:
                shutil.copyfileobj(local, remote, 1 << 20)
            final = self._free_name(staged.target, overwrite)
            self.fs.mv(part, final)
        except BaseException:
            if self.fs.exists(part):
                self.fs.rm(part)
            raise
        staged.path, staged.bytes, staged.committed = self.url(final), size, True

    def discard(self, staged: Staged) -> None:
        staged.file.close()

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
