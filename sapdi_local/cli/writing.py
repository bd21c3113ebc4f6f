"""The commands that change the database: submit, delete and gc."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from ..errors import PersistWarning, TrackingError
from ..model import RUNNING
from ..records import run_from_record
from ..sdk import MLTrackingSDK
from ..selectors import delete_filter
from ..store import Store, search_run_records
from ..validation import check_metric_value, check_name, check_parameter, check_tag
from .common import (
    CommandError,
    database,
    db_option,
    json_option,
    key_value,
    nonblank_where,
    print_json,
    reader,
    resolve_run,
)
from .tables import (
    collection_label,
    plural,
    size_text,
    table,
)

# ---------------------------------------------------------------- submit


def metric_number(name: str, value: object) -> float:
    """A Submit Metrics value: a number, or a string holding one."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise CommandError(
                f"metric {name!r}: {value!r} is not a number; give numbers or numeric strings, "
                'for example RMSE=0.31 or {"RMSE": "0.31"}'
            ) from None
    return check_metric_value(check_name("metric name", name), value)


MAX_PAYLOAD_BYTES = 16 * 1024 * 1024  # far above any real metrics payload
MAX_SUBMITTED_METRICS = 10_000  # one run's metrics in one call; more is a misuse or an attack


def read_payload(text: str) -> dict[str, Any]:
    """The Submit Metrics operator's payload: a flat JSON object of name to number."""
    example = 'expected an object such as {"RMSE": "0.31", "n": "1200"}'
    if not text.strip():
        raise CommandError(f"stdin is empty: nothing to submit; {example}")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"stdin is not JSON ({error}); {example}") from None
    except (ValueError, RecursionError) as error:
        # Python's own bounds: integers of over 4300 digits, nesting deeper than its stack.
        reason = "it nests too deeply" if isinstance(error, RecursionError) else str(error)
        raise CommandError(f"stdin cannot be read as metrics ({reason}); {example}") from None
    if not isinstance(payload, dict):
        raise CommandError(
            f"stdin holds a JSON {type(payload).__name__}; expected an object of metric name to "
            'number, such as {"RMSE": "0.31", "n": "1200"}'
        )
    if not payload:
        raise CommandError(f"stdin holds an empty object: nothing to submit; {example}")
    return payload


def read_stdin_payload() -> dict[str, Any]:
    """The payload on stdin, refused when stdin is a terminal (nobody is typing JSON there)
    or larger than any metrics payload should be."""
    stream = sys.stdin
    if stream is None or stream.isatty():
        raise click.UsageError(
            "give metrics as NAME=VALUE arguments, or pipe a JSON object into stdin "
            "(echo '{\"RMSE\": 0.31}' | sapdi-local submit)"
        )
    text = stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(text) > MAX_PAYLOAD_BYTES:
        raise CommandError(
            f"stdin holds more than {MAX_PAYLOAD_BYTES // (1024 * 1024)} MiB; submit a "
            "run's metrics, not a data set"
        )
    return read_payload(text)


@click.command()
@click.argument("pairs", metavar="[NAME=VALUE]...", nargs=-1)
@click.option("--run", "run_named", help="Log into this existing run (id, id prefix or name).")
@click.option("--run-collection", help="Collection of the new run (or move --run there).")
@click.option("--run-name", help="Name of the new run (or rename --run).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Log a parameter.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Set a tag.")
@db_option
@json_option
def submit(
    pairs: tuple[str, ...],
    run_named: str | None,
    run_collection: str | None,
    run_name: str | None,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    db: Path | None,
    as_json: bool,
) -> None:
    """Log metrics from a shell or CI step and print the run id.

    Metrics come as NAME=VALUE arguments or, without them, as a JSON object on stdin
    (the Submit Metrics operator's payload, values numbers or numeric strings). Without
    --run a new run is started and ended.

    \b
    Examples:
      sapdi-local submit RMSE=0.31 n=1200 --run-collection nightly --param model=xgb
      echo '{"RMSE": "0.31", "n": "1200"}' | sapdi-local submit --run-name ci-42
    """
    raw = dict(key_value(text, "NAME=VALUE") for text in pairs) if pairs else read_stdin_payload()
    if len(raw) > MAX_SUBMITTED_METRICS:
        raise CommandError(
            f"{len(raw)} metrics in one submit; the limit is {MAX_SUBMITTED_METRICS}: "
            "submit fewer, or log them from Python with tracking.log_metrics"
        )
    metrics = {name: metric_number(name, value) for name, value in raw.items()}
    parameters = dict(check_parameter(*key_value(text, "--param")) for text in params)
    tag_values = dict(check_tag(*key_value(text, "--tag")) for text in tags)
    path = database(db)
    if run_named is not None:
        with reader(path) as store:
            run_id = resolve_run(store, run_named)
    sdk = MLTrackingSDK(db_path=path)
    started: str | None = None
    # An automatic persist that fails warns and retries at end_run; if that fails too, the
    # error below says so once; if it works, nothing was lost and there is nothing to say.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PersistWarning)
        try:
            if run_named is None:
                started = run_id = sdk.start_run(
                    run_collection_name=run_collection, run_name=run_name
                ).id
            elif run_collection or run_name:
                sdk.update_run_info(
                    run=run_id, run_name=run_name, run_collection_name=run_collection
                )
            if parameters:
                sdk.log_parameters(parameters, run=run_id)
            if tag_values:
                sdk.set_tags(tag_values, run=run_id)
            if metrics:
                sdk.log_metrics(metrics, run=run_id)
            if run_named is None:
                sdk.end_run()
            else:
                sdk.persist_run()
        except TrackingError as error:
            raise CommandError(submit_failure(sdk, started, error)) from None
    sdk.close()
    if as_json:
        print_json({"run_id": run_id, "metrics": metrics})
    else:
        click.echo(run_id)


