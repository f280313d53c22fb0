"""Writing output files so that a reader never sees half of one, and files that belong together
appear together or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: Bytes in one path component: the limit of ext4, XFS, APFS, NTFS (in UTF-16 units) and most others.
NAME_MAX = 255
#: Bytes of the final name kept in a temporary name: `.<name>.<random>.part` stays far below
#: NAME_MAX, so a final name that is legal never fails because of its temporary name.
_PART_STEM = 100


def new_file_mode() -> int:
    """The mode a newly created file gets under the process's umask (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def part_prefix(name: str) -> str:
    """The start of a temporary name beside `name`: `.` and the name cut to 100 bytes, then `.`."""
    return "." + os.fsencode(name)[:_PART_STEM].decode("utf-8", errors="ignore") + "."


def shown(name: str) -> str:
    """A long name shortened for a one-line message."""
    return name if len(name) <= 60 else f"{name[:40]}…{name[-15:]}"


def check_name_length(name: str) -> None:
    """Refuse a path component longer than NAME_MAX bytes, with its length."""
    size = len(os.fsencode(name))
    if size > NAME_MAX:
        raise ValueError(f"the name {shown(name)!r} is {size} bytes long; file systems allow {NAME_MAX} bytes per name")


def check_folder(folder: Path) -> None:
    """Refuse a folder that cannot hold files: a name in its path is too long, or it (or the
    nearest part of its path that exists) is not a folder."""
    for name in folder.parts:
        check_name_length(name)
    for part in (folder, *folder.parents):
        if os.path.lexists(part):
            if not part.is_dir():
                raise ValueError(f"{part} is a file, not a folder" if part.is_file() else f"{part} is not a folder")
            return


def check_output_file(path: Path) -> None:
    """Refuse, before anything is written, a path that cannot become a file: a folder, a name too
    long for the file system, or a parent that is not a folder."""
    check_name_length(path.name)  # first: a name too long fails the other checks with an OS error
    check_folder(path.absolute().parent)
    if path.is_dir():
        raise ValueError("is a folder; name a file in it")


def replace_together(moves: list[tuple[str, Path]]) -> None:
    """Move each temporary file onto its path. If one move fails, those already made are undone
    (an old file is kept as a hard link until the end to put it back), so the paths hold either all
    the new files or what they held before; where an old file cannot be put back (no hard links),
    the error names the files left in place."""
    done: list[tuple[Path, bool, str | None]] = []  # path, whether it held a file, that file's backup
    backups: list[str] = []
    try:
        for index, (tmp, path) in enumerate(moves):
            existed, backup = os.path.lexists(path), None
            if existed and index < len(moves) - 1:  # nothing after the last move can undo it
                backup = str(path.with_name(f"{part_prefix(path.name)}{secrets.token_hex(4)}.old"))
                try:
                    os.link(path, backup, follow_symlinks=False)
                    backups.append(backup)
                except OSError:
                    backup = None
            os.replace(tmp, path)
            done.append((path, existed, backup))
    except BaseException as error:
        left = []
        for path, existed, backup in reversed(done):
            try:
                if not existed:
                    path.unlink()
                elif backup is not None:
                    os.replace(backup, path)
                else:
                    left.append(str(path))
            except OSError:
                left.append(str(path))
        if left:
            raise OSError(f"{error}; already in place: {', '.join(left)}") from error
        raise
    finally:
        for backup in backups:
            Path(backup).unlink(missing_ok=True)


@contextmanager
def atomic_writers(*paths: Path) -> Iterator[list[IO[str]]]:
    """Text files written under temporary names beside `paths` and moved into place together when
    the block succeeds; a failure anywhere leaves none of them, and the old files as they were."""
    temps: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            handles = []
            for path in paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=part_prefix(path.name), suffix=".part", dir=path.parent)
                temps.append(tmp)
                handles.append(stack.enter_context(os.fdopen(fd, "w", encoding="utf-8")))
            yield handles
        for tmp in temps:
            os.chmod(tmp, new_file_mode())
        replace_together(list(zip(temps, paths, strict=True)))
    finally:
        for tmp in temps:
            Path(tmp).unlink(missing_ok=True)


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write to a temporary file beside `path` and rename it over `path` only on success,
    so a reader never sees half a file."""
    with atomic_writers(path) as (handle,):
        yield handle
