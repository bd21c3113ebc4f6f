"""The ``sapdi-local`` command: browse, compare, gate CI, submit, export and merge runs,
and start the metrics explorer (``ui``).

Reading commands open the file through ``ReadOnlyStore``: they never create, migrate or
lock it, so they are safe next to running trainings. ``submit`` writes through
``MLTrackingSDK``, so every rule of the API applies; ``merge`` writes through
``store.merge_from`` under the lock, ``import`` through ``store.import_runs``; ``push``
sends runs to an MLflow server (``cli.interop``). Any ``TrackingError`` becomes a one-line
message on stderr and exit code 2; ``check`` exits 1 when a metric is out of bounds.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, TextIO

import click

from ..display import printable
from ..errors import TrackingError
from .common import CommandError, db_option
from .comparing import compare, history
from .gating import check
from .interop import import_group, push_group
from .reading import collections, runs, show, where
from .sharing import export, merge
from .ui import ui
from .writing import delete, gc, submit


class TrackingGroup(click.Group):
    """Turns every TrackingError (and OS error) of a command into a CommandError."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            try:
                return super().invoke(ctx)
            except TrackingError as error:
                raise CommandError(str(error)) from None
            except OSError as error:
                raise CommandError(str(error)) from None
            except UnicodeEncodeError:
                # An argument that was not UTF-8 (the shell passed bytes Python keeps as
                # lone surrogates) cannot be compared with stored text.
                raise CommandError(
                    "an argument holds bytes that are not UTF-8 text; give names and "
                    "expressions as UTF-8"
                ) from None


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as a person reads it on a terminal: one line on stderr, no source lines."""
    click.echo(f"warning: {printable(str(message))}", err=True)


# ---------------------------------------------------------------- the command


@click.group(cls=TrackingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sapdi-local")
@db_option
def main(db: Path | None) -> None:
    """Look at, compare, gate on, submit, export, merge, import and push tracked runs,
    and browse them in a web page (ui).

    Every command takes --db PATH (default: $SAPDI_LOCAL_DB, else the file the SDK
    writes); commands that print data take --json.

    \b
    Example:
      sapdi-local runs --scenario churn --metric accuracy
    """


READING = (where, collections, runs, show, compare, history, check, ui)
WRITING = (submit, export, merge, delete, gc)
MOVING = (import_group, push_group)  # to and from other trackers
for command in (*READING, *WRITING, *MOVING):
    main.add_command(command)
