"""MLTrackingSDK: the parts of the SDK composed into the class the API uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import (
    FINISHED,
)
from . import lifecycle

if TYPE_CHECKING:
    from types import TracebackType


from .active import RunControl
from .persisting import Persisting
from .reading import RunReading
from .values import ValueLogging


class MLTrackingSDK(RunControl, ValueLogging, Persisting, RunReading):
    """Tracks runs into one SQLite file.

    Every argument is optional: the database defaults to ``SAPDI_LOCAL_DB`` or
    the per-user data folder, and the context to the SAPDI_* environment
    variables or local facts (project folder, git commit, notebook or script).

    >>> sdk = MLTrackingSDK(db_path="demo.db", scenario="churn")
    >>> run = sdk.start_run(run_collection_name="baseline")
    >>> sdk.log_metric("accuracy", 0.91)
    >>> sdk.end_run()
    >>> sdk.close()
    """

    def __enter__(self) -> MLTrackingSDK:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """End the active run (FAILED if an exception escapes the block), persist, close."""
        if self._active is not None:
            self._end_if_active(self._active.id, error)
        self.close()

    def close(self) -> None:
        """End the active run, persist the cache and close the database.

        >>> sdk.close()
        """
        self._at_exit(FINISHED)
        lifecycle.release(self)
        if self._store is not None:
            self._store.close()
