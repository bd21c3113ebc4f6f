"""What the commands of ``sapdi-local`` share: options, errors, run lookup and numbers.

Text for people goes through ``table``, ``pairs``, ``line`` or ``CommandError``, which show
names and values literally (``display.printable``); ``--json`` output is exact.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from ..display import printable, quoted
from ..model import Run
from ..paths import resolve_db_path
from ..records import run_from_record
from ..store import ReadOnlyStore, RunFilter

EXIT_ERROR = 2  # bad input or storage trouble: click's exit code for usage errors
EXIT_CHECK_FAILED = 1  # a gated metric is out of bounds
MAX_LIMIT = 100_000  # runs --limit: at most this many runs, as a search gives at once
MAX_REPEATED = 100  # a repeated filter or column option (--tag, --metric): at most this often
MAX_COMPARED = 1000  # runs compared at once
F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """A one-line error for the user, shown as "Error: ..." with exit code 2."""

    exit_code = EXIT_ERROR

    def format_message(self) -> str:
        # Line by line: a search error's caret sits on a line of its own under the text.
        return "\n".join(printable(line) for line in self.message.split("\n"))


def nonblank_where(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --where that is given must say something: an empty one would select every run
    (and ``delete --where "$FILTER"`` with an unset variable would delete them all)."""
    if value is not None and not value.strip():
        raise click.BadParameter(
            'is empty; give an expression such as "metrics.accuracy > 0.9", or leave --where out',
            param_hint="--where",
        )
    return value


# ---------------------------------------------------------------- shared options


def db_option(function: F) -> F:
    option = click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Database file. Default: $SAPDI_LOCAL_DB, else the SDK's per-user file.",
    )
    return option(function)


def json_option(function: F) -> F:
    option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
    return option(function)


def database(db: Path | None) -> Path:
    """The file to use: the command's --db, else the one given before the command
    (``sapdi-local --db x.db runs``), else the SDK's default."""
    if db is None:
        db = click.get_current_context().find_root().params.get("db")
    return resolve_db_path(db)


@contextmanager
def reader(db: Path | None) -> Iterator[ReadOnlyStore]:
    """The database opened for reading only; closed afterwards."""
    store = ReadOnlyStore(database(db))
    try:
        yield store
    finally:
        store.close()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def key_value(text: str, option: str) -> tuple[str, str]:
    """Split ``key=value``; a missing ``=`` is a usage error."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint=option)
    return key, value


# ---------------------------------------------------------------- runs


def resolve_run(store: ReadOnlyStore, text: str) -> str:
    """The id of the run named by ``text``: its id, a unique id prefix, or its name."""
    candidates = store.run_candidates(text)
    if not candidates:
        raise CommandError(
            f"no run with id, id prefix or name {text!r} in {store.path}; "
            "list runs with `sapdi-local runs`"
        )
    if len(candidates) > 1:
        listed = "; ".join(
            f"{run_id} ({name!r}, {coll!r})" for run_id, name, coll in candidates[:10]
        )
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        raise CommandError(
            f"{text!r} names {len(candidates)} runs: {listed}{more}; give more of the id"
        )
    return candidates[0][0]


def load_run(store: ReadOnlyStore, text: str) -> Run:
    """The run named by ``text`` (see ``resolve_run``); a warning for each of its fields
    that cannot be read."""
    run_id = resolve_run(store, text)
    return run_from_record(store.select_runs(RunFilter(runs=(run_id,)))[0])


AGE = re.compile(r"([0-9]+)([mhd])")  # ASCII digits only: str.isdigit takes "²" too
AGE_MINUTES = {"m": 1, "h": 60, "d": 1440}
MAX_AGE_MINUTES = 36_525 * 1440  # --since takes ages up to 100 years
SINCE_FORMS = "a date (2026-11-01, 2026-11-01T12:00) or an age (30m, 12h, 7d)"


def parse_since(text: str) -> datetime:
    """``2026-11-01``, ``2026-11-01T12:00`` (UTC unless a zone is given), or an age:
    ``30m``, ``12h``, ``7d`` in ASCII digits, up to 100 years. Anything else or a longer
    age is a ``click.BadParameter`` naming ``--since``. Every date ``datetime`` takes (years
    1 to 9999) gives a time to compare with."""
    age = AGE.fullmatch(text)
    if age is not None:
        digits, unit = age.groups()
        minutes = int(digits) * AGE_MINUTES[unit] if len(digits) <= 9 else MAX_AGE_MINUTES + 1
        if minutes > MAX_AGE_MINUTES:
            raise click.BadParameter(
                f"{quoted(text)} is more than 100 years; give a shorter age or a date",
                param_hint="--since",
            )
        return datetime.now(timezone.utc) - timedelta(minutes=minutes)
    try:
        when = datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        when = None
    if when is None:
        raise click.BadParameter(f"{quoted(text)} is not {SINCE_FORMS}", param_hint="--since")
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- numbers on the command line


class WholeNumber(click.IntRange):
    """A whole number from ``minimum`` to ``maximum`` in ASCII digits: click's INT also
    takes other digits ("١٢"), signs, spaces, underscores and numbers of any size."""

    def __init__(self, minimum: int, maximum: int) -> None:
        super().__init__(min=minimum, max=maximum)
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        digits = text.isascii() and text.isdigit() and len(text) <= len(str(self.maximum))
        if not digits or not self.minimum <= int(text) <= self.maximum:
            self.fail(
                f"{quoted(text)} is not a whole number from {self.minimum} to {self.maximum}; "
                "give one in digits 0-9",
                param,
                ctx,
            )
        return int(text)


def at_most(limit: int, option: str, values: Sequence[str]) -> None:
    """Refuse more than ``limit`` values of a repeated option (a click.BadParameter)."""
    if len(values) > limit:
        raise click.BadParameter(
            f"given {len(values):,} times; give it at most {limit} times", param_hint=option
        )


class FiniteNumber(click.types.FloatParamType):
    """A finite number, at least ``minimum`` if given: never nan or an infinity, which no
    comparison fails."""

    def __init__(self, minimum: float | None = None) -> None:
        self.minimum = minimum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            parsed = float(value)
        except (TypeError, ValueError):
            parsed = math.nan
        if not math.isfinite(parsed):
            self.fail(
                f"{quoted(str(value))} is not a finite number; give a finite number", param, ctx
            )
        if self.minimum is not None and parsed < self.minimum:
            self.fail(
                f"{quoted(str(value))} is below {self.minimum:g}; give a number of at least "
                f"{self.minimum:g}",
                param,
                ctx,
            )
        return parsed


@contextmanager
def exits_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the command as Ctrl-C does, through the cleanups of the blocks it is
    in (an export's temporary files removed), rather than at once; exit code 143. Only
    where SIGTERM would kill the process outright: a handler the program set (the SDK's,
    which ends its run TERMINATED) or SIGTERM ignored stays as it is, and only the main
    thread can set a handler at all."""
    import signal
    import threading

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
