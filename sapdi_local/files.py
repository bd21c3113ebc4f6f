"""Files the commands write (exports of every format): made whole beside the target under a
temporary name, private unless asked otherwise, then put in place in one step, never over
an existing file unless the user said to replace it, and never through a symbolic link.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from .errors import StorageError

PRIVATE_MODE = 0o600  # only the owner reads what was exported, unless asked
SHARED_MODE = 0o644  # --shared: everyone may read it


def temporary_beside(target: Path) -> Path:
    """A new, empty, private file in ``target``'s folder, to be filled and then published.
    Partial files an earlier export to the same name left behind when it was killed (its
    process gone) are removed first."""
    _remove_left_partials(target)
    for attempt in range(100):
        candidate = target.with_name(f".{target.name}.{os.getpid()}-{attempt}.partial")
        try:
            descriptor = os.open(
                candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, PRIVATE_MODE
            )
        except FileExistsError:
            continue
        except OSError as error:
            raise StorageError(
                f"cannot write in {target.parent}: {error.strerror}; choose a folder you may "
                "write to"
            ) from error
        os.close(descriptor)
        return candidate
    raise StorageError(f"cannot make a temporary file beside {target}; clean up {target.parent}")


def _remove_left_partials(target: Path) -> None:
    """Remove ``.NAME.PID-N.partial`` files beside ``target`` whose process is gone (killed
    with SIGKILL, which no cleanup survives). Only this user's regular files are removed,
    never a link; one whose process still runs (another export under way) is left."""
    prefix = f".{target.name}."
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return  # an unreadable folder: the export says so when it writes
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".partial")):
            continue
        pid_text = entry.name[len(prefix) : -len(".partial")].partition("-")[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # its process still runs
        except ProcessLookupError:
            pass
        except OSError:
            continue  # a process of another user: not ours to judge
        try:
            if (
                entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == os.getuid()
            ):
                os.unlink(entry.path)
        except OSError:
            pass  # gone meanwhile, or not ours to remove


def refuse_existing(target: Path, *, replace: bool) -> None:
    """An error now, before any work, when ``target`` exists (or is a link) and may not be
    replaced."""
    if not replace and (target.exists() or target.is_symlink()):
        raise StorageError(
            f"{target} already exists; choose another name, or pass --replace to replace it"
        )
    if replace and not target.is_symlink() and target.exists() and not target.is_file():
        raise StorageError(
            f"{target} is not a regular file (a folder, a device or a pipe); --replace only "
            "replaces files: choose a file name"
        )


def publish(temporary: Path, target: Path, *, mode: int, replace: bool) -> None:
    """Give the finished ``temporary`` file ``mode``, make it durable and put it at
    ``target``. Without ``replace`` an existing ``target`` (a link included) is an error and
    is left alone; with it, the name is replaced, never what a link there points to."""
    try:
        os.chmod(temporary, mode)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if replace:
            if not target.is_symlink() and target.exists() and not target.is_file():
                raise StorageError(
                    f"{target} is not a regular file (a folder, a device or a pipe); "
                    "--replace only replaces files: choose a file name"
                )
            os.replace(temporary, target)
        else:
            _link_new(temporary, target)
    except FileExistsError:
        temporary.unlink(missing_ok=True)
        raise StorageError(
            f"{target} already exists; choose another name, or pass --replace to replace it"
        ) from None
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise StorageError(f"cannot write {target}: {error.strerror or error}") from error


def _link_new(temporary: Path, target: Path) -> None:
    try:
        os.link(temporary, target)  # fails if anything has that name: never overwrites
    except FileExistsError:
        raise
    except OSError:
        # A filesystem without hard links (FAT on a USB stick, some network shares): a
        # check and a rename, which only a file made in between could slip past.
        if target.exists() or target.is_symlink():
            raise FileExistsError(target) from None
        os.replace(temporary, target)
        return
    temporary.unlink()


@contextmanager
def new_text_file(
    target: Path, *, mode: int = PRIVATE_MODE, replace: bool = False
) -> Iterator[TextIO]:
    """Write ``target`` as text through a temporary file published when the block ends;
    nothing is left behind if the block fails.

    >>> with new_text_file(Path("runs.json")) as handle:
    ...     _ = handle.write("{}")
    >>> Path("runs.json").read_text()
    '{}'
    """
    refuse_existing(target, replace=replace)
    temporary = temporary_beside(target)
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            yield handle
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    publish(temporary, target, mode=mode, replace=replace)
