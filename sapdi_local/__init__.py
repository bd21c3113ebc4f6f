"""sapdi-local: the SAP Data Intelligence ML Tracking SDK on a local SQLite file."""

from __future__ import annotations

from .errors import TrackingError
from .model import MetricHistory, MetricValue, Notebook, Run, Scenario
from .sdk import MLTrackingSDK

__version__ = "0.1.0"

__all__ = [
    "MLTrackingSDK",
    "MetricHistory",
    "MetricValue",
    "Notebook",
    "Run",
    "Scenario",
    "TrackingError",
    "__version__",
]
