"""The reads every store offers: whether a run exists, selected runs with their details,
metric histories, the next steps of a run's metrics, the scenarios."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from ..errors import RunNotFoundError
from .database import Database, _chunks, decoded_read
from .selection import RunColumns, RunFilter, RunRecord, _run_conditions


class RunQueries(Database):
    """The reads of runs and their metrics, each in one snapshot."""

    @decoded_read
    def run_exists(self, run_id: str) -> bool:
        with self._reading() as connection:
            row = connection.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is not None

    def select_runs(self, selection: RunFilter) -> list[RunRecord]:
        """The selected runs, newest first, with parameters, tags, labels and last metrics."""
        return self.select_run_columns(selection).records()

    @decoded_read
    def select_run_columns(self, selection: RunFilter) -> RunColumns:
        """The selected runs, newest first, with parameters, tags, labels and last metrics,
        read column by column (see ``RunColumns``): a whole read of many runs."""
        with self._reading() as connection:
            where, arguments = _run_conditions(selection)
            cursor = self._select_run_rows(connection, selection, "*")
            names = tuple(description[0] for description in cursor.description)
            rows = cursor.fetchall()
            columns = tuple(zip(*rows, strict=True)) if rows else tuple(() for _ in names)
            keys = columns[names.index("key")]
            details: list[list[dict[str, object]]] = []
            for table in _DETAIL_TABLE_NAMES:
                maps: list[dict[str, object]] = [{} for _ in keys]
                # The runs' keys as a subquery, not a list of arguments: one statement
                # whatever the number of runs, read in the snapshot that selected them.
                _fill_details(
                    connection,
                    table,
                    dict(zip(keys, maps, strict=True)),
                    [(f"SELECT key FROM runs WHERE {where}", arguments)],
                )
                details.append(maps)
        parameters, tags, labels, metrics = details
        return RunColumns(names, columns, parameters, tags, labels, metrics)  # type: ignore[arg-type]

    @decoded_read
    def metric_history(
        self, run_id: str, names: Sequence[str] | None
    ) -> dict[str, list[tuple[float, int | None, float]]]:
        """The stored values of a run's metrics (all, or the named ones), oldest first."""
        with self._reading() as connection:
            row = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {self.path}; check the id with get_runs"
                )
            key = row[0]
            if names is None:
                names = [
                    name
                    for (name,) in connection.execute(
                        "SELECT name FROM latest_metrics WHERE run_key = ? ORDER BY name", (key,)
                    )
                ]
            history: dict[str, list[tuple[float, int | None, float]]] = {}
            for name in names:
                history[name] = connection.execute(
                    "SELECT value, step, timestamp FROM metrics WHERE run_key = ? AND name = ? "
                    "ORDER BY seq",
                    (key, name),
                ).fetchall()
        return history

    @decoded_read
    def next_steps(self, run_id: str) -> dict[str, int]:
        """Per metric of a run, the step its next value gets when none is given: one more
        than its latest value's step (its count of stored values if that has no step)."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT l.name, COALESCE(l.step + 1, l.seq) FROM latest_metrics AS l "
                "JOIN runs AS r ON r.key = l.run_key WHERE r.id = ?",
                (run_id,),
            ).fetchall()
        return dict(rows)

    @decoded_read
    def metric_histories(
        self, run_ids: Sequence[str], names: Sequence[str] | None
    ) -> dict[str, dict[str, list[tuple[float, int | None, float]]]]:
        """The stored values of several runs' metrics (all, or the named ones), oldest first,
        read in one snapshot; runs that do not exist are left out."""
        histories: dict[str, dict[str, list[tuple[float, int | None, float]]]] = {}
        with self._reading() as connection:
            keys = self._run_keys(connection, run_ids)
            for run_id in run_ids:
                if run_id not in keys or run_id in histories:
                    continue
                chosen = "" if names is None else f" AND name IN ({', '.join('?' for _ in names)})"
                rows = connection.execute(
                    "SELECT name, value, step, timestamp FROM metrics "
                    f"WHERE run_key = ?{chosen} ORDER BY name, seq",
                    (keys[run_id], *(names or ())),
                )
                history: dict[str, list[tuple[float, int | None, float]]] = {}
                for name, value, step, timestamp in rows:
                    history.setdefault(name, []).append((value, step, timestamp))
                histories[run_id] = history
        return histories

    @decoded_read
    def metric_values_after(
        self, run_id: str, after: Mapping[str, int]
    ) -> dict[str, list[tuple[int, float, int | None, float]]]:
        """Per metric of a run, the stored (seq, value, step, timestamp) with a seq above
        ``after[name]`` (all of them for a metric not named), oldest first.

        >>> store.metric_values_after(run.id, {"loss": 2})["loss"]
        [(3, 0.19, 2, 1795810050.0), (4, 0.1275, 3, 1795810060.0)]
        """
        values: dict[str, list[tuple[int, float, int | None, float]]] = {}
        with self._reading() as connection:
            key = self._run_key(connection, run_id)
            rows = connection.execute(
                "SELECT name, seq, value, step, timestamp FROM metrics WHERE run_key = ? "
                "ORDER BY name, seq",
                (key,),
            )
            for name, seq, value, step, timestamp in rows:
                if seq > after.get(name, 0):
                    values.setdefault(name, []).append((seq, value, step, timestamp))
        return values

    @decoded_read
    def scenarios(self) -> list[tuple[str, str | None]]:
        """Each stored scenario with the version of its newest run."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT scenario, scenario_version FROM runs AS outer_runs WHERE start_time = "
                "(SELECT MAX(start_time) FROM runs WHERE scenario = outer_runs.scenario) "
                "GROUP BY scenario ORDER BY scenario"
            ).fetchall()
        return [(scenario, version) for scenario, version in rows]

    # ---- helpers

    @staticmethod
    def _select_run_rows(
        connection: sqlite3.Connection, selection: RunFilter, columns: str
    ) -> sqlite3.Cursor:
        where, arguments = _run_conditions(selection)
        return connection.execute(
            f"SELECT {columns} FROM runs WHERE {where} ORDER BY start_time DESC, key DESC",
            arguments,
        )

    @staticmethod
    def _attach_details(connection: sqlite3.Connection, records: dict[int, RunRecord]) -> None:
        """Fill in the parameters, tags, labels and last metrics of runs keyed by run key."""
        chunks = [(", ".join("?" for _ in chunk), chunk) for chunk in _chunks(list(records))]
        for table, attribute in _DETAIL_TABLES:
            maps = {key: getattr(record, attribute) for key, record in records.items()}
            _fill_details(connection, table, maps, chunks)


def _fill_details(
    connection: sqlite3.Connection,
    table: str,
    maps: dict[int, dict[str, object]],
    run_keys: Sequence[tuple[str, Sequence[object]]],
) -> None:
    """Fill each run's dict of ``table`` (parameters, tags, labels or last metrics), given by
    run key in ``maps``, for the runs whose keys ``run_keys`` select: each an SQL list or
    subquery of keys with its arguments."""
    for keys, arguments in run_keys:
        query = f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({keys})"
        # Each run's dict looked up once per row, the only Python work per row: this
        # loop is most of what a whole read costs beyond SQLite's own work.
        for key, name, value in connection.execute(query, arguments):
            maps[key][name] = value


_DETAIL_TABLES = (
    ("parameters", "parameters"),
    ("tags", "tags"),
    ("labels", "labels"),
    ("latest_metrics", "metrics"),
)
_DETAIL_TABLE_NAMES = tuple(table for table, _ in _DETAIL_TABLES)
