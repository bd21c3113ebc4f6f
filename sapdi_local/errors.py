"""The error hierarchy: every error the package raises on purpose is a TrackingError.

Subclasses also inherit the matching built-in, so ``except ValueError`` in user
code keeps working, and each message names the field, the limit and the fix.
"""

from __future__ import annotations


class TrackingError(Exception):
    """Root of every error raised by sapdi-local on purpose."""


class InvalidNameError(TrackingError, ValueError):
    """A metric, parameter, tag or label name breaks a rule (empty, too long, reserved)."""


class InvalidValueError(TrackingError, ValueError):
    """A value breaks a rule: too long, not finite, out of range, not JSON."""


class InvalidTypeError(TrackingError, TypeError):
    """A value or argument has a type the API cannot take (for example a bool metric)."""


class InvalidFilterError(TrackingError, ValueError):
    """The selectors given to get_runs or delete_runs do not follow the rules."""


class NoActiveRunError(TrackingError, RuntimeError):
    """A call needs an active run (or run=...) and there is none."""


class RunAlreadyActiveError(TrackingError, RuntimeError):
    """start_run() was called while another run is still active."""


class RunNotFoundError(TrackingError, LookupError):
    """No run with the given id exists in the database."""


class StorageError(TrackingError, OSError):
    """The database file cannot be opened, read or written."""


class SchemaVersionError(StorageError):
    """The database was written by a newer version of sapdi-local."""


class LockTimeoutError(StorageError, TimeoutError):
    """The database lock could not be taken within the configured wait."""


class MissingExtraError(TrackingError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


class InteropError(TrackingError, RuntimeError):
    """Another tracker (an MLflow server, a file to import) refused a request or could not be
    read; the message names it and what to do."""


class PersistWarning(UserWarning):
    """An automatic persist failed; the values stay in memory and are written later."""


class SnapshotWarning(UserWarning):
    """A database could only be opened as a fixed snapshot (it sits in a read-only place):
    what writers elsewhere add meanwhile is not seen."""
