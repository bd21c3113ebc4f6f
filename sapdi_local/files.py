"""Files the commands write (exports of every format): made whole beside the target under a
temporary name, private unless asked otherwise, then put in place in one step, never over
an existing file unless the user said to replace it, and never through a symbolic link.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from .errors import StorageError

PRIVATE_MODE = 0o600  # only the owner reads what was exported, unless asked
SHARED_MODE = 0o644  # --shared: everyone may read it


def temporary_beside(target: Path) -> Path:
    """A new, empty, private file in ``target``'s folder, to be filled and then published:
    ``.NAME.HOST.PID-N.partial``. Partial files an earlier export to the same name left on
    this machine when it was killed (its process gone) are removed first."""
    _remove_left_partials(target)
    host = _host()
    for attempt in range(100):
        candidate = target.with_name(f".{target.name}.{host}.{os.getpid()}-{attempt}.partial")
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


def _host() -> str:
    """This machine's name as a partial file's name holds it: a process id means nothing
    on another machine sharing the folder."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"


# A partial file's name after ".NAME.": the host, the process id and the attempt, then the
# ending of the partial itself or of what SQLite made beside it (a database export's copy).
_PARTIAL = re.compile(
    r"(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>[0-9]{1,9})-[0-9]{1,3}\.partial(?:-journal|-wal|-shm)?"
)


def _remove_left_partials(target: Path) -> None:
    """Remove partial files (and SQLite's journals of them) that an export to ``target``
    left on this machine when it was killed with SIGKILL, which no cleanup survives: only
    names of exactly that form, this user's regular files, never a link, and only when
    their process is gone; one of another machine or of a running export is left."""
    prefix = f".{target.name}."
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return  # an unreadable folder: the export says so when it writes
    host = _host()
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _PARTIAL.fullmatch(entry.name[len(prefix) :])
        if match is None or match["host"] != host:
            continue
        pid = int(match["pid"])
        if pid in (0, os.getpid()) or _process_runs(pid):
            continue
        try:
            if (
                entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == os.getuid()
            ):
                os.unlink(entry.path)
        except OSError:
            pass  # gone meanwhile, or not ours to remove


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` runs, as far as this user can tell: one of another user
    counts as running (not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


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
    with new_text_files([target], mode=mode, replace=replace) as (handle,):
        yield handle


@contextmanager
def new_text_files(
    targets: Sequence[Path], *, mode: int = PRIVATE_MODE, replace: bool = False
) -> Iterator[list[TextIO]]:
    """Write several files that belong together (an export's runs.csv and metrics.csv) as
    text, each through a temporary file; when the block ends, all are published or none
    is: a target that may not be written is found before any is published, and one that
    fails while publishing takes back those published before it (unless they replaced a
    file, which is then the new one)."""
    for target in targets:
        refuse_existing(target, replace=replace)
    temporaries: list[Path] = []
    try:
        with ExitStack() as files:
            handles: list[TextIO] = []
            for target in targets:
                temporaries.append(temporary_beside(target))
                handles.append(
                    files.enter_context(temporaries[-1].open("w", encoding="utf-8", newline=""))
                )
            yield handles
        for target in targets:
            refuse_existing(target, replace=replace)
        published: list[Path] = []
        try:
            for temporary, target in zip(temporaries, targets, strict=True):
                publish(temporary, target, mode=mode, replace=replace)
                published.append(target)
        except BaseException:
            if not replace:
                for target in published:
                    target.unlink(missing_ok=True)
            raise
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
