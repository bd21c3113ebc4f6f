"""Against MLflow with its SQLite backend, in the same process and alternating: individual
log_metric calls (MLflow synchronous, asynchronous, and asynchronous with buffering), one
batch of 1000 values, 100 parameters and 100 tags, and reading a 1000-value history.

MLflow writes each call to its database at once, so our timed part includes persist_run:
both sides are timed until the data is on disk. Stores and runs are made outside it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import CONTEXT, Figure, alternate, have_module, median, scratch_folder, timed

VALUES = 1000  # the batch, and the history that is read back
READS = 10  # history reads per measurement, so that a measurement is not too short
# Without it MLflow's asynchronous mode writes each queued call in its own transaction.
BUFFERING = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"


def collected_then_timed(work: Callable[[], object]) -> float:
    """Seconds for ``work``, after a garbage collection, so that one set off by the other
    side's garbage does not land here."""
    gc.collect()
    return timed(work)


class Sides:
    """Both stores, each one database file in which every measurement starts a new run."""

    def __init__(self, folder: Path) -> None:
        from mlflow import MlflowClient

        from sapdi_local import MLTrackingSDK

        self.sdk = MLTrackingSDK(db_path=folder / "ours.db", **CONTEXT)
        self.client = MlflowClient()
        self.experiment = self.client.create_experiment(
            "bench", artifact_location=(folder / "artifacts").as_uri()
        )

    def ours_seconds(self, work: Callable[[Any], object]) -> float:
        """Seconds for ``work(sdk)`` plus the persist that puts it on disk, in a new run."""
        self.sdk.start_run()
        seconds = collected_then_timed(lambda: (work(self.sdk), self.sdk.persist_run()))
        self.sdk.end_run()
        return seconds

    def mlflow_seconds(self, work: Callable[[str], object]) -> float:
        """Seconds for ``work(run_id)`` in a new active MLflow run."""
        import mlflow

        with mlflow.start_run(run_id=self.client.create_run(self.experiment).info.run_id) as run:
            return collected_then_timed(lambda: work(run.info.run_id))


def figure(
    name: str, unit: str, ours: list[float], base: list[float], mode: str, note: str
) -> Figure:
    return Figure(
        benchmark=name,
        unit=unit,
        ours=median(ours),
        baseline=median(base),
        baseline_name=f"MLflow sqlite, {mode}",
        higher_is_better=unit.endswith("/s"),
        note=note,
        samples={"ours": ours, "baseline": base},
    )


def ours_batch() -> list[dict[str, Any]]:
    return [{"name": "loss", "value": step * 0.5, "step": step} for step in range(VALUES)]


def mlflow_batch() -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric("loss", step * 0.5, now, step) for step in range(VALUES)]


def mlflow_one_by_one(count: int, synchronous: bool) -> Callable[[str], None]:
    import mlflow

    def work(_: str) -> None:
        for step in range(count):
            mlflow.log_metric("loss", step * 0.5, step=step, synchronous=synchronous)
        if not synchronous:
            mlflow.flush_async_logging()  # timed until the values are in the database

    return work


def one_by_one(sides: Sides, count: int, repeats: int) -> list[Figure]:
    def ours(sdk: Any) -> None:
        for step in range(count):
            sdk.log_metric("loss", step * 0.5, step=step)

    figures = []
    for mode, synchronous, buffering in (
        ("sync", True, None),
        ("async", False, None),
        ("async, 1 s buffering", False, "1"),
    ):
        theirs = mlflow_one_by_one(count, synchronous)
        if buffering is not None:
            os.environ[BUFFERING] = buffering  # read by MLflow's logging thread as it loops
        try:
            ours_rates, base_rates = alternate(
                lambda: count / sides.ours_seconds(ours),
                lambda: count / sides.mlflow_seconds(theirs),  # noqa: B023 (called right here)
                repeats,
            )
        finally:
            os.environ.pop(BUFFERING, None)
        note = f"{count:,} calls, one metric with steps; ours includes persist_run"
        if buffering is not None:
            note += f"; MLflow with {BUFFERING}={buffering}"
        figures.append(
            figure(f"log_metric × {count:,}", "values/s", ours_rates, base_rates, mode, note)
        )
    return figures


