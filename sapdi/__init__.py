"""Compatibility package: ``from sapdi import tracking`` runs SAP Data Intelligence code locally."""

from __future__ import annotations

import sys

from sapdi_local import tracking
from sapdi_local.model import Scenario

sys.modules.setdefault("sapdi.tracking", tracking)  # so "import sapdi.tracking" works too

__all__ = ["Scenario", "get_current_scenario", "list_scenarios", "tracking"]


def get_current_scenario() -> Scenario:
    """The scenario runs are recorded under (SAPDI_SCENARIO, else the project folder's name).

    >>> sapdi.get_current_scenario().id
    'churn'
    """
    return tracking.get_default_sdk().current_scenario()


def list_scenarios() -> list[Scenario]:
    """The scenarios in the database, and the current one.

    >>> [scenario.id for scenario in sapdi.list_scenarios()]
    ['churn', 'forecast']
    """
    return tracking.get_default_sdk().list_scenarios()
