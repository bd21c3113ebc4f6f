"""Files the commands write (exports of every format): made whole beside the target under a
temporary name, private unless asked otherwise, then put in place in one step, never over
an existing file unless the user said to replace it, and never through a symbolic link.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, TextIO

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


def json_array_text(
    items: Iterable[Any], *, depth: int = 0, encode: Callable[[Any], str] | None = None
) -> Iterator[str]:
    """The text of ``json.dumps(list(items), indent=2, ensure_ascii=False)`` as it stands
    ``depth`` levels inside a document so written, in pieces made one item at a time: a
    long array is written without being held whole. ``encode`` gives an item's text as
    ``json.dumps(item, indent=2, ensure_ascii=False)`` would (faster, for a known shape).

    >>> "".join(json_array_text([{"a": 1}]))
    '[\\n  {\\n    "a": 1\\n  }\\n]'
    """
    # json.dumps writes every newline inside a string as an escape: each one in its text
    # starts a line of the layout, which one more level of indentation moves right.
    inner = "\n" + "  " * (depth + 1)
    first = True
    for item in items:
        text = encode(item) if encode is not None else json.dumps(item, **INDENTED)
        yield ("[" if first else ",") + inner + text.replace("\n", inner)
        first = False
    yield "[]" if first else "\n" + "  " * depth + "]"


INDENTED: dict[str, Any] = {"indent": 2, "ensure_ascii": False}
"""How the commands write JSON for people and programs alike (print_json, exports)."""


def json_scalar(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False)`` of a number, None or text, with the usual
    kinds (a finite float, an int, None) made without the encoder's machinery."""
    kind = value.__class__
    if kind is float and value - value == 0:  # type: ignore[operator]  # finite floats only
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is str:
        return encode_basestring(value)  # type: ignore[arg-type]
    return json.dumps(value, ensure_ascii=False)


_STORED_VALUE = '{\n      "value": %s,\n      "step": %s,\n      "timestamp": %s\n    }'


def metric_history_json(run_id: str, name: str, values: Sequence[Sequence[Any]]) -> str:
    """``json.dumps({"run_id": run_id, "name": name, "values": [{"value": v, "step": s,
    "timestamp": t}, ...]}, indent=2, ensure_ascii=False)`` of (value, step, timestamp)
    triples, written directly: a history holds up to 1000 values, which the general
    encoder (in Python once indented) takes twenty times longer to lay out."""
    if values:
        columns = [_scalar_texts(column) for column in zip(*values, strict=True)]
        listed = ",\n    ".join(map(_STORED_VALUE.__mod__, zip(*columns, strict=True)))
        values_text = f"[\n    {listed}\n  ]"
    else:
        values_text = "[]"
    return (
        f'{{\n  "run_id": {json_scalar(run_id)},\n  "name": {json_scalar(name)},\n'
        f'  "values": {values_text}\n}}'
    )


def _scalar_texts(column: Sequence[Any]) -> Iterable[str]:
    """``json_scalar`` of each item: a column of finite floats or of ints, the usual kinds
    of a history, in one call to repr per item."""
    kinds = set(map(type, column))
    # A sum that is finite has no NaN or infinity among its terms (json spells those
    # its own way); one that overflows only sends a finite column down the long way.
    if kinds == {float} and math.isfinite(sum(column)):
        return map(float.__repr__, column)
    if kinds == {int}:
        return map(int.__repr__, column)
    return map(json_scalar, column)


def metric_values_csv(run_id: str, name: str, values: Sequence[Sequence[Any]]) -> str:
    """The lines ``csv.writer`` (its default dialect) writes of ``[run_id, name, step,
    value, timestamp]`` for each (value, step, timestamp) of a history. The usual history
    (float values and times, whole or missing steps) is laid out directly: numbers need no
    quoting, and the run and metric are quoted once rather than once per value."""
    kinds = {float}.issuperset
    if not (
        kinds(map(type, (value for value, _, _ in values)))
        and kinds(map(type, (stamp for _, _, stamp in values)))
        and {int, type(None)}.issuperset(map(type, (step for _, step, _ in values)))
    ):
        text = io.StringIO()
        csv.writer(text).writerows(
            [run_id, name, step, value, stamp] for value, step, stamp in values
        )
        return text.getvalue()
    text = io.StringIO()
    csv.writer(text).writerow([run_id, name, ""])
    prefix = text.getvalue()[:-2]  # "run,name," without the line's end
    return "".join(
        f"{prefix}{'' if step is None else int.__repr__(step)},"
        f"{float.__repr__(value)},{float.__repr__(stamp)}\r\n"
        for value, step, stamp in values
    )