# The SDK's advice is for code that keeps its values and persists again; a command that
# failed is run again instead.
_PERSIST_ADVICE = (
    (re.compile(r",? then persist again: logged values are kept until then"), ""),
    (
        re.compile(r"[Nn]othing logged is lost[;:] persist again later,? or raise lock_timeout"),
        "try again later",
    ),
)


def command_advice(message: str) -> str:
    """An SDK error's message with the advice to persist again taken out."""
    for pattern, replacement in _PERSIST_ADVICE:
        message = pattern.sub(replacement, message)
    return message


def submit_failure(sdk: MLTrackingSDK, started: str | None, error: TrackingError) -> str:
    """What to tell after a submit could not be written. Its values are dropped (the
    caller still has them, and nothing writes them later behind its back) and a run this
    call started is removed, so that no half run is left behind shown KILLED; if even that
    fails, the message says how to remove it."""
    sdk.discard_pending()
    reason = command_advice(str(error))
    message = f"{reason}; nothing was submitted: run the command again once that is fixed"
    if started is not None:
        try:
            sdk.delete_runs(run=started)
        except TrackingError:
            message = (
                f"{reason}; the run {started} it started could not be removed either: once "
                f"the database can be written, run `sapdi-local delete --run {started} --yes`"
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the error says it all, once
        sdk.close()
    return message


# ---------------------------------------------------------------- delete and gc


@click.command()
@click.option("--scenario", help="Scenario id, or several comma-separated (alone).")
@click.option("--scenario-version", help="Scenario version.")
@click.option("--pipeline", help="Pipeline name.")
@click.option("--execution", help="Execution id.")
@click.option("--notebook", help="Notebook name (needs --scenario or --run).")
@click.option("--run", "runs_named", multiple=True, help="A run: id, id prefix or name.")
@click.option(
    "--where",
    callback=nonblank_where,
    help="Only runs this search expression selects (alone, or with the selectors).",
)
@click.option(
    "--include-running",
    is_flag=True,
    help="Also delete runs whose process is still running (it loses what it logs next).",
)
@click.option("--yes", is_flag=True, help="Delete without asking.")
@db_option
@json_option
def delete(
    scenario: str | None,
    scenario_version: str | None,
    pipeline: str | None,
    execution: str | None,
    notebook: str | None,
    runs_named: tuple[str, ...],
    where: str | None,
    include_running: bool,
    yes: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Delete runs and everything logged to them, after showing them and asking.

    The selectors and their rules are those of delete_runs: at least one (or --where
    alone); --notebook needs --scenario or --run; several scenarios at once take
    --scenario alone. Exactly the runs shown are deleted, by id: a run started while the
    question waits is not.
    A run whose process is still running is shown but kept, unless --include-running.

    \b
    Examples:
      sapdi-local delete --run lr-0.01
      sapdi-local delete --scenario churn --notebook explore.ipynb --yes
      sapdi-local delete --where "status = 'FAILED' and start_time < '-30d'"
    """
    path = database(db)
    with reader(path) as store:
        run_ids = [resolve_run(store, text) for text in runs_named] or None
        selectors = (scenario, scenario_version, pipeline, execution, notebook, run_ids)
        if where is None:
            records = store.select_runs(delete_filter(*selectors))
        else:
            given = any(value is not None for value in selectors)
            base = delete_filter(*selectors) if given else None
            _, records = search_run_records(store, where, base_selection=base)
        selected = [run_from_record(record) for record in records]
    running = [r for r in selected if r.status == RUNNING and not include_running]
    kept = {r.id for r in running}
    chosen = [r for r in selected if r.id not in kept]
    if not as_json:
        if chosen:
            rows = [[r.id[:8], r.name, collection_label(r), r.status] for r in chosen]
            click.echo(table(["id", "name", "collection", "status"], rows, elastic=(1, 2)))
        for run in running:
            click.echo(
                f"kept: run {run.id[:8]} ({run.name}) is still running; pass "
                "--include-running to delete it too",
                err=True,
            )
    if not chosen:
        if as_json:
            print_json({"deleted": 0, "runs": [], "kept_running": [r.id for r in running]})
        else:
            click.echo("no run to delete; nothing deleted")
        return
    if not yes:
        click.confirm(f"Delete {plural(len(chosen), 'run')}?", abort=True, err=True)
    sdk = MLTrackingSDK(db_path=path)
    try:
        deleted = sdk.delete_runs(run=[run.id for run in chosen])
    finally:
        sdk.close()
    if as_json:
        print_json(
            {
                "deleted": deleted,
                "runs": [r.id for r in chosen],
                "kept_running": [r.id for r in running],
            }
        )
    else:
        click.echo(f"deleted {plural(deleted, 'run')}")


@click.command()
@db_option
@json_option
def gc(db: Path | None, as_json: bool) -> None:
    """Give back the space of deleted runs and trimmed histories (VACUUM), under the lock.

    \b
    Example:
      sapdi-local gc
    """
    store = Store(database(db))
    try:
        before, after = store.vacuum()
    finally:
        store.close()
    if as_json:
        print_json({"bytes_before": before, "bytes_after": after})
    else:
        click.echo(f"{size_text(before)} before, {size_text(after)} after")
