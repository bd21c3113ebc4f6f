"""Where the database lives: argument, then SAPDI_LOCAL_DB, then the per-user data folder.

Resolved when first needed, never at import, so a test sets one environment
variable and every later SDK picks it up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import InvalidTypeError

if TYPE_CHECKING:
    from pathlib import Path

DB_ENV_VAR = "SAPDI_LOCAL_DB"
APP_NAME = "sapdi-local"
DB_FILE_NAME = "tracking.db"


def default_db_path() -> Path:
    """The per-user database file: ``platformdirs.user_data_dir("sapdi-local")/tracking.db``."""
    from pathlib import Path

    import platformdirs  # imported here: only needed when no path was given

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / DB_FILE_NAME


def resolve_db_path(db_path: str | os.PathLike[str] | None = None) -> Path:
    """Return the database file to use.

    >>> resolve_db_path("/tmp/runs.db")
    PosixPath('/tmp/runs.db')
    >>> resolve_db_path("runs.db") == Path.cwd() / "runs.db"  # made absolute
    True
    """
    from pathlib import Path  # imported when first needed: keeps "import tracking" light

    if db_path is not None:
        if not isinstance(db_path, (str, os.PathLike)):
            raise InvalidTypeError(
                f"db_path must be a path (str or os.PathLike), got {type(db_path).__name__} "
                f"{db_path!r}"
            )
        return Path(db_path).expanduser().absolute()
    from_env = os.environ.get(DB_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser().absolute()
    return default_db_path()


def lock_path_for(db_path: Path) -> Path:
    """The lock file that guards writes to ``db_path``: the same name plus ``.lock``."""
    return db_path.with_name(db_path.name + ".lock")
