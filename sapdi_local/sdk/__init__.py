"""MLTrackingSDK: the active run, its context, the in-memory cache and when it is persisted.

Logging to the active run never touches the disk: a value is validated, appended to a
per-(run, metric) window, and written once, in a batch, by a persist (explicit, at
``end_run``, when the cache reaches its limit, 1.5 MB by default, before a read, and at
interpreter exit). Only the latest 1000 values of a metric are written. What is logged to
another run (``run=``, after ``end_run``) is persisted before the call returns. A failed
persist keeps the cache; an automatic one warns instead of raising, so the training it
measures goes on.

The SDK in parts, each a class of its own module that MLTrackingSDK (``tracker``) composes:
the active run (``active``), logging into the cache (``values``, ``cache``), persisting it
(``persisting``, and ``lifecycle`` for exit and fork), and reading stored runs
(``reading``). ``base`` holds the state they share.
"""

from .active import ActiveRun
from .base import CACHE_LIMIT_BYTES
from .tracker import MLTrackingSDK

__all__ = ["CACHE_LIMIT_BYTES", "ActiveRun", "MLTrackingSDK"]