def batch(sides: Sides, repeats: int) -> Figure:
    ours, theirs = ours_batch(), mlflow_batch()  # made outside the timed part
    ours_rates, base_rates = alternate(
        lambda: VALUES / sides.ours_seconds(lambda sdk: sdk.log_metrics(ours)),
        lambda: VALUES / sides.mlflow_seconds(lambda run: sides.client.log_batch(run, theirs)),
        repeats,
    )
    note = "ours: log_metrics (list) + persist_run; MLflow: MlflowClient.log_batch"
    return figure(
        f"one batch of {VALUES:,} values", "values/s", ours_rates, base_rates, "sync", note
    )


def parameters_and_tags(sides: Sides, repeats: int) -> Figure:
    import mlflow

    parameters = {f"param_{index:03d}": index * 0.1 for index in range(100)}
    tags = {f"tag_{index:03d}": f"value {index}" for index in range(100)}

    def ours(sdk: Any) -> None:
        sdk.log_parameters(parameters)
        sdk.set_tags(tags)

    def theirs(_: str) -> None:
        mlflow.log_params(parameters)
        mlflow.set_tags(tags)

    ours_ms, base_ms = alternate(
        lambda: 1000 * sides.ours_seconds(ours),
        lambda: 1000 * sides.mlflow_seconds(theirs),
        repeats,
    )
    note = "ours: log_parameters + set_tags + persist_run; MLflow: log_params + set_tags"
    return figure("100 parameters + 100 tags", "ms", ours_ms, base_ms, "sync", note)


def history(sides: Sides, repeats: int) -> Figure:
    sdk, client = sides.sdk, sides.client
    run_id = sdk.start_run().id
    sdk.log_metrics(ours_batch())
    sdk.end_run()
    mlflow_run = client.create_run(sides.experiment).info.run_id
    client.log_batch(mlflow_run, mlflow_batch())

    def ours() -> None:
        for _ in range(READS):
            assert len(sdk.get_metrics_history(run=run_id, metrics=["loss"])[0].values) == VALUES

    def theirs() -> None:
        for _ in range(READS):
            assert len(client.get_metric_history(mlflow_run, "loss")) == VALUES

    ours_ms, base_ms = alternate(
        lambda: 1000 * collected_then_timed(ours) / READS,
        lambda: 1000 * collected_then_timed(theirs) / READS,
        repeats,
    )
    note = "ours: get_metrics_history; MLflow: MlflowClient.get_metric_history"
    return figure(f"read a {VALUES:,}-value history", "ms", ours_ms, base_ms, "sync", note)


def run(quick: bool) -> list[Figure]:
    if not have_module("mlflow"):
        print("versus_mlflow skipped: pip install -e '.[bench]' to get MLflow", file=sys.stderr)
        return []
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no network traffic
    import mlflow

    # MLflow sets its loggers' levels when imported, so these come after the import.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # MLflow logs about a hundred values a second one by one: those sizes set the time taken.
    count, slow_repeats, repeats = (50, 1, 3) if quick else (1000, 3, 7)
    previous_uri = mlflow.get_tracking_uri()
    with scratch_folder("mlflow") as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        try:
            sides = Sides(folder)
            # With MLflow loaded a full garbage collection takes about 0.1 s, whichever side
            # sets it off; frozen objects are left out of collections until unfreeze().
            gc.collect()
            gc.freeze()
            try:
                return [
                    *one_by_one(sides, count, slow_repeats),
                    batch(sides, repeats),
                    parameters_and_tags(sides, repeats),
                    history(sides, repeats),
                ]
            finally:
                gc.unfreeze()
                sides.sdk.close()
        finally:
            mlflow.set_tracking_uri(previous_uri)
