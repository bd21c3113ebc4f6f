"""What `sapdi-local push` sent to which target: the push records (migration 0003)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .database import Database, _chunks


class PushState(NamedTuple):
    """What a target holds of a run: its remote id, the hash of the fields last sent (None:
    not confirmed), whether a send may be outstanding, and per metric (local seq up to
    which values were sent, how many were sent)."""

    remote_id: str
    content_hash: str | None
    in_flight: bool
    metrics: dict[str, tuple[int, int]]


class PushRecords(Database):
    """Per target and run, the remote run, the hash of what was sent and how far each
    metric went."""

    def push_states(self, target: str, run_ids: Sequence[str]) -> dict[str, PushState]:
        """What was pushed to ``target`` for each of ``run_ids`` that has a record.

        >>> store.record_remote_run("http://127.0.0.1:5000", run.id, "9c1e5b7d")
        >>> store.push_states("http://127.0.0.1:5000", [run.id])[run.id]
        PushState(remote_id='9c1e5b7d', content_hash=None, in_flight=True, metrics={})
        """
        states: dict[str, PushState] = {}
        with self._reading() as connection:
            keys = self._run_keys(connection, run_ids)
            by_key = {key: run_id for run_id, key in keys.items()}
            for chunk in _chunks(list(by_key)):
                marks = ", ".join("?" for _ in chunk)
                for key, remote_id, content_hash, in_flight in connection.execute(
                    "SELECT run_key, remote_id, content_hash, in_flight FROM pushed_runs "
                    f"WHERE target = ? AND run_key IN ({marks})",
                    (target, *chunk),
                ):
                    states[by_key[key]] = PushState(remote_id, content_hash, bool(in_flight), {})
                for key, name, seq, pushed in connection.execute(
                    "SELECT run_key, name, seq, count FROM pushed_metrics "
                    f"WHERE target = ? AND run_key IN ({marks})",
                    (target, *chunk),
                ):
                    if by_key[key] in states:
                        states[by_key[key]].metrics[name] = (seq, pushed)
        return states

    def record_remote_run(self, target: str, run_id: str, remote_id: str) -> None:
        """Remember that ``run_id`` is ``remote_id`` on ``target``, with nothing confirmed
        sent yet (in flight): any older record of the run for that target is replaced.

        >>> store.record_remote_run("http://127.0.0.1:5000", run.id, "9c1e5b7d")
        >>> store.push_states("http://127.0.0.1:5000", [run.id])[run.id].remote_id
        '9c1e5b7d'
        """
        with self._write() as connection:
            key = self._run_key(connection, run_id)
            connection.execute(
                "DELETE FROM pushed_metrics WHERE target = ? AND run_key = ?", (target, key)
            )
            connection.execute(
                "INSERT INTO pushed_runs (target, run_key, remote_id, content_hash, in_flight, "
                "pushed_at) VALUES (?, ?, ?, NULL, 1, ?) ON CONFLICT (target, run_key) DO UPDATE "
                "SET remote_id = excluded.remote_id, content_hash = NULL, in_flight = 1, "
                "pushed_at = excluded.pushed_at",
                (target, key, remote_id, _now()),
            )

    def record_pushed_content(self, target: str, run_id: str, content_hash: str) -> None:
        """Remember the hash of the run fields, parameters, tags and labels now on ``target``.

        >>> store.record_remote_run("http://127.0.0.1:5000", run.id, "9c1e5b7d")
        >>> store.record_pushed_content("http://127.0.0.1:5000", run.id, "5be1c0de")
        >>> store.push_states("http://127.0.0.1:5000", [run.id])[run.id].content_hash
        '5be1c0de'
        """
        with self._write() as connection:
            connection.execute(
                "UPDATE pushed_runs SET content_hash = ?, pushed_at = ? "
                "WHERE target = ? AND run_key = ?",
                (content_hash, _now(), target, self._run_key(connection, run_id)),
            )

    def record_pushed_metrics(
        self,
        target: str,
        run_id: str,
        advanced: Mapping[str, tuple[int, int]],
        *,
        in_flight: bool,
    ) -> None:
        """Per metric, (seq, n): values up to local ``seq`` are on ``target``, ``n`` more of
        them than before. ``in_flight`` says whether more sends of the run are to come.

        >>> target = "http://127.0.0.1:5000"
        >>> store.record_remote_run(target, run.id, "9c1e5b7d")
        >>> store.record_pushed_metrics(target, run.id, {"loss": (4, 4)}, in_flight=False)
        >>> store.push_states(target, [run.id])[run.id].metrics
        {'loss': (4, 4)}
        """
        with self._write() as connection:
            key = self._run_key(connection, run_id)
            connection.executemany(
                "INSERT INTO pushed_metrics (target, run_key, name, seq, count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, run_key, name) DO UPDATE SET "
                "seq = excluded.seq, count = count + excluded.count",
                [(target, key, name, seq, added) for name, (seq, added) in advanced.items()],
            )
            connection.execute(
                "UPDATE pushed_runs SET in_flight = ?, pushed_at = ? "
                "WHERE target = ? AND run_key = ?",
                (int(in_flight), _now(), target, key),
            )

    def mark_push_in_flight(self, target: str, run_id: str) -> None:
        """Note that sends of the run to ``target`` start: if the push dies before it records
        them, the next push checks the server first.

        >>> target = "http://127.0.0.1:5000"
        >>> store.record_remote_run(target, run.id, "9c1e5b7d")
        >>> store.record_pushed_metrics(target, run.id, {}, in_flight=False)
        >>> store.mark_push_in_flight(target, run.id)
        >>> store.push_states(target, [run.id])[run.id].in_flight
        True
        """
        with self._write() as connection:
            connection.execute(
                "UPDATE pushed_runs SET in_flight = 1 WHERE target = ? AND run_key = ?",
                (target, self._run_key(connection, run_id)),
            )


def _now() -> float:
    from time import time

    return time()
